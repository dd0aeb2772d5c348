"""The pieces of the HTML report that need no browser: escaping of every model-written field, shortening
of texts too long for a page (with their full length and SHA-256, as the journal cuts them), the run's
summary (per-memory tables first, the same numbers as the terminal), colour contrast, collapsed rows."""

import re
from types import SimpleNamespace

import pytest
from pytest_html.report_data import ReportData

from pytest_amb.report.html import LONG_TEXT, STYLE, HtmlReport, row_values, shorten, step_html, summary_html
from pytest_amb.report.terminal import render
from tests.unit.test_terminal_report import LONG_REASON, ONLINE, THREE, summary_of

HOSTILE = "<script>alert(1)</script>"


def _payload(**overrides):
    payload = {
        "step": {"task": "locomo/x", "phase": "online", "stream": "m/locomo/x", "position": 1, "kind": "sample"},
        "status": "failed", "reward": 0.0, "explanation": HOSTILE, "metrics": {"judge_rationale": HOSTILE},
        "memory_block": HOSTILE, "retrieved": [{"id": HOSTILE, "text": HOSTILE, "score": 0.5}],
        "update": {"reason": HOSTILE}, "provenance": {"memory": "m"}, "tokens": 7,
        "transcript": [{"role": "user", "content": HOSTILE},
                       {"role": "assistant", "content": None,
                        "tool_calls": [{"function": {"name": HOSTILE, "arguments": HOSTILE}}]},
                       {"role": "tool", "tool_call_id": HOSTILE, "content": HOSTILE}],
    }  # fmt: skip
    return {**payload, **overrides}


def test_every_field_written_by_a_model_or_memory_is_escaped():
    html = step_html(_payload())
    assert "<script>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10


def test_row_values_count_agent_turns_and_tokens_and_name_the_outcome():
    assert row_values(_payload(), "online") == {"outcome": "unsolved", "task": "locomo/x", "memory": "m",
                                                "mode": "online", "phase": "online", "reward": "0", "steps": 1,
                                                "tokens": 7}  # fmt: skip
    inject = {"task": "locomo/x", "phase": "online", "stream": "m/locomo/x", "position": 0, "kind": "inject"}
    assert row_values(_payload(status="passed", reward=1.0), "online")["outcome"] == "solved"
    assert row_values(_payload(step=inject, status="passed"), "online")["outcome"] == ""
    assert row_values(_payload(step=inject, status="error", reward=None), "online")["outcome"] == "error"


def test_long_texts_are_shortened_with_their_full_length_and_sha256():
    text = "a" * (LONG_TEXT * 3)
    short = shorten(text)
    assert len(short) <= LONG_TEXT and f"the full text has {LONG_TEXT * 3:,} characters, sha256 " in short
    assert shorten("short") == "short"


# -- the run's summary at the top of the report ------------------------------------------------------------


def _summary_page(summary) -> str:
    return summary_html(summary, ONLINE, gate_results=[], plots=[], comparison=None)


def test_the_summary_opens_with_the_per_memory_table_then_the_comparison_then_the_streams():
    html = _summary_page(summary_of(THREE, unlearned="awm_pro"))
    tables = re.findall(r'<table class="([\w-]+)"', html)
    assert tables == ["amb-memories", "amb-differences", "amb-metrics"]
    first = html[html.index("<table") : html.index("</table>")]
    assert "<caption>locomo: 2 streams per memory</caption>" in first
    assert "<th>ASR=judge=CSR</th><th>95% CI</th>" in first and "<td>awm_pro †</td>" in first
    assert html.index("AS = 1.0 in every row") < html.index('<table class="amb-differences">')
    assert "† awm_pro&#x27;s memory never changed on locomo" in html


def test_the_summary_shows_the_same_numbers_as_the_terminal():
    summary = summary_of(THREE)
    html, terminal = _summary_page(summary), "\n".join(render(summary, ONLINE))
    for text in ("47.4%", "[39.4, 55.4]", "+12.4 pp", "[5.4, 19.4] *", "0.0012", "25 better, 4 worse of 171",
                 "1 stream pair (no interval)", "63,626", "12.5s", "SL stability loss (lower is better)",
                 "definitions: docs/metrics.md", "35 solved, 33 unsolved, 0 errors"):  # fmt: skip
        assert text in terminal and text in html, text
    assert html.count('<tr class="amb-significant">') == 2  # the two headline differences whose interval excludes 0


def test_every_text_of_the_summary_from_outside_is_escaped():
    summary = summary_of({"zero_shot": 0.3, HOSTILE: 0.4}, unlearned=HOSTILE,
                         skipped=[{"family": "os", "steps": 3, "reason": HOSTILE + LONG_REASON}])  # fmt: skip
    summary["memories"][1]["note"] = HOSTILE
    html = _summary_page(summary)
    assert "<script>" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


def _contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        colour = colour.lstrip("#")
        colour = "".join(c * 2 for c in colour) if len(colour) == 3 else colour
        channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_text_colour_of_the_report_meets_wcag_aa_on_its_backgrounds():
    colours = re.findall(r"(?<![-\w])color:(#[0-9a-fA-F]{3,6})", STYLE)
    backgrounds = ["#ffffff", *re.findall(r"background:(#[0-9a-fA-F]{3,6})", STYLE)]
    assert len(colours) >= 10 and len(backgrounds) >= 2
    weak = [(c, b, round(_contrast(c, b), 2)) for c in colours for b in backgrounds if _contrast(c, b) < 4.5]
    assert not weak, weak
    assert _contrast("#999999", "#ffffff") < 4.5  # pytest-html's grey, which STYLE overrides, would fail


def _html_config(render_collapsed="passed"):
    values = {"render_collapsed": render_collapsed, "initial_sort": "result"}
    return SimpleNamespace(getini=values.get)


@pytest.mark.parametrize("ini, expected", [("passed", ["all"]), ("failed", ["failed"]), ("all", ["all"])])
def test_the_step_rows_open_collapsed_unless_the_user_chose_otherwise(ini, expected):
    report = ReportData(_html_config(ini))
    bench = SimpleNamespace(config=SimpleNamespace(mode="online", memories=("stream_icl",)))
    HtmlReport(bench).pytest_html_report_title(report)
    assert report.title == "AgentMemoryBench: online mode, stream_icl"
    assert report.data["renderCollapsed"] == expected
