"""Repair metrics: RG (spec §8.8) and our ER and NR (§8.9: the original defines neither).

Per group, ``wrong_learn`` runs every sample before any feedback on it in this group (its reward is the
"before" level), ``wrong_test`` after learning from flipped feedback on the reversed samples, and
``right_test`` after learning from true feedback. All groups are pooled (micro-averages of rewards).
*Full* uses every sample; *Standard* only the reversed ones.

- RG = mean(right_test) − mean(wrong_test)                (the original's repair gain)
- ER = mean(wrong_test) − mean(wrong_learn)   (ours)      how much wrong feedback moved accuracy; 0 = robust
- NR = mean(right_test) − mean(wrong_learn)   (ours)      net effect of one wrong→right feedback cycle
"""

from __future__ import annotations

from pytest_amb.metrics import mean, scored
from pytest_amb.metrics.intervals import difference_interval, mean_interval


def _rewards(results: list[dict], phase: str, only: set | None = None) -> list[float]:
    return [
        float(r["reward"])
        for r in scored(results, phase)
        if only is None or (r["step"]["stage"], r["step"]["sample_id"]) in only
    ]


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _interval(a: list[float], b: list[float]) -> list[float] | None:
    """95% interval of mean(a) − mean(b), treating the 0/1 rewards as independent proportions."""
    if not a or not b:
        return None
    return difference_interval(sum(a) / len(a), len(a), sum(b) / len(b), len(b))


def repair_metrics(results: list[dict]) -> dict:
    reversed_ = {(r["step"]["stage"], r["step"]["sample_id"]) for r in results if r["step"].get("flip_reward")}
    out = {}
    for variant, only in (("full", None), ("standard", reversed_)):
        before, wrong, right = (_rewards(results, phase, only) for phase in ("wrong_learn", "wrong_test", "right_test"))
        out[variant] = {
            "before": mean(before),
            "wrong_test": mean(wrong),
            "right_test": mean(right),
            "wrong_test_ci95": mean_interval(wrong),
            "right_test_ci95": mean_interval(right),
            "n": len(right),
            "rg": _diff(mean(right), mean(wrong)),
            "rg_ci95": _interval(right, wrong),
            "er": _diff(mean(wrong), mean(before)),
            "er_ci95": _interval(wrong, before),
            "nr": _diff(mean(right), mean(before)),
            "nr_ci95": _interval(right, before),
        }
    return out
