"""summary.json: the machine-readable result of a run, computed from the step results alone."""

from __future__ import annotations

import re
from collections import defaultdict

from pytest_amb.llm.pricing import PriceTable, by_purpose, sum_costs, total_cost
from pytest_amb.metrics import scored
from pytest_amb.metrics.differences import memory_differences
from pytest_amb.metrics.memory_rows import group_streams, memory_rows
from pytest_amb.metrics.stream import success_aggregate
from pytest_amb.metrics.table import MetricTable
from pytest_amb.metrics.transfer import transfer_gain
from pytest_amb.plan import BASELINE

SCHEMA = "pytest-amb/summary"
SCHEMA_VERSION = 4


def primary_samples(results: list[dict]) -> list[dict]:
    """The samples a stream's headline numbers (ASR, QA metrics, CSR/LG/SL) are computed on: those that
    use and update memory (online, replay and forward-transfer training, transfer source, repair
    learning); where there are none (offline test, transfer baseline), every sample that uses memory."""
    samples = scored(results)
    learning = [r for r in samples if r["step"]["augment"] and r["step"]["update"]]
    return learning or [r for r in samples if r["step"]["augment"]] or samples


def results_by_stream(results: list[dict], stream_order: list[str] | None = None) -> dict[str, list[dict]]:
    """Stream id -> its results in position order; streams in ``stream_order`` (the plan's), others after."""
    by_stream: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_stream[result["step"]["stream"]].append(result)
    plan_order = {sid: n for n, sid in enumerate(stream_order or [])}
    streams_in_order = sorted(by_stream, key=lambda sid: (plan_order.get(sid, len(plan_order)), sid))
    return {sid: sorted(by_stream[sid], key=lambda r: r["step"]["position"]) for sid in streams_in_order}


def summarize(results: list[dict], run: dict, table: MetricTable, reference_memory: str | None = None,
              prices: PriceTable | None = None) -> dict:  # fmt: skip
    """Per-stream metrics (``table``: the run's metric table), per-memory rows, the memories' paired
    differences to ``reference_memory`` (default: the run's first memory), transfer gains, the cost in money
    of the LLM calls (``prices``, default the bundled table) and totals.
    ``results``: the results that stand, one per step (``resume.assess``). ``run`` is the run metadata (id,
    config, reference flag, ``stream_order``: the plan's stream ids, so the summary does not depend on
    completion order; ``partial``: how many steps have no result and the command that finishes the run;
    ``families``: task instance -> task family; ``skipped``: the families skipped and why; ``endpoints``,
    ``cache``, ``budget_usd``: the LLM endpoint per role, the response cache's mode, the budget)."""
    prices = prices or PriceTable.bundled()
    ordered = results_by_stream(results, run.get("stream_order"))
    streams = [_stream_summary(sid, items, table, prices) for sid, items in ordered.items()]
    primary = {sid: primary_samples(items) for sid, items in ordered.items()}
    families = run.get("families") or {}
    memories = list((run.get("config") or {}).get("memories") or [])
    groups = group_streams(streams, families, memories)
    memories = memories or list(dict.fromkeys(memory for _, memory in groups))
    reference = reference_memory or (memories[0] if memories else None)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run.get("run_id"),
        "run_dir": run.get("run_dir"),
        "config": run.get("config"),
        "mode": (run.get("config") or {}).get("mode"),
        "reference_model": run.get("reference_model"),
        "partial": run.get("partial"),  # None, or {"missing", "steps", "command"}: the run is not finished
        "streams": streams,
        "memories": memory_rows(groups, ordered, primary, table),
        "differences": memory_differences(groups, primary, table, reference) if len(memories) > 1 else None,
        "skipped": run.get("skipped") or [],
        "transfer_gains": _transfer_gains(ordered),
        "llm": run_llm(results, run, prices),
        "totals": {
            "steps": len(results),
            "passed": sum(r["status"] == "passed" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
            "errors": sum(r["status"] == "error" for r in results),
            "solved": sum(r["status"] == "passed" and r["step"]["kind"] == "sample" for r in results),
            "unsolved": sum(r["status"] == "failed" and r["step"]["kind"] == "sample" for r in results),
            "tokens": sum(s["tokens"]["total"] for s in streams),
        },
    }


