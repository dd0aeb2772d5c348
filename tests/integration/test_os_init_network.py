"""os_interaction's init-network allowance (issue 14): off by default, an init script that needs the network
fails as before; with ``--amb-os-init-network`` the init scripts have the engine's bridge network, which is
disconnected before the start script and the agent's first command, and the result says so.

Proof without internet: a token server on the host, reached through the container's gateway. The init
script must see a network interface besides ``lo`` and fetch the token; the agent's shell and the check
scripts afterwards see only ``lo`` and cannot reach the server.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading

import pytest

from pytest_amb.journal import read_steps
from taskcases.os_interaction.loader import Match, OsSample, Script
from taskcases.os_interaction.task import OsTask, TaskSetupError

BENCH = ["--pyargs", "taskcases.os_interaction.test_os", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip
GATEWAY = (  # the default route's gateway as a dotted address (/proc/net/route holds it in little-endian hex)
    "gw=$(awk '$2 == \"00000000\" {print $3; exit}' /proc/net/route); "
    'ip=$(printf "%d.%d.%d.%d" 0x${gw:6:2} 0x${gw:4:2} 0x${gw:2:2} 0x${gw:0:2})'
)
NEEDS_NETWORK = "ls /sys/class/net | grep -qvx lo"  # exits 1 when lo is the only interface


@pytest.fixture
def token_server():
    """An HTTP server on every host address, answering a random token; the port and token."""
    token = secrets.token_hex(8)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = token.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], token
    server.shutdown()
    server.server_close()


def fetch(port: int) -> str:
    """Bash that prints the server's answer body, through the gateway (timeout 5 s)."""
    return (f"{GATEWAY}; timeout 5 bash -c 'exec 3<>/dev/tcp/'$ip'/{port} && "
            "printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3' | tail -n 1")  # fmt: skip


def item(**fields) -> OsSample:
    defaults = {"sample_id": "0", "file": "net.json", "index_in_file": 0, "description": "d", "image": "default",
                "match": Match(answer="lo")}  # fmt: skip
    return OsSample(**{**defaults, **fields})


def test_off_by_default_an_init_script_that_needs_the_network_fails_as_before(engine, base_image):
    sample = item(init=(Script("bash", NEEDS_NETWORK),))
    message = r"init script 0 \(inline\) exited with 1 .*without network; see --amb-os-init-network"
    with pytest.raises(TaskSetupError, match=message):
        OsTask("os-test", [sample], engine, base_image).open("0")


def test_with_it_init_reaches_a_host_service_and_the_agent_sees_only_loopback(engine, base_image, token_server):
    port, token = token_server
    init = (Script("bash", f"{NEEDS_NETWORK} && ls /sys/class/net > /root/init-ifaces"),
            Script("bash", f"{fetch(port)} > /root/token && [ -s /root/token ]"))  # fmt: skip
    task = OsTask("os-test", [item(init=init, start=Script("bash", "cd /tmp"))], engine, base_image, init_network=True)
    assert task.backend.endswith("network during init scripts only)")
    episode = task.open("0")
    try:
        assert episode.provenance["init_network"] == "bridge (init scripts only; disconnected before the agent)"
        shell = episode.sandbox.shell
        assert shell("cat /root/token").text == token  # the init script reached the host's service
        assert shell("sort /root/init-ifaces | tr '\\n' ' '").text.split() not in (["lo"], [])
        assert shell("pwd; ls /sys/class/net").text == "/tmp\nlo"  # the agent's shell: loopback only
        assert shell("grep -c . /proc/net/route").text == "1"  # the header line: no route at all
        after = shell(f"{fetch(port)}; echo exit=${{PIPESTATUS[0]}}").text
        assert token not in after and "exit=0" not in after, after
        assert episode.sandbox.interfaces() == ["lo"]  # the exec path (check scripts) too
        answer = {
            "id": "c0",
            "type": "function",
            "function": {"name": "answer_action", "arguments": '{"answer": "lo"}'},
        }
        verdict = episode.step({"role": "assistant", "content": "", "tool_calls": [answer]})
        assert verdict.reward == 1.0 and verdict.metrics["init_network"].startswith("bridge")
    finally:
        episode.close()


