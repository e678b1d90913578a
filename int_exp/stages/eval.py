"""Stage `eval`: pass@k of the current policy on every evaluation dataset.

``eval.n`` samples per problem, graded by each problem's domain (math-verify for math); ``<dataset>/pass_at_<k>`` uses the
unbiased estimator (Chen et al., 2021) for each k in ``eval.k``, and ``<dataset>/coverage`` is the
share of problems with at least one correct sample (pass@n, the paper's ablation measure). Written:
a per-problem table per dataset, ``per_problem.csv`` (dataset, problem_id, n, correct: what the
report's bootstrap intervals resample, logged on the job run) and ``pass_at_k.png``, pass@k
against k = 1..n with 95% bands over problems.
"""

from __future__ import annotations

import pandas as pd

from int_exp.metrics import mean_pass_at_k
from int_exp.pipeline.stage import EmptyStageError, Stage, StageContext, StageOutput
from int_exp.report.plots import pass_at_k_curve, plot_pass_at_k
from int_exp.report.runs import PER_PROBLEM_COLUMNS, PER_PROBLEM_FILE
from int_exp.stages.common import GENERATION_READS, problem_chat, sample_and_grade, sampling_params

READS = GENERATION_READS + ["eval", "data.eval", "data.limit", "data.seed", "data.prompt_template"]


def reads(cfg) -> list[str]:
    """Our keys and those of each evaluation set's domain (``data.arith`` for arith sets)."""
    from int_exp.domains import domain_of

    return READS + [key for spec in cfg.data.eval for key in domain_of(str(spec.source)).settings_keys(str(spec.source))]


def evaluate_dataset(ctx: StageContext, spec, table: pd.DataFrame, ks: list[int],
                     prefix: str = "") -> tuple[pd.DataFrame, dict, dict]:
    cfg = ctx.cfg
    chats = [problem_chat(p, cfg.data.prompt_template) for p in table["problem"]]
    params = sampling_params(cfg.sampling, cfg.eval.n, temperature=cfg.eval.temperature, max_tokens=cfg.eval.max_tokens)
    name = prefix + spec.name
    table, samples, verdicts, skipped = sample_and_grade(ctx, name, table, chats, params, desc=f"eval {spec.name}")
    if not len(table):
        raise EmptyStageError(f"eval set {spec.name}: every one of its {skipped[name + '/prompts_too_long']} prompts "
                              f"fills the context (model.max_context={cfg.model.max_context}): nothing to score")
    results = pd.DataFrame(
        {
            "problem_id": table["problem_id"],
            "answer": table["answer"],
            "n": [len(v) for v in verdicts],
            "correct": [sum(v) for v in verdicts],
            "verdicts": verdicts,
            "completions": samples,
        }
    )
    ns, cs = list(results["n"]), list(results["correct"])
    metrics = {f"{name}/pass_at_{k}": mean_pass_at_k(ns, cs, k) for k in ks}
    metrics[f"{name}/coverage"] = sum(c > 0 for c in cs) / max(1, len(cs))
    metrics[f"{name}/accuracy"] = sum(cs) / max(1, sum(ns))
    metrics[f"{name}/problems"] = len(results)
    metrics.update(skipped)
    return results, metrics, pass_at_k_curve([ns], [cs])


def reported_ks(ks: list[int], n: int) -> list[int]:
    """The k of ``eval.k`` that ``n`` samples per problem can estimate (k <= n).

    >>> reported_ks([1, 8], 4)
    [1]
    """
    usable = [int(k) for k in ks if 1 <= k <= n]
    if not usable:
        raise ValueError(f"eval.k={list(ks)} has no k in 1..eval.n={n}: pass@k needs 1 <= k <= n samples")
    return usable


def run(ctx: StageContext) -> StageOutput:
    return evaluate(ctx)


def evaluate(ctx: StageContext, prefix: str = "") -> StageOutput:
    """Evaluate ``ctx.inputs["policy"]``; ``prefix`` namespaces the metrics and files (sft_eval)."""
    from int_exp.data import load_dataset_spec

    cfg = ctx.cfg
    ks = reported_ks(cfg.eval.k, cfg.eval.n)
    if len(ks) < len(cfg.eval.k):
        ctx.log.warning("eval.k %s > eval.n=%d: pass@k needs k <= n samples, so only pass@%s is reported",
                        [k for k in cfg.eval.k if k not in ks], cfg.eval.n, ks)
    if not cfg.data.eval:
        raise ValueError("data.eval is empty: name at least one evaluation dataset")
    output, curves, counts = StageOutput(), {}, []
    for spec in cfg.data.eval:
        table = load_dataset_spec(spec, cfg.data, train=False)
        results, metrics, curve = evaluate_dataset(ctx, spec, table, ks, prefix)
        output.tables[spec.name] = results
        output.metrics.update(metrics)
        curves[spec.name] = curve
        counts.append(results[["problem_id", "n", "correct"]].assign(dataset=spec.name))
        ctx.log.info("%s: %s", spec.name, {k: round(v, 4) for k, v in metrics.items()})
    files = [prefix.replace("/", "_") + name for name in (PER_PROBLEM_FILE, "pass_at_k.png")]
    pd.concat(counts)[PER_PROBLEM_COLUMNS].to_csv(ctx.out_dir / files[0], index=False)
    plot_pass_at_k({name: {"this job": curve} for name, curve in curves.items()}, ctx.out_dir / files[1])
    output.files += files
    output.summary["curves"] = {name: {str(k): iv.estimate for k, iv in c.items()} for name, c in curves.items()}
    return output


STAGE = Stage(name="eval", version="4", reads=reads, inputs=lambda cfg, plan: {"policy": plan.policy_before("eval")},
              tables=lambda cfg: [spec.name for spec in cfg.data.eval], run=run, description=__doc__)
