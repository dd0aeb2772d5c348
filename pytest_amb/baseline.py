"""Saved baselines and regression gates against them, in the manner of pytest-benchmark.

``--amb-save-baseline NAME`` writes ``<baseline dir>/NAME.json``: the summary, the per-sample outcomes,
and what makes runs comparable (model, data hashes, recipe) plus the commit. ``--amb-compare NAME
--amb-max-drop csr=0.03`` fails the run when a metric got worse by more than allowed. For per-sample
pass/fail metrics the comparison is paired on the samples both runs scored and the drop must also be
significant (McNemar's exact test, ``--amb-compare-alpha``), so CI does not fail on noise.

A baseline is compared only with a run of the same model, data and recipe (mode, its parameters, tasks,
seeds, shuffle, limit, judge); the memory mechanism may differ, since comparing memories is the point.
A mismatch is a usage error that names every difference.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pytest_amb.metrics.paired import mcnemar_exact
from pytest_amb.metrics.table import MetricTable
from pytest_amb.redaction import redact_json
from pytest_amb.report.summary import primary_samples

SCHEMA = "pytest-amb/baseline"
SCHEMA_VERSION = 1
RECIPE_KEYS = ("mode", "params", "tasks", "seeds", "shuffle", "limit", "judge_model")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class BaselineError(ValueError):
    pass


@dataclass(frozen=True)
class BaselineRequest:
    directory: Path
    save: str | None = None
    compare: str | None = None
    max_drops: tuple[tuple[str, float], ...] = ()
    alpha: float = 0.05

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"


def request_from(raw: dict, rootdir: Path, comparable: list[str]) -> BaselineRequest:
    """The baseline options, validated (``raw``: options.read_raw; ``comparable``: the metrics with a direction)."""
    directory = Path(raw["baseline_dir"].value or "reports/baselines").expanduser()
    if not directory.is_absolute():
        directory = rootdir / directory
    save = (raw["save_baseline"].value or "").strip() or None
    compare = (raw["compare"].value or "").strip() or None
    for flag, name in (("--amb-save-baseline", save), ("--amb-compare", compare)):
        if name is not None and not _NAME.match(name):
            raise BaselineError(f"{flag} '{name}': use letters, digits, '.', '_' and '-' only (it names a file)")
    drops = []
    for part in (raw["max_drop"].value or "").split(","):
        if not part.strip():
            continue
        metric, _, value = part.partition("=")
        metric = metric.strip()
        if metric not in comparable:
            raise BaselineError(f"--amb-max-drop '{part.strip()}': metric '{metric}' is not comparable; "
                                f"accepted: {', '.join(comparable)}")  # fmt: skip
        try:
            allowed = float(value)
        except ValueError:
            raise BaselineError(f"--amb-max-drop '{part.strip()}': give METRIC=NUMBER, e.g. csr=0.03") from None
        if allowed < 0:
            raise BaselineError(f"--amb-max-drop '{part.strip()}': the allowed drop cannot be negative")
        drops.append((metric, allowed))
    if drops and not compare:
        raise BaselineError("--amb-max-drop needs --amb-compare NAME (the baseline to compare with)")
    if compare and not drops:
        raise BaselineError("--amb-compare needs --amb-max-drop, e.g. --amb-max-drop csr=0.03,judge_accuracy=0.05")
    try:
        alpha = float(raw["compare_alpha"].value or 0.05)
    except ValueError:
        alpha = -1.0
    if not 0 < alpha <= 1:
        raise BaselineError(f"--amb-compare-alpha '{raw['compare_alpha'].value}': give a significance level in (0, 1]")
    return BaselineRequest(directory, save, compare, tuple(drops), alpha)


# -- what makes runs comparable ---------------------------------------------------------------------------
def identity(config) -> dict:
    """Model, data and recipe of a run (``config``: RunConfig), as stored in and checked against a baseline."""
    from pytest_amb.journal import file_sha256

    described = config.to_json()
    data = [{"task": s.name, "file": Path(f).name, "sha256": file_sha256(f)} for s in config.tasks for f in s.files]
    return {
        "model": described["model"],
        "data": data,
        "data_hash": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16],
        "recipe": {key: described[key] for key in RECIPE_KEYS},
    }


def load(request: BaselineRequest, config) -> dict:
    """The baseline to compare with, refused with every difference named when the run is not comparable."""
    path = request.path(request.compare)
    if not path.is_file():
        known = sorted(p.stem for p in request.directory.glob("*.json")) if request.directory.is_dir() else []
        hint = f"saved baselines: {', '.join(known)}" if known else "none is saved yet"
        raise BaselineError(f"--amb-compare {request.compare}: {path} does not exist ({hint}); "
                            f"record one with --amb-save-baseline {request.compare}")  # fmt: skip
    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BaselineError(f"--amb-compare {request.compare}: {path} is not valid JSON ({exc})") from None
    if baseline.get("schema") != SCHEMA:
        raise BaselineError(f"--amb-compare {request.compare}: {path} is not a pytest-amb baseline")
    ours = identity(config)
    differences = []
    if baseline["model"] != ours["model"]:
        differences.append(f"model: baseline '{baseline['model']}', this run '{ours['model']}'")
    if baseline["data_hash"] != ours["data_hash"]:
        theirs = {(d["task"], d["file"]): d["sha256"][:12] for d in baseline["data"]}
        mine = {(d["task"], d["file"]): d["sha256"][:12] for d in ours["data"]}
        differences.append(f"data: baseline {sorted(theirs.items())}, this run {sorted(mine.items())}")
    for key in RECIPE_KEYS:
        if baseline["recipe"].get(key) != ours["recipe"][key]:
            differences.append(f"{key}: baseline {baseline['recipe'].get(key)!r}, this run {ours['recipe'][key]!r}")
    if differences:
        raise BaselineError(
            f"--amb-compare {request.compare}: refused, the baseline ({path}) does not match this run: "
            + "; ".join(differences)
            + ". Compare runs of the same model, data and recipe, or record a new baseline."
        )
    return baseline


def save(request: BaselineRequest, config, summary: dict, results: list[dict], rootdir: Path,
         table: MetricTable) -> Path:  # fmt: skip
    path = request.path(request.save)
    baseline = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "name": request.save,
        "created_at": datetime.now(UTC).isoformat(),
        "commit": _commit(rootdir),
        "config": config.to_json(),
        "config_hash": config.hash,
        "memories": list(config.memories),
        **identity(config),
        "summary": summary,
        "samples": sample_outcomes(results, table),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # committed to repositories (README): redacted like everything else the run writes
    temporary.write_text(json.dumps(redact_json(baseline), indent=1, ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)
    return path


def _commit(rootdir: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], check=False, cwd=rootdir, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def sample_outcomes(results: list[dict], table: MetricTable) -> dict[str, dict[str, dict]]:
    """Per stream, the headline samples' pass/fail outcomes of the metric table (the task's verdict, and
    e.g. a judge's), keyed by task/phase/stage/sample."""
    by_stream: dict[str, list[dict]] = {}
    for result in results:
        by_stream.setdefault(result["step"]["stream"], []).append(result)
    out = {}
    for stream, items in by_stream.items():
        samples = {}
        for r in primary_samples(items):
            step = r["step"]
            outcome = {o.name: o.of(r) for o in table.outcomes}
            samples[f"{step['task']}/{step['phase']}/{step.get('stage')}/{step['sample_id']}"] = {
                name: value for name, value in outcome.items() if value is not None
            }
        out[stream] = samples
    return out


