"""Helpers shared by the stages: prompts, sampling parameters, sample-and-grade, and the trainer
of a training section (chosen by ``<section>.trainer``, rewarded by the domains' graders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from int_exp.backends.base import Chat, SamplingParams
from int_exp.config import RLConfig, SFTConfig
from int_exp.data import published

if TYPE_CHECKING:
    from int_exp.training import Trainer

# The training sections: their stage keys' schemas, which hold the default trainer (its settings are
# the trainer's: int_exp.training.base.section_fields adds them to the root schema)
SECTIONS = {"sft": SFTConfig, "rl": RLConfig}
GENERATION_READS = ["backend.name", "model.dtype", "model.max_context", "sampling"]


def hard_set_stage(cfg: Any) -> str:
    """The stage whose rows hold the hard problems' graded attempts: the rollouts, or the failures
    stage when it reads a published set (``failures.source``: no rollouts are sampled then)."""
    return "failures" if published.source(cfg, "failures") else "rollouts"


def user_prompt(problem: str, template: str) -> str:
    """The policy's user message: ``template`` with ``{problem}`` replaced (nothing else)."""
    return template.replace("{problem}", problem)


def problem_chat(problem: str, template: str) -> Chat:
    return [{"role": "user", "content": user_prompt(problem, template)}]


