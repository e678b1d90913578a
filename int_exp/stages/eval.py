"""Stage `eval`: pass@k of the current policy on every evaluation dataset.

``eval.n`` samples per problem, graded by each problem's domain (math-verify for math); ``<dataset>/pass_at_<k>`` uses the
unbiased estimator (Chen et al., 2021) for each k in ``eval.k``, and ``<dataset>/coverage`` is the
share of problems with at least one correct sample (pass@n, the paper's ablation measure). Written:
a per-problem table per dataset, ``per_problem.csv`` (dataset, problem_id, n, correct: what the
report's bootstrap intervals resample, logged on the job run) and ``pass_at_k.png``, pass@k
against k = 1..n with 95% bands over problems.

Per benchmark: a set whose rows carry a ``benchmark`` column (the paper's test set maps its
``source`` column to it: ``data.eval[i].columns``) also gets ``<dataset>/<benchmark>/pass_at_<k>``
and ``/problems`` per benchmark, and ``<dataset>/benchmarks_mean/pass_at_<k>``, the unweighted mean
over benchmarks that the paper's tables report as "average"; ``per_problem.csv`` then has a
``benchmark`` column, from which the report builds the paper-shaped table.
"""

from __future__ import annotations

import re

import pandas as pd

from int_exp.metrics import mean_pass_at_k
from int_exp.pipeline.stage import EmptyStageError, Stage, StageContext, StageOutput
from int_exp.report.plots import pass_at_k_curve, plot_pass_at_k
from int_exp.report.runs import PER_PROBLEM_COLUMNS, PER_PROBLEM_FILE
from int_exp.stages.common import GENERATION_READS, problem_chat, sample_and_grade, sampling_params

READS = GENERATION_READS + ["eval", "data.eval", "data.limit", "data.seed", "data.prompt_template"]
GROUP_COLUMN = "benchmark"  # a row's benchmark within an evaluation set (the paper's test set has four)
MEAN_OVER_GROUPS = "benchmarks_mean"


def reads(cfg) -> list[str]:
    """Our keys and those of each evaluation set's domain (``data.arith`` for arith sets)."""
    from int_exp.domains import domain_of

    return READS + [key for spec in cfg.data.eval for key in domain_of(str(spec.source)).settings_keys(str(spec.source))]


def metric_name(group: str) -> str:
    """A benchmark's name as MLflow accepts it in a metric key (letters, digits, ``_-. ``).

    >>> metric_name("HMMT'25 Nov")
    'HMMT_25 Nov'
    """
    return re.sub(r"[^\w\-. ]", "_", str(group)).strip() or "_"


def group_metrics(name: str, groups: list[str], ns: list[int], cs: list[int], ks: list[int]) -> dict[str, float]:
    """pass@k and problem counts per benchmark, and pass@k's unweighted mean over benchmarks.

    >>> group_metrics("t", ["a", "a", "b"], [2, 2, 2], [2, 0, 1], [1])["t/benchmarks_mean/pass_at_1"]
    0.5
    """
    frame = pd.DataFrame({"group": groups, "n": ns, "c": cs})
    metrics, per_k = {}, {k: [] for k in ks}
    for group, rows in frame.groupby("group", sort=True):
        key = f"{name}/{metric_name(group)}"
        for k in ks:
            per_k[k].append(mean_pass_at_k(list(rows["n"]), list(rows["c"]), k))
            metrics[f"{key}/pass_at_{k}"] = per_k[k][-1]
        metrics[f"{key}/problems"] = len(rows)
    metrics.update({f"{name}/{MEAN_OVER_GROUPS}/pass_at_{k}": sum(v) / len(v) for k, v in per_k.items() if v})
    return metrics


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
    if GROUP_COLUMN in table:
        results.insert(1, GROUP_COLUMN, table[GROUP_COLUMN].map(str).to_numpy())
    ns, cs = list(results["n"]), list(results["correct"])
    metrics = {f"{name}/pass_at_{k}": mean_pass_at_k(ns, cs, k) for k in ks}
    metrics[f"{name}/coverage"] = sum(c > 0 for c in cs) / max(1, len(cs))
    metrics[f"{name}/accuracy"] = sum(cs) / max(1, sum(ns))
    metrics[f"{name}/problems"] = len(results)
    if GROUP_COLUMN in results:
        metrics.update(group_metrics(name, list(results[GROUP_COLUMN]), ns, cs, ks))
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
        counts.append(results[[c for c in ("problem_id", GROUP_COLUMN, "n", "correct") if c in results]]
                      .assign(dataset=spec.name))
        ctx.log.info("%s: %s", spec.name, {k: round(v, 4) for k, v in metrics.items()})
    files = [prefix.replace("/", "_") + name for name in (PER_PROBLEM_FILE, "pass_at_k.png")]
    per_problem = pd.concat(counts)
    grouped = [GROUP_COLUMN] if GROUP_COLUMN in per_problem else []  # only then: other sets' files stay as they were
    per_problem[PER_PROBLEM_COLUMNS + grouped].to_csv(ctx.out_dir / files[0], index=False)
    plot_pass_at_k({name: {"this job": curve} for name, curve in curves.items()}, ctx.out_dir / files[1])
    output.files += files
    output.summary["curves"] = {name: {str(k): iv.estimate for k, iv in c.items()} for name, c in curves.items()}
    return output


STAGE = Stage(name="eval", version="4", reads=reads, inputs=lambda cfg, plan: {"policy": plan.policy_before("eval")},
              tables=lambda cfg: [spec.name for spec in cfg.data.eval], run=run, description=__doc__)
