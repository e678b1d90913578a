"""SFT examples: the four clone-flag variants, end-of-turn, label masks, truncation."""

from __future__ import annotations

import json

import pytest

from int_exp.sft import (
    IGNORE_INDEX,
    build_example,
    build_examples,
    labels_of,
    prompt_text,
    reference_example,
    reflection_example,
    tokenize_example,
    tokenize_examples,
)

ATTEMPT = "Step one: 2 + 3 = 5.\n\nStep two: 5 * 4 = 21.\n\nStep three: 21 - 1 = 20.\n\nThe answer is 20."
STEPS = ATTEMPT.split("\n\n")
FIX = "Step two: 5 * 4 = 20."
SUFFIX = "\n\nStep three: 20 - 1 = 19.\n\nThe answer is 19."


def row(location: int, **extra) -> dict:
    return {
        "problem": "Compute (2 + 3) * 4 - 1.",
        "incorrect_attempt": ATTEMPT,
        "intervention": {"content": FIX, "location": location},
        "guided_completion": SUFFIX,
        **extra,
    }


@pytest.mark.parametrize("location", [1, 2, 4])  # N=1, middle, N=T
@pytest.mark.parametrize("clone_prefix", [True, False])
@pytest.mark.parametrize("clone_suffix", [True, False])
def test_build_example_variants(location, clone_prefix, clone_suffix):
    prefix = "\n\n".join(STEPS[: location - 1]) + "\n\n" if location > 1 else ""
    guided = prefix + FIX
    example = build_example(row(location), clone_prefix, clone_suffix)

    assert set(example) == {"problem", "context", "target", "eos"}
    assert example["problem"] == "Compute (2 + 3) * 4 - 1."
    assert example["context"] == ("" if clone_prefix else prefix)
    expected_target = (guided if clone_prefix else FIX) + (SUFFIX if clone_suffix else "")
    assert example["target"] == expected_target
    assert example["context"] + example["target"] == guided + (SUFFIX if clone_suffix else "")
    assert example["eos"] is clone_suffix  # mid-solution targets never end with end-of-turn


def test_int_target_exact_strings():
    assert build_example(row(1), True, False)["target"] == FIX
    assert build_example(row(2), True, False)["target"] == "Step one: 2 + 3 = 5.\n\nStep two: 5 * 4 = 20."
    assert build_example(row(2), False, False) == {
        "problem": "Compute (2 + 3) * 4 - 1.",
        "context": "Step one: 2 + 3 = 5.\n\n",
        "target": FIX,
        "eos": False,
    }


def test_stored_guided_attempt_must_agree():
    good = "Step one: 2 + 3 = 5.\n\n" + FIX
    assert build_example(row(2, intervention_guided_attempt=good), True, False)["target"] == good
    with pytest.raises(ValueError, match="intervention_guided_attempt"):
        build_example(row(2, intervention_guided_attempt="something else"), True, False)


def test_missing_guided_completion_is_a_clear_error():
    bare = row(2)
    del bare["guided_completion"]
    assert build_example(bare, True, False)["eos"] is False  # not needed without suffix cloning
    with pytest.raises(ValueError, match="guided_completion"):
        build_example(bare, True, True)
    with pytest.raises(ValueError, match="guided_completion"):
        build_example({**bare, "guided_completion": float("nan")}, False, True)  # pandas' missing value


def test_bad_location_and_json_intervention():
    with pytest.raises(ValueError, match="location 5"):
        build_example(row(5), True, False)
    as_json = {**row(2), "intervention": json.dumps({"content": FIX, "location": 2})}
    assert build_example(as_json, True, False) == build_example(row(2), True, False)


