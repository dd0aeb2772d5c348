"""Judging by token overlap: CORRECT when the generated answer covers at least half of the gold
answer's content words. It reads the question, gold answer and generated answer from the judge prompt
itself, as a real judge model would."""

from __future__ import annotations

import json
import re

from pytest_amb.llm.reference.text import content_stems, words

_FIELD = re.compile(r"^(Question|Gold answer|Generated answer):\s*(.*)$", re.MULTILINE)
THRESHOLD = 0.5


def is_judge_request(text: str) -> bool:
    return {"Gold answer", "Generated answer"} <= {m.group(1) for m in _FIELD.finditer(text)}


def judge(text: str) -> str:
    fields = {m.group(1): m.group(2).strip() for m in _FIELD.finditer(text)}
    gold, generated = fields.get("Gold answer", ""), fields.get("Generated answer", "")
    gold_terms = set(content_stems(gold)) or set(words(gold))
    generated_terms = set(content_stems(generated)) | set(words(generated))
    covered = len(gold_terms & generated_terms)
    coverage = covered / len(gold_terms) if gold_terms else 0.0
    label = "CORRECT" if gold_terms and coverage >= THRESHOLD else "WRONG"
    reason = f"The generated answer covers {covered} of {len(gold_terms)} key terms of the gold answer."
    return f"{reason}\n{json.dumps({'label': label})}"
