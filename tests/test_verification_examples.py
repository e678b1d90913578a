"""The sandbox model's self-verification examples (int_exp/domains/arith/verification.py) on
scripted cases: the numbering the proposer prompt uses, the log copied up to the first departure
and marked there, the location and content of the block, the empty block for a correct attempt,
the mark task's marks, and the loss covering only the final answer."""

from __future__ import annotations

import json
import random
import re

import pytest

from int_exp.domains.arith.problem import ArithProblem, apply_op
from int_exp.domains.arith.settings import SandboxModelConfig
from int_exp.domains.arith.verification import (
    EMPTY_BLOCK,
    MARK,
    encode_chat,
    mark_target,
    noisy_attempt,
    perturbed_attempt,
    prompt_config,
    verification_chat,
    verification_examples,
    verification_target,
)
from int_exp.interventions import parse_intervention
from int_exp.interventions.judging import judge_proposal
from int_exp.interventions.prompts import number_steps
from int_exp.interventions.steps import join_steps, split_steps

# Start with 17. Add 25, then multiply by 3, then subtract 40: 42, 126, 86.
PROBLEM = ArithProblem(17, (("+", 25), ("*", 3), ("-", 40)))
PROMPT = prompt_config(SandboxModelConfig())


def block(text: str) -> dict:
    """The final block of a target (after its verification log)."""
    return json.loads(re.search(r"<intervention>(.*)</intervention>$", text).group(1))


def test_a_slip_is_replaced_at_its_step_with_the_right_step():
    attempt = join_steps(["Start: 17", "17 + 25 = 42", "42 * 3 = 136", "136 - 40 = 96", "The answer is \\boxed{96}."])
    target = verification_target(PROBLEM, attempt)
    # copied up to the departure (136 for 126: the second digit), marked there, then the block
    assert split_steps(target)[:3] == ["**Substep 1:** Start: 17", "**Substep 2:** 17 + 25 = 42",
                                       "**Substep 3:** 42 * 3 = 1!"]
    assert block(target) == {"content": "42 * 3 = 126", "location": 3}
    assert len(split_steps(target)) == 4


def test_a_misread_operation_is_marked_at_the_operation():
    attempt = join_steps(["Start: 17", "17 + 25 = 42", "42 - 40 = 2", "2 - 40 = 0", "The answer is \\boxed{0}."])
    target = verification_target(PROBLEM, attempt)
    assert split_steps(target)[2] == "**Substep 3:** 42 !"
    assert block(target) == {"content": "42 * 3 = 126", "location": 3}


def test_a_skipped_operation_is_replaced_by_the_missing_one():
    attempt = join_steps(["Start: 17", "17 + 25 = 42", "42 - 40 = 2", "The answer is \\boxed{2}."])
    assert block(verification_target(PROBLEM, attempt)) == {"content": "42 * 3 = 126", "location": 3}




def test_a_correct_attempt_gets_the_empty_block():
    target = verification_target(PROBLEM, PROBLEM.detailed())
    assert target == number_steps(PROBLEM.detailed()) + "\n\n" + EMPTY_BLOCK
    assert MARK not in target
    assert block(EMPTY_BLOCK) == {"content": "", "location": 0}


def test_the_chat_numbers_the_attempt_as_the_proposer_prompt_does():
    attempt = join_steps(["Start: 17", "17 + 25 = 43", "43 * 3 = 129", "129 - 40 = 89", "The answer is \\boxed{89}."])
    turn1_user, turn1_answer, turn2_user = verification_chat(PROBLEM, attempt, PROMPT)
    assert turn1_user == {"role": "user", "content": f"{PROBLEM.text}\nReference: {PROBLEM.terse()}"}
    assert turn1_answer == {"role": "assistant", "content": PROBLEM.detailed()}
    assert turn2_user["role"] == "user"
    assert "(5 substeps)" in turn2_user["content"]
    assert number_steps(attempt) in turn2_user["content"]
    assert "**Substep 2:** 17 + 25 = 43\n\n**Substep 3:** 43 * 3 = 129" in turn2_user["content"]
    assert block(verification_target(PROBLEM, attempt)) == {"content": "17 + 25 = 42", "location": 2}


def test_the_loss_covers_the_block_and_its_end_only(tmp_path):
    from int_exp.domains.arith.sandbox_model import build_tokenizer

    tokenizer = build_tokenizer()
    attempt = join_steps(["Start: 17", "17 + 25 = 42", "42 * 3 = 136", "136 - 40 = 96", "The answer is \\boxed{96}."])
    target = verification_target(PROBLEM, attempt)
    ids, n_prompt = encode_chat(tokenizer, verification_chat(PROBLEM, attempt, PROMPT), target)
    assert tokenizer.decode(ids[n_prompt:]) == target + "<|end|>"
    prompt = tokenizer.decode(ids[:n_prompt])
    assert prompt.endswith("**Substep 5:** The answer is \\boxed{96}.<|end|><|assistant|>")
    assert prompt.count("<|user|>") == 2 and prompt.count("<|assistant|>") == 2


@pytest.mark.parametrize("seed", range(5))
def test_perturbed_attempts_fail_after_a_correct_prefix_and_the_oracle_judges_the_target_right(seed):
    rng = random.Random(seed)
    problem = ArithProblem(12, (("-", 1), ("*", 2), ("-", 16), ("-", 4), ("-", 2), ("+", 8), ("-", 6), ("*", 3)))
    for _ in range(40):
        attempt = perturbed_attempt(problem, rng)
        target = block(verification_target(problem, attempt))
        steps = split_steps(attempt)
        assert 2 <= target["location"] <= len(steps)  # the start step is never the error
        assert steps[: target["location"] - 1] == problem.detailed_steps()[: target["location"] - 1]
        assert steps[target["location"] - 1] != target["content"]
        assert "\\boxed" in steps[-1] and f"{{{problem.answer}}}" not in steps[-1]
        spliced = parse_intervention(verification_target(problem, attempt), len(steps))
        assert spliced == target
        from int_exp.domains.arith.oracle import oracle_intervention

        assert judge_proposal(verification_target(problem, attempt), oracle_intervention(problem, attempt),
                              len(steps)).right


