"""Collection: test functions that take ``amb_step`` in a module marked ``amb_task(family)`` are
parametrized with the plan's steps of that family; benchmark items are then put in plan order, and the
steps whose journaled results stand in a resumed run are deselected (``resume.assess``).

Once every deselection is done (-k, -m, --deselect, --lf, node ids; under xdist, on the controller from the
first worker's collection) the selection is checked: it may leave out whole streams and read-only steps, never
some of the learning steps of a stream it runs (``split_streams``). The header lines are printed once, with or
without xdist, when benchmark steps were collected; a run given ``--amb-*`` options that collected no benchmark
test says how to run it (``pytest --pyargs <the selected families' packages>``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_amb.names import STEP_FIXTURE, TASK_MARKER

WORKER_COLLECTED = "amb_benchmark_collected"  # workeroutput: this worker collected a test taking amb_step
SHOWN_SPLITS = 3  # streams a split message names


@dataclass(frozen=True)
class Split:
    """A stream the selection would split: some of its steps are selected, some of its learning steps are not."""

    stream: str
    selected: int  # its steps that are selected
    steps: int  # all its steps
    learning: int  # its learning steps (they update the stream's memory)
    left_out: int  # learning steps neither selected nor done (a resumed run's standing results)


def split_streams(plan, selected, done=frozenset()) -> list[Split]:
    """The streams of ``plan`` some of whose steps are in ``selected`` (step ids) while some of whose learning
    steps are neither selected nor ``done``. A learning step needs the memory every learning step before it left,
    in its own process, and no later step can do without it; a read-only step changes nothing another step reads
    (so leaving one out, or a whole stream, is safe). Pure."""
    splits = []
    for stream in plan.streams:
        chosen = sum(step.id in selected for step in stream.steps)
        if not chosen:
            continue
        learning = [step for step in stream.steps if step.update]
        left_out = sum(step.id not in selected and step.id not in done for step in learning)
        if left_out:
            splits.append(Split(stream.id, chosen, len(stream.steps), len(learning), left_out))
    return splits


def split_message(splits: list[Split]) -> str:
    """One line: which streams would be split, and what to do instead."""
    shown = "; ".join(
        f"{s.stream} ({s.selected} of its {s.steps} steps selected, {s.left_out} of its {s.learning} learning "
        "steps left out)"
        for s in splits[:SHOWN_SPLITS]
    )
    more = f" and {len(splits) - SHOWN_SPLITS} more" if len(splits) > SHOWN_SPLITS else ""
    streams = "1 stream" if len(splits) == 1 else f"{len(splits)} streams"
    return (
        f"this selection (-k, -m, --deselect, --lf, node ids) would split {streams}: {shown}{more}. A stream's learning steps (those that update "
        "its memory) run in order in one process, all of them; only its read-only steps may be left out. Select "
        f"whole streams (e.g. -k '{splits[0].stream}/'), use --amb-limit=N for a short run, and --amb-resume "
        "instead of --lf to finish a run that had ERRORs"
    )


class StepCollection:
    def __init__(self, bench):
        self.bench = bench  # session.BenchSession: the plan, the run configuration, where a resume starts
        self.benchmark_collected = False  # a test taking amb_step was collected (here, or on an xdist worker)
        self._first_worker_seen = False
        self.preflight_notes: list[str] = []  # what the preflight found worth saying (a model not listed)

    def pytest_generate_tests(self, metafunc):
        if STEP_FIXTURE not in metafunc.fixturenames:
            return
        marker = metafunc.definition.get_closest_marker(TASK_MARKER)
        if marker is None or not marker.args:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: a test taking '{STEP_FIXTURE}' needs a module marker "
                f"pytestmark = pytest.mark.{TASK_MARKER}('<family>')"
            )
        self.benchmark_collected = True
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

    # -- the final selection ------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session):
        """After every plugin's deselection (--lf's wrapper runs after this plugin's trylast hook); under xdist
        the controller checks what its first worker collected instead."""
        if hasattr(session.config, "workerinput"):
            return
        from pytest_amb.plan import Step

        steps = (getattr(item, "callspec", None) and item.callspec.params.get(STEP_FIXTURE) for item in session.items)
        selected = {step.id for step in steps if isinstance(step, Step)}
        self._refuse_split(session.config, selected)
        self._preflight(session.config, selected)

    def _refuse_split(self, config, selected: set[str]) -> None:
        if not selected or config.getoption("collectonly", False):
            return
        to_run = self.bench.location.to_run
        done = frozenset() if to_run is None else {step.id for step in self.bench.plan().steps()} - to_run
        splits = split_streams(self.bench.plan(), selected, done)
        if splits:
            raise pytest.UsageError(split_message(splits))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        """xdist's controller collects nothing: it checks the first worker's selection (every worker collects
        the same, or xdist stops) and prints the header lines, before any step is scheduled."""
        if self._first_worker_seen:
            return
        self._first_worker_seen = True
        from pytest_amb.scheduling import param_of

        known = {step.id for step in self.bench.plan().steps()}
        selected = {param for param in map(param_of, ids) if param in known}
        if not selected:
            return
        self.benchmark_collected = True
        self._refuse_split(self.bench.pytest_config, selected)
        self._preflight(self.bench.pytest_config, selected)
        reporter = self.bench.pytest_config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in self.header_lines():
                reporter.write_line(line)

    def _preflight(self, config, selected: set[str]) -> None:
        """One cheap request per real endpoint before the first step (``llm.preflight``): a dead or unauthorised
        endpoint stops the run here, with exit 4, instead of costing every step its retries."""
        if not selected or config.getoption("collectonly", False) or not self.bench.config.preflight:
            return
        from pytest_amb.llm import preflight

        try:
            self.preflight_notes = preflight.check(preflight_targets(self.bench.config), time_limit_s=6.0)
        except preflight.PreflightError as exc:
            raise pytest.UsageError(str(exc)) from None

    # -- what the terminal shows --------------------------------------------------------------------
    def pytest_report_collectionfinish(self, config, start_path, items):
        if not any(STEP_FIXTURE in getattr(item, "fixturenames", ()) for item in items):
            return []
        return self.header_lines()

    def header_lines(self) -> list[str]:
        c = self.bench.config
        parts = [f"{name}={value}" for name, value in c.to_json().items() if value not in (None, [], "")]
        lines = ["amb: " + " ".join(parts)]
        explicit = {k: v for k, v in c.sources.items() if v != "default"}
        if explicit:
            lines.append("amb: set by " + ", ".join(f"{k} ({v})" for k, v in sorted(explicit.items())))
        if c.uses_reference_model:
            lines.append("amb: the REFERENCE MODEL (deterministic, no LLM) answers on loopback")
        lines += [f"amb: {note}" for note in self.preflight_notes]
        found = self.bench.location.assessment
        if found is not None:
            lines.append(resume_line(self.bench.location.run_id, found))
        return lines

    def pytest_sessionfinish(self, session):
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_COLLECTED] = self.benchmark_collected

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        if getattr(node, "workeroutput", {}).get(WORKER_COLLECTED):
            self.benchmark_collected = True

    def pytest_terminal_summary(self, terminalreporter):
        config = self.bench.pytest_config
        if self.benchmark_collected or hasattr(config, "workerinput"):
            return
        if any(str(arg).startswith("--amb-") for arg in config.invocation_params.args):
            terminalreporter.write_line(pyargs_hint(config, self.bench.config), yellow=True)


def preflight_targets(run_config) -> list:
    """The real endpoints of the run, each with the option that sets its URL (the agent's when a role has none of
    its own) and the variable its key comes from."""
    from pytest_amb.llm.endpoints import URL_OPTION
    from pytest_amb.llm.preflight import PreflightTarget

    targets = []
    for endpoint in run_config.endpoints():
        if not endpoint.real:
            continue
        own = run_config.sources.get(f"{endpoint.role}_base_url", "default") != "default"
        targets.append(PreflightTarget(roles=(endpoint.role,), base_url=endpoint.base_url, model=endpoint.model,
                                       api_key=endpoint.api_key(), key_variable=endpoint.key_variable(),
                                       option=URL_OPTION[endpoint.role] if own else URL_OPTION["agent"]))  # fmt: skip
    return targets


def pyargs_hint(pytest_config, run_config) -> str:
    """What to run when ``--amb-*`` options were given where no benchmark test is collected: the same options,
    collecting the selected task families' test packages by name (``--pyargs``)."""
    import shlex

    from pytest_amb import registry
    from pytest_amb.redaction import redact

    given = pytest_config.args if pytest_config.args_source == pytest_config.ArgsSource.ARGS else []
    options = [str(a) for a in pytest_config.invocation_params.args if str(a) not in given and str(a) != "--pyargs"]
    packages = list(dict.fromkeys(registry.family_package(name) for name in run_config.families))
    command = redact(shlex.join(["pytest", "--pyargs", *packages, *options]))
    return (
        f"amb: no benchmark test was collected in {pytest_config.invocation_params.dir}, though --amb-* options were "
        f"given; collect the benchmark's tests by package name: {command}"
    )


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
