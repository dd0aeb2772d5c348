"""Per-memory rows, the memories' paired differences and gates on them, through ``summarize`` and ``conclude``
on a small hand-built run: two memories ("ref", "new") × two seeds of one task ("fam/x"), four questions each.

    question     q1  q2  q3  q4   (q5: an ERROR step of new/seed2 only)
    ref seed1     1   1   0   0
    new seed1     1   0   1   1   -> q2 got worse, q3 and q4 better
    ref seed2     1   0   0   0
    new seed2     1   1   1   0   -> q2 and q3 better

ref: 3 of 8 solved = 0.375; new: 6 of 8 = 0.75. Paired on the 8 questions: worse = 1, better = 4, so the
difference is (4 − 1)/8 = 0.375 and McNemar's exact p = 2·P[Binomial(5, 1/2) <= 1] = 2·6/32 = 0.375.
Agent turns are 1 everywhere except new/seed1/q1 (2 turns): AS new = 9/8, difference 1/8.
"""

from __future__ import annotations

import pytest

from pytest_amb import gates
from pytest_amb.metrics.core import CURVES, SUCCESS, known_table
from pytest_amb.metrics.intervals import mean_interval, wilson
from pytest_amb.metrics.memory_rows import INITIAL, family_block, memory_changed
from pytest_amb.metrics.paired import mcnemar_exact
from pytest_amb.metrics.pooled import pool_streams, pooled
from pytest_amb.metrics.table import Metric, merge
from pytest_amb.report.summary import SCHEMA_VERSION, primary_samples, results_by_stream, summarize
from pytest_amb.resume import INITIAL as RESUME_INITIAL
from pytest_amb.verdict import conclude
from taskcases.locomo.metrics import QA

TABLE = merge((SUCCESS,), (QA,), (CURVES,))
OUTCOMES = {"ref": {1: [1, 1, 0, 0], 2: [1, 0, 0, 0]}, "new": {1: [1, 0, 1, 1], 2: [1, 1, 1, 0]}}
F1 = {"ref": [0.5, 0.5, 0.0, 0.0], "new": [0.5, 0.0, 1.0, 1.0]}  # per question, both seeds


def _result(memory, seed, position, sample_id, *, kind="sample", success=True, turns=1, status=None,
            read="A", wrote="A", stored=False, task="fam/x"):  # fmt: skip
    stream = f"{memory}/{task}/seed{seed}"
    metrics = {}
    if kind == "sample" and success is not None:
        f1 = F1[memory][int(sample_id[1:]) - 1]
        metrics = {"judge": float(success), "f1": f1, "bleu": f1 / 2, "category": 1}
    return {
        "step": {"id": f"{stream}/{position:04d}-{sample_id}", "stream": stream, "position": position, "task": task,
                 "kind": kind, "sample_id": sample_id, "phase": "online", "augment": kind == "sample", "update": True,
                 "stage": 0},
        "status": status or ("passed" if success else "failed"),
        "success": success,
        "reward": None if success is None else float(success),
        "metrics": metrics,
        "transcript": [{"role": "user"}] + [{"role": "assistant"}] * turns,
        "llm_calls": [{"purpose": "agent", "prompt_tokens": 10, "completion_tokens": 1}],
        "wall_s": 0.5,
        "provenance": {"memory": memory, "task_backend": "in-process", "memory_state": {"read": read, "wrote": wrote}},
        "memory_cost": {},
        "update": {"stored": stored},
    }  # fmt: skip


def _stream(memory, seed):
    learns = memory == "new"
    digest = f"{memory}{seed}"  # what the injection leaves: stored content ("new"), an empty memory ("ref")
    out = [_result(memory, seed, 0, "session-1", kind="inject", read=INITIAL, wrote=digest, stored=learns)]
    for q, solved in enumerate(OUTCOMES[memory][seed], start=1):
        turns = 2 if (memory, seed, q) == ("new", 1, 1) else 1
        out.append(_result(memory, seed, q, f"q{q}", success=bool(solved), turns=turns, read=digest, wrote=digest))
    if (memory, seed) == ("new", 2):
        out.append(_result(memory, seed, 5, "q5", success=None, status="error", read=digest, wrote=None))
    return out


