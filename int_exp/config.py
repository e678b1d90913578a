"""Typed configuration schemas, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` merges into one of these dataclasses, extended by the sections the
domains and the trainers declare (:mod:`int_exp.domains.schema` assembles the root), so a misspelt
key or a value of the wrong type fails at composition time with Hydra's message naming the key,
not an hour into a job. Only the knobs the method needs are typed; trainer and engine options pass
through the ``*_kwargs`` mappings untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf


def setting(cfg: Any, name: str, default: Any = None) -> Any:
    """Field ``name`` of a config section, dataclass, mapping or namespace (``default`` when
    absent or when ``cfg`` is None): the one accessor for code that takes any of them."""
    if cfg is None:
        return default
    if isinstance(cfg, Mapping):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def plain(value: Any) -> Any:
    """OmegaConf containers (sections and lists) as plain, resolved Python; anything else as is
    (trainer arguments and JSON specs must not hold DictConfigs)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def plain_dict(cfg: Any) -> dict[str, Any]:
    """A config section (DictConfig, dataclass, mapping or namespace) as a plain, resolved dict."""
    if isinstance(cfg, DictConfig):
        return dict(plain(cfg))
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    if isinstance(cfg, Mapping):
        return dict(cfg)
    return dict(vars(cfg))


@dataclass
class PathsConfig:
    # Content-addressed stage outputs live here, outside Hydra's per-run folder, so every job
    # of a sweep shares them.
    cache_dir: str = "${oc.env:INT_EXP_CACHE,.cache/int-exp}"


@dataclass
class TinyModelConfig:
    """A random Llama-style causal LM for tests (head_dim >= 32: vLLM's CPU attention needs it)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    num_kv_heads: int = 1
    intermediate_size: int = 128
    max_position_embeddings: int = 2048
    seed: int = 0


@dataclass
class ModelConfig:
    name: str = MISSING  # short label used in tags and reports
    # A hub id or local folder, or a builtin: "builtin:tiny", "builtin:smollm2_135m",
    # "builtin:sandbox" (built or converted once and cached by the `model` stage).
    name_or_path: str = MISSING
    revision: str | None = None
    dtype: str = "float32"  # bfloat16 on GPUs
    max_context: int = 2048  # prompts longer than this minus max_tokens are truncated
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


@dataclass
class DatasetSpec:
    name: str = MISSING  # label in metric keys: <name>/pass_at_<k>
    # gsm8k | math | math500 | arith | a .jsonl/.parquet/.csv path | hf:<hub id>[@<revision>]
    source: str = MISSING
    split: str = "test"
    limit: int | None = None  # overrides data.limit for this dataset
    # Rename mapping for files and hub sets, ours: theirs, e.g. {problem: question, answer: final};
    # an evaluation set with a `benchmark` column gets pass@k per benchmark (data=int_paper: {benchmark: source}).
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class DataConfig:
    train: DatasetSpec = field(default_factory=DatasetSpec)
    eval: list[DatasetSpec] = field(default_factory=list)
    limit: int | None = None  # seeded subset of every split
    seed: int = 0
    slice: str | None = None  # "start:stop" of the training problems, after the subset
    shard: str | None = None  # "i/N": this job's share of the training problems
    merge_shards: int | None = None  # N: merge the N shard entries of `merge_at` (pipeline/shards.py)
    merge_at: str = "correctness_filter"
    # The user message for every policy prompt (rollouts, RL, SFT, eval); {problem} is replaced.
    prompt_template: str = "{problem}"


@dataclass
class BackendConfig:
    name: str = "hf"  # hf | vllm | openai
    batch_size: int = 16  # hf: prompts per decoding batch (each with n samples)
    # hf: at most this many cache positions per sample in a batch (prompts x (longest prompt + new
    # tokens)): long prompts in smaller batches, short ones in bigger. null: batch_size alone.
    batch_tokens: int | None = None
    device: str = "auto"
    isolate: bool = False  # run the engine in a child process (vLLM keeps GPU memory in-process)
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    enable_prefix_caching: bool = True
    gpu_memory_utilization: float = 0.85
    max_model_len: int | None = None
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    # openai: OpenAI-compatible servers (vllm serve, SGLang)
    base_urls: list[str] = field(default_factory=list)
    served_model_name: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 32
    timeout_s: float = 600.0
    max_retries: int = 5


@dataclass
class SamplingConfig:
    """How to sample (the schema of ``sampling`` and ``intervention.sampling``). The defaults are
    the paper's script's; every sampling setting has its default here and nowhere else."""

    temperature: float = 0.7  # 0 samples greedily
    top_p: float = 0.8  # 1.0: no nucleus cut
    top_k: int = 20  # 0: no top-k cut
    max_tokens: int = 16384  # new tokens per sample (a prompt near the context gets fewer)
    seed: int = 0  # the same seed and prompts give the same samples


@dataclass
class RolloutsConfig:
    k: int = 4  # samples per problem


@dataclass
class PublishedSource:
    """A published set that stands in for the stage's output (int_exp/data/published.py)."""

    # hf:<hub id>[@<revision>] or a local .parquet/.jsonl/.csv; null: the stage computes its output
    source: str | None = None
    source_split: str = "train"  # hub sets only
    source_columns: dict[str, str] = field(default_factory=dict)  # ours -> theirs, as data.train.columns


