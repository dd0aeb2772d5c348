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
            subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            (run,) = Path(runs).iterdir()
            summary = json.loads((run / "summary.json").read_text())
            calls = sum(s["llm_calls"] for s in summary["streams"])
            ideal = calls * options.latency / workers
            print(
                f"-n {workers}: wall {wall:6.1f} s, ideal {ideal:6.1f} s ({calls} calls), efficiency {ideal / wall:5.1%}"
            )


if __name__ == "__main__":
    main()
