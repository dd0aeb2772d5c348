"""Crash safety: memory checkpoints in the run directory, which journaled results stand, and what
``--amb-resume`` runs again.

Checkpoints. After every learning step (one that updates memory) the process that owns the stream saves the
memory to ``<run>/checkpoints/<stream>/<position>/``, atomically, with the SHA-256 of its files (the memory's
*digest*). Every learning step's checkpoint is kept until the run is complete; then only the last one of
each stream is kept. A learning step whose memory update failed leaves a ``BROKEN`` marker instead.

Which results stand (``assess``; the journal itself is append-only and never rewritten):

- the latest attempt of a step supersedes every earlier one (``journal.latest_attempts``);
- every result records the digest of the memory it read and, for a learning step, of the memory after it;
- a result stands when it is not an ERROR and the memory it read is the stream's memory at that point: the
  memory after the learning steps before it, as their standing results left it (the digests chain);
- a result read a memory that a later attempt of an earlier learning step changed: it is stale and runs again;
- when an earlier learning step has no standing result yet (an ERROR, or never ran), the memory it will leave
  is not known before it runs: the later results are *re-checked* when the resumed run gets there, and kept
  only when the memory they would read has the very digest of the one they read (a learning step that failed
  before its update, e.g. on the agent's endpoint, changed nothing; if its new attempt stores nothing either,
  everything after it stands), else run again.

What a resume runs (``plan_resume``): every step without a standing result, every re-checked step, and, for
any of them that starts from the memory after a learning step whose checkpoint is missing or damaged, that
learning step too (again and again, back to the start of the stream if need be): a stream can always be
resumed. A read-only step starts from the checkpoint of the learning step before it, on any worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pytest_amb.journal import latest_attempts
from pytest_amb.plan import Plan, memory_anchors

LATEST = "latest"
INITIAL = "initial"  # the digest of a stream's memory before anything was learned
RUN, RECHECK, KEEP = "run", "recheck", "keep"
COMPLETE, BROKEN, UNUSABLE = "COMPLETE", "BROKEN", "UNUSABLE"
NO_RESULT, ERRORED, STALE, REBUILD = "no result", "an ERROR", "a stale result", "a missing or damaged checkpoint"


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


# -- which results stand ------------------------------------------------------------------------------------
@dataclass
class Assessment:
    status: dict[str, str] = field(default_factory=dict)  # step id -> KEEP, RECHECK or RUN
    why: dict[str, str] = field(default_factory=dict)  # step id -> why it runs (RUN only)
    recheck: dict[str, dict] = field(default_factory=dict)  # step id -> {"read", "wrote"} of its latest attempt
    expected: dict[str, str | None] = field(default_factory=dict)  # step id -> digest of the memory it must read
    results: list[dict] = field(default_factory=list)  # the latest attempts that count, in plan order
    missing: list[str] = field(default_factory=list)  # step ids without a standing result

    @property
    def to_run(self) -> list[str]:
        return [step_id for step_id, status in self.status.items() if status != KEEP]


def memory_state(attempt: dict | None) -> dict:
    return ((attempt or {}).get("provenance") or {}).get("memory_state") or {}


def assess(attempts: list[dict], plan: Plan, rerun: dict[str, str] | None = None) -> Assessment:
    """Which journaled results stand (module docstring). ``rerun``: learning steps that must run again although
    their result stands (their checkpoint is gone), by step id, with the reason."""
    latest, rerun, found = latest_attempts(attempts), rerun or {}, Assessment()
    for stream in plan.streams:
        after: dict[int, str | None] = {-1: INITIAL}  # learning position -> digest of the memory after it
        for step, anchor in zip(stream.steps, memory_anchors(stream.steps)):
            attempt, expected = latest.get(step.id), after[anchor]
            state = memory_state(attempt)
            why = None
            if attempt is None:
                why = NO_RESULT
            elif attempt.get("status") == "error":
                why = ERRORED
            elif not (step.augment or step.update):
                pass  # uses no memory: it stands whatever came before
            elif expected is None:
                found.status[step.id] = RECHECK
                found.recheck[step.id] = {"read": state.get("read"), "wrote": state.get("wrote")}
            elif state.get("read") != expected:
                why = STALE
            if step.id in rerun and why is None and step.id not in found.status:
                why = rerun[step.id]
            found.status.setdefault(step.id, RUN if why else KEEP)
            found.expected[step.id] = expected
            if why:
                found.why[step.id] = why
            if why in (NO_RESULT, ERRORED, STALE):
                found.missing.append(step.id)
            if attempt is not None and why not in (NO_RESULT, STALE):
                found.results.append(attempt)
            if step.update:
                after[step.position] = state.get("wrote") if found.status[step.id] == KEEP else None
    return found


def plan_resume(attempts: list[dict], plan: Plan, root: Path) -> Assessment:
    """``assess``, plus the learning steps whose checkpoint a step to run needs and that is missing or damaged."""
    rerun: dict[str, str] = {}
    intact: dict[Path, bool] = {}
    while True:
        found = assess(attempts, plan, rerun)
        lacking = {}
        for stream in plan.streams:
            by_position = {step.position: step for step in stream.steps}
            for step, anchor in zip(stream.steps, memory_anchors(stream.steps)):
                digest = found.expected[step.id]
                if found.status[step.id] == KEEP or anchor < 0 or digest is None:
                    continue
                path = find_checkpoint(root, stream.id, anchor)
                if path is not None and path not in intact:
                    intact[path] = checkpoint_digest(path) == tree_digest(path)
                if path is None or checkpoint_digest(path) != digest or not intact[path]:
                    lacking[by_position[anchor].id] = REBUILD
        if not lacking:
            return found
        rerun.update(lacking)


# -- checkpoints --------------------------------------------------------------------------------------------
def stream_folder(root: Path, stream: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stream)
    return Path(root) / f"{safe}-{hashlib.sha1(stream.encode()).hexdigest()[:8]}"


def checkpoint_path(root: Path, stream: str, position: int) -> Path:
    return stream_folder(root, stream) / f"{position:05d}"


def tree_digest(path: Path) -> str:
    """SHA-256 over the relative names and bytes of the files a memory saved (markers excluded)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        name = file.relative_to(path).as_posix()
        if name in (COMPLETE, BROKEN, UNUSABLE):
            continue
        digest.update(name.encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def save_checkpoint(memory, root: Path, stream: str, position: int) -> str:
    """Save atomically (replacing an earlier attempt's checkpoint at this position); returns the digest."""
    target = checkpoint_path(root, stream, position)
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    memory.save(temporary)
    digest = tree_digest(temporary)
    marker = {"stream": stream, "position": position, "digest": digest}
    (temporary / COMPLETE).write_text(json.dumps(marker), encoding="utf-8")
    _remove(target)
    temporary.rename(target)
    return digest


def link_checkpoint(previous: Path, root: Path, stream: str, position: int) -> str:
    """The memory did not change since the checkpoint ``previous``: this position becomes a symbolic link to that
    checkpoint's folder (one system call, nothing saved again), with its digest."""
    target = checkpoint_path(root, stream, position)
    real = Path(previous).resolve()
    _remove(target)
    if real.parent == target.parent.resolve():
        os.symlink(real.name, target)  # relative: the run directory may move
    else:  # not the same stream's folder: a copy made of hard links
        shutil.copytree(real, target, copy_function=_link_or_copy)
    return checkpoint_digest(target)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # a file system without hard links
        shutil.copy2(source, destination)


def _remove(path: Path) -> None:
    """A checkpoint position gone: a link is unlinked (never what it points to), a folder removed."""
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def find_checkpoint(root: Path, stream: str, position: int) -> Path | None:
    path = checkpoint_path(root, stream, position)
    return path if (path / COMPLETE).is_file() and not (path / UNUSABLE).exists() else None


def checkpoint_digest(path: Path) -> str | None:
    try:
        return json.loads((Path(path) / COMPLETE).read_text(encoding="utf-8")).get("digest")
    except (OSError, ValueError):
        return None


def mark_unusable(path: Path, reason: str) -> None:
    """A checkpoint that could not be loaded: never used again (a resume re-runs the step that wrote it)."""
    (Path(path) / UNUSABLE).write_text(reason, encoding="utf-8")


def mark_broken(root: Path, stream: str, position: int, reason: str) -> None:
    """The memory after this position is broken (its update failed): no checkpoint, the reason instead."""
    target = checkpoint_path(root, stream, position)
    _remove(target)
    target.mkdir(parents=True)
    (target / BROKEN).write_text(reason, encoding="utf-8")


def broken_reason(root: Path, stream: str, position: int) -> str | None:
    marker = checkpoint_path(root, stream, position) / BROKEN
    return marker.read_text(encoding="utf-8") if marker.is_file() else None


def prune_checkpoints(root: Path) -> None:
    """A complete run: keep only the last checkpoint of each stream."""
    if not Path(root).is_dir():
        return
    for folder in (p for p in Path(root).iterdir() if p.is_dir()):
        complete = sorted(p for p in folder.iterdir() if p.name.isdigit() and (p / COMPLETE).is_file())
        keep = complete[-1] if complete else None
        if keep is not None and keep.is_symlink():  # the last position links an earlier one: it takes its folder
            real = keep.resolve()
            keep.unlink()
            real.rename(keep)
        for entry in folder.iterdir():
            if entry != keep:
                _remove(entry)