RESULTS = [r for memory in ("new", "ref") for seed in (1, 2) for r in _stream(memory, seed)]
RUN = {"config": {"memories": ["ref", "new"], "mode": "online"}, "families": {"fam/x": "fam"},
       "stream_order": [f"{m}/fam/x/seed{s}" for m in ("new", "ref") for s in (1, 2)]}  # fmt: skip


@pytest.fixture(scope="module")
def summary():
    return summarize(RESULTS, RUN, TABLE)


# -- pooling ---------------------------------------------------------------------------------------------
def test_pooled_values_hand_computed():
    assert pooled([1.0, 0.0, 1.0, 1.0], "samples", binary=True) == {
        "value": 0.75, "ci95": wilson(3, 4), "n": 4, "over": "samples"}  # fmt: skip
    # mean of [0.2, 0.4] = 0.3; s = 0.1414, half = 1.96·0.1414/√2 = 0.196
    numeric = pooled([0.2, 0.4], "streams", binary=False)
    assert numeric["value"] == pytest.approx(0.3) and numeric["ci95"] == pytest.approx([0.104, 0.496], abs=1e-3)
    assert pooled([0.7], "streams", binary=False)["ci95"] is None  # one stream: no interval
    assert pooled([], "samples", binary=True) is None


def test_memory_rows_in_memory_order_pooled_over_samples(summary):
    assert summary["schema_version"] == SCHEMA_VERSION == 4
    rows = summary["memories"]
    # plan order lists new's streams first; the rows follow the run's memories: ref, new
    assert [(r["family"], r["memory"]) for r in rows] == [("fam", "ref"), ("fam", "new")]
    ref, new = rows
    assert ref["streams"] == ["ref/fam/x/seed1", "ref/fam/x/seed2"]
    # 2 streams × (1 injection + 4 questions); new/seed2 also has the ERROR step q5
    assert (ref["steps"], ref["samples"], ref["errors"]) == (10, 8, 0)
    assert (new["steps"], new["samples"], new["errors"]) == (11, 9, 1)
    assert ref["tokens"] == 10 * 11 and new["wall_s"] == 5.5
    # 3 of 8 and 6 of 8 solved (the ERROR step is no sample of any metric)
    assert ref["metrics"]["asr"] == {"value": 0.375, "ci95": wilson(3, 8), "n": 8, "over": "samples"}
    assert new["metrics"]["asr"] == {"value": 0.75, "ci95": wilson(6, 8), "n": 8, "over": "samples"}
    # CSR is a rate of the same outcome: its pooled value is the pooled ASR (CSR_T of a stream is its ASR)
    assert new["metrics"]["csr"] == new["metrics"]["asr"]
    assert new["metrics"]["judge_accuracy"] == new["metrics"]["asr"]
    # AS: (2 + 7·1)/8 turns; F1: seeds share the per-question values: (0.5 + 0 + 1 + 1)·2/8 = 0.625
    assert new["metrics"]["as"]["value"] == pytest.approx(9 / 8)
    assert new["metrics"]["f1"] == {"value": pytest.approx(0.625), "n": 8, "over": "samples",
                                    "ci95": mean_interval([0.5, 0.0, 1.0, 1.0] * 2)}  # fmt: skip


def test_stream_level_metrics_are_means_over_streams(summary):
    streams = {s["stream"]: s["metrics"] for s in summary["streams"]}
    lg = [streams[f"new/fam/x/seed{s}"]["lg"] for s in (1, 2)]
    assert summary["memories"][1]["metrics"]["lg"] == {
        "value": pytest.approx(sum(lg) / 2), "ci95": mean_interval(lg), "n": 2, "over": "streams"}  # fmt: skip


def test_pooling_one_stream_gives_its_own_values(summary):
    """The per-sample declarations (outcome, sample) agree with the aggregates' own computation."""
    primary = {sid: primary_samples(items) for sid, items in results_by_stream(RESULTS).items()}
    for stream in summary["streams"]:
        pooled_alone = pool_streams(TABLE, [stream], primary)
        for name, value in stream["metrics"].items():
            assert pooled_alone[name]["value"] == pytest.approx(value), (stream["stream"], name)


