"""What the harness itself costs per step, apart from the model and the embedder (issue 17: everything else under
2 ms a step). Runs one online LoCoMo stream in this process (``locomo-0`` of the original data, seed 66, the
reference model on loopback, the embedding vectors cached by a first unmeasured run) with timers around the
harness's own per-step work, and prints the mean per step of each:

  step (pytest)   pytest's whole item protocol for a step: setup, call, teardown, reports, terminal
  model calls     LLMClient.chat (the request, the reference model's answer, the response)
  embedding       EmbeddingService.encode (what a step waits for; texts embedded ahead are not counted)
  checkpoint      saving or linking the memory's checkpoint after a learning step
  record          StepResult.to_json (the bounded, redacted record)
  journal         Journal.append (one line, flushed and fsynced)
  embed ahead     queueing the coming steps' texts
  other           step - the above: pytest's protocol and reports, the task, the memory's own work

Usage: python benchmarks/step_costs.py [--memory stream_icl] [--data-dir ../shared/amb-data]
"""

import argparse
import functools
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Timers:
    """A pytest plugin that times the harness's per-step work by wrapping it."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.steps = 0
        self._patched = []

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, name, timed)
        self._patched.append((owner, name, original))

    def pytest_configure(self, config):
        from pytest_amb import embedding_service, engine, journal, runner
        from pytest_amb.llm import client

        self.wrap(client.LLMClient, "chat", "model calls")
        self.wrap(embedding_service.EmbeddingService, "encode", "embedding")
        self.wrap(engine, "save_checkpoint", "checkpoint")
        self.wrap(engine, "link_checkpoint", "checkpoint")
        self.wrap(runner.StepResult, "to_json", "record")
        self.wrap(journal.Journal, "append", "journal")
        self.wrap(engine.Engine, "_embed_ahead", "embed ahead")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            if self.steps:  # the first step loads what the run needs: not a step's cost
                self.seconds["step (pytest)"] += time.perf_counter() - started
            else:
                self.seconds.clear()
            self.steps += 1

    def pytest_unconfigure(self, config):
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)


def run(memory: str, data_dir: Path, run_dir: Path, plugins=()) -> int:
    args = ["--pyargs", "taskcases.locomo.test_locomo", "-q", "-p", "no:cacheprovider", "--amb-task=locomo-0",
            f"--amb-data-dir={data_dir}", "--amb-seed=66", f"--amb-memory={memory}", f"--amb-run-dir={run_dir}",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip
    return pytest.main(args, plugins=list(plugins))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory", default="stream_icl")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "amb-data")
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="amb-step-costs-") as scratch:
        os.environ["XDG_CACHE_HOME"] = str(Path(scratch) / "user-cache")
        run(options.memory, options.data_dir, Path(scratch) / "warm")  # fills the vector cache
        timers = Timers()
        status = run(options.memory, options.data_dir, Path(scratch) / "runs", [timers])
    steps = timers.steps - 1
    seconds = timers.seconds
    print(f"\n{options.memory} on locomo-0, {steps} steps after the first (exit {status}); mean per step:")
    listed = ("model calls", "embedding", "checkpoint", "record", "journal", "embed ahead")
    for label in ("step (pytest)", *listed):
        print(f"  {label:<14} {seconds[label] / steps * 1000:7.2f} ms")
    other = seconds["step (pytest)"] - sum(seconds[label] for label in listed)
    print(f"  {'other':<14} {other / steps * 1000:7.2f} ms")
    harness = sum(seconds[label] for label in ("checkpoint", "record", "journal", "embed ahead")) + other
    print(f"  harness (step - model calls - embedding): {harness / steps * 1000:.2f} ms")


if __name__ == "__main__":
    main()
