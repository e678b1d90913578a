"""The synthetic arithmetic domain: generation, splits, exact references, and the oracle checker."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import pytest

from int_exp.domains.arith.generator import (
    ArithProblem,
    arith_table,
    check_solution,
    difficulty,
    generate_problems,
    oracle_intervention,
    parse_problem,
    split_of,
)
from int_exp.domains.arith.settings import ArithConfig
from int_exp.interventions.steps import join_steps, split_steps

PROBLEM = "Start with 17. Add 25, then multiply by 3, then subtract 40. What is the result?"
ROW = {"problem": PROBLEM, "answer": "86"}
REFERENCE = ["Start: 17", "17 + 25 = 42", "42 * 3 = 126", "126 - 40 = 86", "The answer is \\boxed{86}."]
BLOCK = re.compile(r"<intervention>(.*?)</intervention>", re.DOTALL)


def block(output: str) -> dict:
    """The oracle's block, read with plain json.loads (it must be strict JSON)."""
    found = BLOCK.findall(output)
    assert len(found) == 1, output
    return json.loads(found[0])


def recompute(problem: ArithProblem) -> int:
    value = problem.start
    for op, operand in problem.ops:
        if op == "/":
            assert value % operand == 0
        value = (
            {"+": value + operand, "-": value - operand, "*": value * operand}[op]
            if op != "/"
            else value // operand
        )
    return value


# ------------------------------------------------------------------------------------------
# Generation
# ------------------------------------------------------------------------------------------


def test_example_problem_and_references():
    p = parse_problem(PROBLEM)
    assert p == ArithProblem(17, (("+", 25), ("*", 3), ("-", 40)))
    assert p.text == PROBLEM
    assert p.answer == 86
    assert split_steps(p.detailed()) == REFERENCE
    assert p.terse() == "17 + 25 = 42, * 3 = 126, - 40 = 86. \\boxed{86}"
    assert len(split_steps(p.terse())) == 1 < len(REFERENCE)


def test_generation_is_deterministic_and_prefix_stable():
    cfg = ArithConfig()
    a, b = arith_table(cfg, "train"), arith_table(cfg, "train")
    assert a.equals(b)
    assert len(a) == cfg.train_size and a["problem"].is_unique
    assert list(a["problem_id"][:3]) == ["arith/train/0", "arith/train/1", "arith/train/2"]
    assert generate_problems(cfg, "test", 50) == generate_problems(cfg, "test", 100)[:50]
    other = arith_table(replace(cfg, seed=1), "train")
    assert len(set(a["problem"]) & set(other["problem"])) < len(a) // 10


def test_references_are_exact_and_pass_the_checker():
    cfg = ArithConfig(operations=["+", "-", "*", "/"])
    table = arith_table(cfg, "test")
    for row in table.to_dict("records"):
        p = parse_problem(row["problem"])
        assert row["answer"] == str(recompute(p))
        steps = split_steps(row["reference_solution"])
        assert steps == split_steps(row["reference_detailed"])
        assert len(steps) == row["num_steps"] + 2 and steps[0] == f"Start: {p.start}"
        assert steps[-1] == f"The answer is \\boxed{{{row['answer']}}}."
        value = p.start
        for step, (op, operand) in zip(steps[1:-1], p.ops):  # every step recomputed independently
            a, sym, b, eq, c = step.split(" ")
            assert (int(a), sym, int(b), eq) == (value, op, operand, "=")
            value = recompute(ArithProblem(value, ((op, operand),)))
            assert int(c) == value
        assert check_solution(row, row["reference_solution"]) == (None, "correct")
        assert check_solution(row, row["reference_terse"]) == (None, "correct")
        assert len(split_steps(row["reference_terse"])) == 1


