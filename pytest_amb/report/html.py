"""pytest-html integration: benchmark columns, a per-step detail panel, and the run's summary with plots.

Registered on the controller only, and only when pytest-html is active (``--html``). Every string that
came from a model, an agent, a memory or a data file goes through ``html.escape``: pytest-html inserts
cells and extras as raw HTML, so an answer such as ``<img src=x onerror=...>`` would otherwise run in the
reader's browser. The panel shows the step's record as journaled: redacted, its long texts already cut
(``storage``); what is added here is redacted too.
"""

from __future__ import annotations

import base64
import json
from html import escape

from pytest_amb.names import REPORT_ATTRIBUTE
from pytest_amb.redaction import redact
from pytest_amb.report.results import (
    DEFINITIONS,
    Block,
    blocks,
    contrasts,
    difference_interval_text,
    difference_text,
    endpoints_text,
    evidence_text,
    gloss,
    interval_text,
    legend_metrics,
    llm_parts,
    money_text,
    p_text,
    totals_text,
    unknown_price_text,
    value_text,
)
from pytest_amb.report.terminal import render, transfer_gain_text
from pytest_amb.storage import cut_text

COLUMNS = (("outcome", "Outcome"), ("task", "Task"), ("memory", "Memory"), ("mode", "Mode"), ("phase", "Phase"),
           ("reward", "Reward"), ("steps", "Steps"), ("tokens", "Tokens"))  # fmt: skip
# A sample's verdict in the terminal's words; pytest-html's Result says "Passed" for a wrong answer too (an
# unsolved sample is a result, not a failed test)
OUTCOMES = {"passed": "solved", "failed": "unsolved", "error": "error"}
FIRST_COLUMN = 2  # after pytest-html's Result and Test columns
COLLAPSE_INI = "render_collapsed"  # pytest-html's ini: the outcomes whose rows open collapsed
PYTEST_HTML_COLLAPSED = "passed"  # its default, which leaves a wrong answer's row (a passed test too) open
LONG_TEXT = 12_000  # longer texts are shortened (a journaled record's are already, at storage.TEXT_LIMIT)


class HtmlReport:
    def __init__(self, bench):
        self.bench = bench
        self.payloads: dict[str, dict] = {}  # nodeid -> step result, for the row of the call report

    def pytest_html_report_title(self, report):
        report.title = f"AgentMemoryBench: {self.bench.config.mode} mode, {', '.join(self.bench.config.memories)}"
        if report.config.getini(COLLAPSE_INI) == PYTEST_HTML_COLLAPSED:  # not chosen by the user (or chosen alike)
            report.set_data("renderCollapsed", ["all"])  # every step's row opens its detail panel on a click

    def pytest_html_results_table_header(self, cells):
        cells[FIRST_COLUMN:FIRST_COLUMN] = [
            f'<th class="sortable" data-column-type="{key}">{label}</th>' for key, label in COLUMNS
        ]

    def pytest_html_results_table_row(self, report, cells):
        payload = self.payloads.get(report.nodeid)
        values = row_values(payload, self.bench.config.mode) if payload else {key: "" for key, _ in COLUMNS}
        cells[FIRST_COLUMN:FIRST_COLUMN] = [
            f'<td class="col-{key}{f" amb-{values[key]}" if key == "outcome" and values[key] else ""}">'
            f"{escape(str(values[key]))}</td>"
            for key, _ in COLUMNS
        ]

    def pytest_runtest_logreport(self, report):
        """The step's detail panel rides on its setup report, whose extras pytest-html shows in the row."""
        payload = getattr(report, REPORT_ATTRIBUTE, None)
        if payload is None:
            return
        from pytest_html import extras

        self.payloads[report.nodeid] = payload
        report.extras = [*getattr(report, "extras", []), extras.html(redact(step_html(payload)))]

    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        if self.bench.summary is not None:
            prefix.append(redact(summary_html(self.bench.summary, self.bench.table, self.bench.gate_results,
                                              self.bench.plots, self.bench.comparison)))  # fmt: skip


def row_values(payload: dict, mode: str) -> dict:
    step = payload["step"]
    reward = payload.get("reward")
    return {
        "outcome": OUTCOMES.get(payload["status"], "")
        if step.get("kind") == "sample" or payload["status"] == "error"
        else "",
        "task": step["task"],
        "memory": (payload.get("provenance") or {}).get("memory", ""),
        "mode": mode,
        "phase": step["phase"],
        "reward": "" if reward is None else f"{reward:g}",
        "steps": sum(m.get("role") == "assistant" for m in payload.get("transcript") or []),
        "tokens": payload.get("tokens", 0),
    }


