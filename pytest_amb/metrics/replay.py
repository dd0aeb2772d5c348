"""Replay metrics (spec §8.5): immediate and replay success, and the forgetting rate FR.

P(s) is the sample's reward (the original read ``llm_score``, which system tasks lack, so it was always
0 there [Q25]). Stages come from the steps themselves (the original inferred them by sorting directory
names as text and by fixed-size chunking [Q26, Q27]).
"""

from __future__ import annotations

from pytest_amb.metrics import mean, scored
from pytest_amb.metrics.intervals import mean_interval


def forgetting(results: list[dict]) -> dict:
    """FR = mean_j FG_j over stages j = 1..K−1 with a non-empty S_j, where

    S_j = {s learned in stage j : P_imm(s) ≠ 0 and s was replay-tested in some stage k > j},
    FG(s) = mean_{k>j} 100·(P_imm(s) − P_k(s)) / P_imm(s), FG_j = mean_{s∈S_j} FG(s).

    With 0/1 rewards, FG(s) is the percentage of later replay tests in which a sample answered right
    right after learning it was answered wrong. Also reported: immediate and replay success (means of
    P over immediate and replay tests) with 95% intervals.
    """
    stage_of = {(r["step"]["task"], r["step"]["sample_id"]): r["step"]["stage"] for r in scored(results, "train")}
    immediate = {
        (r["step"]["task"], r["step"]["sample_id"]): float(r["reward"]) for r in scored(results, "immediate_test")
    }
    replays = scored(results, "replay_test")
    later: dict[tuple, list[float]] = {}
    for r in replays:
        key = (r["step"]["task"], r["step"]["sample_id"])
        if key in stage_of and r["step"]["stage"] > stage_of[key]:
            later.setdefault(key, []).append(float(r["reward"]))
    per_stage: dict[int, list[float]] = {}
    for key, stage in stage_of.items():
        base = immediate.get(key)
        if base and key in later:
            gains = [100 * (base - p) / base for p in later[key]]
            per_stage.setdefault(stage, []).append(sum(gains) / len(gains))
    stage_means = {stage: sum(v) / len(v) for stage, v in sorted(per_stage.items())}
    all_samples = [g for values in per_stage.values() for g in values]
    immediate_values = list(immediate.values())
    replay_values = [float(r["reward"]) for r in replays]
    immediate_by_stage: dict[int, list[float]] = {}
    for r in scored(results, "immediate_test"):
        immediate_by_stage.setdefault(r["step"]["stage"], []).append(float(r["reward"]))
    replay_by_stage: dict[int, list[float]] = {}
    for r in replays:
        replay_by_stage.setdefault(r["step"]["stage"], []).append(float(r["reward"]))
    return {
        "fr": mean(list(stage_means.values())),
        "fr_ci95": mean_interval(all_samples),
        "n": len(all_samples),
        "per_stage": {str(s): {"fg": m, "n": len(per_stage[s])} for s, m in stage_means.items()},
        "immediate": {
            "mean": mean(immediate_values),
            "n": len(immediate_values),
            "ci95": mean_interval(immediate_values),
        },
        "replay": {"mean": mean(replay_values), "n": len(replay_values), "ci95": mean_interval(replay_values)},
        "stages": {
            str(stage): {
                "immediate": mean(immediate_by_stage.get(stage, [])),
                "replay": mean(replay_by_stage.get(stage, [])),
            }
            for stage in sorted(set(immediate_by_stage) | set(replay_by_stage))
        },
    }
