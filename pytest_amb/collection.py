"""Collection: test functions that take ``amb_step`` in a module marked ``amb_task(family)`` are
parametrized with the plan's steps of that family; benchmark items are then put in plan order, and the
steps whose journaled results stand in a resumed run are deselected (``resume.assess``)."""

from __future__ import annotations

import pytest

from pytest_amb.names import STEP_FIXTURE, TASK_MARKER


class StepCollection:
    def __init__(self, bench):
        self.bench = bench  # session.BenchSession: the plan, the run configuration, where a resume starts

    def pytest_generate_tests(self, metafunc):
        if STEP_FIXTURE not in metafunc.fixturenames:
            return
        marker = metafunc.definition.get_closest_marker(TASK_MARKER)
        if marker is None or not marker.args:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: a test taking '{STEP_FIXTURE}' needs a module marker "
                f"pytestmark = pytest.mark.{TASK_MARKER}('<family>')"
            )
        families = self.bench.families
        steps = [s for s in self.bench.plan().steps() if families.get(s.task) == marker.args[0]]
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
        order = {stream.id: n for n, stream in enumerate(self.bench.plan().streams)}

        def step_of(item):
            return item.callspec.params[STEP_FIXTURE]

        bench.sort(key=lambda item: (order[step_of(item).stream], step_of(item).position))
        others = [item for i, item in enumerate(items) if i not in set(slots)]
        items[:] = others[: slots[0]] + bench + others[slots[0] :]
        to_run = self.bench.location.to_run
        done = [item for item in bench if to_run is not None and step_of(item).id not in to_run]
        if done:  # --amb-resume: their journaled results stand
            items[:] = [item for item in items if item not in set(done)]
        if empty or done:  # modules of task families this run does not select, and steps already done
            config.hook.pytest_deselected(items=empty + done)

    def pytest_report_collectionfinish(self, config, start_path, items):
        if not any(STEP_FIXTURE in getattr(item, "fixturenames", ()) for item in items):
            return []
        c = self.bench.config
        parts = [f"{name}={value}" for name, value in c.to_json().items() if value not in (None, [], "")]
        lines = ["amb: " + " ".join(parts)]
        explicit = {k: v for k, v in c.sources.items() if v != "default"}
        if explicit:
            lines.append("amb: set by " + ", ".join(f"{k} ({v})" for k, v in sorted(explicit.items())))
        if c.uses_reference_model:
            lines.append("amb: the REFERENCE MODEL (deterministic, no LLM) answers on loopback")
        found = self.bench.location.assessment
        if found is not None:
            lines.append(resume_line(self.bench.location.run_id, found))
        return lines


def resume_line(run_id: str, found) -> str:
    """What a resumed run does (``found``: resume.Assessment)."""
    from collections import Counter

    if not found.to_run:
        return f"amb: run {run_id} is complete: nothing to do (every step has a result that stands)"
    why = Counter(found.why.values())
    parts = [f"{n} with {reason}" for reason, n in why.items()]
    if found.recheck:
        parts.append(f"{len(found.recheck)} to re-check: kept when the memory they read is unchanged, else run again")
    kept = len(found.status) - len(found.to_run)
    return f"amb: resuming run {run_id}: {kept} results stand; {len(found.to_run)} steps left ({'; '.join(parts)})"
