"""The int-exp Optuna sweeper (hydra_plugins/int_exp_optuna_sweeper): search-space parsing, and
real Hydra multiruns of tests/sweeper_app (resume, failures, submitit, grid, multi-objective)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hydra_plugins.int_exp_optuna_sweeper._search_space import (
    SearchSpaceError,
    format_value,
    grid_from_distributions,
    params_to_overrides,
    parse_search_space,
)

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "sweeper_app" / "app.py"

optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---------------------------------------------------------------------------------------------
# search-space parsing


@pytest.mark.parametrize(
    "override, expected",
    [
        ("x=choice(a,b,c)", CategoricalDistribution(["a", "b", "c"])),
        ("x=a,b,c", CategoricalDistribution(["a", "b", "c"])),
        ("x=choice(abc,2.5,true,[1,2])", CategoricalDistribution(["abc", 2.5, True, "[1,2]"])),
        ("x=shuffle(choice(b,a))", CategoricalDistribution(["b", "a"])),
        ("x=range(1,9,2)", IntDistribution(1, 9, step=2)),  # stop is Optuna's inclusive high
        ("x=range(1,5)", IntDistribution(1, 5)),
        ("x=range(0.1,0.5,0.1)", FloatDistribution(0.1, 0.5, step=0.1)),
        ("x=range(0,1,0.25)", FloatDistribution(0.0, 1.0, step=0.25)),
        ("x=shuffle(range(1,4))", CategoricalDistribution([1, 2, 3])),
        ("x=interval(0,1)", FloatDistribution(0.0, 1.0)),
        ("x=int(interval(1,10))", IntDistribution(1, 10)),
        ("x=tag(log,interval(1e-6,1e-3))", FloatDistribution(1e-6, 1e-3, log=True)),
        ("x=tag(log, int(interval(1, 64)))", IntDistribution(1, 64, log=True)),
        ("x=tag(log,range(1,64))", IntDistribution(1, 64, log=True)),
        ("sft.lr=tag(log, interval(1e-6, 1e-3))", FloatDistribution(1e-6, 1e-3, log=True)),
    ],
)
def test_sweep_overrides_become_optuna_distributions(override, expected):
    space = parse_search_space([override])
    assert space.fixed == {}
    assert list(space.distributions.values()) == [expected]
    assert type(next(iter(space.distributions.values()))) is type(expected)


@pytest.mark.parametrize(
    "override, passed_on",
    [
        ("x=3", "x=3"),
        ("x=0.5", "x=0.5"),
        ("kind=abc", "kind=abc"),
        ("x=[1,2]", "x=[1,2]"),
        ("+new.key=abc", "+new.key=abc"),
        ("++tracking.run_name=r1", "++tracking.run_name=r1"),
        ("~gone", "~gone"),
        ("model=tiny", "model=tiny"),
        ("name='a b'", "name='a b'"),
    ],
)
def test_plain_overrides_are_fixed_params(override, passed_on):
    space = parse_search_space([override])
    assert space.distributions == {}
    assert list(space.fixed.values()) == [passed_on]


def test_params_and_command_line_merge_command_line_wins():
    params = {"x": "interval(0, 1)", "y": 3, "kind": "choice(good, ok)", "b": [1, 2], "c": None}
    assert params_to_overrides(OmegaConf.create(params)) == [
        "x=interval(0, 1)", "y=3", "kind=choice(good, ok)", "b=[1,2]", "c=null",
    ]
    space = parse_search_space(params_to_overrides(params) + ["x=0.5", "y=range(1,3)", "z=interval(2,3)"])
    assert space.distributions == {
        "y": IntDistribution(1, 3),
        "kind": CategoricalDistribution(["good", "ok"]),
        "z": FloatDistribution(2.0, 3.0),
    }
    assert space.fixed == {"x": "x=0.5", "b": "b=[1,2]", "c": "c=null"}


@pytest.mark.parametrize(
    "override, message",
    [
        ("x=tag(log,range(1,64,2))", "step 1"),
        ("x=tag(log,range(0.5,4.0))", "step 1"),
        ("x=interval(1,0)", "low <= high"),
        ("x=tag(log,interval(0,1))", "low"),
    ],
)
def test_unusable_search_spaces_fail_clearly(override, message):
    with pytest.raises(SearchSpaceError, match=message):
        parse_search_space([override])


@pytest.mark.parametrize("value", [1e-6, 0.1, 3e-05, 2.0, 3, -4, True, False, None, "abc", float("inf")])
def test_sampled_values_round_trip_through_hydra_overrides(value):
    parsed = OverridesParser.create().parse_override(f"k={format_value(value)}").value()
    assert parsed == value and type(parsed) is type(value)


def test_grid_from_discrete_distributions():
    grid = grid_from_distributions(
        {
            "a": CategoricalDistribution(["x", "y"]),
            "b": IntDistribution(1, 7, step=3),
            "c": FloatDistribution(0.1, 0.3, step=0.1),
        }
    )
    assert grid == {"a": ["x", "y"], "b": [1, 4, 7], "c": [0.1, 0.2, 0.3]}
    with pytest.raises(SearchSpaceError, match="discrete"):
        grid_from_distributions({"d": FloatDistribution(0.0, 1.0)})


def test_config_registered_with_the_documented_defaults():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(APP.parent / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/sweeper=optuna"], return_hydra_config=True)
        swept = compose("config", overrides=["search=basic"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.int_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert OmegaConf.to_container(sweeper.sampler) == {"_target_": "optuna.samplers.TPESampler", "seed": None}
    assert sweeper.direction == "minimize"
    assert sweeper.storage == "sqlite:///sweeps/optuna.db"
    assert sweeper.study_name is None and sweeper.params is None and sweeper.custom_search_space is None
    assert (sweeper.n_trials, sweeper.n_jobs, sweeper.max_failure_rate) == (20, 1, 0.0)
    assert sweeper.trial_number_key == "tracking.trial_number" and sweeper.study_name_key is None
    # `defaults: [override /hydra/sweeper: optuna]` from a config, and an inline sampler kwarg
    assert swept.hydra.sweeper._target_ == sweeper._target_
    assert swept.hydra.sweeper.sampler.seed == 123 and swept.hydra.sweeper.sampler.n_startup_trials == 3
    assert swept.hydra.sweeper.params.x == "interval(0, 1)"


# ---------------------------------------------------------------------------------------------
# real multiruns of tests/sweeper_app


def sweep(tmp_path: Path, *overrides: str, sweep_dir: str = "sweep", expect_ok: bool = True):
    """Run the test app's multirun from tmp_path; returns the CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.pop("HYDRA_FULL_ERROR", None)
    cmd = [sys.executable, str(APP), "-m", f"hydra.sweep.dir={tmp_path / sweep_dir}", *overrides]
    proc = subprocess.run(
        cmd, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    if expect_ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    else:
        assert proc.returncode != 0, proc.stdout[-3000:]
    return proc


def records(sweep_dir: Path) -> dict[int, dict]:
    out = {}
    for path in sweep_dir.glob("*/record.json"):
        record = json.loads(path.read_text())
        assert record["trial_number"] == int(path.parent.name)  # job folder == Optuna trial number
        out[record["trial_number"]] = record
    return out


def only_study(storage: str) -> optuna.Study:
    names = optuna.get_all_study_names(storage)
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


def test_sweep_then_resume_to_a_total_of_five_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'db' / 'optuna.db'}"  # its folder does not exist yet
    args = ["search=basic", f"hydra.sweeper.storage={storage}", "fixed=hello"]
    sweep(tmp_path, *args)  # n_trials=3 from conf/search/basic.yaml, study_name derived

    study = only_study(storage)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    recs = records(tmp_path / "sweep")
    assert sorted(recs) == [0, 1, 2]
    for t in trials:
        rec = recs[t.number]
        assert rec["value"] == pytest.approx(t.value)  # the objective is what the job returned
        assert (rec["x"], rec["y"], rec["kind"]) == (t.params["x"], t.params["y"], t.params["kind"])
        assert 0.0 <= rec["x"] <= 1.0 and 0 <= rec["y"] <= 4 and rec["kind"] in ("good", "ok")
        assert rec["fixed"] == "hello"  # fixed params reach every trial
        assert t.user_attrs["overrides"][-2:] == ["search=basic", "fixed=hello"]

    results = OmegaConf.to_container(OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml"))
    best = min(trials, key=lambda t: t.value)
    assert results["best_value"] == pytest.approx(min(r["value"] for r in recs.values()))
    assert results["best_params"] == best.params and results["best_trial"] == best.number
    assert results["study_name"] == study.study_name and study.study_name.startswith("app-")
    assert results["n_trials_by_state"] == {"COMPLETE": 3}

    # Same command, n_trials=5: the same (derived-name) study gets 2 more, in new job folders.
    sweep(tmp_path, *args, "hydra.sweeper.n_trials=5")
    study = only_study(storage)
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 5
    recs = records(tmp_path / "sweep")
    assert sorted(recs) == [0, 1, 2, 3, 4] and all(r["fixed"] == "hello" for r in recs.values())
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert results.best_value == pytest.approx(study.best_value)
    assert results.n_trials_by_state.COMPLETE == 5

    # Reusing that study with another categorical space is refused with a clear error.
    proc = sweep(
        tmp_path, *args, f"hydra.sweeper.study_name={study.study_name}", "kind=choice(good,bad)",
        "hydra.sweeper.n_trials=6", expect_ok=False,
    )
    assert "already has trials with kind" in proc.stderr and "study_name" in proc.stderr
    assert len(only_study(storage).get_trials()) == 5


def test_failed_trials_are_recorded_and_the_sweep_continues(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    proc = sweep(
        tmp_path, "hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0",
        f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=4", "hydra.sweeper.max_failure_rate=0.75",
        "x=interval(0,1)", "fail_trials=[1]", "none_trials=[2]",
    )
    trials = only_study(storage).get_trials()
    complete, fail = TrialState.COMPLETE, TrialState.FAIL
    assert [t.state for t in trials] == [complete, fail, fail, complete]
    assert "RuntimeError: trial 1 was told to fail" in trials[1].user_attrs["fail_reason"]
    assert "returned None" in trials[2].user_attrs["fail_reason"]
    assert "Trial 1 failed" in proc.stdout and "Trial 2 failed" in proc.stdout
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert results.n_trials_by_state == {"COMPLETE": 2, "FAIL": 2}
    assert results.best_value == pytest.approx(min(trials[0].value, trials[3].value))


def test_max_failure_rate_zero_stops_the_sweep_with_a_clear_error(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    proc = sweep(
        tmp_path, "hydra/sweeper=optuna", f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=3",
        "x=interval(0,1)", "kind=bad", expect_ok=False,  # the app raises for kind=bad
    )
    assert "SweepFailureRateExceeded" in proc.stderr
    assert "1 of 1 trials launched by this sweep failed" in proc.stderr
    assert "max_failure_rate=0.0" in proc.stderr and "kind=bad is not allowed" in proc.stderr
    assert [t.state for t in only_study(storage).get_trials()] == [TrialState.FAIL]  # nothing left RUNNING


def test_submitit_local_launcher_runs_batches_of_n_jobs(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    proc = sweep(
        tmp_path, "hydra/sweeper=optuna", "hydra/launcher=submitit_local", f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "hydra.sweeper.study_name=sub",
        "hydra.sweeper.study_name_key=tracking.study_name", "x=interval(0,1)", "fixed=everywhere",
    )
    assert proc.stdout.count("Submitit 'local' sweep output dir") == 2  # two launches of 2 jobs
    study = optuna.load_study(study_name="sub", storage=storage)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    recs = records(tmp_path / "sweep")
    assert sorted(recs) == [0, 1, 2, 3]
    for t in trials:
        assert recs[t.number]["value"] == pytest.approx(t.value)
        assert recs[t.number]["x"] == t.params["x"]
        assert recs[t.number]["fixed"] == "everywhere" and recs[t.number]["study_name"] == "sub"


def test_grid_sampler_multi_objective_in_memory(tmp_path):
    sweep(
        tmp_path, "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.storage=null",
        "hydra.sweeper.direction=[minimize,maximize]", "second_objective=true", "hydra.sweeper.n_trials=10",
        "x=range(0.1,0.3,0.1)", "kind=good,ok",
    )
    recs = records(tmp_path / "sweep")
    assert sorted(recs) == list(range(6))  # the 3 x 2 grid, n_trials capped to its size
    assert sorted((r["x"], r["kind"]) for r in recs.values()) == [
        (x, k) for x in (0.1, 0.2, 0.3) for k in ("good", "ok")
    ]
    results = OmegaConf.to_container(OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml"))
    assert results["direction"] == ["minimize", "maximize"]
    assert {(s["params"]["x"], s["params"]["kind"]) for s in results["solutions"]} == {
        (0.1, "good"), (0.2, "good"), (0.3, "good"),
    }
    assert not (tmp_path / "sweeps").exists()  # storage: null writes no database


def test_custom_search_space_adds_define_by_run_params(tmp_path):
    sweep(
        tmp_path, "hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.n_trials=6",
        "hydra.sweeper.custom_search_space=search_spaces.conditional_y", "kind=good,ok",
    )
    recs = records(tmp_path / "sweep").values()
    assert len(recs) == 6
    for rec in recs:
        assert rec["y"] in ((5, 6) if rec["kind"] == "ok" else (1,))  # y=1 is the app's default
    assert (tmp_path / "sweeps" / "optuna.db").exists()  # the default storage, under the launch dir


def test_resuming_never_repeats_a_sampled_point(tmp_path):
    """Each invocation re-creates the sampler from the same seed; without moving the seed on, the
    resumed trials would repeat the first ones (the random start-up trials of TPE)."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["search=basic", f"hydra.sweeper.storage={storage}", "hydra.sweeper.sampler.n_startup_trials=10"]
    sweep(tmp_path, *args, "hydra.sweeper.n_trials=2")
    sweep(tmp_path, *args, "hydra.sweeper.n_trials=4")
    sweep(tmp_path, *args, "hydra.sweeper.n_trials=6")
    points = [tuple(sorted(t.params.items())) for t in only_study(storage).get_trials()]
    assert len(points) == 6 and len(set(points)) == 6, points


def test_a_trial_left_running_by_a_dead_sweep_is_failed_and_retried(tmp_path):
    from int_exp.runtime.processes import HOST

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["search=basic", f"hydra.sweeper.storage={storage}"]
    sweep(tmp_path, *args, "hydra.sweeper.n_trials=1")
    study = only_study(storage)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask(fixed_distributions=study.get_trials()[0].distributions)  # a sweep killed mid-trial
    orphan.set_user_attr("sweeper_host", HOST)
    orphan.set_user_attr("sweeper_pid", dead.pid)
    proc = sweep(tmp_path, *args, "hydra.sweeper.n_trials=3")
    assert "left RUNNING by a sweep that is gone" in proc.stderr + proc.stdout
    trials = only_study(storage).get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("retry_of") == orphan.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == orphan.params
    assert len(trials) == 3  # n_trials counts finished trials, the failed one included


def test_a_sweep_killed_mid_trial_resumes_with_that_trial_retried_and_no_point_repeated(tmp_path):
    """The real thing: SIGKILL the sweeper while trial 1 runs, then run the same command again."""
    import signal
    import time

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["search=basic", f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=4", "hang_trials=[1]"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, str(APP), "-m", f"hydra.sweep.dir={tmp_path / 'sweep'}", *args]
    with subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        marker = tmp_path / "sweep" / "1" / "started.txt"
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "trial 1 never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = only_study(storage).get_trials()
    assert [t.state for t in killed] == [TrialState.COMPLETE, TrialState.RUNNING]  # what a dead sweep leaves

    proc = sweep(tmp_path, *args)  # the same command; the retry is trial 2, which does not hang
    assert "left RUNNING by a sweep that is gone" in proc.stderr + proc.stdout
    trials = only_study(storage).get_trials()
    assert trials[1].state == TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("retry_of") == 1]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == trials[1].params
    fresh = [tuple(sorted(t.params.items())) for t in trials if t.number != 1 and t.user_attrs.get("retry_of") is None]
    assert len(fresh) == len(set(fresh)) == 2  # the retry aside, no sampled point comes twice
    assert len(trials) == 4 and sum(t.state == TrialState.COMPLETE for t in trials) == 3
