"""Interventions: parsing what proposers write, splicing, leak checks, prompts and truncation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from int_exp.interventions import (
    TRUNCATION_MARKER,
    dedupe_interventions,
    fill_template,
    guided_attempt,
    leaks_answer,
    number_steps,
    parse_intervention,
    parse_intervention_reason,
    proposer_turn1,
    proposer_turn2,
    proposer_turn2_detailed,
    reflect_chat,
)
from int_exp.interventions.steps import format_intervention, split_steps

CONF = Path(__file__).resolve().parents[1] / "conf"

# ---------------------------------------------------------------------------------------------
# Parser: realistic proposer outputs (reasoning, then the block), num_steps = 6 unless given.
# Raw strings hold exactly what a model would emit, backslashes included.
# ---------------------------------------------------------------------------------------------

VERIFY = (
    "Let me check the attempt against the reference solution.\n\n"
    "Substep 1: correct, the student sets up the equation.\n"
    "Substep 2: correct.\n"
    "Substep 3: this is where it goes wrong: the student divides by $x-1$ without checking $x \\neq 1$.\n\n"
)

def case(name, text, expected, reason):
    return pytest.param(text, expected, reason, id=name)


PARSER_CASES = [
    # -- well-formed ---------------------------------------------------------------------------
    case("plain_json", VERIFY + '<intervention>{"content": "Before dividing, I should check whether x = 1 is a solution.", '
     '"location": 3}</intervention>',
     {"content": "Before dividing, I should check whether x = 1 is a solution.", "location": 3}, "ok"),
    case("format_intervention_roundtrip", VERIFY + format_intervention("Wait, \\frac{a}{b} needs b \\neq 0.\nSo", 2),
     {"content": "Wait, \\frac{a}{b} needs b \\neq 0.\nSo", "location": 2}, "ok"),
    case("escaped_latex_valid_json", VERIFY + r'<intervention>{"content": "So the area is \\frac{1}{2} \\times base '
     r'\\times height, with base $\\beta$.", "location": 4}</intervention>',
     {"content": r"So the area is \frac{1}{2} \times base \times height, with base $\beta$.", "location": 4}, "ok"),
    # -- LaTeX backslashes that are not (or would be corrupted as) JSON escapes ------------------
    case("unescaped_latex", VERIFY + r'<intervention>{"content": "Wait, I should use $\frac{n(n+1)}{2}$ instead of '
     r'$n^2$, since \(\sum_{k=1}^n k\) is triangular.", "location": 3}</intervention>',
     {"content": r"Wait, I should use $\frac{n(n+1)}{2}$ instead of $n^2$, since \(\sum_{k=1}^n k\) is triangular.",
      "location": 3}, "ok"),
    case("latex_json_escape_letters", r'<intervention>{"content": "Note $a \neq b$, $\nu \ne 0$, $\theta \times 2$, '
     r'$\beta \right)$, $\binom{5}{2}$, $\forall x$, $\nabla f$, $\not\equiv$, $\underline{x}$", "location": 1}'
     r"</intervention>",
     {"content": r"Note $a \neq b$, $\nu \ne 0$, $\theta \times 2$, $\beta \right)$, $\binom{5}{2}$, $\forall x$, "
      r"$\nabla f$, $\not\equiv$, $\underline{x}$", "location": 1}, "ok"),
    case("newline_escape_before_words", r'<intervention>{"content": "First, x = 2.\nThen y = 3.\nnext, \n\n'
     r'Finally \t done", "location": 2}</intervention>',
     {"content": "First, x = 2.\nThen y = 3.\nnext, \n\nFinally \t done", "location": 2}, "ok"),
    case("latex_linebreak_and_unicode", r'<intervention>{"content": "Angle \u03b8 is 30\u00b0 and $\sqrt{2}\cdot\pi$", '
     r'"location": 5}</intervention>',
     {"content": "Angle \u03b8 is 30\u00b0 and $\\sqrt{2}\\cdot\\pi$", "location": 5}, "ok"),
    # -- location spellings -------------------------------------------------------------------------
    case("location_substep_string", VERIFY + '<intervention>{"content": "I must keep the negative root too.", '
     '"location": "Substep 3"}</intervention>', {"content": "I must keep the negative root too.", "location": 3}, "ok"),
    case("location_step_string", '<intervention>{"content": "Recount the cases.", "location": "step 6"}</intervention>',
     {"content": "Recount the cases.", "location": 6}, "ok"),
    case("location_digit_string", '<intervention>{"content": "Recount.", "location": "2"}</intervention>',
     {"content": "Recount.", "location": 2}, "ok"),
    case("location_float_integral", '<intervention>{"content": "Recount.", "location": 2.0}</intervention>',
     {"content": "Recount.", "location": 2}, "ok"),
    case("location_with_description", '<intervention>{"content": "Recount.", "location": "**Substep 3** (the '
         'division)"}</intervention>', {"content": "Recount.", "location": 3}, "ok"),
    case("location_unquoted_substep", '<intervention>{"content": "Recount.", "location": Substep 4}</intervention>',
     {"content": "Recount.", "location": 4}, "ok"),
    # -- Python literals, commas, fences, raw newlines, extra keys ------------------------------------
    case("single_quoted_python_dict", VERIFY + "<intervention>{'content': 'Let\\'s factor first: $x^2-1=(x-1)(x+1)$, "
     "so both roots matter.', 'location': 3}</intervention>",
     {"content": "Let's factor first: $x^2-1=(x-1)(x+1)$, so both roots matter.", "location": 3}, "ok"),
    case("single_quotes_with_apostrophe", "<intervention>{'content': 'Let's not drop the constant term.', "
     "'location': 2}</intervention>", {"content": "Let's not drop the constant term.", "location": 2}, "ok"),
    case("trailing_comma", '<intervention>{\n  "content": "Use inclusion-exclusion here.",\n  "location": 2,\n}'
     "</intervention>", {"content": "Use inclusion-exclusion here.", "location": 2}, "ok"),
    case("json_code_fence", VERIFY + '<intervention>\n```json\n{\n  "content": "I should square both sides only '
     'after isolating the root.",\n  "location": 3\n}\n```\n</intervention>',
     {"content": "I should square both sides only after isolating the root.", "location": 3}, "ok"),
    case("raw_newlines_in_string", '<intervention>{"content": "Wait, the triangle is isosceles.\nSo the base angles '
     'are equal:\n$\\angle B = \\angle C$.", "location": 2}</intervention>',
     {"content": "Wait, the triangle is isosceles.\nSo the base angles are equal:\n$\\angle B = \\angle C$.",
      "location": 2}, "ok"),
    case("extra_keys", '<intervention>{"error": "sign error in substep 2", "content": "Careful: $-(a-b) = b-a$.", '
     '"location": 2, "confidence": 0.8}</intervention>', {"content": "Careful: $-(a-b) = b-a$.", "location": 2}, "ok"),
    case("unescaped_inner_quotes", '<intervention>{"content": "The word "distinct" means no repeats, so I count '
     'permutations.", "location": 1}</intervention>',
     {"content": 'The word "distinct" means no repeats, so I count permutations.', "location": 1}, "ok"),
    case("missing_closing_tag", VERIFY + '<intervention>{"content": "I need the second root as well.", "location": 3}',
     {"content": "I need the second root as well.", "location": 3}, "ok"),
    case("nested_object", '<intervention>{"intervention": {"content": "Split into two cases.", "location": 2}}'
     "</intervention>", {"content": "Split into two cases.", "location": 2}, "ok"),
    case("content_whitespace_stripped", '<intervention>{"content": "  \\n Use symmetry. \\n", "location": 1}'
     "</intervention>", {"content": "Use symmetry.", "location": 1}, "ok"),
    # -- which block --------------------------------------------------------------------------------
    case("multiple_blocks_last_wins", 'The format is <intervention>{"content": "...", "location": N}</intervention>.\n'
     'First draft: <intervention>{"content": "Use modulo 3.", "location": 2}</intervention>\nActually the error is '
     'earlier.\n<intervention>{"content": "Work modulo 9, not 3.", "location": 1}</intervention>',
     {"content": "Work modulo 9, not 3.", "location": 1}, "ok"),
    case("final_none_after_draft", 'Draft: <intervention>{"content": "Use modulo 3.", "location": 2}</intervention>\n'
     "Self-check: the draft gives the answer away, and on reflection substep 2 is fine.\n"
     "<intervention>None</intervention>", None, "empty_content"),
    case("final_markdown_after_draft", '<intervention>{"content": "Use modulo 3.", "location": 2}</intervention>\n'
     "<intervention>\n**Content:** Work modulo 9.\n**Location:** 1\n</intervention>", None, "no_object"),
    case("draft_then_final_object_in_one_block", '<intervention>{"content": "Use modulo 3.", "location": 2}\n'
     'Revised: {"content": "Work modulo 9, not 3.", "location": 1}</intervention>',
     {"content": "Work modulo 9, not 3.", "location": 1}, "ok"),
    case("broken_final_object_after_draft", '<intervention>{"content": "Use modulo 3.", "location": 2}\n'
     'Revised: {"content": "Work modulo 9, not 3., "location": 1</intervention>', None, "unparseable"),
    case("repeated_key_last_wins", '<intervention>{"content": "draft step", "location": 2, "content": "final step"}'
     "</intervention>", {"content": "final step", "location": 2}, "ok"),
    case("newline_escape_before_abbreviations", r'<intervention>{"content": "Try a substitution,\ne.g. t = x^2.\ni.e. '
     r'quadratic.\nu-substitution works; $\nu-1 \ne 0$ and \sum\nolimits_k", "location": 2}</intervention>',
     {"content": "Try a substitution,\ne.g. t = x^2.\ni.e. quadratic.\nu-substitution works; $\\nu-1 \\ne 0$ "
      "and \\sum\\nolimits_k", "location": 2}, "ok"),
    case("prose_mention_after_block", '<intervention>{"content": "Use modulo 9.", "location": 1}</intervention>\n'
     "That is my <intervention> for this attempt.",
     {"content": "Use modulo 9.", "location": 1}, "ok"),
    case("uppercase_tags", '<INTERVENTION>{"content": "Use modulo 9.", "location": 1}</INTERVENTION>',
     {"content": "Use modulo 9.", "location": 1}, "ok"),
    # -- None: empty content (the proposer found no error) ------------------------------------------
    case("empty_content", "I checked every substep; the attempt is correct.\n<intervention>{\"content\": \"\", "
     '"location": 0}</intervention>', None, "empty_content"),
    case("whitespace_content", '<intervention>{"content": "   \\n ", "location": 2}</intervention>', None, "empty_content"),
    case("null_content", "<intervention>{'content': None, 'location': None}</intervention>", None, "empty_content"),
    case("empty_block", "No error found. <intervention></intervention>", None, "empty_content"),
    case("empty_object", "<intervention>{}</intervention>", None, "empty_content"),
    # -- None: bad location -----------------------------------------------------------------------
    case("location_zero", '<intervention>{"content": "Fix the sign.", "location": 0}</intervention>', None, "bad_location"),
    case("location_beyond", '<intervention>{"content": "Fix the sign.", "location": 7}</intervention>', None,
     "bad_location"),
    case("location_negative", '<intervention>{"content": "Fix the sign.", "location": -1}</intervention>', None,
     "bad_location"),
    case("location_fractional", '<intervention>{"content": "Fix the sign.", "location": 2.5}</intervention>', None,
     "bad_location"),
    case("location_range_first_step", '<intervention>{"content": "Fix the sign.", "location": "3-4"}</intervention>',
     {"content": "Fix the sign.", "location": 3}, "ok"),
    case("location_of_count", '<intervention>{"content": "Fix the sign.", "location": "Substep 3 of 6"}'
         "</intervention>", {"content": "Fix the sign.", "location": 3}, "ok"),
    case("location_before", '<intervention>{"content": "Fix the sign.", "location": "Before Substep 4"}</intervention>',
     {"content": "Fix the sign.", "location": 4}, "ok"),
    case("location_short_and_bracketed", '<intervention>{"content": "Fix.", "location": "S4"}</intervention> and '
     'then <intervention>{"content": "Fix the sign.", "location": "[5]"}</intervention>',
     {"content": "Fix the sign.", "location": 5}, "ok"),
    case("location_after_is_ambiguous", '<intervention>{"content": "Fix the sign.", "location": "after substep 3"}'
     "</intervention>", None, "bad_location"),
    case("location_placeholder", '<intervention>{"content": "Fix the sign.", "location": N}</intervention>', None,
     "bad_location"),
    case("location_missing", '<intervention>{"content": "Fix the sign."}</intervention>', None, "bad_location"),
    case("location_bool", '<intervention>{"content": "Fix the sign.", "location": true}</intervention>', None,
     "bad_location"),
    # -- None: no block / unparseable ---------------------------------------------------------------
    case("no_block", VERIFY + "The first error is in substep 3: the student should check x = 1.", None, "no_block"),
    case("garbage_inside", "<intervention>The student should check x = 1 first.</intervention>", None, "no_object"),
    case("unterminated_string", '<intervention>{"content": "The student should check', None, "unparseable"),
    case("wrong_key", '<intervention>{"step": "Check x = 1.", "location": 3}</intervention>', None, "unparseable"),
    case("content_is_list", '<intervention>{"content": ["a", "b"], "location": 3}</intervention>', None, "unparseable"),
]


@pytest.mark.parametrize("text,expected,reason", PARSER_CASES)
def test_parser_cases(text, expected, reason):
    assert parse_intervention_reason(text, 6) == (expected, reason)
    assert parse_intervention(text, 6) == expected


def test_parser_case_count():
    assert len(PARSER_CASES) >= 25


def test_location_checked_against_num_steps():
    text = '<intervention>{"content": "Fix it.", "location": 3}</intervention>'
    assert parse_intervention(text, 3) == {"content": "Fix it.", "location": 3}
    assert parse_intervention_reason(text, 2) == (None, "bad_location")
    assert parse_intervention_reason(text, 0) == (None, "bad_location")
    assert parse_intervention_reason(text, -5) == (None, "bad_location")


def test_parser_odd_inputs_do_not_raise():
    assert parse_intervention_reason(None, 3) == (None, "no_block")  # type: ignore[arg-type]
    assert parse_intervention_reason("", 3) == (None, "no_block")
    assert parse_intervention_reason("<intervention>{" * 200, 3)[0] is None
    assert parse_intervention_reason("<intervention>" + "[" * 5000 + "</intervention>", 3)[0] is None
    deep = '<intervention>{"content": "x", "location": 1, "extra": ' + "{\"a\": " * 100 + "1" + "}" * 100 + "}"
    assert parse_intervention_reason(deep, 3)[0] is None or parse_intervention(deep, 3)["location"] == 1


# ---------------------------------------------------------------------------------------------
# guided_attempt
# ---------------------------------------------------------------------------------------------

ATTEMPT = "Let $x$ be the width.\n\nThen the area is $x(x+3) = 40$.\n\nSo $x = 8$.\n\nThe answer is $\\boxed{8}$."


def test_guided_attempt_location_one_is_content_alone():
    assert guided_attempt(ATTEMPT, 1, "Let the width be $w$.") == "Let the width be $w$."


def test_guided_attempt_middle_and_last_step():
    assert guided_attempt(ATTEMPT, 3, "Solve $x^2+3x-40=0$.") == (
        "Let $x$ be the width.\n\nThen the area is $x(x+3) = 40$.\n\nSolve $x^2+3x-40=0$."
    )
    last = guided_attempt(ATTEMPT, 4, "Check: $5 \\cdot 8 = 40$.")
    assert split_steps(last) == split_steps(ATTEMPT)[:3] + ["Check: $5 \\cdot 8 = 40$."]


def test_guided_attempt_makes_every_line_of_the_intervention_a_step_like_the_paper():
    guided = guided_attempt(ATTEMPT, 2, "Wait.\nThe area is $x(x-3)$.\n\nSo I redo it.")
    assert guided.endswith("Let $x$ be the width.\n\nWait.\n\nThe area is $x(x-3)$.\n\nSo I redo it.")
    assert split_steps(guided) == ["Let $x$ be the width.", "Wait.", "The area is $x(x-3)$.", "So I redo it."]
    one_line = guided_attempt(ATTEMPT, 2, "  Wait, the width is x.  ")
    assert split_steps(one_line)[-1] == "Wait, the width is x."
    display = guided_attempt(ATTEMPT, 1, "So\n$$x = 3$$\n\n\n\nand done")
    assert display == "So\n\n$$x = 3$$\n\nand done"


def test_guided_attempt_normalises_extra_blank_lines():
    messy = "\n\nStep A.\n\n\n\n\nStep B.\n\n\n\nStep C.\n\n"
    assert guided_attempt(messy, 3, "New C.") == "Step A.\n\nStep B.\n\nNew C."
    assert guided_attempt(messy, 2, "New B.") == "Step A.\n\nNew B."


def test_guided_attempt_rejects_locations_outside_the_attempt():
    for bad in (0, -1, 5):
        with pytest.raises(ValueError):
            guided_attempt(ATTEMPT, bad, "x")


# ---------------------------------------------------------------------------------------------
# leaks_answer
# ---------------------------------------------------------------------------------------------

LEAKS = [
    ("So the answer is 2.", "2"),
    ("so $x=2$.", "2"),
    ("Hence =2.", "2"),
    ("x = 2, which", "2"),
    ("we get (2)", "2"),
    ("The remainder is 12", "12"),
    ("it equals $\\frac{1}{2}$", "\\frac{1}{2}"),
    ("it equals $\\dfrac{1}{2}$", "\\frac{1}{2}"),
    ("it equals \\frac {1} {2}", "\\frac{1}{2}"),
    ("x = -3 is the root", "-3"),
    ("so 5-2 = 3 remains", "2"),  # binary minus: 2 appears as a number
    ("the total is 2,000 apples", "2000"),
    ("the total is 2000.0", "2000"),
    ("area $= 3\\sqrt{2}$", "3\\sqrt{2}"),
    ("area $= 3 \\sqrt{2}$", "3\\sqrt{2}"),
    ("answer $x + 1$", "x+1"),
    ("we get $\\pi$", "\\pi"),
    ("yes, it is", "yes"),
    ("the answer is \\boxed{8}", "\\boxed{8}"),  # a boxed gold answer is unwrapped
    ("-3 is the root", "-3"),  # a unary minus at the very start
    ("Wait: 14 + 3 = 17, not 16.", "17"),  # the sandbox oracle's shape
    ("Now 14 + 3 is the running total.", "17"),  # an expression equal to the answer
    ("so $\\frac{3}{6}$ of them", "0.5"),
    ("a total of 12{,}000 and", "12 000"),
    ("the speed is 60mph", "60"),
    ("$x \\in (1, 2)$", "(1,2)"),
]

NOT_LEAKS = [
    ("There are 12 balls.", "2"),
    ("x = 2.5 here", "2"),
    ("it is 0.2", "2"),
    ("we have x^2 + 1", "2"),
    ("we have x^{2} + 1", "2"),
    ("index a_2", "2"),
    ("the ratio 2/3", "2"),
    ("the ratio 3/2", "2"),
    ("2x + 1 = 0", "2"),
    ("the root is x = -2", "2"),
    ("the root is x-3", "-3"),
    ("the total is 2,000", "2"),
    ("yesterday", "yes"),
    ("Area of triangle", "A"),
    ("we get $\\pi$", "\\frac{1}{2}"),
    ("use $\\frac{1}{3}$", "\\frac{1}{2}"),
    ("anything", ""),
    ("anything", "   "),
    ("anything", "$ $"),
    ("Check Substep 2 again: the sign flips.", "2"),
    ("In step #4 the student forgot the carry.", "4"),
    ("so $\\sqrt{3+2}$ stays", "2"),  # inside a root, at any depth
    ("x - 2 = 0 means", "-2"),  # binary minus
    ("the 2nd term", "2"),
    ("$3^{2}$ is odd", "2"),
    ("$(3\\sqrt{2})^2 = 18$", "3\\sqrt{2}"),
]


@pytest.mark.parametrize("content,answer", LEAKS)
def test_leaks(content, answer):
    assert leaks_answer(content, answer)


@pytest.mark.parametrize("content,answer", NOT_LEAKS)
def test_not_leaks(content, answer):
    assert not leaks_answer(content, answer)


def test_boxed_equivalent_under_grader_leaks():
    pytest.importorskip("int_exp.grading")
    assert leaks_answer("So we get $\\boxed{0.5}$.", "\\frac{1}{2}")
    assert leaks_answer("\\boxed{\\frac{2}{4}}", "0.5")
    assert not leaks_answer("So we get $\\boxed{0.25}$.", "\\frac{1}{2}")
    assert not leaks_answer("So we get \\boxed{}.", "\\frac{1}{2}")


# ---------------------------------------------------------------------------------------------
# dedupe_interventions
# ---------------------------------------------------------------------------------------------


def _row(problem, attempt, content, location, tag):
    return {"problem": problem, "incorrect_attempt": attempt, "intervention": {"content": content, "location": location},
            "tag": tag}


def test_dedupe_keeps_first_per_attempt_and_drops_exact_duplicates():
    rows = [
        _row("p1", "a1", "fix A", 2, 0),
        _row("p1", "a1", "fix A", 2, 1),  # exact duplicate
        _row("p1", "a1", "fix B", 3, 2),
        _row("p1", "a2", "fix C", 1, 3),
        _row("p2", "a1", "fix A", 2, 4),  # same attempt text, different problem
        _row("p1", "a1", "fix A", 3, 5),  # same content, other location: distinct
    ]
    assert [r["tag"] for r in dedupe_interventions(rows, 1)] == [0, 3, 4]
    assert [r["tag"] for r in dedupe_interventions(rows, 2)] == [0, 2, 3, 4]
    assert [r["tag"] for r in dedupe_interventions(rows, 10)] == [0, 2, 3, 4, 5]
    assert dedupe_interventions(rows, 0) == []
    assert dedupe_interventions([], 1) == []


def test_dedupe_reads_flat_rows_too():
    rows = [{"problem": "p", "incorrect_attempt": "a", "content": "c", "location": 1, "tag": i} for i in range(3)]
    assert [r["tag"] for r in dedupe_interventions(rows, 5)] == [0]


# ---------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------

PROMPT = {
    "system": "You are a careful math teacher.",
    "turn1": "Problem:\n{problem}\n\nReference:\n{reference_solution}\n\nSolve it.",
    "turn2": "Attempt ({num_steps} substeps):\n{numbered_attempt}\n\nFinal answer for the check: {answer}.",
}
PROBLEM = "Find $x$ such that $\\{x\\} = 0.5$ and $x^{2} < 4$; write {answer} as a set."
REFERENCE = "Use $\\lfloor x \\rfloor \\in \\{-2, -1, 0, 1\\}$."


def test_number_steps():
    assert number_steps("A.\n\n\n\nB\nstill B.\n\nC.") == "**Substep 1:** A.\n\n**Substep 2:** B\nstill B.\n\n**Substep 3:** C."
    assert number_steps("") == ""


def test_fill_template_replaces_only_known_names():
    assert fill_template("{a} {b} {{a}} {c} \\frac{1}{\\sqrt{2}}", a="X{b}", b="Y") == (
        "X{b} Y {X{b}} {c} \\frac{1}{\\sqrt{2}}"
    )
    assert fill_template("{a}") == "{a}"


def test_turn1_has_problem_reference_and_system():
    messages = proposer_turn1(PROBLEM, REFERENCE, PROMPT)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert PROBLEM in messages[1]["content"] and REFERENCE in messages[1]["content"]
    no_system = proposer_turn1(PROBLEM, REFERENCE, {**PROMPT, "system": None})
    assert [m["role"] for m in no_system] == ["user"]


def test_turn2_appends_answer_and_numbered_attempt():
    chat = proposer_turn1(PROBLEM, REFERENCE, PROMPT)
    before = [dict(m) for m in chat]
    messages, truncated = proposer_turn2(chat, "My solution ... \\boxed{\\{-1.5, 0.5\\}}", ATTEMPT, "\\{-1.5,-0.5,0.5,1.5\\}",
                                         PROMPT)
    assert chat == before  # not modified
    assert not truncated
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "My solution ... \\boxed{\\{-1.5, 0.5\\}}"
    turn2 = messages[3]["content"]
    for i, step in enumerate(split_steps(ATTEMPT), start=1):
        assert f"**Substep {i}:** {step}" in turn2
    assert "\\{-1.5,-0.5,0.5,1.5\\}" in turn2 and "(4 substeps)" in turn2


def test_prompt_cfg_as_object():
    from int_exp.config import PromptConfig

    cfg = PromptConfig(system=None, turn1=PROMPT["turn1"], turn2=PROMPT["turn2"])
    assert proposer_turn1("P", "R", cfg) == [{"role": "user", "content": "Problem:\nP\n\nReference:\nR\n\nSolve it."}]


def test_reflect_chat():
    chat = reflect_chat(PROBLEM, REFERENCE, ATTEMPT, "P: {problem}\nR: {reference_solution}\nA: {attempt}\n\\boxed{}")
    assert chat == [{"role": "user", "content": f"P: {PROBLEM}\nR: {REFERENCE}\nA: {ATTEMPT}\n\\boxed{{}}"}]


def _load(group: str, schema):
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.load(CONF / group / "default.yaml"))
    root = OmegaConf.create({"seed": 0, group: cfg})  # the root seed that ${seed} refers to
    OmegaConf.resolve(root)  # no stray ${...} interpolation in the prompts
    return root[group]


def test_default_prompts_have_their_placeholders():
    from int_exp.config import InterventionConfig, ReflectConfig

    icfg = _load("intervention", InterventionConfig)
    assert (icfg.proposer, icfg.k, icfg.per_attempt, icfg.correctness_filter, icfg.filter_samples, icfg.min_correct) == (
        "self", 4, 1, True, 32, 1)
    for name in ("{problem}", "{reference_solution}"):
        assert name in icfg.prompt.turn1
    for name in ("{numbered_attempt}", "{answer}", "{num_steps}", "<intervention>", '"location"'):
        assert name in icfg.prompt.turn2
    rcfg = _load("reflect", ReflectConfig)
    for name in ("{problem}", "{reference_solution}", "{attempt}", "\\boxed{}"):
        assert name in rcfg.prompt

    # The default prompts render, and the example block they show is what the parser reads.
    messages, _ = proposer_turn2(proposer_turn1(PROBLEM, REFERENCE, icfg.prompt), "sol", ATTEMPT, "8", icfg.prompt)
    assert PROBLEM in messages[0]["content"] and "**Substep 4:**" in messages[-1]["content"]
    assert "{" + "numbered_attempt}" not in messages[-1]["content"]
    assert parse_intervention_reason(messages[-1]["content"], 4) == (None, "empty_content")


def test_intervention_module_imports_light():
    code = ("import sys, int_exp.interventions; "
            "bad = [m for m in ('torch', 'transformers', 'mlflow', 'math_verify') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# Truncation with SmolLM2's real tokenizer and chat template
# ---------------------------------------------------------------------------------------------

GEN_PROMPT = "<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def tok():
    from int_exp.models import smollm2_tokenizer

    return smollm2_tokenizer()


@pytest.fixture(scope="module")
def count(tok):
    def count_tokens(messages):
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        return len(ids)

    return count_tokens


def _render(tok, messages):
    return tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


LONG_ATTEMPT = "\n\n".join(
    f"Step {i}: we compute $\\sum_{{k=1}}^{{{i}}} k^2 = {i * (i + 1) * (2 * i + 1) // 6}$ and keep going with the "
    "next term of the sequence, checking the parity of each partial sum." for i in range(1, 41)
)


def test_no_truncation_within_budget(count):
    chat = proposer_turn1("P", "R", PROMPT)
    messages, truncated = proposer_turn2(chat, "short", ATTEMPT, "8", PROMPT, max_prompt_tokens=10_000,
                                         count_tokens=count)
    assert not truncated
    assert messages == proposer_turn2(chat, "short", ATTEMPT, "8", PROMPT)[0]


def test_truncation_drops_trailing_substeps_and_keeps_generation_prompt(tok, count):
    chat = proposer_turn1("Compute the sum.", "Use the formula.", PROMPT)
    full, _ = proposer_turn2(chat, "I think it is 22140.", LONG_ATTEMPT, "22140", PROMPT)
    budget = count(full) // 2
    messages, info = proposer_turn2_detailed(chat, "I think it is 22140.", LONG_ATTEMPT, "22140", PROMPT,
                                             max_prompt_tokens=budget, count_tokens=count)
    rendered = _render(tok, messages)
    assert info["truncated"] and info["fits"]
    assert count(messages) <= budget and info["tokens"] == count(messages)
    assert rendered.endswith(GEN_PROMPT)
    turn2 = messages[-1]["content"]
    assert "**Substep 1:**" in turn2 and "**Substep 40:**" not in turn2
    assert TRUNCATION_MARKER in turn2
    assert "(40 substeps)" in turn2 and "Final answer for the check: 22140." in turn2  # the rest is intact
    assert messages[-2]["content"] == "I think it is 22140."  # the turn-1 answer is untouched
    assert 1 <= info["substeps_shown"] < 40 and info["attempt_chars_dropped"] > 0
    # Greedy: the budget is used (a cut on characters fills it to within a few tokens).
    assert count(messages) > budget - 30


def test_truncation_cuts_characters_of_a_long_first_substep(tok, count):
    chat = proposer_turn1("P", "R", PROMPT)
    attempt = "word " * 3000 + "\n\nsecond step"
    base = count(proposer_turn2(chat, "sol", "", "7", PROMPT)[0])
    messages, info = proposer_turn2_detailed(chat, "sol", attempt, "7", PROMPT, max_prompt_tokens=base + 200,
                                             count_tokens=count)
    assert info["truncated"] and info["substeps_shown"] == 1 and info["turn1_chars_dropped"] == 0
    assert count(messages) <= base + 200 and _render(tok, messages).endswith(GEN_PROMPT)
    assert "**Substep 1:** word word" in messages[-1]["content"]
    assert messages[-1]["content"].count("word") > 50
    assert TRUNCATION_MARKER in messages[-1]["content"] and "second step" not in messages[-1]["content"]


def test_truncation_cuts_turn1_answer_when_the_attempt_is_not_enough(tok, count):
    chat = proposer_turn1("P", "R", PROMPT)
    turn1 = "Reasoning sentence number one. " * 400
    small = count(proposer_turn2(chat, "", "", "7", PROMPT)[0])
    messages, info = proposer_turn2_detailed(chat, turn1, LONG_ATTEMPT, "7", PROMPT, max_prompt_tokens=small + 120,
                                             count_tokens=count)
    assert info["truncated"] and info["fits"] and info["substeps_shown"] == 0
    assert 0 < info["turn1_chars_dropped"] < len(turn1)
    assert messages[-2]["content"].startswith("Reasoning sentence number one.")
    assert messages[-2]["content"].endswith(TRUNCATION_MARKER)
    assert count(messages) <= small + 120 and _render(tok, messages).endswith(GEN_PROMPT)
    assert "Final answer for the check: 7." in messages[-1]["content"]


def test_truncation_that_cannot_fit_says_so(tok, count):
    chat = proposer_turn1("P" * 2000, "R", PROMPT)
    messages, info = proposer_turn2_detailed(chat, "sol " * 100, LONG_ATTEMPT, "7", PROMPT, max_prompt_tokens=50,
                                             count_tokens=count)
    assert info["truncated"] and not info["fits"]
    assert _render(tok, messages).endswith(GEN_PROMPT)
    with pytest.raises(ValueError):
        proposer_turn2(chat, "s", ATTEMPT, "7", PROMPT, max_prompt_tokens=50)


def test_verification_turn_budget_clips_max_tokens_to_half_the_context(caplog):
    from int_exp.stages.propose import verification_budget

    assert verification_budget(2048, 512) == (1536, 512)
    assert not caplog.records
    # The paper's 8192 (or a default 4096) on a 2048-token CPU model: clipped, not an error.
    assert verification_budget(2048, 4096) == (1024, 1024)
    assert "intervention.sampling.max_tokens=4096" in caplog.text and "1024 new tokens" in caplog.text


def test_copies_prompt_flags_the_echoed_format_example_but_not_real_steps():
    from omegaconf import OmegaConf

    from int_exp.interventions import copies_prompt

    prompt = OmegaConf.load("conf/intervention/default.yaml").prompt
    templates = "\n".join(text for text in prompt.values() if text)
    assert copies_prompt("The step the student should  write instead", templates)  # case, spacing
    assert copies_prompt("Go through the attempt substep by substep.", templates)
    assert not copies_prompt("Wait, 3 * 4 is 12, not 7, so the total is 12 + 5.", templates)
    assert not copies_prompt("final answer", templates)  # too short to call it a copy
