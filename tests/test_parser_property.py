"""Property tests: parse_intervention never raises, and what it returns is always usable."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from int_exp.interventions import PARSE_REASONS, guided_attempt, parse_intervention, parse_intervention_reason
from int_exp.interventions.parsing import is_no_intervention
from int_exp.interventions.steps import format_intervention

SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

num_steps = st.integers(min_value=-5, max_value=50)

# Characters that matter to the reader, mixed with arbitrary text.
SPECIAL = list('{}[]"\',:\\\n\t ') + ["<intervention>", "</intervention>", "```json", "\\n", "\\frac", "\\u00e9",
                                        '"content"', '"location"', "'content'", "Substep 3", "null", "None", "-1", "3"]
tricky_text = st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=8)), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=400), tricky_text)


def check(result, reason, steps):
    assert reason in PARSE_REASONS
    if result is None:
        assert reason != "ok"
        return
    assert reason == "ok"
    assert set(result) == {"content", "location"}
    assert isinstance(result["content"], str) and result["content"].strip()
    assert result["content"] == result["content"].strip()
    assert type(result["location"]) is int and 1 <= result["location"] <= steps


@SETTINGS
@given(text=any_text, steps=num_steps)
def test_never_raises_on_arbitrary_text(text, steps):
    result, reason = parse_intervention_reason(text, steps)
    check(result, reason, steps)
    assert parse_intervention(text, steps) == result


@SETTINGS
@given(inner=any_text, prefix=st.text(max_size=50), steps=num_steps, close=st.booleans())
def test_never_raises_inside_tags(inner, prefix, steps, close):
    text = prefix + "<intervention>" + inner + ("</intervention>" if close else "")
    result, reason = parse_intervention_reason(text, steps)
    check(result, reason, steps)


@SETTINGS
@given(content=st.text(max_size=60), key_quote=st.sampled_from(['"', "'"]), value=any_text, steps=num_steps,
       location=st.one_of(st.integers(-3, 60), st.text(max_size=10), st.floats(allow_nan=True), st.none()))
def test_never_raises_on_object_like_blocks(content, key_quote, value, steps, location):
    q = key_quote
    text = f"<intervention>{{{q}content{q}: {q}{content}{value}{q}, {q}location{q}: {location!r}}}</intervention>"
    result, reason = parse_intervention_reason(text, steps)
    check(result, reason, steps)


# Content without backslashes, quotes or control characters round-trips exactly through the emitter
# (json.dumps writes a control character as \b, \f, \t + letter ... which the reader's LaTeX rule
# deliberately keeps as a backslash; a closing tag inside the content ends the block).
plain_content = st.text(alphabet=st.characters(blacklist_characters='\\"', blacklist_categories=("Cs", "Cc")),
                        min_size=1, max_size=80).filter(lambda s: s.strip() and "intervention" not in s.lower() and not is_no_intervention(s))


@SETTINGS
@given(content=plain_content, steps=st.integers(1, 30), data=st.data())
def test_roundtrip_with_format_intervention(content, steps, data):
    location = data.draw(st.integers(1, steps))
    text = "Some verification first.\n\n" + format_intervention(content, location)
    assert parse_intervention(text, steps) == {"content": content.strip(), "location": location}
    attempt = "\n\n".join(f"step {i}" for i in range(1, steps + 1))
    guided = guided_attempt(attempt, location, content.strip())
    assert guided.endswith(content.strip())