@dataclass
class FailuresConfig(PublishedSource):
    only_unsolved: bool = False  # keep only problems with zero correct rollouts (the paper's hard set)


@dataclass
class PromptConfig:
    system: str | None = None
    turn1: str = MISSING
    turn2: str = MISSING


@dataclass
class InterventionConfig:
    # self | oracle | auto (oracle for arith data, else self) | a model id or path
    proposer: str = "self"
    prompt: PromptConfig = field(default_factory=PromptConfig)
    # The paper's sampling: the solving turn (problem + reference) `solve_samples` times per failed
    # attempt, then the verification turn `k` times from each solving sample (shared prefix).
    solve_samples: int = 1
    k: int = 4  # verification samples (proposals) per solving sample
    # The proposer's own sampling (the paper's script: 0.7, 0.8, 20, 16384); max_tokens is per turn.
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    per_attempt: int = 1  # interventions kept per (problem, incorrect_attempt)
    correctness_filter: bool = True
    filter_samples: int = 32  # continuations per intervention
    min_correct: int = 1
    samples_in_report: int = 8


@dataclass
class ReflectConfig:
    prompt: str = MISSING
    max_tokens: int = 4096
    require_correct: bool = True  # keep only rewrites whose final answer is right


# The training sections hold the stage's own keys; the trainer's keys (learning rate, LoRA, ...) are
# the fields of its settings dataclass (int_exp/training/*_trainer.py), which the root schema adds
# (int_exp.domains.schema): `sft.lora_r` is SFTSettings.lora_r, `rl.beta` is GRPOSettings.beta.


@dataclass
class SFTConfig(PublishedSource):
    """The ``sft`` stage's own keys (its trainer's are added to this schema)."""

    enabled: bool = True
    trainer: str = "sft"  # a registered trainer (int_exp/training): sft, or a plugin's
    data: str = "interventions"  # interventions | reference | reflection | published (sft.source)
    clone_prefix: bool = True
    clone_suffix: bool = False
    num_processes: int = 1  # > 1: the runner starts `accelerate launch`
    accelerate_config: str | None = None  # conf/accelerate/*.yaml (DeepSpeed ZeRO-3, FSDP)


@dataclass
class RLConfig(PublishedSource):
    """The ``rl`` stage's own keys (its trainer's are added to this schema)."""

    enabled: bool = True
    trainer: str = "grpo"  # a registered trainer (int_exp/training): grpo, or a plugin's
    hints: bool = False
    hint_fraction: float = 0.5  # share of the reference solution's steps given as a hint
    # all: every training problem | unsolved: those with no correct rollout (the paper's hard set)
    problems: str = "all"
    num_processes: int = 1
    accelerate_config: str | None = None


@dataclass
class EvalConfig:
    n: int = 8  # samples per problem
    k: list[int] = field(default_factory=lambda: [1, 8])
    temperature: float = "${sampling.temperature}"  # type: ignore[assignment]
    max_tokens: int = "${sampling.max_tokens}"  # type: ignore[assignment]


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str = "sqlite:///mlruns/mlflow.db"  # or http://host:5000 for an `mlflow server`
    # A sqlite store's folder must exist (a typo'd path is an error, not a new store somewhere);
    # true: create it.
    create: bool = False
    artifact_root: str = "mlruns/artifacts"  # used when the experiment is created locally
    connect_timeout_s: float = 10.0  # an http(s) tracking server that does not answer fails after this
    experiment: str = "int-exp"
    run_name: str | None = None
    parent_run_id: str | None = None  # set by sweeps so trials nest under one parent
    trial_number: int | None = None  # set by the Optuna sweeper for each trial
    # LoggedModel files up to this size go to MLflow; larger ones stay in the cache (external model)
    checkpoint_artifact_max_mb: int = 0


@dataclass
class VariantConfig:
    name: str = "int"


@dataclass
class Config:
    # Stages to run. Upstream data stages are pulled in as needed; training stages (sft, rl)
    # run only when listed here and enabled by the variant.
    stages: list[str] = field(default_factory=lambda: ["sft", "rl", "eval"])
    optimized_metric: str | None = None  # what run.py returns to a sweeper
    # CPU threads of this job (torch, OpenMP, tokenizers, grading workers); 0: the machine's cores
    # divided by the int-exp jobs running on it (not those waiting on a cache lock), rechecked before
    # every stage and every few seconds within one (runtime/threads.py)
    threads: int = 0
    # The seed of every stage that samples or trains (sampling, intervention.sampling, sft, rl):
    # their `seed` keys default to it, so `python run.py -m seed=0,1,2` repeats a comparison over
    # seeds. The data subset (data.seed) and the base model (model.*.seed) do not follow it.
    seed: int = 0
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    rollouts: RolloutsConfig = field(default_factory=RolloutsConfig)
    failures: FailuresConfig = field(default_factory=FailuresConfig)
    intervention: InterventionConfig = field(default_factory=InterventionConfig)
    reflect: ReflectConfig = field(default_factory=ReflectConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    variant: VariantConfig = field(default_factory=VariantConfig)