def test_learned_and_its_note(summary):
    ref, new = summary["memories"]
    assert new["learned"] is True and new["note"] is None
    assert ref["learned"] is False
    assert ref["note"] == "ref's memory never changed on fam: it learned nothing from these steps"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([(INITIAL, "E", False), ("E", "E", False)], False),  # an empty memory saved, never changed
        ([(INITIAL, "D", True), ("D", "D", False)], True),  # the first step stored something
        ([(INITIAL, "E", False), ("E", "F", False)], True),  # a later step changed it
        ([("E", None, False)], False),  # a read-only step leaves nothing
        ([], False),
    ],
)
def test_memory_changed(states, expected):
    results = [{"provenance": {"memory_state": {"read": r, "wrote": w}}, "update": {"stored": s}} for r, w, s in states]
    assert memory_changed(results) is expected


def test_the_initial_digest_is_the_one_the_engine_records():
    assert INITIAL == RESUME_INITIAL


def test_family_blocks():
    assert family_block({"tasks": ["locomo/amb-sample-1"]}, {}) == "locomo"  # the part before "/"
    assert family_block({"tasks": ["os-dev"]}, {"os-dev": "os"}) == "os"
    assert family_block({"tasks": ["locomo/a", "db2"]}, {"db2": "dbbench"}) == "dbbench+locomo"


# -- differences -------------------------------------------------------------------------------------------
def test_differences_paired_on_the_same_samples(summary):
    differences = summary["differences"]
    assert differences["reference"] == "ref"
    (row,) = differences["rows"]
    assert (row["family"], row["memory"], row["paired_streams"]) == ("fam", "new", 2)
    asr = row["metrics"]["asr"]
    assert asr["test"] == "mcnemar" and (asr["n"], asr["worse"], asr["better"]) == (8, 1, 4)
    assert asr["difference"] == pytest.approx(0.375)
    assert asr["p_value"] == pytest.approx(2 * 6 / 32) == pytest.approx(mcnemar_exact(1, 4))
    assert asr["ci95"][0] < 0.375 < asr["ci95"][1]
    assert row["metrics"]["csr"]["difference"] == asr["difference"]
    # AS: per-pair differences [1, 0, 0, 0, 0, 0, 0, 0]; a resample's count of 1s is Binomial(8, 1/8):
    # P(0) = 0.34 and P(>= 4) = 0.011 < 2.5% < P(>= 3) = 0.067, so the interval is [0, 3/8]
    turns = row["metrics"]["as"]
    assert (turns["test"], turns["n"], turns["p_value"]) == ("bootstrap", 8, None)
    assert turns["difference"] == pytest.approx(1 / 8) and turns["ci95"] == [0.0, 0.375]
    # stream-level: two stream pairs; two differences d1, d2 resample to means d1, (d1+d2)/2, d2
    streams = {s["stream"]: s["metrics"] for s in summary["streams"]}
    d = [streams[f"new/fam/x/seed{s}"]["lg"] - streams[f"ref/fam/x/seed{s}"]["lg"] for s in (1, 2)]
    lg = row["metrics"]["lg"]
    assert (lg["test"], lg["n"]) == ("bootstrap-streams", 2)
    assert lg["difference"] == pytest.approx(sum(d) / 2)
    assert lg["ci95"] == pytest.approx([min(d), max(d)], abs=1e-6)


def test_another_reference_memory():
    (row,) = summarize(RESULTS, RUN, TABLE, reference_memory="new")["differences"]["rows"]
    assert row["memory"] == "ref"
    asr = row["metrics"]["asr"]
    assert asr["difference"] == pytest.approx(-0.375) and (asr["worse"], asr["better"]) == (4, 1)


