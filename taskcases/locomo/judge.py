"""The LoCoMo LLM judge: a generous CORRECT/WRONG label in the style of mem0's accuracy prompt."""

from __future__ import annotations

import json
import re

from pytest_amb.interfaces import JudgeError, JudgeVerdict

JUDGE_PROMPT = """Your task is to label a generated answer to a question as CORRECT or WRONG.
You are given a question, the gold (ground-truth) answer, and the generated answer.
The gold answer is usually short. Grade generously: if the generated answer refers to the same
thing, fact or topic as the gold answer, it is CORRECT, even if it is longer or worded differently.
For questions about time, a date in any format, or a relative reference to the same date or
period, is CORRECT.

Question: {question}
Gold answer: {gold}
Generated answer: {predicted}

First give one sentence explaining your reasoning, then end with a JSON object on its own line:
{{"label": "CORRECT"}} or {{"label": "WRONG"}}"""

_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_KEYWORD = re.compile(r"\b(CORRECT|WRONG|INCORRECT)\b")


def judge_prompt(question: str, gold: str, predicted: str) -> str:
    return JUDGE_PROMPT.format(question=question, gold=gold, predicted=predicted)


def parse_label(reply: str) -> str:
    """CORRECT or WRONG from a judge reply.

    1. the last JSON object whose ``label`` is CORRECT, WRONG or INCORRECT; 2. otherwise the last
    standalone keyword CORRECT, WRONG or INCORRECT (the original's fallback scored a reply starting
    with CORRECT as wrong; see docs/deviations.md); 3. otherwise JudgeError.
    """
    for candidate in reversed(_JSON_OBJECT.findall(reply)):
        try:
            obj = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("label"), str):
            label = obj["label"].strip().upper()
            if label in ("CORRECT", "WRONG", "INCORRECT"):
                return "CORRECT" if label == "CORRECT" else "WRONG"
    keywords = _KEYWORD.findall(reply.upper())
    if keywords:
        return "CORRECT" if keywords[-1] == "CORRECT" else "WRONG"
    raise JudgeError(f"the judge's reply has no CORRECT/WRONG label: {reply[:200]!r}")


class LLMJudge:
    def __init__(self, llm):
        self.llm = llm

    def __call__(self, question: str, gold: str, predicted: str) -> JudgeVerdict:
        reply = self.llm.chat(
            [{"role": "user", "content": judge_prompt(question, gold, predicted)}], purpose="judge"
        )
        text = str(reply.get("content") or "")
        label = parse_label(text)
        return JudgeVerdict(score=1.0 if label == "CORRECT" else 0.0, label=label, rationale=text.strip())
