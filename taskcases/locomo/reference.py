"""The reference model's policies for LoCoMo: the judge, and extractive question answering.

**The judge** claims the judge prompt (``taskcases.locomo.judge.JUDGE_PROMPT``, no tools) and labels by
token overlap: CORRECT when the generated answer covers at least half of the gold answer's content words.
It reads the question, gold answer and generated answer from the judge prompt itself, as a real judge
model would.

**Question answering** claims LoCoMo's own episodes: a request with LoCoMo's system prompt
(``taskcases.locomo.task.SYSTEM_PROMPT``) and no tools. Every memory keeps the system message as it is
(it injects into the first user message, in front or at the tail, or adds user messages after the
system prompt), so the claim holds under every memory. The question is the last user message (after the
memory separator when memory was injected in front of it). The context is every other user/assistant
text in the request: injected memory blocks and raw conversation sessions. The context is cut into line
passages; a bracketed line with a date (``[Session 3 — 1:56 pm on 8 May, 2023]``) dates the lines below
it. The best passage is the one sharing the most idf-weighted content words with the question (later
passages win ties, so updated facts beat stale ones). The answer is the best clause of that passage
without the words the question already contains, or, for "when" questions, the passage's date with
relative expressions resolved.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date

from pytest_amb.llm.reference.policy import ReferencePolicy
from pytest_amb.llm.reference.text import (
    STOPWORDS,
    content_stems,
    content_text,
    parse_date,
    resolve_relative_date,
    stem,
    words,
)
from pytest_amb.memory import MEMORY_SEPARATOR
from taskcases.locomo.judge import JUDGE_PROMPT
from taskcases.locomo.task import SYSTEM_PROMPT


def _last_user_text(request: dict) -> str:
    messages = request.get("messages") or []
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return content_text(last_user.get("content"))


# -- the judge ----------------------------------------------------------------------------------------
_FIELD = re.compile(r"^(Question|Gold answer|Generated answer):\s*(.*)$", re.MULTILINE)
_JUDGE_OPENING = JUDGE_PROMPT.splitlines()[0]  # "Your task is to label a generated answer ..."
THRESHOLD = 0.5


def is_judge_prompt(text: str) -> bool:
    """The judge prompt: its opening line, and the gold and generated answers to compare."""
    return text.lstrip().startswith(_JUDGE_OPENING) and {"Gold answer", "Generated answer"} <= {
        m.group(1) for m in _FIELD.finditer(text)
    }


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


def claims_judge_prompt(request: dict) -> bool:
    return not request.get("tools") and is_judge_prompt(_last_user_text(request))


def _judge_reply(request: dict) -> dict:
    return {"role": "assistant", "content": judge(_last_user_text(request))}


# -- question answering -------------------------------------------------------------------------------
UNKNOWN = "I don't know."
_TEMPORAL = re.compile(r"^\s*(when|what (year|month|date|day|time))\b|\bhow long ago\b", re.IGNORECASE)
_SPEAKER_PREFIX = re.compile(r"^\s*(?:User|Assistant|[A-Z][\w.'-]{0,30}):\s+")
_CLAUSE = re.compile(r"(?<=[.!?;])\s+|,\s+(?:and|but|so)\s+")
_MAX_ANSWER_WORDS = 12
_TRAILING_DATE = re.compile(r"\[([^\[\]]+)\]\s*$")


def claims_question(request: dict) -> bool:
    """A LoCoMo episode: LoCoMo's system prompt and no tools (memories never change the system message)."""
    return not request.get("tools") and any(
        m.get("role") == "system" and content_text(m.get("content")) == SYSTEM_PROMPT
        for m in request.get("messages") or []
    )


def _answer_reply(request: dict) -> dict:
    return {"role": "assistant", "content": answer(request.get("messages") or [])}


@dataclass(frozen=True)
class Passage:
    text: str
    day: date | None
    answer: str = ""  # set for a stored "Question: ... / Answer: ..." pair: the remembered answer


def split_request(messages: list[dict]) -> tuple[str, list[str]]:
    """(question, context texts) of a chat request."""
    texts = [(m.get("role"), content_text(m.get("content"))) for m in messages]
    last_user = max((i for i, (role, _) in enumerate(texts) if role == "user"), default=None)
    if last_user is None:
        return "", []
    context = [text for i, (role, text) in enumerate(texts) if role in ("user", "assistant") and i != last_user]
    final = texts[last_user][1]
    if MEMORY_SEPARATOR in final:
        before, _, question = final.rpartition(MEMORY_SEPARATOR)
        return question.strip(), context + [before]
    paragraphs = [p for p in final.split("\n\n") if p.strip()]
    return (paragraphs[0].strip() if paragraphs else ""), context + paragraphs[1:]


def passages(context: list[str]) -> list[Passage]:
    found: list[Passage] = []
    for block in context:
        day: date | None = None
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("[") and line.endswith("]") and parse_date(line):
                day = parse_date(line)
            elif (
                line.startswith("Question:")
                and i + 1 < len(lines)
                and lines[i + 1].startswith(("Answer:", "Assistant:"))
            ):
                answer = lines[i + 1].split(":", 1)[1].strip()
                found.append(Passage(f"{line[9:].strip()} {answer}", day, answer=answer))
                i += 1
            elif not line.startswith("Here are some examples"):
                stamp = _TRAILING_DATE.search(line)  # a remembered fact "... [8 May, 2023]" carries its own date
                own = parse_date(stamp.group(1)) if stamp else None
                found.append(Passage(line[: stamp.start()].strip() if own else line, own or day))
            i += 1
    return found


def best_passage(question: str, candidates: list[Passage]) -> Passage | None:
    query = set(content_stems(question))
    if not query or not candidates:
        return None
    stems = [set(content_stems(p.text)) for p in candidates]
    document_frequency = {s: sum(1 for ps in stems if s in ps) for s in query}
    best, best_score = None, 0.0
    for passage, passage_stems in zip(candidates, stems):
        # summed in sorted order: a set's order changes with the process's string hash seed, and with it the last
        # bit of the sum, which decides ties between passages
        score = sum(math.log(1 + len(candidates) / document_frequency[s]) for s in sorted(query & passage_stems))
        if score > 0 and score >= best_score:  # ">=": the later passage wins a tie
            best, best_score = passage, score
    return best


def extract_span(question: str, text: str) -> str:
    text = _SPEAKER_PREFIX.sub("", text, count=1)
    clauses = [c for c in _CLAUSE.split(text) if c.strip()] or [text]
    query = set(content_stems(question))
    clause = max(clauses, key=lambda c: (len(query & set(content_stems(c))), -clauses.index(c)))
    question_words = {stem(w) for w in words(question)}
    kept = [w for w in re.findall(r"[\w'-]+", clause) if stem(w.lower()) not in question_words]
    while kept and kept[0].lower() in STOPWORDS:
        kept.pop(0)
    while kept and kept[-1].lower() in STOPWORDS:
        kept.pop()
    span = " ".join(kept[:_MAX_ANSWER_WORDS])
    return span or clause.strip()


def answer(messages: list[dict]) -> str:
    question, context = split_request(messages)
    passage = best_passage(question, passages(context))
    if passage is None:
        return UNKNOWN
    if passage.answer:
        return passage.answer
    if _TEMPORAL.search(question) and passage.day is not None:
        return resolve_relative_date(passage.text, passage.day)
    return extract_span(question, passage.text)


POLICIES = (
    ReferencePolicy("locomo.judge", claims_judge_prompt, _judge_reply),
    ReferencePolicy("locomo.qa", claims_question, _answer_reply),
)
