"""custom_search_space functions for the sweeper tests: fn(cfg, trial) adds parameters."""


def conditional_y(cfg, trial) -> None:
    # y is searched only for kind=ok (define-by-run, which `params` cannot express)
    if trial.params["kind"] == "ok":
        trial.suggest_int("y", 5, 6)
