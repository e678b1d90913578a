"""``experiment=paper`` as far as it goes without vLLM and without the network: a random
Qwen3-shaped model that declares two end-of-sequence ids (as Qwen3 does), the hf backend, local
problems from a local file, budgets cut to seconds. Every training stage runs (SFT on the references, then
GRPO, then eval) on the ``device`` fixture's device: on a GPU machine the same test runs SFT and
GRPO in bf16 (issue 27, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from int_exp.cli import run_job
from tests.test_configs import CONF
from tests.test_e2e import workspace_at


def build_tiny_qwen3(out: Path, tokenizer_dir: str | None = None) -> list[int]:
    """A random 2-layer Qwen3 with SmolLM2's tokenizer; its generation config lists two end ids
    (``<|im_end|>`` and ``<|endoftext|>``, like Qwen3's 151645 and 151643). Returns them."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    from int_exp.models import smollm2_tokenizer

    tokenizer = (AutoTokenizer.from_pretrained(tokenizer_dir, padding_side="left") if tokenizer_dir
                 else smollm2_tokenizer())
    ends = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    assert len(set(ends)) == 2, ends
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=2048,
                         tie_word_embeddings=True, eos_token_id=ends, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = ends
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return ends


def test_the_paper_chain_runs_every_training_stage_on_a_qwen3_shaped_model(tmp_path, device):
    import os

    from transformers import GenerationConfig

    model_dir = tmp_path / "qwen3-tiny"
    ends = build_tiny_qwen3(model_dir, os.environ.get("INT_EXP_TEST_TOKENIZER"))
    assert GenerationConfig.from_pretrained(model_dir).eos_token_id == ends
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"problem": f"What is {a} + {a}?", "answer": str(2 * a),
                                            "reference_solution": f"{a} + {a} = {2 * a}. \\boxed{{{2 * a}}}"}) + "\n"
                                for a in range(1, 5)))
    ws = workspace_at(tmp_path, device)
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=[
            "experiment=paper", "variant=sft_ref", "backend=hf", f"model.name_or_path={model_dir}",
            "data=math500", f"data.train.source={problems}", f"data.eval.0.source={problems}", "rollouts.k=2", "sampling.max_tokens=16",
            "sft.max_length=256", "sft.epochs=1", "sft.per_device_batch_size=2", "sft.gradient_accumulation_steps=1",
            "rl.use_vllm=false", "rl.max_steps=1", "rl.num_generations=2", "rl.per_device_batch_size=2",
            "rl.max_completion_length=16", "eval.n=2", "eval.k=[1,2]",
            f"paths.cache_dir={ws['cache']}", f"tracking.uri={ws['uri']}",
            f"tracking.artifact_root={ws['artifacts']}", *ws["device"],
        ])
    run_job(cfg)
    client = MlflowClient(ws["uri"])
    runs = client.search_runs([client.get_experiment_by_name("paper").experiment_id])
    by_stage = {r.data.tags.get("stage"): r for r in runs if r.data.tags.get("stage")}
    assert {"sft", "rl", "eval"} <= set(by_stage), sorted(by_stage)
    job = next(r for r in runs if not r.data.tags.get("stage"))
    assert job.info.status == "FINISHED"
    assert any(k.endswith("pass_at_1") for k in job.data.metrics), sorted(job.data.metrics)