def test_one_memory_has_no_differences():
    only_ref = [r for r in RESULTS if r["step"]["stream"].startswith("ref/")]
    summary = summarize(only_ref, {**RUN, "config": {"memories": ["ref"]}}, TABLE)
    assert summary["differences"] is None and len(summary["memories"]) == 1
    assert summary["skipped"] == []


def test_skipped_families_are_carried():
    skipped = [{"family": "os", "steps": 25, "reason": "no container engine"}]
    assert summarize(RESULTS, {**RUN, "skipped": skipped}, TABLE)["skipped"] == skipped


# -- gates -------------------------------------------------------------------------------------------------
def _gates(*texts):
    known = [m.name for m in known_table().metrics]
    return [gates.parse(text, known) for text in texts]


def test_gates_judge_each_memory_by_default():
    outcome = conclude(RESULTS, RUN, TABLE, _gates("asr>=0.5", "lg>=0", "fr<=1"), None, None)
    lines = [r.describe() for r in outcome.gate_results]
    # Wilson 95% of 3/8: [0.137, 0.694]; of 6/8: [0.409, 0.929]
    assert lines[:2] == ["FAIL asr>=0.5 ref on fam: 0.3750 [0.14, 0.69] (n=8)",
                         "PASS asr>=0.5 new on fam: 0.7500 [0.41, 0.93] (n=8)"]  # fmt: skip
    assert lines[2].startswith("PASS lg>=0 ref on fam: ") and lines[2].endswith(" (n=2 streams)")
    assert lines[4] == "FAIL fr<=1 (all memories): not measured in any stream"
    entry = outcome.summary["gates"][1]
    assert entry == {"gate": "asr>=0.5", "scope": "memory", "subject": "new on fam", "memory": "new", "family": "fam",
                     "stream": None, "value": 0.75, "ci95": wilson(6, 8), "n": 8, "over": "samples", "passed": True}  # fmt: skip
    assert outcome.failed_gate


def test_gates_judge_each_stream_on_request():
    outcome = conclude(RESULTS, RUN, TABLE, _gates("asr>=0.5"), None, None, gate_scope="stream")
    lines = [r.describe() for r in outcome.gate_results]
    # plan order; Wilson 95% of 2/4: [0.150, 0.850], of 1/4: [0.046, 0.699], of 3/4: [0.301, 0.954]
    assert lines == ["PASS asr>=0.5 new/fam/x/seed1: 0.7500 [0.30, 0.95] (n=4)",
                     "PASS asr>=0.5 new/fam/x/seed2: 0.7500 [0.30, 0.95] (n=4)",
                     "PASS asr>=0.5 ref/fam/x/seed1: 0.5000 [0.15, 0.85] (n=4)",
                     "FAIL asr>=0.5 ref/fam/x/seed2: 0.2500 [0.05, 0.70] (n=4)"]  # fmt: skip
    entry = outcome.summary["gates"][3]
    assert (entry["scope"], entry["stream"], entry["memory"], entry["family"]) == (
        "stream", "ref/fam/x/seed2", "ref", "fam")  # fmt: skip
    nothing = conclude(RESULTS, RUN, TABLE, _gates("fr<=1"), None, None, gate_scope="stream")
    assert [r.describe() for r in nothing.gate_results] == ["FAIL fr<=1 (all streams): not measured in any stream"]


# -- declarations ------------------------------------------------------------------------------------------
def test_every_declared_metric_has_a_short_gloss():
    for metric in known_table().metrics:
        assert 0 < len(metric.short) <= 24, metric.name
    per_sample = {m.name: (m.outcome, m.sample is not None) for m in known_table().metrics if m.per_sample}
    assert per_sample == {"csr": ("success", False), "asr": ("success", False), "as": (None, True),
                          "judge_accuracy": ("judge", False), "f1": (None, True), "bleu": (None, True)}  # fmt: skip


def test_metric_declarations_are_checked():
    with pytest.raises(ValueError, match="longer than 24 characters"):
        Metric("x", "X", lambda b: b, short="a gloss far too long for one legend line")
    with pytest.raises(ValueError, match="declare outcome or sample, not both"):
        Metric("x", "X", lambda b: b, outcome="success", sample=lambda r: 1.0)