# -- one step ---------------------------------------------------------------------------------------------
def step_html(payload: dict) -> str:
    parts = [f'<div class="amb-step">{_verdict(payload)}']
    if payload.get("memory_block"):
        parts.append(_details("Memory block injected", f"<pre>{escape(shorten(payload['memory_block']))}</pre>"))
    if payload.get("retrieved"):
        parts.append(_details(f"Retrieved items ({len(payload['retrieved'])})", _retrieved(payload["retrieved"])))
    if payload.get("update"):
        parts.append(_details("Memory update", f"<pre>{escape(json.dumps(payload['update'], indent=1))}</pre>"))
    if payload.get("transcript"):
        parts.append(_details(f"Transcript ({len(payload['transcript'])} messages)",
                              _transcript(payload["transcript"]), open_=True))  # fmt: skip
    if payload.get("error"):
        error = payload["error"]
        parts.append(_details(f"Error: {error['kind']}", f"<pre>{escape(error.get('traceback') or error['message'])}</pre>",
                              open_=True))  # fmt: skip
    parts.append("</div>")
    return "".join(parts)


def _verdict(payload: dict) -> str:
    metrics = dict(payload.get("metrics") or {})
    rationale = metrics.pop("judge_rationale", None)
    rows = [
        ("status", payload["status"]),
        ("reward", payload.get("reward")),
        ("explanation", payload.get("explanation")),
    ]
    rows += [(f"metric {key}", value) for key, value in metrics.items()]
    if rationale:
        rows.append(("judge rationale", rationale))
    backend = (payload.get("provenance") or {}).get("task_backend")
    if backend:
        rows.append(("backend", backend))
    body = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in rows if v not in (None, "")
    )
    return f'<table class="amb-kv">{body}</table>'


def _retrieved(items: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{item.get('score', 0):.3f}</td><td>{escape(str(item.get('id', '')))}</td>"
        f"<td><pre>{escape(str(item.get('text', '')))}</pre></td></tr>"
        for item in items
    )
    return f'<table class="amb-kv"><tr><th>score</th><th>id</th><th>text</th></tr>{rows}</table>'


def _transcript(messages: list[dict]) -> str:
    out = []
    for message in messages:
        role = str(message.get("role", "?"))
        body = escape(shorten(_content_text(message.get("content"))))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            body += f'\n<span class="amb-tool">→ {escape(str(function.get("name")))}({escape(str(function.get("arguments")))})</span>'
        label = role + (f" (reply to {message['tool_call_id']})" if message.get("tool_call_id") else "")
        out.append(f'<div class="amb-msg amb-{escape(role)}"><b>{escape(label)}</b><pre>{body}</pre></div>')
    return "".join(out)


def shorten(text: str) -> str:
    return cut_text(text, LONG_TEXT)


