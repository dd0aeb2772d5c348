"""The pytest-html report, read the way a person reads it: rendered by a real headless Chromium.

The agent here is a scripted OpenAI-compatible server on loopback that answers every question with
markup that would run if it were inserted unescaped (it stands in for a paid model, which is the one
boundary we cannot reach in a test). The report must show that answer as text, run none of it, open with
the per-memory table and the comparison (the first tables on the page as laid out), keep the step rows
collapsed, and still carry the plots and an expanded transcript on request.
"""

import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HOSTILE = (
    "<script>document.body.dataset.pwned='script'</script><img src=x onerror=\"document.body.dataset.pwned='img'\">"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _HostileModel(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "hostile",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": HOSTILE}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _chromium(*args, timeout=60):
    if CHROMIUM is None:
        if os.environ.get("AMB_REQUIRE_BROWSER") == "1":
            pytest.fail("AMB_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install -y chromium)")
        pytest.skip("no chromium on this machine (apt-get install -y chromium)")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=10000", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)


# Appended to a copy of the report: after pytest-html's own script has laid the page out, the tables a reader
# sees, top to bottom (class or id), go into an attribute of <body> that --dump-dom shows.
TABLES_IN_VIEW = """<script>window.addEventListener("load", () => {
  const seen = [...document.querySelectorAll("table")].filter((t) => t.getBoundingClientRect().height > 0);
  seen.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
  document.body.dataset.tablesInView = seen.map((t) => t.className || t.id).join(" ");
});</script>"""


def _tables_in_view(report) -> list[str]:
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", TABLES_IN_VIEW + "</body>"), "utf-8")
    dom = _chromium("--window-size=1400,2400", "--dump-dom", probe.as_uri()).stdout
    body = dom.split("<body", 1)[1].split(">", 1)[0]
    return body.split('data-tables-in-view="', 1)[1].split('"', 1)[0].split()


def test_the_report_shows_hostile_answers_as_text_with_summary_plots_and_transcripts(pytester, hostile_endpoint):
    report = pytester.path / "report.html"
    result = pytester.runpytest(
        "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider", "-n", "2",
        "--amb-task=locomo", "--amb-memory=zero_shot,stream_icl", "--amb-limit=8", "--amb-model=hostile",
        f"--amb-base-url={hostile_endpoint}", "--amb-judge-model=reference",
        f"--amb-run-dir={pytester.path / 'runs'}", f"--html={report}", "--self-contained-html",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    (run,) = (pytester.path / "runs").iterdir()
    assert (run / "plots" / "csr.png").stat().st_size > 10_000 and (run / "plots" / "csr.svg").exists()

    dom = _chromium("--dump-dom", f"{report.as_uri()}?collapsed=").stdout  # ?collapsed= : every row expanded
    assert "pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # neither the script nor the onerror ran
    assert '<img src="x"' not in dom  # the markup became text, not elements...
    assert "&lt;script&gt;document.body.dataset.pwned='script'&lt;/script&gt;&lt;img src=x" in dom  # ...shown as text
    # the summary: the per-memory table, the comparison, the per-stream table, a plot, the title
    assert "AgentMemoryBench: online mode, zero_shot, stream_icl" in dom
    assert "<caption>locomo: 2 streams per memory</caption>" in dom and "<td>stream_icl</td>" in dom
    assert "<h3>Difference to zero_shot</h3>" in dom and "<td>stream_icl</td><td>ASR=" in dom
    assert '<table class="amb-metrics">' in dom and "stream_icl/locomo/amb-sample-1" in dom
    assert '<img class="amb-plot" alt="Cumulative success rate (CSR)' in dom and "data:image/png;base64," in dom
    # the benchmark columns and an expanded detail panel with the transcript and the judge's rationale
    for header in ("Outcome", "Task", "Memory", "Mode", "Phase", "Reward", "Steps", "Tokens"):
        assert f'data-column-type="{header.lower()}">{header}</th>' in dom
    assert '<td class="col-task">locomo/amb-sample-1</td>' in dom and '<td class="col-memory">stream_icl</td>' in dom
    assert '<td class="col-outcome amb-unsolved">unsolved</td>' in dom  # the hostile answer is wrong
    assert '<details open=""><summary>Transcript (' in dom and "judge rationale" in dom
    assert 'class="extras-row hidden"' not in dom

    # as a reader opens it: the per-memory table and the comparison first, every step's row collapsed
    tables = _tables_in_view(report)
    assert tables[:3] == ["amb-memories", "amb-differences", "amb-metrics"], tables
    assert tables.index("results-table") < tables.index("environment")  # pytest-html's environment last
    opened = _chromium("--dump-dom", report.as_uri()).stdout
    results = opened.split('<table id="results-table"', 1)[1]  # after the row templates
    rows = results.count('<tbody class="results-table-row')
    assert rows >= 16 and results.count('class="extras-row hidden"') == rows

    screenshot = pytester.path / "report.png"
    _chromium("--window-size=1400,2400", f"--screenshot={screenshot}", f"{report.as_uri()}?collapsed=")
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("AMB_KEEP_SCREENSHOT")
    if keep:  # to look at it: AMB_KEEP_SCREENSHOT=/tmp/report.png pytest tests/integration/test_html_report.py
        shutil.copy(screenshot, keep)
