"""What the results table shows, decided once from summary.json for the terminal and the HTML report alike.

One ``Block`` per task-family block of ``summary["memories"]``: its memories' rows and the metrics measured
there. Pass/fail rates whose values are equal in every row and every stream of the block are ``Shown`` once
(``ASR=CSR``); a metric without a direction (``better is None``) with one value everywhere becomes a
``Constant`` note instead of a column. A ``Contrast`` is one memory's paired differences to the reference
memory in a block (``summary["differences"]``), grouped the same way where the differences are equal too.
The text of every number (value, interval, difference, p-value) is made here, so both reports print the
same numbers in the same units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_amb.config import LOCAL_MODELS
from pytest_amb.metrics.table import Metric, MetricTable
from pytest_amb.redaction import redact_url

TOLERANCE = 1e-9
# (scale, digits) of a value of each metric format, as Metric.show prints it
SCALES = {"percent": (100.0, 1), "points": (100.0, 1), "percent_value": (1.0, 1), "number": (1.0, 3),
          "turns": (1.0, 1), "signed": (1.0, 1)}  # fmt: skip
POINTS = ("percent", "points", "percent_value")  # formats whose differences are percentage points
UNLEARNED = "†"  # marks a memory whose state never changed in a block
DEFINITIONS = "definitions: docs/metrics.md"
PRICES_HINT = "--amb-prices FILE"  # how a user prices a model the bundled table does not know


@dataclass(frozen=True)
class Shown:
    """One column (or entry): a metric, or several whose values are equal everywhere in the block."""

    metrics: tuple[Metric, ...]

    @property
    def metric(self) -> Metric:
        return self.metrics[0]

    @property
    def label(self) -> str:
        return "=".join(m.label for m in self.metrics)


@dataclass(frozen=True)
class Constant:
    metric: Metric
    value: float

    def text(self) -> str:
        return f"{self.metric.label} = {value_text(self.metric, self.value)} in every row"


@dataclass(frozen=True)
class Block:
    family: str
    rows: tuple[dict, ...]  # summary["memories"] rows of this block, in --amb-memory order
    headline: Shown | None  # shown with its 95% interval
    columns: tuple[Shown, ...]  # value only: the table's columns, then the aggregates' other metrics
    constants: tuple[Constant, ...]

    @property
    def shown(self) -> list[Shown]:
        return ([self.headline] if self.headline else []) + list(self.columns)

    def value(self, row: dict, metric: Metric) -> float | None:
        return _value(row, metric.name)

    def n(self, row: dict) -> int:
        """The samples (or streams) the headline value of ``row`` is over."""
        entry = (row.get("metrics") or {}).get(self.headline.metric.name) if self.headline else None
        return entry["n"] if isinstance(entry, dict) and entry.get("n") is not None else row.get("samples", 0)

    def interval(self, row: dict) -> list[float] | None:
        """The 95% interval of the headline value of ``row``."""
        entry = (row.get("metrics") or {}).get(self.headline.metric.name) if self.headline else None
        return entry.get("ci95") if isinstance(entry, dict) else None

    @property
    def shows_cost(self) -> bool:
        """Whether the table has a cost column: the rows carry a cost (a summary of schema 4 or later:
        ``cost_usd``, None when unknown) and it is not $0.00 in every row (the reference model; the LLM
        line says so), which would only push the columns over the terminal's width."""
        costs = [row["cost_usd"] for row in self.rows if "cost_usd" in row]
        return bool(costs) and any(cost != 0 for cost in costs)

    @staticmethod
    def memory_label(row: dict) -> str:
        return row["memory"] + (f" {UNLEARNED}" if row.get("learned") is False else "")

    @property
    def streams_per_memory(self) -> str:
        counts = sorted({len(row.get("streams") or []) for row in self.rows})
        if not counts:
            return ""
        text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        return f"{text} stream{'s' if counts[-1] != 1 else ''} per memory"

    @property
    def notes(self) -> list[str]:
        """The notes under the block: the constant metrics, then each memory that learned nothing."""
        notes = [c.text() for c in self.constants]
        for row in self.rows:
            if row.get("learned") is False:
                notes.append(f"{UNLEARNED} " + (row.get("note") or f"{row['memory']}'s memory never changed here"))
        return notes


