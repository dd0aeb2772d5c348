"""Cost in money and the response cache's hits and misses: from the journaled LLM calls of step results
through ``summarize`` (per stream, per memory row, run-wide ``llm``) to the terminal and the HTML report.

A hand-built run with the bundled gpt-4o-mini price (USD per million tokens: input 0.15, cached input 0.075,
output 0.60) and one model without a price ("my-llama"):

    cheap/fam/x/seed1  q1  agent  20,000 prompt, 5,000 completion   cache miss   0.003 + 0.003            = $0.006
                           judge  replayed from the response cache   cache hit                             $0
                       q2  agent  replayed                           cache hit                             $0
                           agent  40,000 prompt (20,000 cached), 1,000 completion, miss
                                                       20,000·0.15 + 20,000·0.075 + 1,000·0.6 = 5,100/1e6 = $0.0051
                           judge  10,000 prompt, 100 completion      cache miss   (1,500 + 60)/1e6         = $0.00156
                       stream: $0.01266; agent $0.0111 (1 hit, 2 misses), judge $0.00156 (1 hit, 1 miss)
    local/fam/x/seed1  q1  agent  1,000,000 prompt                   no lookup (an old journal's call)     = $0.15
                           memory my-llama 500 prompt, 50 completion                                       = unknown
"""

import json

import pytest

from pytest_amb.llm.pricing import PriceTable
from pytest_amb.metrics.core import CURVES, SUCCESS
from pytest_amb.metrics.table import merge
from pytest_amb.report.grid import WIDTH
from pytest_amb.report.html import summary_html
from pytest_amb.report.results import money_text
from pytest_amb.report.summary import summarize
from pytest_amb.report.terminal import render
from pytest_amb.verdict import conclude
from tests.unit.test_terminal_report import ONLINE, THREE, summary_of

TABLE = merge((SUCCESS,), (CURVES,))
HOSTILE = "<script>alert(1)</script>"


def call(purpose, prompt, completion, *, model="gpt-4o-mini", cached=0, lookup=True, hit=False, old=False):
    record = {"purpose": purpose, "operation": "", "model": model, "endpoint": "openai-compatible",
              "prompt_tokens": prompt, "completion_tokens": completion, "latency_s": 0.1}  # fmt: skip
    if not old:  # a journal written before the response cache lacks these three keys
        record.update({"cached_prompt_tokens": cached, "from_cache": hit, "cache_lookup": lookup})
    return record


def result(memory: str, position: int, calls: list[dict]) -> dict:
    stream = f"{memory}/fam/x/seed1"
    return {
        "step": {"id": f"{stream}/{position:04d}", "stream": stream, "position": position, "task": "fam/x",
                 "kind": "sample", "sample_id": f"q{position}", "phase": "online", "augment": True, "update": True,
                 "stage": 0},
        "status": "passed", "success": True, "reward": 1.0, "metrics": {},
        "transcript": [{"role": "user"}, {"role": "assistant"}], "llm_calls": calls, "wall_s": 0.5,
        "provenance": {"memory": memory, "task_backend": "in-process", "memory_state": {"read": "A", "wrote": "B"}},
        "memory_cost": {}, "update": {"stored": True},
    }  # fmt: skip


CHEAP = [
    result("cheap", 1, [call("agent", 20_000, 5_000), call("judge", 10_000, 100, hit=True)]),
    result("cheap", 2, [call("agent", 40_000, 1_000, cached=20_000, hit=True),
                        call("agent", 40_000, 1_000, cached=20_000), call("judge", 10_000, 100)]),
]  # fmt: skip
LOCAL = [result("local", 1, [call("agent", 1_000_000, 0, old=True),
                              call("memory", 500, 50, model="my-llama", old=True)])]  # fmt: skip
ENDPOINTS = [
    {"role": "agent", "model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1",
     "key_variable": "OPENAI_API_KEY"},
    {"role": "judge", "model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1",
     "key_variable": "OPENAI_API_KEY"},
    {"role": "memory", "model": "my-llama", "base_url": "http://127.0.0.1:8000/v1", "key_variable": None},
]  # fmt: skip
RUN = {"config": {"memories": ["cheap", "local"], "mode": "online"}, "families": {"fam/x": "fam"},
       "endpoints": ENDPOINTS, "cache": {"mode": "readwrite", "directory": "/tmp/amb-cache"},
       "budget_usd": 1.0}  # fmt: skip


@pytest.fixture(scope="module")
def summary():
    return summarize(CHEAP + LOCAL, RUN, TABLE)


