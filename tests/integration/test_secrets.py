"""No secret is ever printed or written (issue 14, item 3).

A fault server on loopback answers every call with a 401 or a 500 whose error body echoes the credentials it
received: the Authorization header, and the user and password it decodes from HTTP basic auth. The run gets a
password in ``--amb-base-url`` and an API key in the environment, writes every report there is (run directory,
JUnit XML, HTML report, a saved baseline), and then every file it wrote and its terminal output are searched
for the password, the key and the encoded credentials: none may appear.
"""

import base64
import json

import pytest

from pytest_amb.journal import read_steps
from tests.support.scripted_endpoint import ScriptedEndpoint

USER = "amb-user"
PASSWORD = "S3cret-Passw0rd-amb"
KEY = "sk-amb-TOPSECRET-0123456789"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, KEY, BASIC)


def _echo_credentials(request):
    auth = request.headers.get("authorization", "")
    decoded = ""
    if auth.startswith("Basic "):
        decoded = base64.b64decode(auth.split()[1]).decode()
    status = 500 if (request.number // 4) % 2 else 401  # 4 calls answered 401, then a call retried on 500, ...
    message = (
        f"Incorrect credentials '{auth}' (user:password {decoded!r}) at http://{decoded}@{request.headers['host']}"
    )
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}


@pytest.fixture
def leaky_endpoint():
    server = ScriptedEndpoint(_echo_credentials).start()
    yield server
    server.stop()


def _written_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("credentials", "workers"),
    [("password in the base URL", "2"), ("API key", "0")],
)
def test_no_secret_in_any_file_the_run_writes_or_in_its_output(pytester, monkeypatch, leaky_endpoint, credentials,
                                                                 workers):  # fmt: skip
    if credentials == "API key":
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        base_url = leaky_endpoint.url()
    else:
        monkeypatch.setenv("AMB_API_KEY", KEY)
        base_url = leaky_endpoint.url(f"{USER}:{PASSWORD}")
    result = pytester.runpytest(
        "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider", "-n", workers,
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--amb-memory=stream_icl", "--amb-limit=4", "--amb-model=leaky", f"--amb-base-url={base_url}",
        f"--amb-run-dir={pytester.path / 'runs'}", f"--junitxml={pytester.path / 'junit.xml'}",
        f"--html={pytester.path / 'report.html'}", "--self-contained-html",
        "--amb-save-baseline=leaky", f"--amb-baseline-dir={pytester.path / 'baselines'}", "-rA",
        "--amb-preflight=false",  # it would stop at the 401; the steps' own errors are what is checked here
    )  # fmt: skip
    # the credentials really were sent and echoed, so their absence below is meaningful
    sent = [r.headers.get("authorization", "") for r in leaky_endpoint.requests]
    assert sent and all((BASIC if "password" in credentials else KEY) in header for header in sent)
    (run,) = (pytester.path / "runs").iterdir()
    steps = read_steps(run)
    questions = [s for s in steps if s["step"]["kind"] == "sample"]
    assert questions and all(s["status"] == "error" and s["error"]["kind"] == "infrastructure" for s in questions)
    assert any("HTTP 401" in s["error"]["message"] for s in questions)
    written = _written_files(pytester.path)
    names = {p.name for p in written}
    assert {"run.json", "steps.jsonl", "summary.json", "junit.xml", "report.html", "leaky.json"} <= names
    output = "\n".join(result.outlines + result.errlines)
    found = {secret: [str(p.relative_to(pytester.path)) for p in written if secret.encode() in p.read_bytes()]
             for secret in SECRETS}  # fmt: skip
    found["terminal"] = [secret for secret in SECRETS if secret in output]
    assert found == {PASSWORD: [], KEY: [], BASIC: [], "terminal": []}
    if "password" in credentials:
        assert f"{USER}:***@127.0.0.1" in output  # the header shows the URL, without its password
        assert json.loads((run / "run.json").read_text())["config"]["base_url"] == leaky_endpoint.url(f"{USER}:***")