@dataclass(frozen=True)
class Difference:
    shown: Shown
    entry: dict  # the summary's difference entry: difference, ci95, p_value, test, n[, better, worse]

    @property
    def excludes_zero(self) -> bool:
        interval = self.entry.get("ci95")
        return bool(interval) and (interval[0] > 0 or interval[1] < 0)


@dataclass(frozen=True)
class Contrast:
    family: str
    memory: str
    reference: str
    differences: tuple[Difference, ...]


# -- building the blocks ------------------------------------------------------------------------------------
def blocks(summary: dict, table: MetricTable) -> list[Block]:
    rows_by_family: dict[str, list[dict]] = {}
    for row in summary.get("memories") or []:
        rows_by_family.setdefault(row["family"], []).append(row)
    streams = {s["stream"]: s for s in summary.get("streams") or []}
    return [_block(family, rows, streams, table) for family, rows in rows_by_family.items()]


def _block(family: str, rows: list[dict], streams: dict[str, dict], table: MetricTable) -> Block:
    own_streams = [streams[sid] for row in rows for sid in row.get("streams") or [] if sid in streams]
    ordered = [m for _, m in table.columns] + [m for m in table.metrics if not m.column]
    measured = [m for m in ordered if any(_value(row, m.name) is not None for row in rows)]

    def series(metric: Metric) -> list[float | None]:
        return [_value(row, metric.name) for row in rows] + [
            (s.get("metrics") or {}).get(metric.name) for s in own_streams
        ]

    constants, rest = [], []
    for metric in measured:
        values = series(metric)
        if (
            metric.better is None
            and (len(rows) > 1 or len(own_streams) > 1)
            and _equal(values, [values[0]] * len(values))
        ):
            constants.append(Constant(metric, values[0]))
        else:
            rest.append(metric)
    groups: list[list[Metric]] = []
    for metric in rest:
        values = series(metric)
        home = next((g for g in groups if _mergeable(g[0], metric) and _equal(values, series(g[0]))), None)
        if home is None:
            groups.append([metric])
        else:
            home.append(metric)
    shown = [Shown(tuple(group)) for group in groups]
    headline = next((s for s in shown if s.metric.column), None)
    return Block(family, tuple(rows), headline, tuple(s for s in shown if s is not headline), tuple(constants))


def _mergeable(first: Metric, other: Metric) -> bool:
    """Rates of per-sample pass/fail outcomes over the same samples can coincide by construction (the task's
    verdict and a judge's, the final CSR); other metrics equal in a run (F1 and SL both 0) are a coincidence."""
    return first.outcome is not None and other.outcome is not None and first.format == other.format


def _value(row: dict, name: str) -> float | None:
    entry = (row.get("metrics") or {}).get(name)
    return entry.get("value") if isinstance(entry, dict) else None


def _equal(values: list, others: list) -> bool:
    """Element by element equal, and none missing."""
    return len(values) == len(others) and all(
        a is not None and b is not None and abs(a - b) <= TOLERANCE for a, b in zip(values, others, strict=True)
    )