# -- summary.json ------------------------------------------------------------------------------------------
def test_a_stream_costs_its_hand_computed_dollars_and_counts_cache_hits_and_misses(summary):
    cheap = next(s for s in summary["streams"] if s["memory"] == "cheap")["cost"]
    assert cheap["usd"] == pytest.approx(0.006 + 0.0051 + 0.00156)
    agent, judge = cheap["per_purpose"]["agent"], cheap["per_purpose"]["judge"]
    assert agent["cost_usd"] == pytest.approx(0.0111) and (agent["calls"], agent["replayed"]) == (3, 1)
    # replayed answers bill no tokens: 20,000 + 40,000 prompt tokens, of which 20,000 were the provider's cache
    tokens = (agent["prompt_tokens"], agent["cached_prompt_tokens"], agent["completion_tokens"])
    assert tokens == (60_000, 20_000, 6_000)
    assert judge["cost_usd"] == pytest.approx(0.00156) and judge["replayed"] == 1
    assert cheap["cache"] == {"agent": {"hits": 1, "misses": 2}, "judge": {"hits": 1, "misses": 1}}


def test_an_unknown_price_is_unknown_never_zero(summary):
    local = next(s for s in summary["streams"] if s["memory"] == "local")["cost"]
    assert local["usd"] is None
    assert local["per_purpose"]["agent"]["cost_usd"] == pytest.approx(0.15)
    assert local["per_purpose"]["memory"]["cost_usd"] is None
    assert local["per_purpose"]["memory"]["unknown_models"] == ["my-llama"]
    # an old journal's calls have no cache keys: neither hits nor misses
    assert local["cache"] == {"agent": {"hits": 0, "misses": 0}, "memory": {"hits": 0, "misses": 0}}


def test_memory_rows_sum_their_streams_and_stay_unknown_with_one_unknown_price(summary):
    rows = {r["memory"]: r for r in summary["memories"]}
    assert rows["cheap"]["cost_usd"] == pytest.approx(0.01266)
    assert rows["local"]["cost_usd"] is None


def test_the_run_level_llm_block(summary):
    llm = summary["llm"]
    assert summary["schema_version"] == 4
    assert llm["cost_usd"] is None and llm["unknown_models"] == ["my-llama"]
    agent, judge, memory = (llm["per_purpose"][p] for p in ("agent", "judge", "memory"))
    assert agent["cost_usd"] == pytest.approx(0.1611) and (agent["calls"], agent["hits"], agent["misses"]) == (4, 1, 2)
    assert judge["cost_usd"] == pytest.approx(0.00156) and (judge["hits"], judge["misses"]) == (1, 1)
    assert memory["cost_usd"] is None and (memory["calls"], memory["hits"], memory["misses"]) == (1, 0, 0)
    assert llm["endpoints"] == ENDPOINTS and llm["cache"] == RUN["cache"] and llm["budget_usd"] == 1.0
    json.dumps(summary)  # summary.json is JSON


def test_a_run_without_endpoint_cache_or_budget_metadata_still_summarizes():
    llm = summarize(CHEAP, {}, TABLE)["llm"]
    assert (llm["endpoints"], llm["cache"], llm["budget_usd"]) == ([], None, None)
    assert llm["cost_usd"] == pytest.approx(0.01266)


def test_a_user_price_table_reaches_the_summary_through_conclude(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"my-llama": {"input": 0.2, "output": 0.2}}}), encoding="utf-8")
    outcome = conclude(CHEAP + LOCAL, RUN, TABLE, [], None, None, prices=PriceTable.load(path))
    rows = {r["memory"]: r for r in outcome.summary["memories"]}
    assert rows["local"]["cost_usd"] == pytest.approx(0.15 + 550 * 0.2 / 1e6)
    assert outcome.summary["llm"]["cost_usd"] == pytest.approx(0.01266 + 0.15011)
    assert outcome.summary["llm"]["unknown_models"] == []


def test_the_reference_model_costs_nothing_not_unknown():
    calls = [call("agent", 900, 40, model="reference", lookup=False), call("judge", 300, 5, model="reference",
                                                                          lookup=False)]  # fmt: skip
    summary = summarize([result("ref", 1, calls)], {"config": {"memories": ["ref"]}}, TABLE)
    assert summary["memories"][0]["cost_usd"] == 0.0 and summary["llm"]["cost_usd"] == 0.0
    assert summary["llm"]["unknown_models"] == []
    lines = render(summary, TABLE)
    assert "LLM: agent 1 call $0.00, judge 1 call $0.00; total $0.00" in lines
    assert not any("cache" in line or "unknown" in line for line in lines)  # the cache was off and never consulted


# -- the texts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("usd", "text"),
    [(None, "unknown"), (0.0, "$0.00"), (0.42, "$0.42"), (0.0031, "$0.0031"), (0.00156, "$0.0016"),
     (0.00004, "<$0.0001"), (0.01, "$0.01"), (1234.5, "$1,234.50")],
)  # fmt: skip
def test_money_texts(usd, text):
    assert money_text(usd) == text


# -- the terminal ------------------------------------------------------------------------------------------
def llm_line(lines: list[str]) -> str:
    """The LLM line, its wrapped continuation (indented) joined back."""
    start = next(n for n, line in enumerate(lines) if line.startswith("LLM: "))
    end = next(n for n in range(start + 1, len(lines) + 1) if n == len(lines) or not lines[n].startswith("    "))
    return " ".join(line.strip() for line in lines[start:end])


