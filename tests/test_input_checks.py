"""The probe of issue 28, kept: each bad input a new user might give, on real files, is refused
before any MLflow run or cache entry exists, with the setting, the path and what was expected."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from int_exp.cli import run_job
from tests.test_e2e import smoke


def workspace(tmp_path: Path) -> dict:
    return {"cache": tmp_path / "cache", "uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifacts": tmp_path / "a", "device": []}


def refused(tmp_path: Path, *overrides: str) -> str:
    """The job's error; nothing was created: no store, no cache folder."""
    with pytest.raises(ValueError) as info:
        run_job(smoke(workspace(tmp_path), *overrides))
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "cache").exists()
    return str(info.value)


def write_jsonl(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


GOOD = {"problem": "1+1?", "answer": "2", "reference_solution": "1+1=2"}


@pytest.mark.parametrize("row,expected", [
    ({**GOOD, "answer": float("inf")}, "column 'answer' at line 2 holds a non-finite number (inf)"),
    ({**GOOD, "answer": {"value": 2}}, "column 'answer' at line 2 holds a JSON object"),
    ({**GOOD, "answer": True}, "column 'answer' at line 2 holds a boolean (True)"),
    ({**GOOD, "problem": ["1+1?"]}, "column 'problem' at line 2 holds a list"),
    ({**GOOD, "answer": ""}, "required column 'answer' has 1 empty value(s) of 2 (first at line 2)"),
    ({**GOOD, "source": "gsm9k"}, "column 'source' at line 2 is 'gsm9k', which names no domain"),
])
def test_bad_rows_are_refused_naming_the_setting_file_and_line(tmp_path, row, expected):
    source = write_jsonl(tmp_path / "p.jsonl", [GOOD, row])  # json.dumps writes inf as Infinity
    message = refused(tmp_path, f"data.train.source={source}")
    assert f"data.train.source={source}: " in message and expected in message


def test_an_unknown_source_lists_the_allowed_ones(tmp_path):
    source = write_jsonl(tmp_path / "p.jsonl", [{**GOOD, "source": "MATH/algebra"}])
    assert "allowed: ['arith', 'gsm8k', 'math', 'math500']" in refused(tmp_path, f"data.train.source={source}")


def test_known_sources_files_and_hub_sets_are_accepted(tmp_path):
    from int_exp.input_checks import data_problems

    rows = [{**GOOD, "source": s} for s in ("gsm8k", "arith", "data/x.jsonl", "hf:org/set", "")]
    cfg = smoke(workspace(tmp_path), f"data.train.source={write_jsonl(tmp_path / 'p.jsonl', rows)}")
    assert data_problems(cfg) == []
    # the same file with one unknown source is read and refused: the empty list above was a verdict
    bad = smoke(workspace(tmp_path), f"data.train.source={write_jsonl(tmp_path / 'q.jsonl', [*rows, {**GOOD, 'source': 'gsm9k'}])}")
    assert any("'gsm9k', which names no domain" in problem for problem in data_problems(bad))


def test_a_folder_named_like_a_data_file_is_refused(tmp_path):
    (tmp_path / "x.jsonl").mkdir()
    message = refused(tmp_path, f"data.train.source={tmp_path / 'x.jsonl'}")
    assert f"data.train.source={tmp_path / 'x.jsonl'}: data file" in message and "is a folder, expected a jsonl file" in message


def test_random_bytes_as_parquet_are_refused(tmp_path):
    path = tmp_path / "p.parquet"
    path.write_bytes(os.urandom(2048))
    message = refused(tmp_path, f"data.train.source={path}")
    assert f"data.train.source={path}: data file {path}: cannot be read as parquet" in message


def test_a_jsonl_line_that_is_not_an_object_is_refused(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n[1, 2]\n")
    assert "line 2 is a JSON list, expected an object" in refused(tmp_path, f"data.train.source={path}")


def test_a_model_folder_with_only_a_config_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    message = refused(tmp_path, f"model.name_or_path={folder}")
    assert f"model.name_or_path={folder}: the folder has no tokenizer files" in message
    assert "no weights (*.safetensors or *.bin); expected a model folder" in message


def test_a_csv_given_as_a_model_is_refused(tmp_path):
    path = tmp_path / "model.csv"
    path.write_text("problem,answer\n1+1?,2\n")
    message = refused(tmp_path, f"model.name_or_path={path}")
    assert f"model.name_or_path={path}: is a file, expected a model folder" in message


def test_a_model_config_that_is_not_a_transformers_config_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for name, text in (("config.json", "[]"), ("tokenizer.json", "{}"), ("model.safetensors", "x")):
        (folder / name).write_text(text)
    assert "its config.json has no 'model_type'" in refused(tmp_path, f"model.name_or_path={folder}")


def test_a_cache_folder_that_is_a_file_is_refused(tmp_path, monkeypatch):
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INT_EXP_CACHE", str(blocker / "int-exp"))
    message = refused(tmp_path, "paths.cache_dir=${oc.env:INT_EXP_CACHE}")
    assert f"paths.cache_dir (INT_EXP_CACHE)={blocker / 'int-exp'}: cannot be made: {blocker} is a file" in message


def test_a_read_only_cache_folder_is_refused(tmp_path):
    read_only = Path("/sys/int-exp-cache")  # sysfs: read-only even for root, unlike a chmod'ed folder
    try:
        (Path("/sys") / ".int-exp-probe").touch()
        pytest.skip("/sys is writable here")
    except OSError:
        pass
    message = refused(tmp_path, f"paths.cache_dir={read_only}")
    assert f"paths.cache_dir={read_only}: the folder above it, /sys, is not writable" in message


def test_every_input_problem_is_listed_at_once(tmp_path):
    (tmp_path / "x.jsonl").mkdir()
    (tmp_path / "model.csv").write_text("a,b\n")
    message = refused(tmp_path, f"data.train.source={tmp_path / 'x.jsonl'}", f"model.name_or_path={tmp_path / 'model.csv'}")
    assert "is a folder, expected a jsonl file" in message  # the data file's problem ...
    assert f"model.name_or_path={tmp_path / 'model.csv'}: is a file, expected a model folder" in message  # ... and the model's


def test_a_job_says_at_the_start_how_much_it_may_generate(tmp_path, caplog):
    from int_exp.input_checks import WORK_WARNING_TOKENS, log_planned_work, work_estimate

    cfg = smoke(workspace(tmp_path), "eval.n=1000")
    total, lines = work_estimate(cfg, ["rollouts", "eval"])
    assert total == 6 * 2 * 48 + 6 * 1000 * 48
    assert lines == ["rollouts: <= 576 tokens (6 problems x 2 x 48)", "eval: <= 288,000 tokens (6 problems x 1000 x 48)"]
    big = smoke(workspace(tmp_path), "eval.n=1000", f"eval.max_tokens={WORK_WARNING_TOKENS // 6000 + 1}")
    log_planned_work(big, ["eval"])
    assert "this job may generate up to" in caplog.text and "eval: <=" in caplog.text
