"""The pieces of the HTML report that need no browser: escaping of every model-written field, and
shortening of texts too long for a page (with their full length and SHA-256, as the journal cuts them)."""

from pytest_amb.report.html import LONG_TEXT, row_values, shorten, step_html

HOSTILE = "<script>alert(1)</script>"


def _payload(**overrides):
    payload = {
        "step": {"task": "locomo/x", "phase": "online", "stream": "m/locomo/x", "position": 1},
        "status": "failed", "reward": 0.0, "explanation": HOSTILE, "metrics": {"judge_rationale": HOSTILE},
        "memory_block": HOSTILE, "retrieved": [{"id": HOSTILE, "text": HOSTILE, "score": 0.5}],
        "update": {"reason": HOSTILE}, "provenance": {"memory": "m"}, "tokens": 7,
        "transcript": [{"role": "user", "content": HOSTILE},
                       {"role": "assistant", "content": None,
                        "tool_calls": [{"function": {"name": HOSTILE, "arguments": HOSTILE}}]},
                       {"role": "tool", "tool_call_id": HOSTILE, "content": HOSTILE}],
    }  # fmt: skip
    return {**payload, **overrides}


def test_every_field_written_by_a_model_or_memory_is_escaped():
    html = step_html(_payload())
    assert "<script>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10


def test_row_values_count_agent_turns_and_tokens():
    assert row_values(_payload(), "online") == {"task": "locomo/x", "memory": "m", "mode": "online",
                                                "phase": "online", "reward": "0", "steps": 1, "tokens": 7}  # fmt: skip


def test_long_texts_are_shortened_with_their_full_length_and_sha256():
    text = "a" * (LONG_TEXT * 3)
    short = shorten(text)
    assert len(short) <= LONG_TEXT and f"the full text has {LONG_TEXT * 3:,} characters, sha256 " in short
    assert shorten("short") == "short"
