"""The metrics every task has (CSR/LG/SL over the stream, ASR/AS over its samples), and the metric table of
a run: these, the selected task families' and the mode's."""

from __future__ import annotations

from pytest_amb.metrics.stream import agent_turns, curve_block, success_aggregate
from pytest_amb.metrics.table import PASS_FAIL, Aggregate, Metric, MetricTable, SampleOutcome, merge

CURVES = Aggregate(
    key=None,
    compute=lambda primary, results: curve_block([bool(r["success"]) for r in primary]),
    metrics=(
        Metric("csr", "CSR", lambda b: b["csr"]["final"], "percent", outcome=PASS_FAIL,
               description="cumulative success rate at the end of the stream (higher is better)",
               short="final cumulative success"),
        Metric("lg", "LG", lambda b: b["lg"]["mean"], "number", better=None,
               description="learning gain: mean rise of CSR still to come (how late the stream learns)",
               short="learning gain"),
        Metric("sl", "SL", lambda b: b["sl"]["mean"], "number", better="lower",
               description="stability loss: mean drop of CSR below its best so far (lower is better)",
               short="stability loss"),
    ),
)  # fmt: skip
SUCCESS = Aggregate(
    key="success",
    compute=lambda primary, results: success_aggregate(primary),
    metrics=(
        Metric("asr", "ASR", lambda b: b["asr"], "percent", outcome=PASS_FAIL,
               description="average success rate over the headline samples", short="success rate"),
        Metric("as", "AS", lambda b: b["as"], "turns", better=None, description="average agent turns per sample",
               short="turns per sample", sample=agent_turns),
    ),
    breakdowns=("type",),
    outcomes=(SampleOutcome(PASS_FAIL, lambda r: bool(r["success"])),),
)  # fmt: skip


def run_table(families, mode: str) -> MetricTable:
    """The metrics of a run: the harness's, the selected task families', and the mode's."""
    from pytest_amb import registry
    from pytest_amb.plan import modes

    families_ = (registry.family(f).aggregates for f in families)
    return merge((SUCCESS,), *families_, (CURVES,), modes()[mode].aggregates)  # the table's column order


def known_table() -> MetricTable:
    """Every metric an installed family or a mode declares (what --amb-gate and --amb-max-drop accept), the
    headline CSR first."""
    from pytest_amb import registry
    from pytest_amb.plan import modes

    return merge((CURVES, SUCCESS), *(f.aggregates for f in registry.task_families().values()),
                 *(m.aggregates for m in modes().values()))  # fmt: skip
