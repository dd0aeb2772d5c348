"""os_interaction figures for the README: the oracle's success rate (environment fidelity) on the bundled set
and, with --data-dir, on the original dev set, with every oracle failure listed; then the reference model's
ASR with zero_shot and stream_icl on the bundled set over five seeds, and the wall times.

Needs a container engine (DOCKER_HOST, AMB_OS_BASE_IMAGE as for the tests).

Usage: python benchmarks/os_reference.py [--data-dir ../shared/amb-data] [--seeds 66,67,68,69,70] [-n 2]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(runs: Path, *args: str) -> tuple[dict, list[dict], float]:
    before = set(runs.iterdir())
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--amb-run-dir={runs}", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    new = set(runs.iterdir()) - before
    if len(new) != 1 or not (next(iter(new)) / "summary.json").is_file():
        sys.exit(f"pytest {' '.join(args)} produced no summary:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (path,) = new
    steps = [json.loads(line) for line in (path / "steps.jsonl").read_text().splitlines() if line.strip()]
    return json.loads((path / "summary.json").read_text()), steps, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", help="original data (for os-dev)")
    parser.add_argument("--seeds", default="66,67,68,69,70")
    parser.add_argument("-n", default="0", help="pytest-xdist workers")
    options = parser.parse_args()
    tasks = [["--amb-task=os"]]
    if options.data_dir:
        tasks.append(["--amb-task=os-dev", f"--amb-data-dir={options.data_dir}"])
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        for task in tasks:
            summary, steps, elapsed = run(runs, *task, "--amb-model=oracle", "--amb-memory=zero_shot", "-n", options.n)
            (stream,) = summary["streams"]
            success = stream["success"]
            print(f"oracle  {task[0]:<20} {stream['backends'][0]:<45} ASR {success['asr']:.3f} n={success['n']} "
                  f"errors={stream['errors']} {elapsed:.1f}s")  # fmt: skip
            for step in steps:
                if step["status"] != "passed":
                    why = step.get("error") or step.get("explanation", "")
                    print(f"  {step['status']} sample {step['step']['sample_id']}: {str(why)[:600]}")
        summary, _, elapsed = run(
            runs, "--amb-task=os", "--amb-memory=zero_shot,stream_icl", f"--amb-seed={options.seeds}", "-n", options.n
        )
        by_memory: dict[str, list[float]] = {}
        for stream in summary["streams"]:
            by_memory.setdefault(stream["memory"], []).append(stream["success"]["asr"])
        for memory, values in by_memory.items():
            print(f"reference {memory:<11} bundled os ASR mean {sum(values) / len(values):.3f} "
                  f"(seeds {options.seeds}: {', '.join(f'{v:.3f}' for v in values)})")  # fmt: skip
        print(f"({elapsed:.1f}s for the reference matrix, -n {options.n})")


if __name__ == "__main__":
    main()
