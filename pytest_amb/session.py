"""The benchmark session, registered by ``plugin.pytest_configure``: it holds the run's plan and location,
carries each step's result on its test report, journals it on the controller (never an xdist worker),
and at the end writes the complete summary, the plots and the terminal section, and sets the exit status.
Collection is ``collection.StepCollection``; the end-of-run verdict is ``verdict`` (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pytest_amb.config import RunConfig
from pytest_amb.names import REPORT_ATTRIBUTE, RESULT_KEY, SKIP_ATTRIBUTE, SKIPPED_KEY

_ATTACHED_KEY = pytest.StashKey[bool]()
UNSOLVED_SHOWN = 10  # unsolved samples listed without -v


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
        # Failed or errored reports. A wrong answer is not one (it is UNSOLVED, outcome passed), unless
        # --amb-fail-unsolved made it a failed test: then it fails the run like any other.
        self.failures = 0
        self.unsolved: list[dict] = []  # this session's step results with a wrong answer (status "failed")
        self.skipped: dict[tuple[str, str], int] = {}  # (family, reason) -> steps skipped for it
        self.budget_stopped = False  # a step was skipped because --amb-budget would have been passed
        self._engine = None

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

    def engine(self):
        """This process's engine (``engine.Engine``), created on first use: by the warm-up or the first step."""
        if self._engine is None:
            from pytest_amb.engine import Engine

            self._engine = Engine(self.config, self.plan(), checkpoints=self.run_path / "checkpoints")
        return self._engine

    def close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

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
        skipped = item.stash.get(SKIPPED_KEY, None)
        if skipped is not None and report.skipped:
            setattr(report, SKIP_ATTRIBUTE, skipped)
        return report

    def pytest_runtest_logreport(self, report):
        if hasattr(self.pytest_config, "workerinput"):
            return
        if report.failed:
            self.failures += 1
        skipped = getattr(report, SKIP_ATTRIBUTE, None)
        if skipped is not None:
            key = (skipped["family"], skipped["reason"])
            self.skipped[key] = self.skipped.get(key, 0) + 1
            self.budget_stopped = self.budget_stopped or bool(skipped.get("budget"))
        payload = getattr(report, REPORT_ATTRIBUTE, None)
        if payload is None:
            return
        if payload["status"] == "failed":
            self.unsolved.append(payload)
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
                **self.llm_metadata(),
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
        if hasattr(self.pytest_config, "workerinput") or not (self.results or self.skipped):
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
            **self.llm_metadata(),
            "stream_order": [stream.id for stream in self.plan().streams],
            "partial": self._partial(found),
            "skipped": [{"family": family, "steps": steps, "reason": reason}
                        for (family, reason), steps in self.skipped.items()],
            "families": self.families,
        }  # fmt: skip
        table = self.table
        self.outcome = verdict.conclude(found.results, run, table, self.gates, self.baseline_request, self.baseline,
                                        reference_memory=self.config.reference_memory,
                                        gate_scope=self.config.gate_scope, prices=self.prices())  # fmt: skip
        self.journal.write_summary(self.outcome.summary)
        if self.baseline_request is not None and self.baseline_request.save:
            from pytest_amb import baseline

            self.saved_baseline = baseline.save(self.baseline_request, self.config, self.outcome.summary,
                                                found.results, self.pytest_config.rootpath, table)  # fmt: skip
        if self.config.plots or self.pytest_config.getoption("htmlpath", None):  # the HTML report shows them
            self.plots = self._write_plots()
        if not found.missing:  # complete: the last checkpoint of each stream is enough
            resume.prune_checkpoints(self.run_path / "checkpoints")
        from pytest_amb import junit

        junit.record(self.pytest_config, self.outcome)  # before the junitxml plugin writes its file
        session.exitstatus = verdict.exit_status(session.exitstatus, self.failures, self.outcome,
                                                 nothing_to_do=self.nothing_to_do,
                                                 budget_stopped=self.budget_stopped)  # fmt: skip

    def llm_metadata(self) -> dict:
        """The endpoint of each role (redacted; the key by its variable), the response cache and the budget."""
        c = self.config
        return {"endpoints": [endpoint.to_json() for endpoint in c.endpoints()],
                "cache": {"mode": c.cache, "directory": str(c.cache_dir) if c.cache_dir else None},
                "budget_usd": c.budget}  # fmt: skip

    def prices(self):
        from pytest_amb.llm.pricing import PriceTable

        return PriceTable.load(self.config.prices)

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

    # Outermost wrapper: its part after the yield runs last, after the terminal reporter's short test summary,
    # so the results are the last thing before pytest's final line.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter):
        result = yield
        verbose = self.pytest_config.option.verbose > 0
        if self.unsolved:
            self._write_unsolved(terminalreporter, verbose)
        if self.outcome is not None:
            self._write_results(terminalreporter, verbose)
        return result

    def _write_unsolved(self, terminalreporter, verbose: bool) -> None:
        from pytest_amb.outcomes import one_line

        order = {stream.id: n for n, stream in enumerate(self.plan().streams)}
        unsolved = sorted(self.unsolved, key=lambda r: (order.get(r["step"]["stream"], len(order)),
                                                        r["step"]["stream"], r["step"]["position"]))  # fmt: skip
        shown = unsolved if verbose else unsolved[:UNSOLVED_SHOWN]
        width = _terminal_width(terminalreporter)
        what = "failed tests, by --amb-fail-unsolved" if self.config.fail_unsolved else "results, not test failures"
        terminalreporter.write_sep("=", f"unsolved: {len(unsolved)} samples the agent got wrong ({what})")
        for result in shown:
            line = f"{result['step']['id']}: {one_line(result.get('explanation') or '') or 'no explanation'}"
            terminalreporter.write_line(line if len(line) < width else line[: width - 2] + "…")
        if len(shown) < len(unsolved):
            terminalreporter.write_line(f"… and {len(unsolved) - len(shown)} more (all with -v; every one in "
                                        "steps.jsonl and the HTML report)")  # fmt: skip

    def _write_results(self, terminalreporter, verbose: bool) -> None:
        from pytest_amb.report.terminal import closing_lines, render

        terminalreporter.write_sep("=", "AgentMemoryBench")
        if self.nothing_to_do:
            terminalreporter.write_line(f"amb: run {self.location.run_id} is complete: nothing to do", green=True)
        for line in render(self.summary, self.table, **_verbose_keyword(render, verbose)):
            terminalreporter.write_line(line)
        closing = closing_lines(self.outcome, self.saved_baseline, self.plots, self.plot_error,
                                **_verbose_keyword(closing_lines, verbose))  # fmt: skip
        for text, colour in closing:
            terminalreporter.write_line(text, **colour)

    def pytest_unconfigure(self, config):
        self.close_engine()
        if self.journal is not None:
            self.journal.close()


def _verbose_keyword(function, verbose: bool) -> dict:
    """``{"verbose": verbose}`` for a report function that takes it (report/terminal.py gains the keyword)."""
    import inspect

    return {"verbose": verbose} if "verbose" in inspect.signature(function).parameters else {}


def _terminal_width(terminalreporter) -> int:
    import shutil

    width = getattr(getattr(terminalreporter, "_tw", None), "fullwidth", None)
    return width if isinstance(width, int) and width > 0 else shutil.get_terminal_size().columns
