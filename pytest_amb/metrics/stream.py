"""Metrics over the order of a stream."""

from __future__ import annotations


def csr_curve(successes: list[bool]) -> list[float]:
    """Cumulative success rate: CSR_t = (1/t) · Σ_{i≤t} s_i for t = 1..T (spec §8.3).

    ``successes`` are the verdicts of the stream's samples in execution order (session injections and
    errored steps are not samples and are left out by the caller).
    """
    curve, total = [], 0
    for t, success in enumerate(successes, start=1):
        total += bool(success)
        curve.append(total / t)
    return curve


def success_aggregate(results: list[dict]) -> dict:
    """ASR and AS (spec §8.1) over the scored samples of a stream, overall and per sample type.

    ASR = successes / scored samples; AS = mean number of assistant messages (agent turns) per sample.
    Errored steps are excluded and counted apart (the original counted them as failures; see
    docs/deviations.md). ``per_type`` groups by the task's sample type (dbbench: counting, INSERT, ...).
    """
    scored = [r for r in results if r["step"]["kind"] == "sample" and r["status"] != "error"]

    def block(items: list[dict]) -> dict:
        turns = [sum(m.get("role") == "assistant" for m in r["transcript"]) for r in items]
        return {
            "n": len(items),
            "asr": sum(bool(r["success"]) for r in items) / len(items) if items else None,
            "as": sum(turns) / len(turns) if turns else None,
        }

    by_type: dict[str, list[dict]] = {}
    for result in scored:
        if "type" in result["metrics"]:
            by_type.setdefault(str(result["metrics"]["type"]), []).append(result)
    return {**block(scored), "per_type": {t: block(items) for t, items in sorted(by_type.items())}}
