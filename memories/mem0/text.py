"""Pure text helpers of the native mem0: lemmas for BM25, entities for v3 linking, an Okapi BM25.

Without spaCy (not a dependency): lemmas are lower-cased word tokens without stop words, with a light
suffix stemmer; entities are proper-name spans, quoted text and identifiers found by regular
expressions (dates and plain numbers rejected), as the spec allows (amb_memories §8.3).
"""

from __future__ import annotations

import math
import re
from collections import Counter

STOP_WORDS = frozenset(
    """a an the and or but if then else of at by for with about against between into through during before after
    above below to from up down in out on off over under again further once here there when where why how all any
    both each few more most other some such no nor not only own same so than too very can will just don should now
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it
    its itself they them their theirs themselves what which who whom this that these those am is are was were be been
    being have has had having do does did doing would could ought i'm you're he's she's it's we're they're i've
    you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't
    weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't
    let's that's who's what's here's there's when's where's why's how's""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_PROPER = re.compile(r"\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*\b")
_QUOTED = re.compile(r"[\"'‘“]([^\"'’”]{2,60})[\"'’”]")
_IDENTIFIER = re.compile(r"\b(?=\w*[_\d])(?=\w*[A-Za-z])\w{3,}\b")
_MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}  # fmt: skip


def stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def lemmas(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(str(text).lower()) if w not in STOP_WORDS]


def normalize(text: str) -> str:
    return " ".join(str(text).lower().split())


def entities(text: str) -> list[tuple[str, str]]:
    """(type, text) pairs: PROPER names, QUOTED text, IDENTIFIERs; dates and numbers are rejected."""
    found: dict[str, tuple[str, str]] = {}
    for match in _QUOTED.finditer(text):
        found.setdefault(normalize(match.group(1)), ("QUOTED", match.group(1).strip()))
    for match in _PROPER.finditer(text):
        words = [w for w in match.group().split() if w not in _MONTHS and w.lower() not in STOP_WORDS]
        if words:
            span = " ".join(words)
            found.setdefault(normalize(span), ("PROPER", span))
    for match in _IDENTIFIER.finditer(text):
        found.setdefault(normalize(match.group()), ("IDENTIFIER", match.group()))
    return [value for key, value in found.items() if not key.replace(" ", "").isdigit()]


def bm25_scores(
    query: list[str], documents: dict[str, list[str]], k1: float = 1.5, b: float = 0.75
) -> dict[str, float]:
    """Okapi BM25 of ``query`` against each document (id → lemmas); documents without a match are omitted."""
    if not documents or not query:
        return {}
    average = sum(len(d) for d in documents.values()) / len(documents)
    frequency = Counter(term for d in documents.values() for term in set(d))
    n = len(documents)
    scores = {}
    for doc_id, terms in documents.items():
        counts = Counter(terms)
        score = 0.0
        for term in set(query):
            if counts[term]:
                idf = math.log(1 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * counts[term] * (k1 + 1) / (counts[term] + k1 * (1 - b + b * len(terms) / (average or 1)))
        if score > 0:
            scores[doc_id] = score
    return scores


def bm25_normalized(raw: float, query_terms: int) -> float:
    """v3's logistic normalisation of a BM25 score; its midpoint and slope depend on the query length."""
    m, s = next(
        (m, s)
        for limit, m, s in ((3, 5, 0.7), (6, 7, 0.6), (9, 9, 0.5), (15, 10, 0.5), (10**9, 12, 0.5))
        if query_terms <= limit
    )
    return 1 / (1 + math.exp(-s * (raw - m)))