def test_baseline_examples_and_dispatch():
    base = {"problem": "p", "reference_solution": "a\n\nb", "reflection": "r1\n\nr2"}
    assert reference_example(base) == {"problem": "p", "context": "", "target": "a\n\nb", "eos": True}
    assert reflection_example(base) == {"problem": "p", "context": "", "target": "r1\n\nr2", "eos": True}
    assert build_examples([base], "reference", True, False) == [reference_example(base)]
    assert build_examples([base], "reflection", False, True) == [reflection_example(base)]
    assert build_examples([row(2)], "interventions", True, False) == [build_example(row(2), True, False)]
    with pytest.raises(ValueError, match="unknown SFT source"):
        build_examples([base], "other", True, False)
    with pytest.raises(ValueError, match="reflection"):
        reflection_example({"problem": "p"})


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from int_exp.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def decode_where(tokenizer, ids, keep) -> str:
    return tokenizer.decode([t for t, k in zip(ids, keep) if k], skip_special_tokens=False)


@pytest.mark.parametrize("clone_prefix", [True, False])
@pytest.mark.parametrize("clone_suffix", [True, False])
def test_label_masks(tokenizer, clone_prefix, clone_suffix):
    example = build_example(row(3), clone_prefix, clone_suffix)
    tok = tokenize_example(example, tokenizer, max_length=4096)
    ids, mask = tok["input_ids"], tok["completion_mask"]
    assert len(ids) == len(mask) and mask[0] == 0 and mask[-1] == 1
    # The mask is one contiguous block at the end: prompt (+ context), then completion.
    first = mask.index(1)
    assert all(mask[first:]) and not any(mask[:first])

    completion = decode_where(tokenizer, ids, mask)
    prompt = decode_where(tokenizer, ids, [1 - m for m in mask])
    assert completion == example["target"] + ("<|im_end|>" if clone_suffix else "")
    assert completion.endswith("<|im_end|>") is clone_suffix
    assert prompt.endswith("<|im_start|>assistant\n" + example["context"])
    assert prompt.startswith("<|im_start|>system")  # the template text, no extra BOS from the tokenizer
    assert prompt.count("<|im_end|>") == 2  # system and user turns only: no end-of-turn in the trained part
    assert prompt == prompt_text(example, tokenizer)

    labels = labels_of(tok)
    assert [lab for lab in labels if lab != IGNORE_INDEX] == ids[first:]
    assert all(lab == IGNORE_INDEX for lab in labels[:first])
    assert tokenizer.decode([lab for lab in labels if lab != IGNORE_INDEX]) == completion


def test_reference_example_ends_with_end_of_turn(tokenizer):
    tok = tokenize_example(
        reference_example({"problem": "p", "reference_solution": "x = 1"}), tokenizer, 4096
    )
    assert decode_where(tokenizer, tok["input_ids"], tok["completion_mask"]) == "x = 1<|im_end|>"


def test_truncation_keeps_the_prompt_and_drops_overlong_prompts(tokenizer):
    example = build_example(row(4), True, True)
    full = tokenize_example(example, tokenizer, max_length=None)
    n_prompt = full["completion_mask"].index(1)

    cut = tokenize_example(example, tokenizer, max_length=n_prompt + 5)
    assert len(cut["input_ids"]) == n_prompt + 5
    assert cut["input_ids"] == full["input_ids"][: n_prompt + 5]
    assert sum(cut["completion_mask"]) == 5  # the end (and its end-of-turn) is what goes

    assert tokenize_example(example, tokenizer, max_length=n_prompt) is None  # nothing left to train on
    kept, dropped = tokenize_examples([example, example], tokenizer, max_length=n_prompt)
    assert kept == [] and dropped == 2
    kept, dropped = tokenize_examples([example], tokenizer, max_length=n_prompt + 1)
    assert len(kept) == 1 and dropped == 0


@pytest.mark.parametrize("location", [1, 2, 3, 4])
def test_int_target_is_the_interventions_module_guided_attempt(location):
    from int_exp.interventions import guided_attempt

    assert build_example(row(location), True, False)["target"] == guided_attempt(ATTEMPT, location, FIX)
