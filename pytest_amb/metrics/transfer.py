"""Transfer metrics: TG (spec §8.6) and FTG (§8.7), on rewards (the original's FTG read ``llm_score``,
absent on system tasks [Q25])."""

from __future__ import annotations

import statistics

from pytest_amb.metrics import scored
from pytest_amb.metrics.intervals import difference_interval, mean_interval


def transfer_gain(target: list[dict], baseline: list[dict]) -> dict:
    """TG = ASR(target task after learning the source) − ASR(the baseline memory on the target task), in points
    of success rate (×100 for percentage points), with a 95% interval for the difference."""
    ours = [bool(r["success"]) for r in scored(target, "target")]
    theirs = [bool(r["success"]) for r in scored(baseline, "target")]
    if not ours or not theirs:
        return {"tg": None, "n_transfer": len(ours), "n_baseline": len(theirs), "ci95": None}
    p1, p2 = sum(ours) / len(ours), sum(theirs) / len(theirs)
    return {
        "tg": p1 - p2,
        "asr_transfer": p1,
        "asr_baseline": p2,
        "n_transfer": len(ours),
        "n_baseline": len(theirs),
        "ci95": difference_interval(p1, len(ours), p2, len(theirs)),
    }


def forward_transfer_gain(results: list[dict]) -> dict:
    """FTG_ij = 100 · (P_fwd(j | memory after learning i) − P_on(j)) / P_on(i) over the probes (i, j),
    where P_on(x) is x's reward in its own place in the stream; pairs with P_on(i) = 0 or no P_on(j)
    are skipped, as in the original. Reported: mean (``ftg``), median, population sd, min, max, n, and
    ``values``: every FTG_ij in stream order (the FTG curve)."""
    on = {r["step"]["sample_id"]: float(r["reward"]) for r in scored(results, "train")}
    values = []
    for probe in scored(results, "forward_test"):
        i, j = probe["step"]["probe_of"], probe["step"]["sample_id"]
        if on.get(i) and j in on:
            values.append(100 * (float(probe["reward"]) - on[j]) / on[i])
    if not values:
        return {"ftg": None, "n": 0}
    return {
        "ftg": statistics.fmean(values),
        "ci95": mean_interval(values),
        "median": statistics.median(values),
        "sd": statistics.pstdev(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": values,
    }