def sampling_params(sampling: Any, n: int, **overrides: Any) -> SamplingParams:
    values = {
        "n": n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "max_tokens": sampling.max_tokens,
        "seed": sampling.seed,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SamplingParams(**values)


def generate(ctx, model_path: str, chats: Sequence[Chat], params: SamplingParams, desc: str) -> list[list[str]]:
    """Sample through the configured backend, closing the engine afterwards (frees memory)."""
    if not chats:
        return []
    backend = ctx.make_backend(model_path, dtype=ctx.cfg.model.dtype, max_context=ctx.cfg.model.max_context)
    try:
        return backend.generate(list(chats), params, desc=desc)
    finally:
        backend.close()


def warn_too_long(ctx, name: str, skipped: int, total: int, why: str = "") -> None:
    """The one warning for prompts skipped because they do not fit the context (every stage)."""
    if skipped:
        ctx.log.warning("%s: %d of %d prompts do not fit the context (model.max_context=%s)%s: skipped",
                        name, skipped, total, ctx.cfg.model.max_context, why)


def skip_unsampled(ctx, name: str, table: Any, samples: list[list[str]]) -> tuple[Any, list[list[str]], dict]:
    """Drop the rows whose prompt got no samples (it fills the model's context: the backends clip
    ``max_tokens`` to the room a prompt leaves and skip prompts that leave none), warn, and count
    them as ``<name>/prompts_too_long``; RL counts its own the same way (stages/rl.py)."""
    kept = [i for i, group in enumerate(samples) if group]
    skipped = len(samples) - len(kept)
    warn_too_long(ctx, name, skipped, len(samples))
    if skipped:
        table = table.iloc[kept].reset_index(drop=True)
        samples = [samples[i] for i in kept]
    return table, samples, {f"{name}/prompts_too_long": skipped}


def grade_samples(samples: list[list[str]], golds: Sequence[str], sources: Sequence[str]) -> list[list[bool]]:
    """Grade every sample of every prompt against that prompt's gold answer, with the grader of
    the prompt's domain (named by its problem's ``source``; one batch per domain)."""
    from int_exp.domains import grade_by_source

    flat = [text for group in samples for text in group]
    flat_golds = [gold for group, gold in zip(samples, golds) for _ in group]
    flat_sources = [source for group, source in zip(samples, sources) for _ in group]
    verdicts = grade_by_source(flat, flat_golds, flat_sources, progress=len(flat) > 256)
    out, start = [], 0
    for group in samples:
        out.append(verdicts[start : start + len(group)])
        start += len(group)
    return out


def sample_and_grade(ctx, name: str, table: Any, chats: Sequence[Chat], params: SamplingParams,
                     desc: str) -> tuple[Any, list[list[str]], list[list[bool]], dict]:
    """Sample ``chats`` (one per row of ``table``) with the policy, skip the rows whose prompt
    fills the context (:func:`skip_unsampled`) and grade the rest against ``table``'s answers:
    ``(table, samples, verdicts, metrics)``."""
    samples = generate(ctx, ctx.inputs["policy"].model_path, chats, params, desc=desc)
    table, samples, skipped = skip_unsampled(ctx, name, table, samples)
    return table, samples, grade_samples(samples, list(table["answer"]), list(table["source"])), skipped


FUNNEL_ORDER = ["problems", "rollouts", "incorrect", "proposals", "parsed", "deduplicated", "kept"]


def empty_funnel_message(upstream: dict) -> str:
    """Name the first funnel step that reached zero rows, for a clear error downstream."""
    metrics = {k: v for result in upstream.values() for k, v in result.metrics.items()}
    counts = [(step, metrics.get(f"funnel/{step}")) for step in FUNNEL_ORDER]
    for step, count in counts:
        if count == 0:
            seen = ", ".join(f"{s}={int(c)}" for s, c in counts if c is not None)
            return f"the funnel emptied at '{step}' (funnel: {seen})"
    return "an upstream stage produced no rows"


def trainer_name(cfg: Any, section: str) -> str:
    """The trainer ``<section>.trainer`` names; its default (the config schema's) when the key is
    absent, as in a stage's restricted config, which holds it only when it is not the default."""
    return OmegaConf.select(cfg, f"{section}.trainer", default=None) or SECTIONS[section].trainer


def section_trainer(cfg: Any, section: str) -> Trainer:
    """The trainer ``<section>.trainer`` names; one that trains from another section is an error."""
    from int_exp.training import get_trainer

    trainer = get_trainer(trainer_name(cfg, section))
    if trainer.section != section:
        raise ValueError(f"{section}.trainer={trainer.name!r} trains from the {trainer.section!r} section, "
                         f"not {section!r}")
    return trainer


def trainer_reads(cfg: Any, section: str) -> list[str]:
    """The keys of ``section`` its trainer reads (its settings' fields), and ``<section>.trainer``
    when it names another trainer than the default (so the keys of jobs with the default trainer
    predate the choice)."""
    from int_exp.training import settings_keys

    trainer = section_trainer(cfg, section)
    keys = [f"{section}.{key}" for key in settings_keys(trainer.settings)]
    return keys + ([f"{section}.trainer"] if trainer.name != SECTIONS[section].trainer else [])


def train(ctx, data: list[dict], model_path: str, section: str) -> tuple[dict, list[dict]]:
    """Run the trainer ``<section>.trainer`` names on ``data``, rewarded by each problem's domain
    grader; in-process, or under ``accelerate launch`` when ``<section>.num_processes > 1``.

    Returns the final metrics and the logged history; curves go to MLflow under ``<section>/``.
    """
    from int_exp.domains.reward import correctness_reward

    history: list[dict] = []
    settings = ctx.cfg[section]

    def log_fn(metrics: dict, step: int) -> None:
        history.append(metrics)
        ctx.log_metrics({f"{section}/{k}": v for k, v in metrics.items()}, step)

    trainer, out_dir = section_trainer(ctx.cfg, section), ctx.out_dir / "model"
    if settings.num_processes > 1:
        from int_exp.training.launch import launch

        result = launch(trainer.name, correctness_reward, data, model_path, settings, out_dir, ctx.out_dir)
        for entry in result["history"]:
            log_fn({k: v for k, v in entry.items() if k != "step"}, entry["step"])
        return result["final"], history
    final = trainer.train(data, model_path, settings, out_dir, reward_fn=correctness_reward, log_fn=log_fn)
    return final, history
