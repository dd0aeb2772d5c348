"""Metrics over the order of a stream: CSR, LG, SL (spec §8.3, §8.4), and ASR/AS (§8.1)."""

from __future__ import annotations

from pytest_amb.metrics import scored
from pytest_amb.metrics.intervals import mean_interval, wilson


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


def lg_curve(csr: list[float]) -> list[float]:
    """Learning gain: LG_t = max_{u≥t} CSR_u − CSR_t, how far the curve still rises (≥ 0, LG_T = 0)."""
    out, best = [], float("-inf")
    for value in reversed(csr):
        best = max(best, value)
        out.append(best - value)
    return out[::-1]


def sl_curve(csr: list[float]) -> list[float]:
    """Stability loss: SL_t = max_{u≤t} CSR_u − CSR_t, the drop from the best so far (≥ 0, SL_1 = 0)."""
    out, best = [], float("-inf")
    for value in csr:
        best = max(best, value)
        out.append(best - value)
    return out


def curve_block(successes: list[bool]) -> dict:
    """CSR, LG and SL curves with their scalars: CSR_T (final), LG = mean_t LG_t, SL = mean_t SL_t."""
    csr = csr_curve(successes)
    lg, sl = lg_curve(csr), sl_curve(csr)
    return {
        "n": len(csr),
        "csr": {"final": csr[-1] if csr else None, "curve": csr},
        "lg": {"mean": sum(lg) / len(lg) if lg else None, "curve": lg},
        "sl": {"mean": sum(sl) / len(sl) if sl else None, "curve": sl},
    }


def agent_turns(result: dict) -> float:
    """AS of one sample: the number of assistant messages (agent turns) in its transcript."""
    return float(sum(m.get("role") == "assistant" for m in result["transcript"]))


def success_aggregate(results: list[dict]) -> dict:
    """ASR and AS (spec §8.1) over the scored samples among ``results``, overall and per sample type.

    ASR = successes / n with its Wilson 95% interval; AS = mean number of assistant messages (agent
    turns) per sample with a normal 95% interval. Errored steps are excluded and counted apart (the
    original counted them as failures; see docs/deviations.md). ``per_type`` groups by the sample
    type a task puts in its metrics (``metrics["type"]``).
    """
    samples = scored(results)

    def block(items: list[dict]) -> dict:
        turns = [agent_turns(r) for r in items]
        wins = sum(bool(r["success"]) for r in items)
        return {
            "n": len(items),
            "asr": wins / len(items) if items else None,
            "asr_ci95": wilson(wins, len(items)),
            "as": sum(turns) / len(turns) if turns else None,
            "as_ci95": mean_interval(turns),
        }

    by_type: dict[str, list[dict]] = {}
    for result in samples:
        if "type" in result["metrics"]:
            by_type.setdefault(str(result["metrics"]["type"]), []).append(result)
    return {**block(samples), "per_type": {t: block(items) for t, items in sorted(by_type.items())}}