def _content_text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(part.get("text", part)) if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def _details(title: str, body: str, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{escape(title)}</summary>{body}</details>"


# -- the run ----------------------------------------------------------------------------------------------
def summary_html(summary: dict, table, gate_results: list, plots: list, comparison) -> str:
    """The run's summary at the top of the report: the per-memory tables and the paired differences (the
    same blocks and number texts as the terminal), then gates, plots and the per-stream details."""
    found = blocks(summary, table)
    parts = [STYLE, '<div class="amb-summary"><h2>AgentMemoryBench</h2>', _preamble(summary)]
    parts += [_block_table(block) for block in found]
    for skipped in summary.get("skipped") or []:
        parts.append(f'<p class="amb-note amb-skipped">{escape(skipped["family"])}: skipped ({skipped["steps"]} steps): '
                     f"{escape(str(skipped['reason']))}</p>")  # fmt: skip
    for gain in summary.get("transfer_gains") or []:
        parts.append(f'<p class="amb-note">{escape(transfer_gain_text(gain))}</p>')
    llm = [" ".join(llm_parts(summary)), unknown_price_text(summary)]
    parts += [f'<p class="amb-llm">{escape(text)}</p>' for text in llm if text]
    parts.append(_differences_table(contrasts(summary, found)))
    shown = legend_metrics(found, table)
    if shown:
        parts.append(
            f'<p class="amb-legend">{escape(" · ".join(gloss(m) for m in shown))}<br>{escape(DEFINITIONS)}</p>'
        )
    totals = summary["totals"]
    parts.append(f"<p>{escape(totals_text(totals))}</p>")
    if gate_results:
        rows = "".join(
            f'<li class="{"amb-pass" if r.passed else "amb-fail"}">{escape(r.describe())}</li>' for r in gate_results
        )
        parts.append(f"<h3>Quality gates</h3><ul>{rows}</ul>")
    if comparison is not None:
        rows = "".join(
            f'<li class="{"amb-pass" if r.passed else "amb-fail"}">{escape(r.describe())}</li>'
            for r in comparison.results
        )
        parts.append(f"<h3>Against baseline {escape(comparison.name)}</h3><ul>{rows}</ul>")
    for plot in plots:
        data = base64.b64encode(plot.png.read_bytes()).decode("ascii")
        parts.append(f'<figure><img class="amb-plot" alt="{escape(plot.title)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{escape(plot.title)} ({escape(plot.svg.name)} in the run directory)</figcaption></figure>")  # fmt: skip
    parts.append("<h3>Per stream</h3>" + _stream_table(summary, table))
    terminal = chr(10).join(render(summary, table, verbose=True))
    parts.append(_details("Full terminal summary", f"<pre>{escape(terminal)}</pre>"))
    parts.append("</div>")
    return "".join(parts)


def _preamble(summary: dict) -> str:
    parts = []
    if (summary.get("config") or {}).get("model") == "oracle":
        parts.append("<p><b>Oracle</b>: the gold solutions were replayed; these numbers check the environment, "
                     "not an agent.</p>")  # fmt: skip
    elif summary.get("reference_model"):
        parts.append(
            "<p><b>Reference model</b>: deterministic, no LLM; these numbers test the harness, not an agent.</p>"
        )
    parts.append(f"<p>mode: {escape(str(summary.get('mode')))}</p>")
    endpoints = endpoints_text(summary)
    if endpoints:
        parts.append(f'<p class="amb-endpoints">{escape(endpoints)}</p>')
    partial = summary.get("partial")
    if partial:
        parts.append(f'<p class="amb-fail">PARTIAL: {partial["missing"]} of {partial["steps"]} steps have no result; '
                     f"finish it with <code>{escape(partial['command'])}</code></p>")  # fmt: skip
    return "".join(parts)


def _cells(values, tag: str = "td") -> str:
    return "".join(f"<{tag}>{escape(str(v))}</{tag}>" for v in values)


def _block_table(block: Block) -> str:
    head = ["memory", "n"]
    if block.headline is not None:
        head += [block.headline.label, "95% CI"]
    head += [s.label for s in block.columns] + ["errors", "tokens", *(["cost"] if block.shows_cost else []), "wall"]
    rows = []
    for row in block.rows:
        cells = [block.memory_label(row), block.n(row)]
        if block.headline is not None:
            metric = block.headline.metric
            cells += [value_text(metric, block.value(row, metric)), interval_text(metric, block.interval(row))]
        cells += [value_text(s.metric, block.value(row, s.metric)) for s in block.columns]
        cells += [row.get("errors", 0), f"{row.get('tokens', 0):,}"]
        cells += [money_text(row.get("cost_usd"))] if block.shows_cost else []
        cells.append(f"{row.get('wall_s', 0.0):.1f}s")
        rows.append(f"<tr>{_cells(cells)}</tr>")
    caption = block.family + (f": {block.streams_per_memory}" if block.streams_per_memory else "")
    foot = "".join(f'<p class="amb-note">{escape(note)}</p>' for note in block.notes)
    return (f'<table class="amb-memories"><caption>{escape(caption)}</caption><thead><tr>{_cells(head, "th")}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table>{foot}")  # fmt: skip


def _differences_table(found: list) -> str:
    if not found:
        return ""
    rows = []
    for contrast in found:
        for n, difference in enumerate(contrast.differences):
            entry, metric = difference.entry, difference.shown.metric
            interval = difference_interval_text(metric, entry.get("ci95")) + (" *" if difference.excludes_zero else "")
            cells = [contrast.family if n == 0 else "", contrast.memory if n == 0 else "", difference.shown.label,
                     difference_text(metric, entry.get("difference")), interval, p_text(entry.get("p_value")),
                     evidence_text(entry)]  # fmt: skip
            marked = ' class="amb-significant"' if difference.excludes_zero else ""
            rows.append(f"<tr{marked}>{_cells(cells)}</tr>")
    head = _cells(["task", "memory", "metric", "difference", "95% CI", "p", "pairs"], "th")
    reference = escape(found[0].reference)
    return (f"<h3>Difference to {reference}</h3><p>Paired on the same samples; * the 95% interval excludes 0; "
            f"p: McNemar's exact test (pass/fail metrics).</p>"
            f'<table class="amb-differences"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')  # fmt: skip


def _stream_table(summary: dict, table) -> str:
    header = ("stream", "n", *(m.label for _, m in table.columns), "mode metrics", "errors", "tokens")
    rows = []
    for stream in summary["streams"]:
        cells = (stream["stream"], stream["success"]["n"], *(m.show(a.value(m, stream)) for a, m in table.columns),
                 _other_metrics(stream, table), stream["errors"], stream["tokens"]["total"])  # fmt: skip
        rows.append(f"<tr>{_cells(cells)}</tr>")
    return f'<table class="amb-metrics"><thead><tr>{_cells(header, "th")}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _other_metrics(stream: dict, table) -> str:
    """The metrics that are not columns (the mode's), with a value in this stream."""
    parts = []
    for aggregate in table.aggregates:
        for metric in aggregate.metrics:
            value = aggregate.value(metric, stream)
            if not metric.column and value is not None:
                parts.append(f"{metric.label} {metric.show(value)}")
    return "; ".join(parts) or "-"


# Text colours meet WCAG AA (at least 4.5:1) on white and on the tables' header background; the second
# half overrides pytest-html's own light greys, orange and red, which do not. The body is a column of
# flex items so the environment table (pytest-html puts it first) comes after the results.
STYLE = """<style>
body{display:flex;flex-direction:column;color:#333}#environment-header,#environment{order:1}footer{order:2}
.amb-step pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px}
.amb-step details{margin:4px 0}.amb-step summary{cursor:pointer;font-weight:bold}
.amb-kv th{text-align:left;padding-right:8px;vertical-align:top}.amb-kv td{vertical-align:top}
.amb-msg{border-left:3px solid #767676;padding-left:6px;margin:4px 0}.amb-user{border-color:#1f77b4}
.amb-assistant{border-color:#2ca02c}.amb-tool{color:#7a4a3f}.amb-system{border-color:#aaa}
.amb-summary{color:#1a1a1a;font-size:13px}.amb-summary caption{text-align:left;font-weight:bold;padding:4px 0}
.amb-memories,.amb-differences,.amb-metrics{border-collapse:collapse;margin:6px 0 2px}
.amb-memories td,.amb-memories th,.amb-differences td,.amb-differences th,.amb-metrics td,.amb-metrics th{border:1px solid #c4c4c4;padding:2px 6px;color:#1a1a1a}
.amb-memories th,.amb-differences th,.amb-metrics th{background:#eef1f5;text-align:left}
.amb-memories td,.amb-differences td{font-variant-numeric:tabular-nums}
.amb-memories td:not(:first-child),.amb-differences td:nth-child(4){text-align:right}.amb-significant td{font-weight:bold}
.amb-note,.amb-legend,.amb-llm,.amb-endpoints{color:#444;margin:2px 0}.amb-skipped{white-space:pre-wrap}
.amb-pass,.amb-solved{color:#1b5e20}.amb-unsolved{color:#8a5300}.amb-error{color:#b3261e}.amb-fail{color:#b3261e;font-weight:bold}img.amb-plot{max-width:100%;border:1px solid #ddd}
#results-table{color:#333}a{color:#0645ad}
span.passed,.passed .col-result{color:#1b5e20}
span.skipped,span.xfailed,span.rerun,.skipped .col-result,.xfailed .col-result,.rerun .col-result{color:#8a5300}
span.error,span.failed,span.xpassed,.error .col-result,.failed .col-result,.xpassed .col-result{color:#b3261e}
.filters button,.collapse button{color:#4a4a4a}
.collapsible td:not(.col-links):hover::after,#environment-header h2:hover::after{color:#595959}
</style>"""
