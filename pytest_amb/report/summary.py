"""summary.json: the machine-readable result of a run, computed from the step results alone."""

from __future__ import annotations

from collections import defaultdict

from pytest_amb.metrics.qa import qa_aggregate
from pytest_amb.metrics.stream import csr_curve, success_aggregate

SCHEMA = "pytest-amb/summary"
SCHEMA_VERSION = 1


def summarize(results: list[dict], run: dict) -> dict:
    """Per-stream metrics and totals. ``run`` is the run metadata (id, config, reference model flag)."""
    by_stream: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_stream[result["step"]["stream"]].append(result)
    streams = [_stream_summary(sid, sorted(items, key=lambda r: r["step"]["position"])) for sid, items in by_stream.items()]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run.get("run_id"),
        "run_dir": run.get("run_dir"),
        "config": run.get("config"),
        "reference_model": run.get("reference_model"),
        "streams": streams,
        "totals": {
            "steps": len(results),
            "passed": sum(r["status"] == "passed" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
            "errors": sum(r["status"] == "error" for r in results),
            "tokens": sum(s["tokens"]["total"] for s in streams),
        },
    }


def _stream_summary(stream_id: str, results: list[dict]) -> dict:
    samples = [r for r in results if r["step"]["kind"] == "sample"]
    scored = [r for r in samples if r["status"] != "error"]
    curve = csr_curve([bool(r["success"]) for r in scored])
    calls = [c for r in results for c in r["llm_calls"]]
    tokens_by_purpose: dict[str, int] = defaultdict(int)
    for call in calls:
        tokens_by_purpose[call["purpose"]] += call["prompt_tokens"] + call["completion_tokens"]
    first = results[0]
    return {
        "stream": stream_id,
        "task": first["step"]["task"],
        "memory": first["provenance"].get("memory"),
        "steps": len(results),
        "samples": len(samples),
        "injections": len(results) - len(samples),
        "errors": sum(r["status"] == "error" for r in results),
        "success": success_aggregate(results),
        "qa": qa_aggregate(results),
        "csr": {"final": curve[-1] if curve else None, "curve": curve},
        "tokens": {"total": sum(tokens_by_purpose.values()), "by_purpose": dict(tokens_by_purpose)},
        "llm_calls": len(calls),
        "wall_s": round(sum(r["wall_s"] for r in results), 3),
        "backends": sorted({r["provenance"].get("task_backend", "?") for r in results}),
    }
