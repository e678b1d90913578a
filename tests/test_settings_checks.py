"""Bad settings and files fail before any work: a message naming the key (or file and line), the
value and what is allowed, and no MLflow run or cache entry left behind."""

from __future__ import annotations

import pytest

from int_exp.cli import run_job
from tests.test_e2e import smoke

BAD_SETTINGS = [
    ("eval.n=0", "eval.n=0"),
    ("eval.n=-2", "eval.n=-2"),
    (["eval.n=4", "eval.k=[8]"], "eval.k=[8]"),
    (["eval.n=4", "eval.k=[0,1]"], "eval.k=[0, 1]"),
    ("data.eval=[]", "data.eval=[]"),
    ("rollouts.k=0", "rollouts.k=0"),
    ("sampling.temperature=-1", "sampling.temperature=-1"),
    ("sampling.max_tokens=0", "sampling.max_tokens=0"),
    ("sampling.top_p=1.5", "sampling.top_p=1.5"),
    ("intervention.sampling.top_k=-3", "intervention.sampling.top_k=-3"),
    ("intervention.filter_samples=0", "intervention.filter_samples=0"),
    ("intervention.k=0", "intervention.k=0"),
    ("rl.num_generations=0", "rl.num_generations=0"),
    (["rl.num_generations=3", "rl.per_device_batch_size=8"], "rl.per_device_batch_size=8"),
    ("model.dtype=float17", "model.dtype=float17"),
    ("model.name_or_path=./no/such/model", "model.name_or_path=./no/such/model"),
    ("data.train.source=/no/such/problems.jsonl", "data.train.source=/no/such/problems.jsonl"),
    ("stages=[evl]", "unknown stage(s) ['evl']"),
    ("stages=[]", "stages=[]: name at least one target stage"),
    ("seed=-1", "seed=-1: seeds must be in 0..4294967295"),
    ("threads=-5", "threads=-5: must be >= 0"),
    ("data.limit=-1", "data.limit=-1: must be >= 0"),
    ("data.shard=5/2", "data.shard=5/2"),
    ("sft.learning_rate=-1", "sft.learning_rate=-1.0: must be > 0"),
    ("sampling.temperature=nan", "sampling.temperature=nan: must be a finite number"),
    ("intervention.sampling.top_p=inf", "intervention.sampling.top_p=inf: must be a finite number"),
    ("rollouts.k=100000", "rollouts.k=100000: at most 1024 samples per problem"),
    ("eval.n=100000", "eval.n=100000: at most 1024 samples per problem"),
    ("tracking.uri=sqlite:////nonexistent/dir/x.db",
     "tracking.uri=sqlite:////nonexistent/dir/x.db: the store's folder /nonexistent/dir does not exist"),
]


@pytest.mark.parametrize("overrides,message", BAD_SETTINGS)
def test_bad_settings_fail_before_any_run_or_cache_entry(tmp_path, overrides, message):
    overrides = [overrides] if isinstance(overrides, str) else overrides
    workspace = {"cache": tmp_path / "cache", "uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifacts": tmp_path / "a", "device": []}
    cfg = smoke(workspace, *overrides)
    with pytest.raises(ValueError) as info:
        run_job(cfg)
    assert message in str(info.value)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "cache").exists()


def test_every_problem_is_listed_at_once(tmp_path):
    workspace = {"cache": tmp_path / "cache", "uri": "", "artifacts": tmp_path, "device": []}
    with pytest.raises(ValueError) as info:
        run_job(smoke(workspace, "eval.n=0", "rollouts.k=0", "model.dtype=half"))
    text = str(info.value)
    assert "eval.n=0" in text and "rollouts.k=0" in text and "model.dtype=half" in text


@pytest.mark.parametrize("content,message", [
    (b'{"problem": "1+1?", "answer": "2"}\n{"problem": "caf\xe9", "answer": "1"}\n', "line 2 is not UTF-8"),
    (b'{"problem": "1+1?", "answer": "2"}\n{"problem": \n', "line 2 is not valid JSON"),
])
def test_bad_jsonl_names_the_file_and_line(tmp_path, content, message):
    from int_exp.data.files import read_jsonl

    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_jsonl(path)
    assert str(path) in str(info.value)


def test_an_empty_csv_names_the_file(tmp_path):
    from int_exp.config import DataConfig, DatasetSpec
    from int_exp.data import load_dataset_spec

    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValueError, match="empty.csv: cannot be read as csv"):
        load_dataset_spec(DatasetSpec(name="e", source=str(path)), DataConfig(), train=True)


def test_unknown_tracking_scheme_is_refused_before_any_work(tmp_path):
    workspace = {"cache": tmp_path / "cache", "uri": "garbage://x", "artifacts": tmp_path, "device": []}
    with pytest.raises(ValueError, match="tracking.uri=garbage://x: unknown scheme 'garbage'"):
        run_job(smoke(workspace))


def test_an_unreachable_tracking_server_fails_fast_naming_the_uri():
    import time
    from types import SimpleNamespace

    from int_exp.tracking import MlflowTracker

    started = time.time()
    with pytest.raises(ConnectionError, match="tracking.uri=http://127.0.0.1:9"):
        MlflowTracker(SimpleNamespace(uri="http://127.0.0.1:9", connect_timeout_s=2, experiment="x",
                                      artifact_root="a"))
    assert time.time() - started < 10


def test_a_hub_id_offline_and_not_cached_fails_at_once(monkeypatch):
    import time

    from int_exp.checks import hub_model_problems

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    problems = hub_model_problems("nobody-here/no-such-model-xyz", None)
    assert len(problems) == 1 and "unreachable (offline)" in problems[0] and time.time() - started < 5
    assert hub_model_problems("builtin:tiny", None) == [] and hub_model_problems("gsm8k", None) == []


def test_repeated_problem_texts_are_counted_and_warned_about(tmp_path, caplog):
    import json

    from int_exp.pipeline.runner import Runner
    from int_exp.stages import STAGES
    from int_exp.tracking import NullTracker

    path = tmp_path / "p.jsonl"
    rows = [{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?", "answer": "4"}, {"problem": "1+1?", "answer": "2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    workspace = {"cache": tmp_path / "cache", "uri": "", "artifacts": tmp_path, "device": []}
    cfg = smoke(workspace, f"data.train.source={path}", "stages=[problems]", "tracking.enabled=false")
    result = Runner(cfg, NullTracker(), STAGES).run()["problems"]
    assert result.metrics["funnel/problems_repeated_text"] == 2 and len(result.table()) == 3
    assert "share their text" in caplog.text
