"""Saved baselines and regression gates against them, in the manner of pytest-benchmark.

``--amb-save-baseline NAME`` writes ``<baseline dir>/NAME.json``: the summary, the per-sample outcomes and
values, and what makes runs comparable (model, data hashes, recipe) plus the commit. ``--amb-compare NAME
--amb-max-drop csr=0.03`` fails the run when a metric got worse by more than allowed: by default each memory
of each family block over all its streams, pooled as the summary's ``memories`` rows are, against the
baseline's matching streams pooled the same way; with ``--amb-gate-scope=stream`` every stream against its
match. For per-sample pass/fail metrics the comparison is paired on the samples both runs scored and the
drop must also be significant (McNemar's exact test, ``--amb-compare-alpha``), so CI does not fail on noise;
when there are too few paired samples for the allowed drop to ever be significant, the result says so.

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

from pytest_amb.metrics.differences import sample_key
from pytest_amb.metrics.paired import fewest_significant_discordant, mcnemar_exact, min_detectable_drop
from pytest_amb.metrics.table import Metric, MetricTable
from pytest_amb.redaction import redact_json
from pytest_amb.report.summary import primary_samples, results_by_stream

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
    endpoints = [endpoint.to_json() for endpoint in config.endpoints()]
    data = [{"task": s.name, "file": Path(f).name, "sha256": file_sha256(f)} for s in config.tasks for f in s.files]
    return {
        "model": described["model"],
        "data": data,
        "data_hash": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16],
        # the endpoints are recorded, not compared: the same models may be served from another URL
        "recipe": {**{key: described[key] for key in RECIPE_KEYS}, "endpoints": endpoints},
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
        "sample_values": sample_values(results, table),
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


def _by_stream(results: list[dict]) -> dict[str, list[dict]]:
    return {stream: primary_samples(items) for stream, items in results_by_stream(results).items()}


def sample_outcomes(results: list[dict], table: MetricTable) -> dict[str, dict[str, dict]]:
    """Per stream, the headline samples' pass/fail outcomes of the metric table (the task's verdict, and
    e.g. a judge's), keyed by task/phase/stage/sample (``differences.sample_key``)."""
    out = {}
    for stream, samples in _by_stream(results).items():
        out[stream] = {}
        for r in samples:
            outcome = {o.name: o.of(r) for o in table.outcomes}
            out[stream][sample_key(r)] = {name: value for name, value in outcome.items() if value is not None}
    return out


def sample_values(results: list[dict], table: MetricTable) -> dict[str, dict[str, dict]]:
    """Per stream, the headline samples' values of the metrics that are means over samples (``Metric.sample``),
    keyed as ``sample_outcomes``."""
    numeric = [m for m in table.metrics if m.sample is not None]
    out = {}
    for stream, samples in _by_stream(results).items():
        out[stream] = {}
        for r in samples:
            values = {m.name: table.sample_value(m, r) for m in numeric}
            out[stream][sample_key(r)] = {name: value for name, value in values.items() if value is not None}
    return out


