"""dbbench figures for the README: the oracle's success rate per backend (environment fidelity), and the
reference model's ASR with zero_shot and stream_icl on the bundled set over five seeds.

Usage: python benchmarks/dbbench_reference.py [--data-dir ../shared/amb-data] [--db-url mysql://...]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(runs: Path, *args: str) -> tuple[dict, float]:
    before = set(runs.iterdir())
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--amb-run-dir={runs}", *args]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    (new,) = set(runs.iterdir()) - before
    return json.loads((new / "summary.json").read_text()), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", help="original data (for dbbench-dev)")
    parser.add_argument("--db-url", help="a MySQL/MariaDB server to measure besides SQLite")
    options = parser.parse_args()
    backends = [[]] + ([[f"--amb-db-url={options.db_url}"]] if options.db_url else [])
    tasks = [["--amb-task=dbbench"]]
    if options.data_dir:
        tasks.append(["--amb-task=dbbench-dev", f"--amb-data-dir={options.data_dir}"])
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        for task in tasks:
            for backend in backends:
                summary, elapsed = run(runs, *task, *backend, "--amb-model=oracle", "--amb-memory=zero_shot")
                (stream,) = summary["streams"]
                print(f"oracle  {task[0]:<24} {stream['backends'][0]:<55} ASR {stream['success']['asr']:.3f} "
                      f"n={stream['success']['n']} errors={stream['errors']} {elapsed:.1f}s")  # fmt: skip
        summary, elapsed = run(
            runs, "--amb-task=dbbench", "--amb-memory=zero_shot,stream_icl", "--amb-seed=66,67,68,69,70"
        )
        by_memory: dict[str, list[float]] = {}
        for stream in summary["streams"]:
            by_memory.setdefault(stream["memory"], []).append(stream["success"]["asr"])
        for memory, values in by_memory.items():
            print(f"reference {memory:<11} bundled dbbench ASR mean {sum(values) / len(values):.3f} "
                  f"(seeds 66-70: {', '.join(f'{v:.3f}' for v in values)})")  # fmt: skip
        print(f"({elapsed:.1f}s for the reference matrix)")


if __name__ == "__main__":
    main()
