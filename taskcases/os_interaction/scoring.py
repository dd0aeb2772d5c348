"""The original's os_interaction evaluation (spec amb_tasks §3.4), pure: the scripts run through a
function the caller passes (in the sample's container, after the agent finished).

* ``match``: strip the answer when asked, then compare exactly (``answer``) or with ``re.search`` (``regex``).
* ``check``: a chain over ``params = [str(answer)]``. Each entry runs with the params so far as its
  arguments (``None`` runs the ``example``); a non-zero exit fails the sample, else its stdout is
  appended to the params. ``[None, integer-match.py]`` thus runs the gold command live, then compares.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from taskcases.os_interaction.loader import Match, OsSample, Script


@dataclass(frozen=True)
class ScriptRun:
    """What running one script gave (the container's ``ExecResult``, reduced to what scoring needs)."""

    exit_code: int
    stdout: str
    stderr: str = ""
    timed_out: bool = False


@dataclass(frozen=True)
class Verdict:
    correct: bool
    detail: str  # one line per comparison or script, for the failure message
    steps: list[dict] = field(default_factory=list)  # per check script: origin, argv tail, exit code, output


Runner = Callable[[list[str]], ScriptRun]  # argv -> result


def argv(script: Script, params: list[str]) -> list[str]:
    """The command line the original runs a script with: ``bash -c <code> [-- params...]`` or
    ``python3 -c <code> params...``."""
    if script.language == "python":
        return ["python3", "-c", script.code, *params]
    return ["bash", "-c", script.code, *(["--", *params] if params else [])]


def match_answer(answer: str, match: Match) -> bool:
    if match.strip:
        answer = answer.strip()
    if match.answer is not None:
        return answer == match.answer
    return re.search(match.regex or "", answer) is not None


def evaluate(sample: OsSample, answer, run: Runner) -> Verdict:
    answer = "" if answer is None else str(answer)
    if sample.match is not None:
        correct = match_answer(answer, sample.match)
        expected = sample.match.answer if sample.match.answer is not None else f"/{sample.match.regex}/ (re.search)"
        strip = " (stripped)" if sample.match.strip else ""
        return Verdict(correct, f"answer{strip}: {answer.strip() if sample.match.strip else answer!r}\n"
                                f"expected: {expected}")  # fmt: skip
    return check_chain(sample, answer, run)


def check_chain(sample: OsSample, answer: str, run: Runner) -> Verdict:
    params = [answer]
    steps, lines = [], [f"answer: {answer!r}"]
    for position, entry in enumerate(sample.check):
        script = sample.example if entry is None else entry
        name = "example" if entry is None else script.origin
        result = run(argv(script, params))
        steps.append({"script": name, "exit_code": result.exit_code, "stdout": result.stdout[-2000:],
                      "stderr": result.stderr[-2000:], "timed_out": result.timed_out})  # fmt: skip
        if result.exit_code != 0:
            why = "timed out" if result.timed_out else f"exited with {result.exit_code}"
            lines.append(f"check[{position}] {name} {why}; stderr: {result.stderr.strip()[-300:]!r}")
            return Verdict(False, "\n".join(lines), steps)
        lines.append(f"check[{position}] {name} passed; output: {result.stdout.strip()[:300]!r}")
        params.append(result.stdout)
    return Verdict(True, "\n".join(lines), steps)
