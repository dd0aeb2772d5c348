"""LoCoMo's metrics: judge accuracy, F1 and BLEU-1, overall and per category, over the journaled step
results; declared once as the family's aggregate ``QA``."""

from __future__ import annotations

from collections import defaultdict

from pytest_amb.metrics import mean, scored
from pytest_amb.metrics.intervals import mean_interval, wilson
from pytest_amb.metrics.table import Aggregate, Metric, SampleOutcome


def qa_aggregate(results: list[dict]) -> dict:
    """Micro-averages over the scored QA samples (errored steps are excluded and counted apart;
    samples of tasks that are not question answering carry no judge score and are left out).

    judge_accuracy = mean of the judge scores (1 correct, 0 wrong); f1 and bleu are means of the
    per-answer values, each with a 95% interval (Wilson for the judge's 0/1 scores, normal for F1 and
    BLEU); ``per_category`` holds the same per LoCoMo category. An empty answer is
    scored 0 and counted (the original dropped it from the averages; see docs/deviations.md).
    """
    judged = [r for r in scored(results) if "judge" in r["metrics"]]
    by_category: dict[int, list[dict]] = defaultdict(list)
    for result in judged:
        by_category[result["metrics"].get("category")].append(result)

    def block(items: list[dict]) -> dict:
        judge = [r["metrics"]["judge"] for r in items]
        f1 = [r["metrics"]["f1"] for r in items]
        bleu = [r["metrics"]["bleu"] for r in items]
        return {
            "n": len(items),
            "judge_accuracy": mean(judge),
            "judge_accuracy_ci95": wilson(int(sum(judge)), len(judge)),
            "f1": mean(f1),
            "f1_ci95": mean_interval(f1),
            "bleu": mean(bleu),
            "bleu_ci95": mean_interval(bleu),
        }

    return {
        **block(judged),
        "per_category": {str(c): block(items) for c, items in sorted(by_category.items(), key=lambda kv: str(kv[0]))},
    }


def _answer_value(name: str):
    """The per-answer value ``name`` of a judged QA sample (what the block's means average), else None."""
    return lambda r: r["metrics"][name] if "judge" in r["metrics"] else None


QA = Aggregate(
    key="qa",
    compute=lambda primary, results: qa_aggregate(primary),
    metrics=(
        Metric("judge_accuracy", "judge", lambda b: b["judge_accuracy"], "percent", outcome="judge",
               description="share of answers the LLM judge called correct", short="judged correct"),
        Metric("f1", "F1", lambda b: b["f1"], "number", description="token-set F1 of the answer against the gold",
               short="answer token F1", sample=_answer_value("f1")),
        Metric("bleu", "BLEU", lambda b: b["bleu"], "number", description="BLEU-1 of the answer against the gold",
               short="answer BLEU-1", sample=_answer_value("bleu")),
    ),
    breakdowns=("category",),
    outcomes=(SampleOutcome("judge", lambda r: r["metrics"]["judge"] >= 1.0 if "judge" in r["metrics"] else None),),
)  # fmt: skip