# -- the comparison ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DropResult:
    metric: str
    stream: str
    baseline_stream: str | None
    allowed: float
    baseline: float | None = None
    current: float | None = None
    p_value: float | None = None  # McNemar, for paired pass/fail metrics
    pairs: int = 0
    worse: int = 0  # pairs that passed in the baseline and fail now
    better: int = 0
    alpha: float = 0.05
    lower_is_better: bool = False

    @property
    def worsening(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        delta = self.baseline - self.current
        return -delta if self.lower_is_better else delta

    @property
    def significant(self) -> bool:
        return self.p_value is None or self.p_value < self.alpha

    @property
    def passed(self) -> bool:
        if self.worsening is None:
            return False
        return self.worsening <= self.allowed + 1e-12 or not self.significant

    def describe(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.metric} max drop {self.allowed:g} {self.stream}"
        if self.baseline_stream is None:
            return f"{head}: no stream of the baseline matches"
        if self.worsening is None:
            return f"{head}: not measured (baseline {self.baseline}, this run {self.current})"
        text = f"{head}: {self.baseline:.4f} -> {self.current:.4f} (worse by {self.worsening:+.4f})"
        if self.p_value is not None:
            verdict = "significant" if self.significant else "not significant, treated as noise"
            text += (f"; McNemar exact p={self.p_value:.4g} ({verdict} at alpha {self.alpha:g}; "
                     f"{self.worse} pass->fail, {self.better} fail->pass of {self.pairs} paired samples)")  # fmt: skip
        return text


@dataclass(frozen=True)
class Comparison:
    name: str
    results: tuple[DropResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_json(self) -> dict:
        return {
            "baseline": self.name,
            "passed": self.passed,
            "results": [
                {"metric": r.metric, "stream": r.stream, "baseline_stream": r.baseline_stream, "allowed": r.allowed,
                 "baseline": r.baseline, "current": r.current, "worsening": r.worsening, "p_value": r.p_value,
                 "pairs": r.pairs, "worse": r.worse, "better": r.better, "passed": r.passed}
                for r in self.results
            ],
        }  # fmt: skip


def compare(name: str, baseline: dict, summary: dict, results: list[dict], max_drops, alpha: float,
            table: MetricTable) -> Comparison:  # fmt: skip
    """Each metric of ``max_drops`` per stream against the matching baseline stream; values are read through
    ``table`` (the run's metrics, also for baselines saved before summaries carried a "metrics" block)."""
    base_streams = {s["stream"]: s for s in baseline["summary"]["streams"]}
    current = sample_outcomes(results, table)
    out = []
    for stream in summary["streams"]:
        match = _matching_stream(stream["stream"], base_streams)
        for metric_name, allowed in max_drops:
            lower = metric_name in table.comparable and table.metric(metric_name).better == "lower"
            if match is None or metric_name not in table.comparable:
                out.append(DropResult(metric_name, stream["stream"], match, allowed, alpha=alpha, lower_is_better=lower))
                continue
            metric = table.metric(metric_name)
            paired = {}
            if metric.outcome:
                paired = _paired(baseline["samples"].get(match, {}), current.get(stream["stream"], {}), metric.outcome)
            out.append(DropResult(metric_name, stream["stream"], match, allowed,
                                  table.value(metric_name, base_streams[match]), table.value(metric_name, stream), alpha=alpha, lower_is_better=lower, **paired))  # fmt: skip
    return Comparison(name, tuple(out))


def _matching_stream(stream: str, base_streams: dict) -> str | None:
    """The same stream id, else the one baseline stream that differs only in its memory."""
    if stream in base_streams:
        return stream
    key = stream.split("/", 1)[-1]
    candidates = [sid for sid in base_streams if sid.split("/", 1)[-1] == key]
    return candidates[0] if len(candidates) == 1 else None


def _paired(base: dict, ours: dict, outcome: str) -> dict:
    keys = [k for k in base if k in ours and outcome in base[k] and outcome in ours[k]]
    worse = sum(base[k][outcome] and not ours[k][outcome] for k in keys)
    better = sum(ours[k][outcome] and not base[k][outcome] for k in keys)
    return {"p_value": mcnemar_exact(worse, better), "pairs": len(keys), "worse": worse, "better": better}