def test_the_terminal_shows_cost_per_memory_the_llm_line_and_the_endpoints(summary):
    lines = render(summary, TABLE)
    assert all(len(line) <= WIDTH for line in lines), [line for line in lines if len(line) > WIDTH]
    start = lines.index("fam: 1 stream per memory")
    header, cheap, local = (line.split() for line in lines[start + 1 : start + 4])
    assert header[-3:] == ["tokens", "cost", "wall"] and (cheap[0], local[0]) == ("cheap", "local")
    assert cheap[-2] == "$0.01" and local[-2] == "unknown"
    assert llm_line(lines) == ("LLM: agent 4 calls $0.16, judge 2 calls $0.0016, memory 1 call unknown; "
                               "total unknown of a budget of $1.00; cache (readwrite): 2 hits, 3 misses (40%)")
    assert "cost unknown for model 'my-llama': add it with --amb-prices FILE" in lines
    assert lines[lines.index("mode: online") + 1 :][:4] == [
        "endpoints:", "  agent gpt-4o-mini @ https://api.openai.com/v1",
        "  judge gpt-4o-mini @ https://api.openai.com/v1", "  memory my-llama @ http://127.0.0.1:8000/v1"]  # fmt: skip
    verbose = render(summary, TABLE, verbose=True)
    assert any(line.startswith("cheap/fam/x/seed1: 0 errors, ") and ", $0.01, " in line for line in verbose)


def test_endpoints_on_one_line_when_they_fit_and_never_with_a_password():
    summary = summary_of({"stream_icl": 0.4})
    summary["llm"]["endpoints"] = [
        {"role": "agent", "model": "gpt-4o", "base_url": "https://u:hunter2pass@proxy.example/v1"},
        {"role": "judge", "model": "reference", "base_url": "http://127.0.0.1:40111/v1"},
    ]  # fmt: skip
    lines = render(summary, ONLINE)
    assert "endpoints: agent gpt-4o @ https://u:***@proxy.example/v1, judge reference" in lines
    assert not any("hunter2pass" in line for line in lines)


def test_endpoints_inside_pytest_amb_are_not_listed():
    summary = summary_of({"stream_icl": 0.4})
    summary["llm"]["endpoints"] = [
        {"role": "agent", "model": "oracle", "base_url": None},
        {"role": "judge", "model": "reference", "base_url": "http://127.0.0.1:1/v1"},
    ]
    assert not any(line.startswith("endpoints") for line in render(summary, ONLINE))


@pytest.mark.parametrize(
    ("cache", "hits", "misses", "expected"),
    [(None, 0, 0, None), ({"mode": "off"}, 0, 0, None), ({"mode": "auto"}, 0, 0, None),
     ({"mode": "write"}, 0, 0, "cache (write): 0 hits, 0 misses"),
     ({"mode": "auto"}, 4, 0, "cache (auto): 4 hits, 0 misses (100%)"),
     ({"mode": "read"}, 1, 2, "cache (read): 1 hit, 2 misses (33%)"),
     ({"mode": "readwrite"}, 183, 1, "cache (readwrite): 183 hits, 1 miss (99%)")],
)  # fmt: skip
def test_the_cache_part_only_when_the_cache_was_on_or_consulted(cache, hits, misses, expected):
    summary = summary_of({"stream_icl": 0.4})
    summary["llm"]["cache"] = cache
    summary["llm"]["per_purpose"]["agent"].update({"hits": hits, "misses": misses})
    text = llm_line(render(summary, ONLINE))
    assert (text.split("; ")[-1] if "cache" in text else None) == expected


def test_a_summary_from_before_costs_shows_no_cost_column_and_no_llm_line():
    summary = summary_of(THREE)
    del summary["llm"]
    for row in summary["memories"]:
        del row["cost_usd"]
    lines = render(summary, ONLINE, verbose=True)
    headers = [line for line in lines if line.split()[:2] == ["memory", "n"]]
    assert headers and not any("cost" in line.split() for line in headers)
    assert not any(line.startswith("LLM") for line in lines)
    assert "<th>cost</th>" not in summary_html(summary, ONLINE, gate_results=[], plots=[], comparison=None)


# -- the HTML report ---------------------------------------------------------------------------------------
def test_the_html_summary_has_the_cost_column_the_llm_lines_and_the_endpoints_escaped(summary):
    summary = json.loads(json.dumps(summary))
    summary["llm"]["endpoints"][2]["model"] = HOSTILE
    summary["llm"]["unknown_models"] = [HOSTILE]
    html = summary_html(summary, TABLE, gate_results=[], plots=[], comparison=None)
    table = html[html.index('<table class="amb-memories">') : html.index("</table>")]
    assert "<th>tokens</th><th>cost</th><th>wall</th>" in table
    assert "<td>$0.01</td>" in table and "<td>unknown</td>" in table
    assert ("LLM: agent 4 calls $0.16, judge 2 calls $0.0016, memory 1 call unknown; total unknown of a budget of "
            "$1.00; cache (readwrite): 2 hits, 3 misses (40%)") in html  # fmt: skip
    assert "endpoints: agent gpt-4o-mini @ https://api.openai.com/v1" in html
    assert "<script>" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
