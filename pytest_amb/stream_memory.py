"""The state of a stream's memory in one process, and the errors of steps that cannot run on it: what the
engine keeps per stream (its memory, the position of the last learning step it holds, the digest of its
checkpoint, why it is broken) and the runner's view of a memory that remembers a failed update."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_amb.resume import INITIAL


class StreamOrderError(RuntimeError):
    """A step met out of its stream's order (parts of a stream deselected)."""


class MemoryBroken(RuntimeError):
    """The stream's memory failed to update at an earlier step: a step that depends on it cannot run."""


class CheckpointError(RuntimeError):
    """A memory checkpoint could not be loaded."""


class TaskSetupError(RuntimeError):
    """A task could not be built (a harness or task problem); only that task's steps are ERRORs. (A task whose
    backend is unreachable raises its own infrastructure error instead, for each of its steps.)"""


@dataclass
class StreamState:
    memory: object
    last_learned: int = -1  # position of the last step that updated this memory (-1: none yet)
    digest: str | None = INITIAL  # of the memory as checkpointed after last_learned (None: not known)
    broken: str | None = None  # why the memory is broken (a failed update), else None


KEPT = "kept: its journaled result read this very memory (digest {digest}); nothing before it changed what it reads"


class Watched:
    """The memory as the runner sees it: remembers whether its update raised (the memory may be half-written) and
    whether any update may have changed it."""

    def __init__(self, memory):
        self._memory = memory
        self.update_failed: BaseException | None = None
        self.changed = False  # an update reported a change, or the memory does not report its changes

    def __getattr__(self, name):
        return getattr(self._memory, name)

    def update(self, *args, **kwargs):
        try:
            report = self._memory.update(*args, **kwargs)
        except BaseException as exc:
            self.update_failed = exc
            raise
        if not getattr(self._memory, "reports_every_change", False) or report.changed:
            self.changed = True
        return report