def test_the_mark_task_marks_each_step_that_does_not_follow_from_the_one_before():
    attempt = join_steps(["Start: 17", "17 + 25 = 43", "43 * 2 = 86", "86 - 40 = 46", "The answer is \\boxed{45}."])
    assert split_steps(mark_target(PROBLEM, attempt)) == [
        "**Substep 1:** Start: 17",
        "**Substep 2:** 17 + 25 = 4!3",  # a slip
        "**Substep 3:** 43 * !2 = 86",  # carried on from 43 (no mark there), the operand misread
        "**Substep 4:** 86 - 40 = 46",
        "**Substep 5:** The answer is \\boxed{4!5}.",
    ]


def test_noisy_attempts_carry_their_errors_on_and_are_marked_where_they_depart():
    rng = random.Random(3)
    problem = ArithProblem(12, (("-", 1), ("*", 2), ("-", 16), ("-", 4), ("-", 2), ("+", 8), ("-", 6), ("*", 3)))
    marked = 0
    for _ in range(40):
        attempt = noisy_attempt(problem, rng)
        steps = split_steps(attempt)
        lines = split_steps(mark_target(problem, attempt))
        assert [line.replace(MARK, "") for line in lines] == split_steps(number_steps(attempt))
        for i, (op, operand) in enumerate(problem.ops, start=1):
            carried = int(steps[i - 1].split()[-1])  # "Start: 12" or "... = 12"
            assert steps[i].startswith(f"{carried} ")  # errors are carried on
            assert lines[i].count(MARK) == (steps[i] != f"{carried} {op} {operand} = {apply_op(carried, op, operand)}")
        assert MARK not in lines[0] and MARK not in lines[-1]  # the start and the answer follow
        marked += sum(MARK in line for line in lines)
    assert 40 * 8 * 0.15 < marked < 40 * 8 * 0.45  # each operation off with probability 0.3


@pytest.mark.timeout(20)
def test_a_noisy_attempt_never_carries_a_value_below_zero():
    """Carrying a wrong value on through large subtractions and products goes far below zero,
    where a slip has no non-negative result: the attempt is drawn again (this once looped forever)."""
    rng = random.Random(0)
    problem = ArithProblem(9, (("-", 9), ("+", 9), ("-", 9), ("*", 3), ("-", 27), ("*", 3), ("*", 3), ("+", 9)))
    for rate in (0.3, 0.7, 1.0):
        for _ in range(300):
            values = [int(step.split()[-1].strip(".").removeprefix("\\boxed{").rstrip("}"))
                      for step in split_steps(noisy_attempt(problem, rng, rate=rate))]
            assert min(values) >= 0


def test_an_attempt_the_log_cannot_describe_gives_no_target():
    """An extra line after a correct solution (no departure on the right steps, yet not right),
    and an attempt that stops early (the oracle extends its last step instead)."""
    assert verification_target(PROBLEM, PROBLEM.detailed() + "\n\n86 + 1 = 87") is None
    assert verification_target(PROBLEM, join_steps(["Start: 17", "17 + 25 = 42"])) is None


def test_examples_come_in_five_tasks_with_own_attempts_added():
    from int_exp.domains.arith.sandbox_model import build_tokenizer

    tokenizer = build_tokenizer()
    own = [(PROBLEM, join_steps(["Start: 17", "17 + 25 = 41", "41 * 3 = 123", "123 - 40 = 83",
                                 "The answer is \\boxed{83}."]))]
    pools = verification_examples(tokenizer, [PROBLEM] * 4, own, PROMPT, random.Random(0), correct_share=0.0,
                                  short_problems=[PROBLEM] * 3, copies=6)
    assert {k: len(v) for k, v in pools.items()} == {"solve_ref": 4, "verify": 5, "mark": 4, "mark_short": 3,
                                                       "copy": 6}
    ids, n_prompt = pools["solve_ref"][0]
    assert tokenizer.decode(ids[n_prompt:]) == PROBLEM.detailed() + "<|end|>"
    ids, n_prompt = pools["verify"][-1]
    assert tokenizer.decode(ids[n_prompt:]) == ('**Substep 1:** Start: 17\n\n**Substep 2:** 17 + 25 = 4!\n\n'
                                                '<intervention>{"content": "17 + 25 = 42", "location": 2}</intervention><|end|>')
    ids, n_prompt = pools["mark_short"][0]
    prompt = tokenizer.decode(ids[:n_prompt])
    assert prompt.count("<|user|>") == 1 and PROBLEM.text in prompt and "Mark the attempt (5 substeps)" in prompt
    ids, n_prompt = pools["mark"][0]
    assert tokenizer.decode(ids[:n_prompt]).count("<|user|>") == 2
    for ids, n_prompt in pools["copy"]:
        prompt, target = tokenizer.decode(ids[:n_prompt]), tokenizer.decode(ids[n_prompt:]).removesuffix("<|end|>")
        assert prompt == f"<|user|>Copy: {target}<|end|><|assistant|>"
        assert 1 <= len(target) <= 60 and set(target) <= set("0123456789+-*= ")
