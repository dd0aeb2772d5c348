"""The benchmark's metrics as pure functions over step results (the JSON of ``StepResult``)."""

from __future__ import annotations


def scored(results: list[dict], phase: str | None = None) -> list[dict]:
    """The samples with a verdict (not injections, not errored steps), optionally of one phase."""
    return [
        r
        for r in results
        if r["step"]["kind"] == "sample" and r["status"] != "error" and (phase is None or r["step"]["phase"] == phase)
    ]


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
