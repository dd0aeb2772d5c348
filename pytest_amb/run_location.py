"""Where a run writes, and (with --amb-resume) what is already done. The controller decides before any
xdist worker starts; workers receive both through ``workerinput``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

WORKER_PATH, WORKER_STARTS = "amb_run_path", "amb_resume_starts"


@dataclass
class RunLocation:
    path: Path  # the run directory (created on the first write)
    resumed: bool = False
    resume_starts: dict[str, int] = field(default_factory=dict)  # stream -> first position still to run
    kept: list[dict] = field(default_factory=list)  # journaled results that count (a resumed run)

    @property
    def run_id(self) -> str:
        return self.path.name

    def to_workerinput(self, workerinput: dict) -> None:
        workerinput[WORKER_PATH] = str(self.path)
        workerinput[WORKER_STARTS] = self.resume_starts


def locate(pytest_config, run_config, plan) -> RunLocation:
    from pytest_amb import resume
    from pytest_amb.journal import new_run_id

    workerinput = getattr(pytest_config, "workerinput", None)
    if workerinput is not None and WORKER_PATH in workerinput:
        return RunLocation(Path(workerinput[WORKER_PATH]), resume_starts=dict(workerinput[WORKER_STARTS]))
    if run_config.resume:
        path = resume.find_run(run_config.run_dir, run_config.resume, run_config.hash)
        step_ids = {step.id: (step.stream, step.position) for step in plan.steps()}
        kept, starts = resume.completed_prefix(resume.read_results(path), step_ids)
        _rewrite_journal(path, kept)
        results = [{k: v for k, v in r.items() if k != "config_hash"} for r in kept]
        return RunLocation(path, resumed=True, resume_starts=starts, kept=results)
    run_id = new_run_id(run_config.hash)
    path, suffix = run_config.run_dir / run_id, 1
    while path.exists():
        suffix += 1
        path = run_config.run_dir / f"{run_id}-{suffix}"
    return RunLocation(path)


def _rewrite_journal(path: Path, kept: list[dict]) -> None:
    """steps.jsonl keeps only the steps whose results count; the rest run again."""
    target = path / "steps.jsonl"
    temporary = target.with_suffix(".tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    temporary.replace(target)
