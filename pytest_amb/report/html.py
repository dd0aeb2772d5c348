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
from pytest_amb.report.terminal import points, render
from pytest_amb.storage import cut_text

COLUMNS = (("task", "Task"), ("memory", "Memory"), ("mode", "Mode"), ("phase", "Phase"),
           ("reward", "Reward"), ("steps", "Steps"), ("tokens", "Tokens"))  # fmt: skip
FIRST_COLUMN = 2  # after pytest-html's Result and Test columns
LONG_TEXT = 12_000  # longer texts are shortened (a journaled record's are already, at storage.TEXT_LIMIT)


class HtmlReport:
    def __init__(self, bench):
        self.bench = bench
        self.payloads: dict[str, dict] = {}  # nodeid -> step result, for the row of the call report

    def pytest_html_report_title(self, report):
        report.title = f"AgentMemoryBench: {self.bench.config.mode} mode, {', '.join(self.bench.config.memories)}"

    def pytest_html_results_table_header(self, cells):
        cells[FIRST_COLUMN:FIRST_COLUMN] = [
            f'<th class="sortable" data-column-type="{key}">{label}</th>' for key, label in COLUMNS
        ]

    def pytest_html_results_table_row(self, report, cells):
        payload = self.payloads.get(report.nodeid)
        values = row_values(payload, self.bench.config.mode) if payload else {key: "" for key, _ in COLUMNS}
        cells[FIRST_COLUMN:FIRST_COLUMN] = [
            f'<td class="col-{key}">{escape(str(values[key]))}</td>' for key, _ in COLUMNS
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
    parts = [STYLE, '<div class="amb-summary"><h2>AgentMemoryBench</h2>', _metric_table(summary, table)]
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
    parts.append(_details("Full terminal summary", f"<pre>{escape(chr(10).join(render(summary, table)))}</pre>"))
    parts.append("</div>")
    return "".join(parts)


def _metric_table(summary: dict, table) -> str:
    header = ("stream", "n", *(m.label for _, m in table.columns), "mode metrics", "errors", "tokens")
    rows = []
    for stream in summary["streams"]:
        cells = (stream["stream"], stream["success"]["n"], *(m.show(a.value(m, stream)) for a, m in table.columns),
                 _other_metrics(stream, table), stream["errors"], stream["tokens"]["total"])  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    for gain in summary.get("transfer_gains") or []:
        rows.append(f'<tr><td colspan="{len(header)}">TG {escape(gain["stream"])} → {escape(gain["target"])}: '
                    f"{escape(points(gain['tg']))}</td></tr>")  # fmt: skip
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    note = ""
    if summary.get("reference_model"):
        note = "<p><b>Reference model</b>: deterministic, no LLM; these numbers test the harness, not an agent.</p>"
    return f'{note}<p>mode: {escape(str(summary.get("mode")))}</p><table class="amb-metrics"><tr>{head}</tr>{"".join(rows)}</table>'


def _other_metrics(stream: dict, table) -> str:
    """The metrics that are not columns (the mode's), with a value in this stream."""
    parts = []
    for aggregate in table.aggregates:
        for metric in aggregate.metrics:
            value = aggregate.value(metric, stream)
            if not metric.column and value is not None:
                parts.append(f"{metric.label} {metric.show(value)}")
    return "; ".join(parts) or "-"


STYLE = """<style>
.amb-step pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px}
.amb-step details{margin:4px 0}.amb-step summary{cursor:pointer;font-weight:bold}
.amb-kv th{text-align:left;padding-right:8px;vertical-align:top}.amb-kv td{vertical-align:top}
.amb-msg{border-left:3px solid #999;padding-left:6px;margin:4px 0}.amb-user{border-color:#1f77b4}
.amb-assistant{border-color:#2ca02c}.amb-tool{color:#8c564b}.amb-system{border-color:#aaa}
.amb-metrics{border-collapse:collapse;margin:6px 0}.amb-metrics td,.amb-metrics th{border:1px solid #ccc;padding:2px 6px}
.amb-pass{color:#2a7d2a}.amb-fail{color:#c0392b;font-weight:bold}img.amb-plot{max-width:100%;border:1px solid #ddd}
</style>"""
