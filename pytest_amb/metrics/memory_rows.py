"""Per-memory rows: every stream of a memory in a family block (its seeds, conversations, task instances)
aggregated into one row, with n and a 95% interval per metric (``pooled``), and whether the memory learned."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pytest_amb.metrics.pooled import pool_streams
from pytest_amb.metrics.table import MetricTable

INITIAL = "initial"  # the digest a result records for a stream's memory before anything was learned


def stream_memory(stream: dict) -> str:
    """The memory of a stream summary: its results' provenance, else the first segment of its id."""
    return stream.get("memory") or stream["stream"].split("/", 1)[0]


def family_block(stream: dict, families: Mapping[str, str]) -> str:
    """The task families of a stream's tasks joined with "+" ("a+b" for a cross-task stream); a task
    instance missing from ``families`` (task instance -> family) counts as the part of its name before "/"."""
    return "+".join(sorted({families.get(task) or task.split("/", 1)[0] for task in stream["tasks"]}))


def memory_changed(results: list[dict]) -> bool:
    """Whether some result left a memory state other than the one it read (``provenance.memory_state``).

    A stream's memory is saved for the first time after its first learning step, which reads the state
    "initial" (empty); the digest it leaves is that of an empty memory unless the step stored something, so
    that first save counts as a change only when the memory's update report says it stored something."""
    for result in results:
        state = (result.get("provenance") or {}).get("memory_state") or {}
        read, wrote = state.get("read"), state.get("wrote")
        if read is None or wrote is None:
            continue
        if read == INITIAL:
            if (result.get("update") or {}).get("stored"):
                return True
        elif wrote != read:
            return True
    return False


def group_streams(streams: list[dict], families: Mapping[str, str], memories: list[str]) -> dict:
    """{(family block, memory): [stream summaries]}: blocks in the order their first stream comes in
    ``streams`` (plan order), memories in the order of ``memories`` (the run's), others after them."""
    blocks: dict[str, dict[str, list[dict]]] = {}
    for stream in streams:
        blocks.setdefault(family_block(stream, families), {}).setdefault(stream_memory(stream), []).append(stream)
    rank = {name: n for n, name in enumerate(memories)}
    groups = {}
    for block, by_memory in blocks.items():
        for memory in sorted(by_memory, key=lambda m: rank.get(m, len(rank))):  # stable: others keep their order
            groups[(block, memory)] = by_memory[memory]
    return groups


def memory_rows(groups: Mapping[tuple[str, str], list[dict]], results: Mapping[str, list[dict]],
                primary: Mapping[str, list[dict]], table: MetricTable) -> list[dict]:  # fmt: skip
    """One row per (family block, memory) of ``groups`` (``group_streams``), in its order; ``results`` and
    ``primary``: stream id -> its results and its headline samples."""
    rows = []
    for (block, memory), members in groups.items():
        learned = any(memory_changed(results.get(s["stream"], [])) for s in members)
        rows.append({
            "family": block,
            "memory": memory,
            "streams": [s["stream"] for s in members],
            "steps": sum(s["steps"] for s in members),
            "samples": sum(s["samples"] for s in members),
            "errors": sum(s["errors"] for s in members),
            "tokens": sum(s["tokens"]["total"] for s in members),
            "wall_s": round(sum(s["wall_s"] for s in members), 3),
            "cost_usd": _sum_usd([(s.get("cost") or {}).get("usd") for s in members]),
            "metrics": pool_streams(table, members, primary),
            "learned": learned,
            "note": None if learned else f"{memory}'s memory never changed on {block}: it learned nothing from these steps",
        })  # fmt: skip
    return rows


def _sum_usd(costs: list[float | None]) -> float | None:
    """The streams' costs in USD summed; None when one of them is unknown (a model without a price)."""
    return None if any(c is None for c in costs) else math.fsum(costs)
