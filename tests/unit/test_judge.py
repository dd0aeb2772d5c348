"""The LoCoMo LLM judge: label parsing (spec §8.2, with the [Q22] fix) and the judge call."""

from __future__ import annotations

import pytest

from taskcases.locomo.judge import JudgeError, LLMJudge, judge_prompt, parse_label

# --------------------------------------------------------------------------------------------------
# parse_label
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ('{"label": "CORRECT"}', "CORRECT"),
        ('{"label": "WRONG"}', "WRONG"),
        # any case, surrounding spaces
        ('{"label": "correct"}', "CORRECT"),
        ('{"label": "Wrong"}', "WRONG"),
        ('{"label": " CoRrEcT "}', "CORRECT"),
        # the prompt's format: one sentence, then the JSON object on its own line
        ('The generated answer names the same date.\n{"label": "CORRECT"}', "CORRECT"),
        ('The generated answer is about a different city.\n{"label": "WRONG"}', "WRONG"),
        # extra keys in the object do not matter
        ('{"reason": "same place", "label": "CORRECT"}', "CORRECT"),
        # an object nested in another one is still found
        ('{"verdict": {"label": "WRONG"}}', "WRONG"),
    ],
)
def test_parse_label_reads_the_json_label(reply, label):
    assert parse_label(reply) == label


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ('First thought: {"label": "WRONG"}\nOn reflection:\n{"label": "CORRECT"}', "CORRECT"),
        ('First thought: {"label": "CORRECT"}\nOn reflection:\n{"label": "WRONG"}', "WRONG"),
        # the JSON label beats any keyword in the prose, wherever the keyword is
        ('It looked WRONG at first, but the date matches.\n{"label": "CORRECT"}', "CORRECT"),
        ('{"label": "WRONG"} even though a CORRECT-looking phrase follows', "WRONG"),
    ],
)
def test_parse_label_last_json_object_wins(reply, label):
    assert parse_label(reply) == label


@pytest.mark.parametrize(
    "reply",
    [
        "CORRECT",
        "CORRECT - the generated answer names the same date.",
        "Correct. Both answers refer to the support group.",
        "correct",
    ],
)
def test_parse_label_reply_starting_with_correct_is_correct(reply):
    # The original's fallback scored these 0 because the first "CORRECT" was at index 0 (§8.2 [Q22]).
    assert parse_label(reply) == "CORRECT"


@pytest.mark.parametrize(
    "reply",
    [
        "INCORRECT",
        "The generated answer is incorrect.",
        "Incorrect: different city.",
        '{"label": "INCORRECT"}',  # not a valid JSON label, but the keyword fallback still reads it
    ],
)
def test_parse_label_incorrect_is_wrong(reply):
    assert parse_label(reply) == "WRONG"


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("At first glance WRONG, but on reflection it is CORRECT", "CORRECT"),
        ("It looks CORRECT, but the year differs, so WRONG", "WRONG"),
        ("CORRECT? No: INCORRECT", "WRONG"),
        ("INCORRECT? No, it is correct", "CORRECT"),
        # malformed JSON falls back to keywords
        ("{label: CORRECT}", "CORRECT"),
        ("{'label': 'WRONG'}", "WRONG"),
        # a JSON object with an unknown label is ignored; the keyword decides
        ('{"label": "maybe"} so I say WRONG', "WRONG"),
    ],
)
def test_parse_label_keyword_fallback_uses_the_last_keyword(reply, label):
    assert parse_label(reply) == label


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "I cannot decide.",
        '{"reason": "no label here"}',
        '{"label": "maybe"}',
        '{"label": 1}',
        "The answer was correctly dated",  # "correctly" is not the keyword CORRECT
    ],
)
def test_parse_label_without_a_label_raises_judge_error(reply):
    # an unlabeled reply is an infrastructure problem, never silently scored as WRONG
    with pytest.raises(JudgeError):
        parse_label(reply)


def test_judge_error_is_a_runtime_error_quoting_the_reply():
    with pytest.raises(RuntimeError, match="I cannot decide"):
        parse_label("I cannot decide.")


# --------------------------------------------------------------------------------------------------
# LLMJudge
# --------------------------------------------------------------------------------------------------


class FakeLLM:
    """Test double for the LLM boundary (pytest_amb.llm.client.LLMClient): records each chat call and
    returns a canned assistant message, so the judge's own logic is tested without any endpoint."""

    def __init__(self, content):
        self.content = content
        self.calls: list[tuple[list[dict], str]] = []

    def chat(self, messages, purpose):
        self.calls.append((messages, purpose))
        return {"role": "assistant", "content": self.content}


QUESTION = "When did Caroline go to the LGBTQ support group?"
GOLD = "7 May 2023"
PREDICTED = "the day before 8 May 2023"


def test_llm_judge_sends_one_judge_call_with_question_gold_and_answer():
    llm = FakeLLM('Same date.\n{"label": "CORRECT"}')
    LLMJudge(llm)(QUESTION, GOLD, PREDICTED)

    assert len(llm.calls) == 1
    messages, purpose = llm.calls[0]
    assert purpose == "judge"
    assert [m["role"] for m in messages] == ["user"]
    prompt = messages[0]["content"]
    assert f"Question: {QUESTION}" in prompt
    assert f"Gold answer: {GOLD}" in prompt
    assert f"Generated answer: {PREDICTED}" in prompt
    assert prompt == judge_prompt(QUESTION, GOLD, PREDICTED)


@pytest.mark.parametrize(
    ("reply", "score", "label"),
    [
        ('Same date.\n{"label": "CORRECT"}', 1.0, "CORRECT"),
        ('Different date.\n{"label": "WRONG"}', 0.0, "WRONG"),
        ("CORRECT - same date", 1.0, "CORRECT"),
        ("INCORRECT", 0.0, "WRONG"),
    ],
)
def test_llm_judge_verdict_follows_the_label(reply, score, label):
    verdict = LLMJudge(FakeLLM(reply))(QUESTION, GOLD, PREDICTED)
    assert verdict.score == score
    assert verdict.label == label


def test_llm_judge_keeps_the_reply_as_rationale():
    verdict = LLMJudge(FakeLLM('  Same date.\n{"label": "CORRECT"}\n'))(QUESTION, GOLD, PREDICTED)
    assert verdict.rationale == 'Same date.\n{"label": "CORRECT"}'


@pytest.mark.parametrize("content", ["I am not sure.", "", None])
def test_llm_judge_unlabeled_reply_raises_judge_error(content):
    with pytest.raises(JudgeError):
        LLMJudge(FakeLLM(content))(QUESTION, GOLD, PREDICTED)


def test_judge_prompt_asks_for_the_json_label():
    prompt = judge_prompt("q?", "g", "p")
    assert '{"label": "CORRECT"}' in prompt and '{"label": "WRONG"}' in prompt


def test_parse_label_last_json_label_incorrect_beats_an_earlier_correct():
    reply = 'Initially {"label": "CORRECT"}, but the year differs.\nFinal: {"label": "INCORRECT"}'
    assert parse_label(reply) == "WRONG"