# -- the comparison ---------------------------------------------------------------------------------------
def contrasts(summary: dict, blocks_: list[Block]) -> list[Contrast]:
    """Each block's memories other than the reference, in block order, with their differences in the
    order of the block's columns (groups split where their differences are not equal)."""
    differences = summary.get("differences") or {}
    by_family = {block.family: block for block in blocks_}
    reference = differences.get("reference") or ""
    rows = [r for r in differences.get("rows") or [] if r["family"] in by_family]
    order = list(by_family)
    rows.sort(key=lambda r: order.index(r["family"]))  # stable: memory order within a block kept
    out = []
    for row in rows:
        block = by_family[row["family"]]
        entries = row.get("metrics") or {}
        found = []
        for shown in block.shown:
            present = [m for m in shown.metrics if entries.get(m.name)]
            if not present:
                continue
            first = entries[present[0].name]
            if len(present) == len(shown.metrics) and all(_same_difference(first, entries[m.name]) for m in present):
                found.append(Difference(shown, first))
            else:
                found += [Difference(Shown((m,)), entries[m.name]) for m in present]
        out.append(Contrast(row["family"], row["memory"], reference, tuple(found)))
    return out


def _same_difference(a: dict, b: dict) -> bool:
    def close(x, y) -> bool:
        return x is None and y is None or (x is not None and y is not None and abs(x - y) <= TOLERANCE)

    ci_a, ci_b = a.get("ci95") or [None, None], b.get("ci95") or [None, None]
    return (close(a.get("difference"), b.get("difference")) and close(ci_a[0], ci_b[0])
            and close(ci_a[1], ci_b[1]) and close(a.get("p_value"), b.get("p_value")))  # fmt: skip


def legend_metrics(blocks_: list[Block], table: MetricTable) -> list[Metric]:
    """Every metric a block shows (column, group member or note), once, in the table's order."""
    names = {m.name for block in blocks_ for s in block.shown for m in s.metrics}
    names |= {c.metric.name for block in blocks_ for c in block.constants}
    return [m for m in table.metrics if m.name in names]


def gloss(metric: Metric) -> str:
    """``label short`` for the legend (the description's first clause until every metric has ``short``)."""
    short = getattr(metric, "short", "") or metric.description.split(":")[0].split(" (")[0]
    text = f"{metric.label} {short}".strip()
    return text + (" (lower is better)" if metric.better == "lower" else "")


# -- the text of numbers ------------------------------------------------------------------------------------
def value_text(metric: Metric, value: float | None) -> str:
    return metric.show(value).strip()


def interval_text(metric: Metric, interval: list[float] | None) -> str:
    if not interval:
        return ""
    scale, digits = SCALES[metric.format]
    low, high = (_number(scale * end, digits) for end in interval)
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def difference_text(metric: Metric, value: float | None) -> str:
    if value is None:
        return "-"
    scale, digits = _difference_scale(metric)
    unit = " pp" if metric.format in POINTS else ""
    return f"{_number(scale * value, digits):+.{digits}f}{unit}"


def difference_interval_text(metric: Metric, interval: list[float] | None) -> str:
    if not interval:
        return ""
    scale, digits = _difference_scale(metric)
    low, high = (_number(scale * end, digits) for end in interval)
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _difference_scale(metric: Metric) -> tuple[float, int]:
    scale, digits = SCALES[metric.format]
    return scale, 2 if metric.format == "turns" else digits  # a turn's difference is often below 0.1


def _number(value: float, digits: int) -> float:
    """``value`` as printed with ``digits`` decimals, without a sign on zero ("-0.0")."""
    return round(value, digits) + 0.0


def p_text(p: float | None) -> str:
    if p is None:
        return ""
    if p < 0.0001:
        return "<0.0001"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def evidence_text(entry: dict) -> str:
    """What a difference rests on: McNemar's discordant samples, or how many pairs were resampled."""
    n = entry.get("n")
    test = entry.get("test")
    if test == "mcnemar":
        return f"{entry.get('better', 0)} better, {entry.get('worse', 0)} worse of {n}"
    if test == "bootstrap-streams":
        return f"{n} stream pair{'s' if n != 1 else ''}{'' if entry.get('ci95') else ' (no interval)'}"
    return f"{n} samples" if n is not None else ""


