"""Aggregates of question-answering steps (LoCoMo): judge accuracy, F1 and BLEU-1, overall and per
category, over the journaled step results."""

from __future__ import annotations

from collections import defaultdict

QA_METRICS = ("judge", "f1", "bleu")


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def qa_aggregate(results: list[dict]) -> dict:
    """Micro-averages over the scored QA samples (errored steps are excluded and counted apart;
    samples of tasks that are not question answering carry no judge score and are left out).

    judge_accuracy = mean of the judge scores (1 correct, 0 wrong); f1 and bleu are means of the
    per-answer values; ``per_category`` holds the same per LoCoMo category. An empty answer is
    scored 0 and counted (the original dropped it from the averages; see docs/deviations.md).
    """
    scored = [r for r in results if r["step"]["kind"] == "sample" and r["status"] != "error" and "judge" in r["metrics"]]
    by_category: dict[int, list[dict]] = defaultdict(list)
    for result in scored:
        by_category[result["metrics"].get("category")].append(result)

    def block(items: list[dict]) -> dict:
        return {
            "n": len(items),
            "judge_accuracy": mean([r["metrics"]["judge"] for r in items]),
            "f1": mean([r["metrics"]["f1"] for r in items]),
            "bleu": mean([r["metrics"]["bleu"] for r in items]),
        }

    return {
        **block(scored),
        "per_category": {str(c): block(items) for c, items in sorted(by_category.items(), key=lambda kv: str(kv[0]))},
    }