# -- the comparison ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DropResult:
    metric: str
    subject: str  # "<memory> on <family>" (scope "memory") or the stream id (scope "stream")
    allowed: float
    scope: str = "memory"
    memory: str | None = None
    family: str | None = None
    streams: tuple[str, ...] = ()  # this run's streams compared
    baseline_streams: tuple[str, ...] = ()  # their matches in the baseline, in the same order
    unmatched: int = 0  # streams of the subject without a match in the baseline
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

    @property
    def min_detectable_drop(self) -> float | None:
        """For a McNemar-tested metric, the smallest drop that can be significant with these pairs."""
        return None if self.p_value is None else min_detectable_drop(self.pairs, self.alpha)

    @property
    def warning(self) -> str | None:
        """One line when the paired samples are too few for a drop just above the allowed one to ever fail."""
        if self.p_value is None:
            return None
        needed, smallest = fewest_significant_discordant(self.alpha), self.min_detectable_drop
        if smallest is None:
            return (f"with {self.pairs} paired samples no drop can be significant at alpha {self.alpha:g} (McNemar "
                    f"needs at least {needed} discordant pairs): this comparison cannot fail")  # fmt: skip
        if smallest <= self.allowed + 1e-12:
            return None
        return (f"with {self.pairs} paired samples the smallest drop McNemar can detect at alpha {self.alpha:g} is "
                f"{smallest:.3f} ({needed} of {self.pairs}): a drop above the allowed {self.allowed:g} but below "
                f"{smallest:.3f} cannot fail")  # fmt: skip

    @property
    def stream(self) -> str | None:
        return self.subject if self.scope == "stream" else None

    def describe(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.metric} max drop {self.allowed:g} {self.subject}"
        if not self.baseline_streams:
            return f"{head}: no stream of the baseline matches"
        if self.worsening is None:
            return f"{head}: not measured (baseline {self.baseline}, this run {self.current})"
        text = f"{head}: {self.baseline:.4f} -> {self.current:.4f} (worse by {self.worsening:+.4f})"
        if self.p_value is not None:
            verdict = "significant" if self.significant else "not significant, treated as noise"
            text += (f"; McNemar exact p={self.p_value:.4g} ({verdict} at alpha {self.alpha:g}; "
                     f"{self.worse} pass->fail, {self.better} fail->pass of {self.pairs} paired samples)")  # fmt: skip
        if self.unmatched:
            text += f"; {self.unmatched} of {self.unmatched + len(self.streams)} streams have no match in the baseline"
        if self.warning:
            text += f"; warning: {self.warning}"
        return text

    def to_json(self) -> dict:
        return {"metric": self.metric, "scope": self.scope, "subject": self.subject, "memory": self.memory,
                "family": self.family, "stream": self.stream,
                "baseline_stream": self.baseline_streams[0] if self.scope == "stream" and self.baseline_streams else None,
                "streams": list(self.streams), "baseline_streams": list(self.baseline_streams),
                "unmatched": self.unmatched, "allowed": self.allowed, "baseline": self.baseline,
                "current": self.current, "worsening": self.worsening, "p_value": self.p_value, "pairs": self.pairs,
                "worse": self.worse, "better": self.better, "min_detectable_drop": self.min_detectable_drop,
                "warning": self.warning, "passed": self.passed}  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    name: str
    results: tuple[DropResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_json(self) -> dict:
        return {"baseline": self.name, "passed": self.passed, "results": [r.to_json() for r in self.results]}


@dataclass(frozen=True)
class _Side:
    """One run's side of a comparison: its stream summaries and per-sample outcomes and values."""

    streams: dict[str, dict]
    outcomes: dict[str, dict]
    values: dict[str, dict] | None  # None: a baseline saved before per-sample values were stored

    def mean(self, table: MetricTable, metric: Metric, streams: list[str]) -> float | None:
        """``metric`` over ``streams``, pooled as the summary's per-memory rows are."""
        if metric.outcome is not None:
            samples = [o[metric.outcome] for s in streams for o in self.outcomes.get(s, {}).values()
                       if metric.outcome in o]  # fmt: skip
        elif metric.sample is not None and self.values is not None:
            samples = [v[metric.name] for s in streams for v in self.values.get(s, {}).values() if metric.name in v]
        else:  # a value of a whole stream: the mean over the streams
            samples = [table.value(metric.name, self.streams[s]) for s in streams]
            samples = [v for v in samples if v is not None]
        return sum(float(v) for v in samples) / len(samples) if samples else None


def compare(name: str, baseline: dict, summary: dict, results: list[dict], max_drops, alpha: float,
            table: MetricTable, scope: str = "memory") -> Comparison:  # fmt: skip
    """Each metric of ``max_drops`` per memory row of the summary (``scope`` "memory") or per stream
    ("stream") against the baseline's matching streams; values are read through ``table`` (the run's
    metrics, also for baselines saved before summaries carried a "metrics" block)."""
    base_streams = {s["stream"]: s for s in baseline["summary"]["streams"]}
    theirs = _Side(base_streams, baseline.get("samples") or {}, baseline.get("sample_values"))
    ours = _Side({s["stream"]: s for s in summary["streams"]}, sample_outcomes(results, table),
                 sample_values(results, table) if theirs.values is not None else None)  # fmt: skip
    if scope == "stream":
        subjects = [(s["stream"], None, None, [s["stream"]]) for s in summary["streams"]]
    else:
        subjects = [(f"{r['memory']} on {r['family']}", r["memory"], r["family"], r["streams"])
                    for r in summary["memories"]]  # fmt: skip
    out = []
    for subject, memory, family, streams in subjects:
        matches = [(sid, _matching_stream(sid, base_streams)) for sid in streams]
        matched = [(sid, match) for sid, match in matches if match is not None]
        common = {"scope": scope, "memory": memory, "family": family, "streams": tuple(sid for sid, _ in matched),
                  "baseline_streams": tuple(m for _, m in matched), "unmatched": len(matches) - len(matched),
                  "alpha": alpha}  # fmt: skip
        for metric_name, allowed in max_drops:
            if not matched or metric_name not in table.comparable:
                out.append(DropResult(metric_name, subject, allowed, **common))
                continue
            metric = table.metric(metric_name)
            paired = _paired(theirs.outcomes, ours.outcomes, matched, metric.outcome) if metric.outcome else {}
            out.append(DropResult(metric_name, subject, allowed, **common,
                                  baseline=theirs.mean(table, metric, [m for _, m in matched]),
                                  current=ours.mean(table, metric, [sid for sid, _ in matched]),
                                  lower_is_better=metric.better == "lower", **paired))  # fmt: skip
    return Comparison(name, tuple(out))


def _matching_stream(stream: str, base_streams: dict) -> str | None:
    """The same stream id, else the one baseline stream that differs only in its memory."""
    if stream in base_streams:
        return stream
    key = stream.split("/", 1)[-1]
    candidates = [sid for sid in base_streams if sid.split("/", 1)[-1] == key]
    return candidates[0] if len(candidates) == 1 else None


def _paired(base: dict, ours: dict, matched: list[tuple[str, str]], outcome: str) -> dict:
    """McNemar's exact test on every sample both runs scored, pooled over the matched streams."""
    worse = better = pairs = 0
    for stream, match in matched:
        theirs, mine = base.get(match, {}), ours.get(stream, {})
        for key in theirs:
            if key in mine and outcome in theirs[key] and outcome in mine[key]:
                pairs += 1
                worse += theirs[key][outcome] and not mine[key][outcome]
                better += mine[key][outcome] and not theirs[key][outcome]
    return {"p_value": mcnemar_exact(worse, better), "pairs": pairs, "worse": worse, "better": better}
