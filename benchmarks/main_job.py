"""Wall time of the README's main job, end to end in a fresh process (torch import and model load
included). Usage: python benchmarks/main_job.py [extra pytest args]"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as runs:
        for memory in ("zero_shot", "stream_icl", "awm_pro", "mem0", "mems"):
            command = [sys.executable, "-m", "pytest", "--amb-mode=online", f"--amb-memory={memory}", "-q",
                       "-p", "no:cacheprovider", f"--amb-run-dir={runs}", *sys.argv[1:]]  # fmt: skip
            started = time.perf_counter()
            completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            last = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else "(no output)"
            print(f"{memory:<12} {elapsed:6.1f}s  exit={completed.returncode}  {last}")


if __name__ == "__main__":
    main()