def test_knobs_are_respected():
    cfg = ArithConfig(
        min_steps=2,
        max_steps=4,
        max_operand=12,
        max_multiplier=5,
        max_value=300,
        operations=["+", "-", "*", "/"],
        train_size=300,
    )
    problems = generate_problems(cfg, "train")
    assert {p.num_steps for p in problems} == {2, 3, 4}
    assert {op for p in problems for op, _ in p.ops} == {"+", "-", "*", "/"}
    for p in problems:
        assert 1 <= p.start <= 12
        for (op, operand), before in zip(p.ops, p.values):
            assert 1 <= operand <= 12 if op in "+-" else 2 <= operand <= 5
            if op == "/":
                assert before % operand == 0
        assert all(0 <= v <= 300 for v in p.values)
    negative = ArithConfig(
        allow_negative=True, operations=["-"], min_steps=4, max_steps=4, max_operand=9, test_size=50
    )
    assert any(v < 0 for p in generate_problems(negative, "test") for v in p.values)


def test_train_and_test_are_disjoint_whatever_the_seed():
    train = {p.text for p in generate_problems(ArithConfig(train_size=3000), "train")}
    for seed in (0, 1, 2):
        test = {p.text for p in generate_problems(ArithConfig(seed=seed, test_size=500), "test")}
        assert not train & test
        assert {split_of(t) for t in test} == {"test"}
    pretrain = {p.text for p in generate_problems(ArithConfig(), "pretrain", 1000)}
    assert not pretrain & train and {split_of(t) for t in pretrain} == {"pretrain"}


def test_difficulty_labels_and_styles():
    table = arith_table(ArithConfig(min_steps=1, max_steps=7, reference_style="terse", test_size=300), "test")
    assert set(table["num_steps"]) == set(range(1, 8))
    for n, label in zip(table["num_steps"], table["difficulty"]):
        assert label == ("easy" if n <= 3 else "medium" if n <= 5 else "hard")
    assert difficulty(3) == "easy" and difficulty(4) == "medium" and difficulty(6) == "hard"
    assert (table["reference_solution"] == table["reference_terse"]).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"min_steps": 5, "max_steps": 3}, "min_steps"),
        ({"operations": ["+", "%"]}, "operations"),
        ({"reference_style": "short"}, "reference_style"),
        ({"min_steps": 1, "max_steps": 1, "max_operand": 2, "operations": ["+"], "test_size": 50}, "widen"),
    ],
)
def test_bad_settings_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        generate_problems(ArithConfig(**bad), "test")
    with pytest.raises(ValueError, match="splits"):
        generate_problems(ArithConfig(), "validation")


def test_parse_problem_rejects_other_text():
    with pytest.raises(ValueError, match="not an arith problem"):
        parse_problem("What is 2 + 2?")
    with pytest.raises(ValueError, match="disagrees"):
        check_solution({"problem": PROBLEM, "answer": "85"}, join_steps(REFERENCE))


# ------------------------------------------------------------------------------------------
# Checker and oracle
# ------------------------------------------------------------------------------------------


def attempt(*steps: str) -> str:
    return join_steps(list(steps))