def totals_text(totals: dict) -> str:
    """The run's step counts: samples solved and unsolved, other steps (memory writes such as session
    injections), and ERRORs, which are never answers."""
    solved, unsolved = totals.get("solved", totals["passed"]), totals.get("unsolved", totals["failed"])
    other = totals["steps"] - solved - unsolved - totals["errors"]
    parts = [f"{solved} solved", f"{unsolved} unsolved"] + ([f"{other} other steps (memory writes)"] if other else [])
    return (f"steps: {totals['steps']} — {', '.join(parts)}, {totals['errors']} errors "
            "(endpoint or harness, never counted as answers)")  # fmt: skip


# -- money, the response cache and the endpoints ---------------------------------------------------------------
def money_text(usd: float | None) -> str:
    """"$0.42" (2 decimals), "$0.0031" below a cent (4 decimals), "<$0.0001", "$0.00" for nothing spent;
    "unknown" when a model had no price (never $0.00)."""
    if usd is None:
        return "unknown"
    if usd == 0:
        return "$0.00"
    if usd < 0.0001:
        return "<$0.0001"
    return f"${usd:.4f}" if usd < 0.01 else f"${usd:,.2f}"


def llm_parts(summary: dict) -> list[str]:
    """The run's LLM calls as the parts of one line, each ending in its punctuation (a line breaks only
    between them): calls and cost per purpose, the total (and the budget), the response cache's hits and
    misses when it was consulted or set on (read, write, readwrite). None for a summary without calls."""
    llm = summary.get("llm") or {}
    per_purpose = llm.get("per_purpose") or {}
    if not per_purpose:
        return []
    parts = [f"{purpose} {_count(group.get('calls', 0), 'call')} {money_text(group.get('cost_usd'))},"
             for purpose, group in per_purpose.items()]  # fmt: skip
    parts[0] = "LLM: " + parts[0]
    parts[-1] = parts[-1][:-1] + ";"
    total = f"total {money_text(llm.get('cost_usd'))}"
    if llm.get("budget_usd") is not None:
        total += f" of a budget of {money_text(llm['budget_usd'])}"
    parts.append(total)
    hits = sum(g.get("hits", 0) for g in per_purpose.values())
    misses = sum(g.get("misses", 0) for g in per_purpose.values())
    mode = (llm.get("cache") or {}).get("mode")
    if hits or misses or mode not in (None, "off", "auto"):  # auto: off for the reference model, which never looks up
        parts[-1] += ";"
        share = f" ({math.floor(100 * hits / (hits + misses))}%)" if hits + misses else ""  # 100%: all hit
        parts.append(f"cache{f' ({mode})' if mode else ''}: {_count(hits, 'hit')}, {_count(misses, 'miss')}{share}")
    return parts


def unknown_price_text(summary: dict) -> str | None:
    """The models whose calls have no price, and how to give them one; None when every model has one."""
    unknown = (summary.get("llm") or {}).get("unknown_models") or []
    if not unknown:
        return None
    names = ", ".join(f"'{m}'" for m in unknown)
    several = len(unknown) > 1
    them = "them" if several else "it"
    return f"cost unknown for model{'s' if several else ''} {names}: add {them} with {PRICES_HINT}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 'es' if noun.endswith('s') else 's'}"


def endpoint_parts(summary: dict) -> list[str]:
    """The model and endpoint of each role ("agent gpt-4o @ https://host/v1", "judge reference"), when one
    of them is not a model inside pytest-amb (reference, oracle); none otherwise."""
    endpoints = (summary.get("llm") or {}).get("endpoints") or []
    if all(e.get("model") in LOCAL_MODELS for e in endpoints):
        return []
    parts = []
    for endpoint in endpoints:
        local = endpoint.get("model") in LOCAL_MODELS  # its loopback URL says nothing
        url = None if local else redact_url(endpoint.get("base_url"))
        parts.append(f"{endpoint.get('role')} {endpoint.get('model')}" + (f" @ {url}" if url else ""))
    return parts


def endpoints_text(summary: dict) -> str | None:
    parts = endpoint_parts(summary)
    return "endpoints: " + ", ".join(parts) if parts else None
