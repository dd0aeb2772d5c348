"""Progress of a benchmark run: what loads before the first step and how long it took, and an estimate of the
time left on pytest's own progress suffix (``[ 58%, ~0:12 left]``).

- Without xdist, the process that runs the steps loads the engine's services (``Engine.warm_up``) before the
  run loop, one line each; under xdist the controller says that each worker loads them before its first step.
- The estimate is the wall time per finished test, times the tests left, measured from the end of the first
  test (so that what a process loads on first use, e.g. each xdist worker's models, does not inflate the rate);
  the controller sees every report, so it works under xdist too. pytest has no hook for its progress suffix: the
  terminal reporter's message method is wrapped, guarded (pytest changing it costs the estimate, not the run),
  and in the one-letter-per-test display the line's edge is moved in so that the longer suffix fits.
"""

from __future__ import annotations

import contextlib
import io
import time

import pytest

from pytest_amb.names import STEP_FIXTURE

ETA_ROOM = len(", ~9:59:59 left") + 1  # the longest addition to " [ 58%]", and a column to spare


def format_left(seconds: float) -> str:
    """0:12, 12:34, 1:02:03."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def estimate_left(elapsed: float, done: int, left: int) -> float | None:
    """Seconds for ``left`` tests at the rate of ``done`` tests in ``elapsed`` seconds; None without a rate
    or with nothing left."""
    if done <= 0 or left <= 0:
        return None
    return elapsed / done * left


def with_estimate(message: str, left: float | None) -> str:
    """`` [ 58%]`` -> `` [ 58%, ~0:12 left]``; any other message (count or times styles) unchanged."""
    if left is None or not (message.startswith(" [") and message.endswith("%]")):
        return message
    return f"{message[:-1]}, ~{format_left(left)} left]"


def is_benchmark_item(item) -> bool:
    return STEP_FIXTURE in getattr(item, "fixturenames", ())


class Progress:
    """Registered by ``plugin.pytest_configure`` (in every process; each hook knows where it runs)."""

    def __init__(self, bench):
        self.bench = bench  # session.BenchSession
        self.session = None
        self.first_finished: float | None = None  # when the first test finished: the rate is measured from there
        self.finished: set[str] = set()  # node ids pytest's progress counts as reported
        self.announced = False

    # -- what loads before the first step ------------------------------------------------------------
    def pytest_collection_finish(self, session):
        """A process that will run steps starts loading the embedding model now, in the background."""
        config = session.config
        if config.option.collectonly or config.pluginmanager.has_plugin("dsession"):
            return
        if any(is_benchmark_item(item) for item in session.items):
            self.bench.engine().start_embedder()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        self.session = session
        config = session.config
        if hasattr(config, "workerinput") or config.option.collectonly or config.pluginmanager.has_plugin("dsession"):
            return  # an xdist worker loads on first use; the controller announces it (below)
        if session.testsfailed and not config.option.continue_on_collection_errors:
            return  # pytest stops the run for collection errors
        if not any(is_benchmark_item(item) for item in session.items):
            return
        self._warm_up(config)
        self._install_estimate(config)

    def _warm_up(self, config) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for label, load in self.bench.engine().warm_up():
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write(f"amb: {label} ... ", flush=True)
            started = time.perf_counter()
            try:
                with _quiet():  # a library's own progress bars would break the line
                    found, markup = load(), {}
            except Exception as exc:  # noqa: BLE001 (the steps that need it meet the same failure as ERRORs)
                from pytest_amb.redaction import redact

                found = f"failed ({type(exc).__name__}: {redact(str(exc))[:300]}): the steps that need it are ERRORs"
                markup = {"red": True}
            if reporter is not None:
                reporter.line(f"{found} ({time.perf_counter() - started:.1f} s)", **markup)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        """xdist controller: once a worker collected benchmark steps, say what each worker loads first."""
        if self.announced or not self._has_steps(ids):
            return
        self.announced = True
        config = node.config
        from pytest_amb.engine import services_to_load

        labels = [label for _, label in services_to_load(self.bench.config)]
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if labels and reporter is not None:
            listed = ", the ".join(labels[:-1]) + " and the " + labels[-1] if len(labels) > 1 else labels[0]
            reporter.write_line(f"amb: each xdist worker loads the {listed} before its first step")
        self._install_estimate(config)

    def _has_steps(self, ids) -> bool:
        step_ids = {step.id for step in self.bench.plan().steps()}
        return any(_param_id(nodeid) in step_ids for nodeid in ids)

    # -- the estimate ----------------------------------------------------------------------------------
    def pytest_sessionstart(self, session):
        self.session = session

    @pytest.hookimpl(tryfirst=True)  # counted before the terminal reporter writes the suffix for this report
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or not report.passed:
            self.finished.add(report.nodeid)
            if self.first_finished is None:
                self.first_finished = time.monotonic()

    def seconds_left(self) -> float | None:
        if self.first_finished is None or self.session is None:
            return None
        done = len(self.finished)
        return estimate_left(time.monotonic() - self.first_finished, done - 1, self.session.testscollected - done)

    def _install_estimate(self, config) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            install_estimate(reporter, self.seconds_left, config.get_verbosity() <= 0)


def install_estimate(reporter, seconds_left, one_letter_per_test: bool) -> bool:
    """Wrap the reporter's progress message so that it carries the estimate; False (and nothing changed) when
    this pytest's reporter does not look as expected. The estimate is left out of a message it would push past
    the line's end."""
    original = getattr(reporter, "_get_progress_information_message", None)
    width = getattr(reporter, "_screen_width", None)
    writer = getattr(reporter, "_tw", None)
    if (
        getattr(original, "_amb_estimate", False)
        or not callable(original)
        or getattr(reporter, "_show_progress_info", None) != "progress"
        or not isinstance(width, int)
        or not isinstance(getattr(writer, "fullwidth", None), int)
    ):
        return False

    def message() -> str:
        plain = original()
        try:
            extended = with_estimate(plain, seconds_left())
            fits = writer.width_of_current_line + len(extended) < writer.fullwidth
            return extended if fits else plain
        except Exception:  # noqa: BLE001 (an estimate is never worth a crash of the reporter)
            return plain

    message._amb_estimate = True
    reporter._get_progress_information_message = message
    if one_letter_per_test:  # the suffix is written where the letters reach the edge: move the edge in
        reporter._screen_width = width - ETA_ROOM
    return True


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        yield


def _param_id(nodeid: str) -> str | None:
    """The parametrize id of a node id (``path::test[<id>]``): a benchmark item's id is its step's id."""
    name = nodeid.rsplit("::", 1)[-1]
    if not name.endswith("]") or "[" not in name:
        return None
    return name[name.index("[") + 1 : -1]
