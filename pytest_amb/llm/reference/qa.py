"""Extractive question answering from the context in the request.

The question is the last user message (after the memory separator when memory was injected in front
of it). The context is every other user/assistant text in the request: injected memory blocks and raw
conversation sessions. The context is cut into line passages; a bracketed line with a date
(``[Session 3 — 1:56 pm on 8 May, 2023]``) dates the lines below it. The best passage is the one
sharing the most idf-weighted content words with the question (later passages win ties, so updated
facts beat stale ones). The answer is the best clause of that passage without the words the question
already contains, or, for "when" questions, the passage's date with relative expressions resolved.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from memories.base import MEMORY_SEPARATOR
from pytest_amb.llm.reference.text import STOPWORDS, content_stems, parse_date, resolve_relative_date, stem, words

UNKNOWN = "I don't know."
_TEMPORAL = re.compile(r"^\s*(when|what (year|month|date|day|time))\b|\bhow long ago\b", re.IGNORECASE)
_SPEAKER_PREFIX = re.compile(r"^\s*(?:User|Assistant|[A-Z][\w.'-]{0,30}):\s+")
_CLAUSE = re.compile(r"(?<=[.!?;])\s+|,\s+(?:and|but|so)\s+")
_MAX_ANSWER_WORDS = 12
_TRAILING_DATE = re.compile(r"\[([^\[\]]+)\]\s*$")


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


def content_text(content) -> str:
    if isinstance(content, list):  # content parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


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
        score = sum(math.log(1 + len(candidates) / document_frequency[s]) for s in query & passage_stems)
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
