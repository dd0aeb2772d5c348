"""Parallel efficiency of pytest-xdist stream scheduling against the reference model with a fixed
latency per call. Usage: python benchmarks/parallel.py [--latency 0.1] [--streams 8] [--workers 1,2,4]

Each stream is the bundled dbbench set (39 samples, 2 model calls each) with zero_shot and its own seed,
so the streams are equal. The ideal wall time with n workers is the model latency of all calls divided
by n (per-stream latency on the critical path, streams spread evenly); efficiency = ideal / measured.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    options = parser.parse_args()
    seeds = ",".join(str(66 + i) for i in range(options.streams))
    print(f"{options.streams} streams, reference latency {options.latency:g} s per call")
    for workers in [int(w) for w in options.workers.split(",")]:
        with tempfile.TemporaryDirectory() as runs:
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--amb-task=dbbench",
                       "--amb-memory=zero_shot", f"--amb-seed={seeds}", f"--amb-reference-latency={options.latency}",
                       f"--amb-run-dir={runs}", "-n", str(workers)]  # fmt: skip
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peaks = watch_peak_rss(process)
            wall = time.perf_counter() - started
            (run,) = Path(runs).iterdir()
            summary = json.loads((run / "summary.json").read_text())
            calls = sum(s["llm_calls"] for s in summary["streams"])
            ideal = calls * options.latency / workers
            print(
                f"-n {workers}: wall {wall:6.1f} s, ideal {ideal:6.1f} s ({calls} calls), efficiency {ideal / wall:5.1%}"
            )
            controller = peaks.pop(process.pid, 0)
            per_worker = ", ".join(f"{mib:.0f}" for mib in sorted(peaks.values(), reverse=True)) or "-"
            print(f"        peak RSS: pytest {controller:.0f} MiB; its other processes (xdist workers, sandboxes) "
                  f"{per_worker} MiB")  # fmt: skip


def watch_peak_rss(process: subprocess.Popen, every_s: float = 0.1) -> dict[int, float]:
    """Wait for ``process``; the peak RSS (VmHWM, MiB) of it and of every descendant seen while it ran."""
    peaks: dict[int, float] = {}
    while process.poll() is None:
        for pid in [process.pid, *descendants(process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = max(peaks.get(pid, 0.0), int(line.split()[1]) / 1024)
        time.sleep(every_s)
    return peaks


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        queue += [int(c) for c in children]
    return found


if __name__ == "__main__":
    main()