def test_with_it_a_sample_without_init_never_has_a_network(engine, base_image):
    episode = OsTask("os-test", [item()], engine, base_image, init_network=True).open("0")
    try:
        assert episode.provenance["init_network"] is None and episode.sandbox.network is None
        assert episode.sandbox.shell("ls /sys/class/net").text == "lo"
    finally:
        episode.close()


# -- through the plugin: the option, its twins, the verdict and the provenance --------------------------------
ITEM = {
    "description": "Which network interfaces does your shell see? Answer their names.",
    "create": {"init": f"{NEEDS_NETWORK} && ls /sys/class/net | tr '\\n' ' ' > /root/init-ifaces"},
    # the oracle runs the example in the agent's shell and answers its output; the check runs after the agent
    "evaluation": {"check": [None, {"code": '[ "$(echo $2)" = lo ] && [ "$(ls /sys/class/net)" = lo ] && '
                                            'grep -q . /root/init-ifaces && [ "$(cat /root/init-ifaces)" != "lo " ]'}],
                   "example": "ls /sys/class/net"},
}  # fmt: skip


def _run(pytester, container_options, *args):
    data = pytester.path / "data"
    (data / "os_interaction/data").mkdir(parents=True, exist_ok=True)
    (data / "os_interaction/scripts/dev").mkdir(parents=True, exist_ok=True)
    (data / "os_interaction/data/dev.json").write_text(json.dumps([ITEM]))
    return pytester.runpytest(*BENCH, "--amb-task=os-dev", f"--amb-data-dir={data}", "--amb-model=oracle",
                              "--amb-memory=zero_shot", f"--amb-run-dir={pytester.path / 'runs'}", "-rE",
                              *container_options, *args)  # fmt: skip


def _steps(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return run, read_steps(run)


@pytest.fixture
def container_options(engine, base_image):
    return [f"--amb-container-engine={engine.url}", *([f"--amb-os-base-image={base_image}"] if base_image else [])]


def test_a_run_without_the_option_errors_that_sample_and_says_which_option_helps(pytester, container_options):
    result = _run(pytester, container_options)
    assert result.ret == 1 and result.parseoutcomes().get("errors") == 1
    result.stdout.fnmatch_lines(["*init script 0 (inline) exited with 1*without network; see --amb-os-init-network*"])
    run, (step,) = _steps(pytester)
    assert json.loads((run / "run.json").read_text())["config"]["os_init_network"] is False
    assert step["status"] == "error"


@pytest.mark.parametrize("how", ["flag", "env", "ini"])
def test_a_run_with_the_option_passes_and_records_it(pytester, monkeypatch, container_options, how):
    args = []
    if how == "flag":
        args = ["--amb-os-init-network=true"]
    elif how == "env":
        monkeypatch.setenv("AMB_OS_INIT_NETWORK", "1")
    else:
        pytester.makeini("[pytest]\namb_os_init_network = yes\n")
    result = _run(pytester, container_options, *args)
    assert result.ret == 0 and result.parseoutcomes()["solved"] == 1, result.stdout.str()
    run, (step,) = _steps(pytester)
    assert json.loads((run / "run.json").read_text())["config"]["os_init_network"] is True
    assert step["provenance"]["task_backend"].endswith("network during init scripts only)")
    assert step["metrics"]["init_network"] == "bridge (init scripts only; disconnected before the agent)"
    assert step["metrics"]["check"][0]["stdout"].strip() == "lo"  # the example, in the container


def test_a_bad_value_of_the_option_is_a_usage_error(pytester):
    result = pytester.runpytest(*BENCH, "--amb-task=os", "--amb-os-init-network=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --amb-os-init-network (from --amb-os-init-network): 'maybe' is not accepted*"])
