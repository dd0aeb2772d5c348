"""Crash safety: per-stream memory checkpoints in the run directory, and ``--amb-resume``.

After every step the process that owns a stream saves the stream's memory to
``<run>/checkpoints/<stream>/<position>/`` (atomically; the last two positions are kept, since the
journal can lag one step behind a crash). ``--amb-resume`` reopens a run of the same configuration:
for each stream, the journaled prefix of steps with a verdict is kept, the memory is restored from the
checkpoint of the last kept step, and only the remaining steps run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

LATEST = "latest"
KEEP_CHECKPOINTS = 2


class ResumeError(ValueError):
    """The run to resume cannot be found or does not match; the message says what to do."""


def find_run(run_dir: Path, which: str, config_hash: str) -> Path:
    candidates = (
        sorted(p for p in Path(run_dir).glob("*") if (p / "run.json").is_file()) if Path(run_dir).is_dir() else []
    )
    if which != LATEST:
        path = Path(run_dir) / which
        if not (path / "run.json").is_file():
            raise ResumeError(
                f"--amb-resume: no run '{which}' under {run_dir} (runs: {', '.join(p.name for p in candidates[-5:]) or 'none'})"
            )
        found = json.loads((path / "run.json").read_text(encoding="utf-8")).get("config_hash")
        if found != config_hash:
            raise ResumeError(
                f"--amb-resume: run '{which}' was made with another configuration (hash {found}, now {config_hash}); "
                "resume it with the same options, or start a new run"
            )
        return path
    same = [
        p
        for p in candidates
        if json.loads((p / "run.json").read_text(encoding="utf-8")).get("config_hash") == config_hash
    ]
    if not same:
        raise ResumeError(
            f"--amb-resume: no run under {run_dir} has this configuration (hash {config_hash}); start a new run"
        )
    return max(same, key=lambda p: (p / "run.json").stat().st_mtime)


def read_results(path: Path) -> list[dict]:
    """The journaled step results; a last line cut by a crash is ignored."""
    results = []
    steps = Path(path) / "steps.jsonl"
    if not steps.is_file():
        return results
    for line in steps.read_text(encoding="utf-8").splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return results


def completed_prefix(results: list[dict], step_ids: dict[str, tuple[str, int]]) -> tuple[list[dict], dict[str, int]]:
    """Per stream, the results of positions 0..k-1 when each has a verdict (passed or failed), and k."""
    by_position: dict[tuple[str, int], dict] = {}
    for result in results:
        key = step_ids.get(result["step"]["id"])
        if key is not None:
            by_position[key] = result  # the last journaled result of a step wins
    starts: dict[str, int] = {}
    for stream in {stream for stream, _ in step_ids.values()}:
        k = 0
        while (stream, k) in by_position and by_position[(stream, k)]["status"] != "error":
            k += 1
        starts[stream] = k
    kept = [r for (stream, position), r in sorted(by_position.items(), key=lambda kv: (kv[0][0], kv[0][1]))
            if position < starts[stream]]  # fmt: skip
    return kept, starts


def stream_folder(root: Path, stream: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stream)
    return Path(root) / f"{safe}-{hashlib.sha1(stream.encode()).hexdigest()[:8]}"


def checkpoint_path(root: Path, stream: str, position: int) -> Path:
    return stream_folder(root, stream) / f"{position:05d}"


def save_checkpoint(memory, root: Path, stream: str, position: int, keep=frozenset()) -> Path:
    """Save atomically; older checkpoints are removed except the last two and the positions in ``keep``
    (the ones read-only steps start from)."""
    target = checkpoint_path(root, stream, position)
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    memory.save(temporary)
    (temporary / "COMPLETE").write_text(json.dumps({"stream": stream, "position": position}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    temporary.rename(target)
    done = sorted(p for p in target.parent.iterdir() if p.name.isdigit())
    for old in done[:-KEEP_CHECKPOINTS]:
        if int(old.name) not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return target


def find_checkpoint(root: Path, stream: str, position: int) -> Path | None:
    path = checkpoint_path(root, stream, position)
    return path if (path / "COMPLETE").is_file() else None
