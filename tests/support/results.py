"""Comparing journaled results across runs."""

TIMINGS = ("wall_s", "latency_s")


def stable(value, volatile=TIMINGS):
    """``value`` without the keys that legitimately differ between runs (timings, and any ``volatile``)."""
    if isinstance(value, dict):
        return {k: stable(v, volatile) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [stable(v, volatile) for v in value]
    return value


def runs_in_start_order(folder) -> list:
    """The run directories under ``folder``, oldest first by the time each run started (their names sort by
    the second they started, then by configuration: two runs within one second could come out of order)."""
    import json
    from pathlib import Path

    def started(run: Path) -> str:
        record = run / "run.json"
        return json.loads(record.read_text())["started_at"] if record.is_file() else ""

    return sorted((p for p in Path(folder).iterdir() if p.is_dir()), key=lambda run: (started(run), run.name))