def _stream_summary(stream_id: str, results: list[dict], table: MetricTable, prices: PriceTable) -> dict:
    samples = [r for r in results if r["step"]["kind"] == "sample"]
    primary = primary_samples(results)
    phases = sorted({r["step"]["phase"] for r in samples})
    calls = [c for r in results for c in r["llm_calls"]]
    tokens_by_purpose: dict[str, int] = defaultdict(int)
    for call in calls:
        tokens_by_purpose[call["purpose"]] += call["prompt_tokens"] + call["completion_tokens"]
    first = results[0]
    summary = {
        "stream": stream_id,
        "task": first["step"]["task"],
        "tasks": sorted({r["step"]["task"] for r in results}),
        "memory": first["provenance"].get("memory"),
        "steps": len(results),
        "samples": len(samples),
        "injections": len(results) - len(samples),
        "errors": sum(r["status"] == "error" for r in results),
        "primary_phases": sorted({r["step"]["phase"] for r in primary}),
        **table.summarize(primary, results),
        "phases": {phase: success_aggregate([r for r in samples if r["step"]["phase"] == phase]) for phase in phases},
        "tokens": {"total": sum(tokens_by_purpose.values()), "by_purpose": dict(tokens_by_purpose)},
        "memory_cost": memory_cost(results),
        "cost": stream_cost(calls, prices),
        "llm_calls": len(calls),
        "wall_s": round(sum(r["wall_s"] for r in results), 3),
        "backends": sorted({r["provenance"].get("task_backend", "?") for r in results if r["provenance"]}),
    }
    return summary


def memory_cost(results: list[dict]) -> dict:
    """What the memory mechanism spent, summed over the stream, for retrieval and for update: its own
    LLM calls and their tokens, embedding calls and embedded texts, and how many operations were counted."""
    totals = {}
    for operation in ("retrieval", "update"):
        costs = [r["memory_cost"][operation] for r in results if operation in (r.get("memory_cost") or {})]
        block = {
            key: sum(c[key] for c in costs) for key in ("llm_calls", "tokens", "embedding_calls", "embedded_texts")
        }
        totals[operation] = {"operations": len(costs), **block}
    return totals


# -- cost in money and the response cache ------------------------------------------------------------------
def cache_counts(calls: list[dict]) -> dict[str, int]:
    """Hits: answers replayed from the response cache; misses: lookups that found nothing (the call was
    made). Calls of a journal from before the cache count as neither."""
    hits = sum(bool(c.get("from_cache")) for c in calls)
    misses = sum(bool(c.get("cache_lookup")) and not c.get("from_cache") for c in calls)
    return {"hits": hits, "misses": misses}


def stream_cost(calls: list[dict], prices: PriceTable) -> dict:
    """A stream's cost: ``usd`` (None when a call's model has no price), per purpose the calls, tokens and
    cost (``GroupCost``), and per purpose the response cache's hits and misses."""
    per_purpose = sum_costs(calls, prices)
    return {
        "usd": total_cost(calls, prices).cost,
        "per_purpose": {purpose: group.to_json() for purpose, group in per_purpose.items()},
        "cache": {purpose: cache_counts(_of_purpose(calls, purpose)) for purpose in per_purpose},
    }


def _of_purpose(calls: list[dict], purpose: str) -> list[dict]:
    return [c for c in calls if by_purpose(c) == purpose]


def run_llm(results: list[dict], run: dict, prices: PriceTable) -> dict:
    """The run's LLM calls over the results that count: cost, calls, tokens, cache hits and misses per
    purpose, the models without a price, and the endpoints, cache mode and budget the run had."""
    calls = [c for r in results for c in r.get("llm_calls") or []]
    per_purpose = {}
    for purpose, group in sum_costs(calls, prices).items():
        per_purpose[purpose] = {**group.to_json(), **cache_counts(_of_purpose(calls, purpose))}
    total = total_cost(calls, prices)
    return {
        "cost_usd": total.cost,
        "per_purpose": per_purpose,
        "unknown_models": list(total.unknown_models),
        "endpoints": run.get("endpoints") or [],
        "cache": run.get("cache") or None,
        "budget_usd": run.get("budget_usd"),
    }


def _is_baseline(stream_id: str) -> bool:
    """A transfer run's reference stream: ``<baseline memory>/<target>/baseline[/seedN]``."""
    return re.search(rf"/{BASELINE}(/seed-?\d+)?$", stream_id) is not None


def _transfer_gains(by_stream: dict[str, list[dict]]) -> list[dict]:
    """TG for every transfer stream, against the baseline stream of its target (same seed)."""
    gains = []
    for sid, items in by_stream.items():
        if _is_baseline(sid):
            continue
        for target in sorted({r["step"]["task"] for r in items if r["step"]["phase"] == "target"}):
            seed = re.search(r"/seed-?\d+$", sid)
            wanted = f"{target}/{BASELINE}" + (seed.group() if seed else "")
            baseline_id = next((b for b in by_stream if _is_baseline(b) and b.split("/", 1)[1] == wanted), None)
            if baseline_id is not None:
                gain = transfer_gain(items, by_stream[baseline_id])
                gains.append({"stream": sid, "target": target, "baseline": baseline_id, **gain})
    return gains
