"""Nothing stale, nothing lost: keys see file contents, damaged entries are recomputed, dead
processes' staging folders are removed."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from int_exp.pipeline.cache import Cache, cache_key
from int_exp.pipeline.plan import plan_keys
from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import Stage, StageOutput
from int_exp.runtime.processes import HOST
from int_exp.tracking import NullTracker


def read_file_stage(ctx):
    rows = [json.loads(line) for line in Path(ctx.cfg.source.path).read_text().splitlines() if line.strip()]
    return StageOutput(tables={"main": pd.DataFrame(rows)})


def model_stage(ctx):
    folder = ctx.out_dir / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights" * 100)
    (folder / "config.json").write_text("{}")
    return StageOutput(model="model", metrics={"built": 1})


STAGES = {
    "problems": Stage("problems", "1", ["source.path"], {}, read_file_stage),
    "model": Stage("model", "1", ["source.model"], {}, model_stage, tables=()),
}


def make_cfg(tmp_path: Path, stage: str, **values):
    return OmegaConf.create({"stages": [stage], "paths": {"cache_dir": str(tmp_path / "cache")},
                             "source": {"path": values.get("path"), "model": values.get("model", "m")},
                             "sft": {"enabled": False}, "rl": {"enabled": False}, "variant": {"name": "t"},
                             "backend": {"name": "hf"}})


def run(cfg):
    return Runner(cfg, NullTracker(), STAGES).run()


def write_rows(path: Path, answers: list[str]) -> None:
    path.write_text("".join(json.dumps({"problem": f"p{i}", "answer": a}) + "\n" for i, a in enumerate(answers)))


def test_an_edited_local_file_is_a_new_key_not_a_stale_hit(tmp_path):
    data = tmp_path / "problems.jsonl"
    write_rows(data, ["1", "2", "3"])
    cfg = make_cfg(tmp_path, "problems", path=str(data))
    first = run(cfg)["problems"]
    assert not first.cache_hit and list(first.table()["answer"]) == ["1", "2", "3"]
    assert run(cfg)["problems"].cache_hit  # unchanged: a hit
    write_rows(data, ["1", "7"])  # an answer changed, a row removed
    edited = run(cfg)["problems"]
    assert not edited.cache_hit and edited.key != first.key
    assert list(edited.table()["answer"]) == ["1", "7"]
    write_rows(data, ["1", "2", "3"])  # back to the original content: the original entry again
    assert run(cfg)["problems"].key == first.key


def test_a_local_model_folder_is_keyed_by_its_files(tmp_path):
    folder = tmp_path / "my_model"
    folder.mkdir()
    (folder / "config.json").write_text('{"layers": 2}')
    cfg = make_cfg(tmp_path, "model", model=str(folder))
    before = plan_keys(cfg, STAGES)["model"]
    (folder / "config.json").write_text('{"layers": 3}')
    assert plan_keys(cfg, STAGES)["model"] != before
    hub = make_cfg(tmp_path, "model", model="HuggingFaceTB/SmolLM2-135M-Instruct")  # no such folder: the name
    assert plan_keys(hub, STAGES)["model"] == cache_key("model", "1", {"source.model": hub.source.model}, {})


def test_a_tampered_table_is_moved_aside_and_recomputed(tmp_path, caplog):
    data = tmp_path / "problems.jsonl"
    write_rows(data, ["1", "2", "3"])
    cfg = make_cfg(tmp_path, "problems", path=str(data))
    entry = run(cfg)["problems"].dir
    pd.DataFrame({"problem": ["p0", "p1", "p2"], "answer": ["0", "0", "0"]}).to_parquet(entry / "main.parquet")
    again = run(cfg)["problems"]
    assert not again.cache_hit and list(again.table()["answer"]) == ["1", "2", "3"]
    assert "damaged: table 'main' (main.parquet) has" in caplog.text
    assert [p.name.split(".bad-")[0] for p in entry.parent.glob(".*.bad-*")] == [f".{entry.name}"]
    table = again.dir / "main.parquet"  # same size, one byte changed: the digest tells
    data_bytes = bytearray(table.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 0xFF
    table.write_bytes(bytes(data_bytes))
    assert not run(cfg)["problems"].cache_hit and "does not match its manifest digest" in caplog.text


def test_a_truncated_table_is_recomputed_not_an_error_forever(tmp_path):
    data = tmp_path / "problems.jsonl"
    write_rows(data, ["1", "2"])
    cfg = make_cfg(tmp_path, "problems", path=str(data))
    table = run(cfg)["problems"].dir / "main.parquet"
    table.write_bytes(table.read_bytes()[:40])
    again = run(cfg)["problems"]
    assert not again.cache_hit and list(again.table()["answer"]) == ["1", "2"]
    assert run(cfg)["problems"].cache_hit


def test_an_entry_whose_model_file_was_deleted_does_not_count_as_complete(tmp_path):
    cfg = make_cfg(tmp_path, "model")
    built = run(cfg)["model"]
    assert set(built.manifest["model"]["files"]) == {"model.safetensors", "config.json"}
    (built.dir / "model" / "model.safetensors").unlink()
    rebuilt = run(cfg)["model"]
    assert not rebuilt.cache_hit and (rebuilt.dir / "model" / "model.safetensors").stat().st_size == 700


def _exit_at_once() -> None:
    pass


def test_staging_folders_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_exit_at_once)
    process.start()
    process.join()
    folder = tmp_path / "cache" / "problems"
    dead = folder / f".k1.{HOST}.{process.pid}.abcd1234.tmp"
    live = folder / f".k2.{HOST}.{os.getpid()}.abcd1234.tmp"
    other_host = folder / f".k3.elsewhere.{process.pid}.abcd1234.tmp"
    for path in (dead, live, other_host):
        path.mkdir(parents=True)
        (path / "main.parquet").write_bytes(b"partial")
    removed = Cache(tmp_path / "cache").remove_dead_staging()
    assert removed == [dead] and not dead.exists() and live.exists() and other_host.exists()


def test_keys_without_local_files_are_unchanged_by_fingerprints():
    subset = {"data.train.source": "arith", "model.name_or_path": "builtin:tiny", "data.train.split": "test"}
    assert cache_key("s", "1", subset, {"a": "b"}, {}) == cache_key("s", "1", subset, {"a": "b"})


def flip_middle_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def test_a_same_size_byte_flip_in_a_model_file_is_recomputed_with_a_warning(tmp_path, caplog):
    cfg = make_cfg(tmp_path, "model")
    built = run(cfg)["model"]
    weights = built.dir / "model" / "model.safetensors"
    assert set(built.manifest["model"]["digests"]) == {"model.safetensors", "config.json"}
    stat = weights.stat()
    flip_middle_byte(weights)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as before
    rebuilt = run(cfg)["model"]
    assert not rebuilt.cache_hit and (rebuilt.dir / "model" / "model.safetensors").read_bytes() == b"weights" * 100
    assert "model file 'model.safetensors' (model/model.safetensors) does not match its manifest digest" in caplog.text
    assert run(cfg)["model"].cache_hit


def test_a_same_size_data_edit_with_its_mtime_restored_is_a_new_entry(tmp_path, monkeypatch):
    import subprocess

    from int_exp.pipeline import fingerprint

    monkeypatch.setattr(fingerprint, "RACY_SECONDS", 0.0)  # remember even a file written just now
    data, reference = tmp_path / "problems.jsonl", tmp_path / "reference"
    write_rows(data, ["1", "2", "3"])
    subprocess.run(["touch", "-r", str(data), str(reference)], check=True)
    cfg = make_cfg(tmp_path, "problems", path=str(data))
    first = run(cfg)["problems"]
    memo = fingerprint.DigestMemo.at(tmp_path / "cache")
    assert f"{data.stat().st_dev}:{data.stat().st_ino}" in memo.memo  # hashed once, remembered
    write_rows(data, ["1", "2", "4"])  # same size
    subprocess.run(["touch", "-r", str(reference), str(data)], check=True)  # the old mtime back
    edited = run(cfg)["problems"]
    assert edited.key != first.key and list(edited.table()["answer"]) == ["1", "2", "4"]


def test_an_entry_from_before_model_digests_is_checked_by_size_then_gets_them(tmp_path, caplog):
    caplog.set_level("INFO")
    cfg = make_cfg(tmp_path, "model")
    built = run(cfg)["model"]
    manifest_path = built.dir / "manifest.json"
    old = json.loads(manifest_path.read_text())
    del old["model"]["digests"]
    manifest_path.write_text(json.dumps(old))
    again = run(cfg)["model"]
    assert again.cache_hit and "digests recorded" in caplog.text
    assert set(json.loads(manifest_path.read_text())["model"]["digests"]) == {"model.safetensors", "config.json"}


def _no_file(manifest):
    del manifest["tables"]["main"]["file"]
    return manifest


def _escaping(manifest):
    manifest["tables"]["main"]["file"] = "../../problems.jsonl"
    return manifest


@pytest.mark.parametrize("damage,message", [
    (lambda manifest: [], "its manifest is a JSON list, not an object"),
    (_no_file, "table 'main' has no 'file' in the manifest"),
    (_escaping, "table 'main' path '../../problems.jsonl' points outside the entry"),
    (lambda manifest: {**manifest, "model": {"external": False}}, "its manifest's 'model' has no 'path'"),
])
def test_a_manifest_of_the_wrong_shape_is_moved_aside_and_recomputed(tmp_path, caplog, damage, message):
    data = tmp_path / "problems.jsonl"
    write_rows(data, ["1", "2"])
    cfg = make_cfg(tmp_path, "problems", path=str(data))
    entry = run(cfg)["problems"].dir
    manifest_path = entry / "manifest.json"
    manifest_path.write_text(json.dumps(damage(json.loads(manifest_path.read_text()))))
    again = run(cfg)["problems"]
    assert not again.cache_hit and list(again.table()["answer"]) == ["1", "2"]
    assert message in caplog.text and len(list(entry.parent.glob(".*.bad-*"))) == 1
    assert run(cfg)["problems"].cache_hit  # recomputed once, not an error on every later run
