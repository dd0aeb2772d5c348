"""The benchmark's pytest hooks and fixtures, registered by ``plugin.pytest_configure``.

Collection: test functions that take ``amb_step`` in a module marked ``amb_task(family)`` are
parametrized with the plan's steps of that family; items are then ordered by plan order.
Running: the fixtures in ``fixtures.py`` run each step in the process-wide Engine.
Reporting: the step result travels as JSON on the test report; the controller (never an xdist worker)
journals it and, at the end, writes summary.json and the terminal summary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_amb.config import RunConfig
from pytest_amb.fixtures import RESULT_KEY
from pytest_amb.plugin import REPORT_ATTRIBUTE, STEP_FIXTURE, TASK_MARKER


class BenchSession:
    def __init__(self, pytest_config, run_config: RunConfig):
        self.pytest_config = pytest_config
        self.config = run_config
        self._plan = None
        self._families: dict[str, str] = {}
        self.results: list[dict] = []
        self.journal = None
        self.run_path: Path | None = None  # decided at configure; created on first write
        self.resumed = False
        self.resume_starts: dict[str, int] = {}  # stream -> first position still to run
        self.gates: list = []
        self.gate_results: list = []
        self.summary: dict | None = None
        self.plots: list = []  # report.plots.Plot, written at session end
        self.plot_error: str | None = None
        self.baseline_request = None  # baseline.BaselineRequest
        self.baseline: dict | None = None  # the loaded --amb-compare baseline (controller only)
        self.comparison = None  # baseline.Comparison with --amb-compare
        self.saved_baseline: Path | None = None
        self.verdicts: dict[str, str] = {}  # nodeid -> passed / failed / error, of benchmark steps
        self.other_failures = 0  # failed or errored reports that are not a benchmark step's wrong answer

    @property
    def run_id(self) -> str | None:
        return self.run_path.name if self.run_path else None

    def prepare_run(self) -> None:
        """Where this run writes, and (with --amb-resume) what is already done. Workers get both from the
        controller (``pytest_configure_node``); the controller decides before any worker starts."""
        from pytest_amb import resume
        from pytest_amb.journal import new_run_id

        workerinput = getattr(self.pytest_config, "workerinput", None)
        if workerinput is not None and "amb_run_path" in workerinput:
            self.run_path = Path(workerinput["amb_run_path"])
            self.resume_starts = dict(workerinput["amb_resume_starts"])
            return
        if self.config.resume:
            self.run_path = resume.find_run(self.config.run_dir, self.config.resume, self.config.hash)
            step_ids = {step.id: (step.stream, step.position) for step in self.plan().steps()}
            kept, self.resume_starts = resume.completed_prefix(resume.read_results(self.run_path), step_ids)
            self._rewrite_journal(kept)
            self.results = [{k: v for k, v in r.items() if k != "config_hash"} for r in kept]
            self.resumed = True
            return
        run_id = new_run_id(self.config.hash)
        path, suffix = self.config.run_dir / run_id, 1
        while path.exists():
            suffix += 1
            path = self.config.run_dir / f"{run_id}-{suffix}"
        self.run_path = path

    def _rewrite_journal(self, kept: list[dict]) -> None:
        """steps.jsonl keeps only the steps whose results count; the rest run again."""
        target = self.run_path / "steps.jsonl"
        temporary = target.with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        temporary.replace(target)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        node.workerinput["amb_run_path"] = str(self.run_path)
        node.workerinput["amb_resume_starts"] = self.resume_starts

    # -- plan ---------------------------------------------------------------------------------------
    def plan(self):
        if self._plan is None:
            from pytest_amb.plan import build_plan
            from taskcases.registry import family_module

            indexes = [i for s in self.config.tasks for i in family_module(s.family).task_indexes(s)]
            self._families = {index.name: index.family for index in indexes}
            c = self.config
            self._plan = build_plan(c.mode, c.memories, c.seeds, c.shuffle, c.limit, indexes, c.params)
        return self._plan

    # -- collection ---------------------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc):
        if STEP_FIXTURE not in metafunc.fixturenames:
            return
        marker = metafunc.definition.get_closest_marker(TASK_MARKER)
        if marker is None or not marker.args:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: a test taking '{STEP_FIXTURE}' needs a module marker "
                f"pytestmark = pytest.mark.{TASK_MARKER}('<family>')"
            )
        plan = self.plan()
        steps = [s for s in plan.steps() if self._families.get(s.task) == marker.args[0]]
        metafunc.parametrize(STEP_FIXTURE, steps, ids=[s.id for s in steps])

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        slots = [i for i, item in enumerate(items) if STEP_FIXTURE in getattr(item, "fixturenames", ())]
        if not slots:
            return
        from pytest_amb.plan import Step

        bench, empty = [], []
        for i in slots:
            step = getattr(items[i], "callspec", None) and items[i].callspec.params.get(STEP_FIXTURE)
            (bench if isinstance(step, Step) else empty).append(items[i])
        order = {stream.id: n for n, stream in enumerate(self.plan().streams)}
        bench.sort(key=lambda item: (order[item.callspec.params[STEP_FIXTURE].stream],
                                     item.callspec.params[STEP_FIXTURE].position))  # fmt: skip
        others = [item for i, item in enumerate(items) if i not in set(slots)]
        items[:] = others[: slots[0]] + bench + others[slots[0] :]
        done = [item for item in bench
                if item.callspec.params[STEP_FIXTURE].position < self.resume_starts.get(item.callspec.params[STEP_FIXTURE].stream, 0)]  # fmt: skip
        if done:  # --amb-resume: their journaled results count
            items[:] = [item for item in items if item not in set(done)]
        if empty or done:  # modules of task families this run does not select, and steps already done
            config.hook.pytest_deselected(items=empty + done)

    def pytest_report_collectionfinish(self, config, start_path, items):
        if not any(STEP_FIXTURE in getattr(item, "fixturenames", ()) for item in items):
            return []
        c = self.config
        parts = [f"{name}={value}" for name, value in c.to_json().items() if value not in (None, [], "")]
        lines = ["amb: " + " ".join(parts)]
        explicit = {k: v for k, v in c.sources.items() if v != "default"}
        if explicit:
            lines.append("amb: set by " + ", ".join(f"{k} ({v})" for k, v in sorted(explicit.items())))
        if c.uses_reference_model:
            lines.append("amb: the REFERENCE MODEL (deterministic, no LLM) answers on loopback")
        return lines

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        payload = item.stash.get(RESULT_KEY, None)
        already = item.stash.get(_ATTACHED_KEY, False)
        if payload is not None and not already:  # the setup report: journaled even if the process dies next
            setattr(report, REPORT_ATTRIBUTE, payload)
            item.stash[_ATTACHED_KEY] = True
        return report

    # -- reporting (controller only) ------------------------------------------------------------------
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
        if self.resumed:
            run = json.loads((self.run_path / "run.json").read_text(encoding="utf-8"))
            run.setdefault("resumed_at", []).append(datetime.now(UTC).isoformat())
            self.journal.start(run)
            return
        self.journal.start(
            {
                "run_id": self.run_id,
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

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        """The summary, the gates, and the exit status: 0 when the run completed and every gate holds,
        even if the agent got samples wrong; 1 for a failed gate, an ERROR step or another failing test."""
        if not self.results or hasattr(self.pytest_config, "workerinput"):
            return
        from pytest_amb import gates

        self.summary = self._summarize()
        self.gate_results = gates.evaluate(self.gates, self.summary)
        self.summary["gates"] = [
            {"gate": str(r.gate), "stream": r.stream, "value": r.value, "passed": r.passed} for r in self.gate_results
        ]
        self._baselines()
        self.journal.write_summary(self.summary)
        self.plots = self._write_plots()
        failed_gate = any(not r.passed for r in self.gate_results)
        failed_gate |= self.comparison is not None and not self.comparison.passed
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED and not self.other_failures and not failed_gate:
            session.exitstatus = pytest.ExitCode.OK  # wrong answers are results, not failures of the run
        elif failed_gate and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _baselines(self) -> None:
        from pytest_amb import baseline

        request = self.baseline_request
        if request is None:
            return
        if self.baseline is not None:
            self.comparison = baseline.compare(request.compare, self.baseline, self.summary, self.results,
                                               request.max_drops, request.alpha)  # fmt: skip
            self.summary["comparison"] = self.comparison.to_json()
        if request.save:
            root = self.pytest_config.rootpath
            self.saved_baseline = baseline.save(request, self.config, self.summary, self.results, root)

    def _write_plots(self) -> list:
        from pytest_amb.report.plots import write_plots

        try:
            return write_plots(self.summary, self.journal.path)
        except Exception as exc:  # noqa: BLE001 (a figure that cannot be drawn must not cost the run its results)
            self.plot_error = f"{type(exc).__name__}: {exc}"
            return []

    def pytest_terminal_summary(self, terminalreporter):
        if self.summary is None:
            return
        from pytest_amb.report.terminal import render

        terminalreporter.section("AgentMemoryBench")
        for line in render(self.summary):
            terminalreporter.write_line(line)
        for result in self.gate_results:
            terminalreporter.write_line(f"gate {result.describe()}", red=not result.passed, green=result.passed)
        if any(not r.passed for r in self.gate_results):
            terminalreporter.write_line("amb: a quality gate failed; the run fails", red=True, bold=True)
        if self.comparison is not None:
            for result in self.comparison.results:
                terminalreporter.write_line(f"baseline {self.comparison.name}: {result.describe()}",
                                            red=not result.passed, green=result.passed)  # fmt: skip
            if not self.comparison.passed:
                terminalreporter.write_line(f"amb: worse than baseline {self.comparison.name}; the run fails",
                                            red=True, bold=True)  # fmt: skip
        if self.saved_baseline is not None:
            terminalreporter.write_line(f"baseline saved: {self.saved_baseline}")
        if self.plots:
            terminalreporter.write_line(f"plots: {', '.join(str(p.png) for p in self.plots)} (and .svg)")
        if self.plot_error:
            terminalreporter.write_line(f"amb: the plots could not be drawn ({self.plot_error})", yellow=True)

    def _summarize(self) -> dict:
        if self.journal is None:  # a resumed run with nothing left to run
            self._start_journal()
        from pytest_amb.report.summary import summarize

        return summarize(
            self.results,
            {
                "run_id": self.run_id,
                "run_dir": str(self.journal.path),
                "config": self.config.to_json(),
                "reference_model": self.config.uses_reference_model,
                "stream_order": [stream.id for stream in self.plan().streams],
            },
        )

    def pytest_unconfigure(self, config):
        if self.journal is not None:
            self.journal.close()


_ATTACHED_KEY = pytest.StashKey[bool]()
