"""The benchmark's pytest hooks and fixtures, registered by ``plugin.pytest_configure``.

Collection: test functions that take ``amb_step`` in a module marked ``amb_task(family)`` are
parametrized with the plan's steps of that family; items are then ordered by plan order.
Running: the fixtures in ``fixtures.py`` run each step in the process-wide Engine.
Reporting: the step result travels as JSON on the test report; the controller (never an xdist worker)
journals it and, at the end, writes summary.json and the terminal summary.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
        self.run_id = None

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
        if empty:  # modules of task families this run does not select
            config.hook.pytest_deselected(items=empty)

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
        if payload is not None and not already and (call.when == "call" or report.failed):
            setattr(report, REPORT_ATTRIBUTE, payload)
            item.stash[_ATTACHED_KEY] = True
        return report

    # -- reporting (controller only) ------------------------------------------------------------------
    def pytest_runtest_logreport(self, report):
        payload = getattr(report, REPORT_ATTRIBUTE, None)
        if payload is None or hasattr(self.pytest_config, "workerinput"):
            return
        if self.journal is None:
            self._start_journal()
        self.journal.append(payload)
        self.results.append(payload)

    def _start_journal(self):
        from pytest_amb.journal import Journal, file_sha256, new_run_id, versions

        self.run_id = new_run_id(self.config.hash)
        path = self.config.run_dir / self.run_id
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.config.run_dir / f"{self.run_id}-{suffix}"
        self.run_id = path.name
        self.journal = Journal(path, self.config.hash)
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

    def pytest_terminal_summary(self, terminalreporter):
        if not self.results:
            return
        from pytest_amb.report.summary import summarize
        from pytest_amb.report.terminal import render

        summary = summarize(
            self.results,
            {
                "run_id": self.run_id,
                "run_dir": str(self.journal.path),
                "config": self.config.to_json(),
                "reference_model": self.config.uses_reference_model,
            },
        )
        self.journal.write_summary(summary)
        terminalreporter.section("AgentMemoryBench")
        for line in render(summary):
            terminalreporter.write_line(line)

    def pytest_unconfigure(self, config):
        if self.journal is not None:
            self.journal.close()


_ATTACHED_KEY = pytest.StashKey[bool]()
