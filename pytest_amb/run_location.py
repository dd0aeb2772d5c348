"""Where a run writes, and (with --amb-resume) what is left to do. The controller decides before any xdist
worker starts; workers receive it through ``workerinput``. The location of each run this process works on
is registered by its path, so the engine finds which steps of a resumed run it re-checks (``active``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

WORKER_PATH, WORKER_RESUMED, WORKER_TO_RUN, WORKER_RECHECK, WORKER_INVOCATION = (
    "amb_run_path", "amb_resumed", "amb_resume_to_run", "amb_resume_recheck", "amb_invocation"
)  # fmt: skip
_ACTIVE: dict[str, RunLocation] = {}


@dataclass
class RunLocation:
    path: Path  # the run directory (created on the first write)
    resumed: bool = False
    to_run: frozenset[str] | None = None  # a resumed run: the step ids still to run or re-check (None: all)
    recheck: dict[str, dict] = field(default_factory=dict)  # step id -> {"read", "wrote"} digests of its attempt
    attempts: list[dict] = field(default_factory=list)  # a resumed run, controller: every journaled attempt
    assessment: object = None  # a resumed run, controller: resume.Assessment at the start
    invocation: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # this pytest command (and its workers)

    @property
    def run_id(self) -> str:
        return self.path.name

    def to_workerinput(self, workerinput: dict) -> None:
        workerinput[WORKER_PATH] = str(self.path)
        workerinput[WORKER_RESUMED] = self.resumed
        workerinput[WORKER_TO_RUN] = sorted(self.to_run) if self.to_run is not None else None
        workerinput[WORKER_RECHECK] = self.recheck
        workerinput[WORKER_INVOCATION] = self.invocation


def active(path: Path) -> RunLocation | None:
    """The location registered for the run directory ``path`` in this process, if any."""
    return _ACTIVE.get(str(Path(path).resolve()))


def locate(pytest_config, run_config, plan) -> RunLocation:
    location = _locate(pytest_config, run_config, plan)
    _ACTIVE[str(location.path.resolve())] = location
    return location


def _locate(pytest_config, run_config, plan) -> RunLocation:
    from pytest_amb import resume
    from pytest_amb.journal import new_run_id, read_steps

    workerinput = getattr(pytest_config, "workerinput", None)
    if workerinput is not None and WORKER_PATH in workerinput:
        to_run = workerinput.get(WORKER_TO_RUN)
        return RunLocation(Path(workerinput[WORKER_PATH]), resumed=bool(workerinput.get(WORKER_RESUMED)),
                           to_run=frozenset(to_run) if to_run is not None else None,
                           recheck=dict(workerinput.get(WORKER_RECHECK) or {}),
                           invocation=workerinput[WORKER_INVOCATION])  # fmt: skip
    if run_config.resume:
        path = resume.find_run(run_config.run_dir, run_config.resume, run_config.hash)
        attempts = [{k: v for k, v in r.items() if k != "config_hash"} for r in read_steps(path)]
        found = resume.plan_resume(attempts, plan, path / "checkpoints")
        return RunLocation(path, resumed=True, to_run=frozenset(found.to_run), recheck=found.recheck,
                           attempts=attempts, assessment=found)  # fmt: skip
    run_id = new_run_id(run_config.hash)
    path, suffix = run_config.run_dir / run_id, 1
    while path.exists():
        suffix += 1
        path = run_config.run_dir / f"{run_id}-{suffix}"
    return RunLocation(path)
