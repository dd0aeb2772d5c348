"""The benchmark session, registered by ``plugin.pytest_configure``: it holds the run's plan and location,
carries each step's result on its test report, journals it on the controller (never an xdist worker),
and at the end writes the complete summary, the plots and the terminal section, and sets the exit status.
Collection is ``collection.StepCollection``; the end-of-run verdict is ``verdict`` (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pytest_amb.config import RunConfig
from pytest_amb.names import REPORT_ATTRIBUTE

RESULT_KEY = pytest.StashKey[dict]()  # the step result the fixture hands to the report hook
_ATTACHED_KEY = pytest.StashKey[bool]()


class BenchSession:
    def __init__(self, pytest_config, run_config: RunConfig):
        self.pytest_config = pytest_config
        self.config = run_config
        self._plan = None
        self.families: dict[str, str] = {}  # task instance -> family
        self.location = None  # run_location.RunLocation, decided at configure
        self.results: list[dict] = []  # every attempt of a step (a resumed run's earlier ones first)
        self.assessment = None  # resume.Assessment of the journal at the end: the results that stand
        self.journal = None
        self.gates: list = []
        self.baseline_request = None  # baseline.BaselineRequest
        self.baseline: dict | None = None  # the loaded --amb-compare baseline (controller only)
        self.outcome = None  # verdict.RunOutcome, at session end
        self.plots: list = []  # report.plots.Plot
        self.plot_error: str | None = None
        self.saved_baseline = None
        self.verdicts: dict[str, str] = {}  # nodeid -> passed / failed / error, of benchmark steps
        self.other_failures = 0  # failed or errored reports that are not a benchmark step's wrong answer

    # -- what the run is ----------------------------------------------------------------------------
    def plan(self):
        if self._plan is None:
            from pytest_amb import registry
            from pytest_amb.plan import build_plan

            indexes = [i for s in self.config.tasks for i in registry.indexes(s)]
            self.families = {index.name: index.family for index in indexes}
            c = self.config
            self._plan = build_plan(c.mode, c.memories, c.seeds, c.shuffle, c.limit, indexes, c.params)
        return self._plan

    @property
    def table(self):
        """The run's metric table: the harness's metrics, the selected task families', the mode's."""
        from pytest_amb.metrics.core import run_table

        return run_table(self.config.families, self.config.mode)

    def prepare_run(self) -> None:
        from pytest_amb.run_location import locate

        self.location = locate(self.pytest_config, self.config, self.plan())
        self.results = list(self.location.attempts)  # every attempt, journaled order; resume.assess picks

    @property
    def run_path(self):
        return self.location.path

    @property
    def summary(self) -> dict | None:
        return self.outcome.summary if self.outcome else None

    @property
    def gate_results(self) -> tuple:
        return self.outcome.gate_results if self.outcome else ()

    @property
    def comparison(self):
        return self.outcome.comparison if self.outcome else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        self.location.to_workerinput(node.workerinput)

    # -- each step ----------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        payload = item.stash.get(RESULT_KEY, None)
        if payload is not None and not item.stash.get(_ATTACHED_KEY, False):
            setattr(report, REPORT_ATTRIBUTE, payload)  # the setup report: journaled even if the process dies next
            item.stash[_ATTACHED_KEY] = True
        return report

    def pytest_runtest_logreport(self, report):
        if hasattr(self.pytest_config, "workerinput"):
            return
        payload = getattr(report, REPORT_ATTRIBUTE, None)
        if payload is not None:
            self.verdicts[report.nodeid] = payload["status"]
        if report.failed and self.verdicts.get(report.nodeid) != "failed":
            self.other_failures += 1  # an ERROR step, a crash, or a test that is not a benchmark step
        if payload is None:
            return
        if self.journal is None:
            self._start_journal()
        self.journal.append(payload)
        self.results.append(payload)

    def _start_journal(self):
        from pytest_amb.journal import Journal, file_sha256, versions

        self.journal = Journal(self.run_path, self.config.hash)
        if self.location.resumed:
            run = json.loads((self.run_path / "run.json").read_text(encoding="utf-8"))
            run.setdefault("resumed_at", []).append(datetime.now(UTC).isoformat())
            self.journal.start(run)
            return
        self.journal.start(
            {
                "run_id": self.location.run_id,
                "started_at": datetime.now(UTC).isoformat(),
                "config": self.config.to_json(),
                "config_hash": self.config.hash,
                "seeds": list(self.config.seeds),
                "reference_model": self.config.uses_reference_model,
                "data": [
                    {"task": s.name, "bundled": s.bundled, "file": str(f), "sha256": file_sha256(f)}
                    for s in self.config.tasks
                    for f in s.files
                ],
                "versions": versions(),
            }
        )

    # -- the end (controller only) --------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if not self.results or hasattr(self.pytest_config, "workerinput"):
            return
        from pytest_amb import resume, verdict

        if self.journal is None:  # a resumed run with nothing left to run
            self._start_journal()
        found = self.assessment = resume.assess(self.results, self.plan())
        run = {
            "run_id": self.location.run_id,
            "run_dir": str(self.journal.path),
            "config": self.config.to_json(),
            "reference_model": self.config.uses_reference_model,
            "stream_order": [stream.id for stream in self.plan().streams],
            "partial": self._partial(found),
        }
        table = self.table
        self.outcome = verdict.conclude(found.results, run, table, self.gates, self.baseline_request, self.baseline)
        self.journal.write_summary(self.outcome.summary)
        if self.baseline_request is not None and self.baseline_request.save:
            from pytest_amb import baseline

            self.saved_baseline = baseline.save(self.baseline_request, self.config, self.outcome.summary,
                                                found.results, self.pytest_config.rootpath, table)  # fmt: skip
        self.plots = self._write_plots()
        if not found.missing:  # complete: the last checkpoint of each stream is enough
            resume.prune_checkpoints(self.run_path / "checkpoints")
        session.exitstatus = verdict.exit_status(session.exitstatus, self.other_failures, self.outcome,
                                                 nothing_to_do=self.nothing_to_do)  # fmt: skip

    @property
    def nothing_to_do(self) -> bool:
        """A resumed run whose every step already had a result that stands."""
        return self.location is not None and self.location.to_run is not None and not self.location.to_run

    def _partial(self, found) -> dict | None:
        """None for a complete run; else how many steps have no standing result and how to finish the run."""
        if not found.missing:
            return None
        from pytest_amb.options import all_specs

        from_env = sorted(spec.env for spec in all_specs() if self.config.sources.get(spec.name) == "env")
        return {"missing": len(found.missing), "steps": len(found.status), "command": self.finish_command(),
                "environment": from_env}  # fmt: skip

    def finish_command(self) -> str:
        """The command that finishes this run: this session's arguments, resuming this run by its id (the
        values of secret options redacted by the one rule)."""
        import shlex

        from pytest_amb.redaction import redact

        args, kept, skip = list(self.pytest_config.invocation_params.args), [], False
        for n, arg in enumerate(args):
            if skip:
                skip = False
                continue
            if arg == "--amb-resume":
                skip = n + 1 < len(args) and args[n + 1] == self.config.resume
                continue
            if not arg.startswith("--amb-resume="):
                kept.append(arg)
        return redact(shlex.join(["pytest", *kept, f"--amb-resume={self.location.run_id}"]))

    def _write_plots(self) -> list:
        from pytest_amb.report.plots import write_plots

        try:
            return write_plots(self.summary, self.journal.path)
        except Exception as exc:  # noqa: BLE001 (a figure that cannot be drawn must not cost the run its results)
            self.plot_error = f"{type(exc).__name__}: {exc}"
            return []

    def pytest_terminal_summary(self, terminalreporter):
        if self.outcome is None:
            return
        from pytest_amb.report.terminal import closing_lines, render

        terminalreporter.section("AgentMemoryBench")
        if self.nothing_to_do:
            terminalreporter.write_line(f"amb: run {self.location.run_id} is complete: nothing to do", green=True)
        for line in render(self.summary, self.table):
            terminalreporter.write_line(line)
        for text, colour in closing_lines(self.outcome, self.saved_baseline, self.plots, self.plot_error):
            terminalreporter.write_line(text, **colour)

    def pytest_unconfigure(self, config):
        if self.journal is not None:
            self.journal.close()