CASES = {
    # name: (attempt, first error step, intervention location, content)
    "wrong arithmetic at step 2": (
        attempt("Start: 17", "17 + 25 = 43", "43 * 3 = 129", "129 - 40 = 89", "The answer is \\boxed{89}."),
        2,
        2,
        "17 + 25 = 42",
    ),
    "wrong carried value": (
        attempt("Start: 17", "17 + 25 = 42", "24 * 3 = 72", "72 - 40 = 32", "The answer is \\boxed{32}."),
        3,
        3,
        "42 * 3 = 126",
    ),
    "wrong operation": (
        attempt("Start: 17", "17 + 25 = 42", "42 + 3 = 45", "45 - 40 = 5", "The answer is \\boxed{5}."),
        3,
        3,
        "42 * 3 = 126",
    ),
    "wrong start": (attempt("Start: 71", "71 + 25 = 96"), 1, 1, "Start: 17"),
    "unreadable step": (
        attempt("Start: 17", "17 + 25 = 42", "42 * 3 = ??", "The answer is \\boxed{86}."),
        3,
        3,
        "42 * 3 = 126",
    ),
    "cut off mid-equation": (
        attempt("Start: 17", "17 + 25 = 42", "42 * 3 = 126", "126 - 4"),
        4,
        4,
        "126 - 40 = 86",
    ),
    "wrong final box": (
        attempt(*REFERENCE[:-1], "The answer is \\boxed{87}."),
        5,
        5,
        "The answer is \\boxed{86}.",
    ),
    "box before the last operation": (
        attempt("Start: 17", "17 + 25 = 42", "42 * 3 = 126", "The answer is \\boxed{126}."),
        4,
        4,
        "126 - 40 = 86",
    ),
    "drifts into prose": (
        attempt("Start: 17", "17 + 25 = 42", "I am not sure what to do."),
        3,
        3,
        "42 * 3 = 126",
    ),
    "random text": (attempt("the of and to in"), 1, 1, "Start: 17"),
    "second equation of a step is wrong": (
        attempt("Start: 17", "17 + 25 = 42, then 42 * 3 = 116"),
        2,
        2,
        "17 + 25 = 42\n42 * 3 = 126",
    ),
    # every step right but it stops: the last step is kept and the next one appended
    "stops before the end": (attempt("Start: 17", "17 + 25 = 42"), 3, 2, "17 + 25 = 42\n\n42 * 3 = 126"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_oracle_finds_the_first_error(name):
    from int_exp.interventions import guided_attempt, parse_intervention

    text, first_error, location, content = CASES[name]
    step, reason = check_solution(ROW, text)
    assert step == first_error, reason
    output = oracle_intervention(ROW, text)
    assert output.startswith(f"First error at step {first_error}: ")
    assert block(output) == {"content": content, "location": location}
    assert parse_intervention(output, len(split_steps(text))) == {"content": content, "location": location}
    # The spliced attempt (steps before the error + the correction) is right as far as it goes.
    guided = guided_attempt(text, location, content)
    step_after, _ = check_solution(ROW, guided)
    assert step_after is None or step_after == len(split_steps(guided)) + 1


def test_correct_attempts_get_an_empty_intervention():
    from int_exp.interventions import parse_intervention_reason

    chatty = (
        "Let's solve this step by step.\n\nWe start with 17 and add 25: 17 + 25 = 42.\n\n"
        "Then 3 × 42 = 126. So far, 126.\n\nFinally, 126 - 40 = 86, so the result is $\\boxed{86}$."
    )
    for text in (join_steps(REFERENCE), parse_problem(PROBLEM).terse(), chatty, "\\boxed{86}"):
        assert check_solution(ROW, text) == (None, "correct")
        output = oracle_intervention(ROW, text)
        assert block(output)["content"] == ""
        assert parse_intervention_reason(output, len(split_steps(text))) == (None, "empty_content")


def test_an_error_in_the_last_steps_reveals_the_answer_and_the_leak_filter_sees_it():
    from int_exp.interventions import leaks_answer

    late = block(oracle_intervention(ROW, CASES["wrong final box"][0]))["content"]
    early = block(oracle_intervention(ROW, CASES["wrong arithmetic at step 2"][0]))["content"]
    assert leaks_answer(late, "86") and not leaks_answer(early, "86")


def test_first_error_is_found_on_random_corruptions():
    rng = random.Random(0)
    for p in generate_problems(ArithConfig(), "test", 150):
        row = {"problem": p.text, "answer": str(p.answer)}
        steps = p.detailed_steps()
        k = rng.randrange(1, len(steps) - 1)  # an operation step (0-based index)
        a, op, b, _, c = steps[k].split(" ")
        kind = rng.choice(["result", "carried", "operand"])
        if kind == "result":
            steps[k] = f"{a} {op} {b} = {int(c) + rng.choice([-1, 1, 10])}"
        elif kind == "carried":
            steps[k] = f"{int(a) + 1} {op} {b} = {c}"
        else:
            steps[k] = f"{a} {op} {int(b) + 1} = {c}"
        assert check_solution(row, join_steps(steps))[0] == k + 1, (p.text, steps[k])
        expected = {"content": p.detailed_steps()[k], "location": k + 1}
        assert block(oracle_intervention(row, join_steps(steps))) == expected
