"""Answer-level metrics of question-answering tasks, as AgentMemoryBench computes them (spec §8.2)."""

from __future__ import annotations

import re
from collections import Counter

_F1_PUNCTUATION = str.maketrans({c: " " for c in ".,!?;:"})
_BLEU_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def f1_tokens(text: str) -> set[str]:
    """The original's F1 tokens: lower-case, ``.,!?;:`` to spaces, split on whitespace, unique."""
    return set(str(text).lower().translate(_F1_PUNCTUATION).split())


def token_f1(predicted: str, gold: str) -> float:
    """Set-based token F1 (not SQuAD's multiset F1).

    P = f1_tokens(predicted), G = f1_tokens(gold);
    F1 = 2·p·r / (p + r) with p = |P∩G| / |P| and r = |P∩G| / |G|; 0 when P, G or P∩G is empty.
    """
    pred, ref = f1_tokens(predicted), f1_tokens(gold)
    common = len(pred & ref)
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def bleu_tokens(text: str) -> list[str]:
    """Word and punctuation tokens of the lower-cased text. The original used the xlm-roberta-base
    sentencepiece tokenizer, which needs a download; see docs/deviations.md."""
    return _BLEU_TOKEN.findall(str(text).lower())


def bleu1(predicted: str, gold: str) -> float:
    """BLEU-1 as the original computes it: clipped unigram precision, no brevity penalty, no smoothing.

    BLEU-1 = Σ_t min(c_pred(t), c_gold(t)) / |pred tokens|, and 0 when the prediction has no tokens.
    """
    pred, ref = Counter(bleu_tokens(predicted)), Counter(bleu_tokens(gold))
    total = sum(pred.values())
    if total == 0:
        return 0.0
    return sum(min(count, ref[token]) for token, count in pred.items()) / total
