"""Every mode end to end on the bundled LoCoMo and dbbench samples with the reference model: the
stream runs, the summary carries the mode's metrics, the terminal prints them; bad mode parameters
stop pytest with a usage error naming the option."""

import json
import re

import pytest

BENCH = [
    "--pyargs", "taskcases.dbbench.test_dbbench", "taskcases.locomo.test_locomo",
    "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
]  # fmt: skip


# a mode's plot labels its metric as the terminal prints it
PLOT_UNITS = {"replay": r"FR \d+\.\d%", "ftg": r"FTG [+-]\d+\.\d", "repair": r"RG [+-]\d+\.\d pp"}


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", "--amb-memory=stream_icl", *args)


def _summary(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize(
    "mode, args, terminal, check, plots",
    [
        ("offline", [], "*ASR=judge=CSR*", lambda s: s["primary_phases"] == ["test"], {"csr"}),
        ("online", [], "*ASR=judge=CSR*LG*SL*", lambda s: len(s["lg"]["curve"]) == s["success"]["n"] > 0, {"csr"}),
        ("replay", ["--amb-replay-m=10", "--amb-replay-n=5"], "*FR*",
         lambda s: s["replay"]["replay"]["n"] > 0 and s["replay"]["stages"]["1"]["immediate"] is not None,
         {"csr", "replay"}),
        ("transfer", ["--amb-forward-n=2"], "*FTG*",
         lambda s: len(s["forward_transfer"]["values"]) == s["forward_transfer"]["n"], {"csr", "ftg"}),
        ("repair", ["--amb-repair-m=10", "--amb-repair-n=3"], "*RG*ER*NR*",
         lambda s: s["repair"]["full"]["n"] == s["phases"]["right_test"]["n"], {"csr", "repair"}),
    ],
)  # fmt: skip
def test_every_mode_runs_on_both_tasks_and_reports_its_metrics(pytester, mode, args, terminal, check, plots):
    result = _run(pytester, f"--amb-mode={mode}", "--amb-task=dbbench,locomo", "--amb-plots=true", *args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("solved", 0) > 0 and "errors" not in outcomes and "failed" not in outcomes
    result.stdout.fnmatch_lines([f"mode: {mode}", terminal])
    summary = _summary(pytester)
    assert summary["mode"] == mode and summary["schema_version"] == 4
    assert {tuple(s["tasks"]) for s in summary["streams"]} >= {("dbbench",), ("locomo/amb-sample-1",)}
    for stream in summary["streams"]:
        assert check(stream), stream["stream"]
    (run,) = sorted((pytester.path / "runs").iterdir())
    assert {p.stem for p in (run / "plots").glob("*.png")} == plots == {p.stem for p in (run / "plots").glob("*.svg")}
    svg = {p.stem: p.read_text(encoding="utf-8") for p in (run / "plots").glob("*.svg")}  # its text is text
    assert ">100%<" in svg["csr"] and re.search(r"CSR \d+\.\d%  LG \d\.\d{3}  SL \d\.\d{3}", svg["csr"])
    for name in plots - {"csr"}:  # labelled in the terminal's units
        assert re.search(PLOT_UNITS[name], svg[name]), name


def test_plots_are_drawn_on_request_or_later_from_the_run_directory(pytester):
    import subprocess
    import sys

    result = _run(pytester, "--amb-task=dbbench", "--amb-limit=6")
    assert result.ret == 0
    (run,) = sorted((pytester.path / "runs").iterdir())
    assert not (run / "plots").exists() and "plots:" not in result.stdout.str()  # not asked for: no matplotlib
    draw = [sys.executable, "-m", "pytest_amb.report.plots"]
    later = subprocess.run([*draw, str(run)], capture_output=True, text=True, check=False)
    assert later.returncode == 0, later.stderr
    assert (run / "plots" / "csr.png").stat().st_size > 10_000 and (run / "plots" / "csr.svg").is_file()
    assert str(run / "plots" / "csr.png") in later.stdout
    missing = subprocess.run([*draw, str(pytester.path)], capture_output=True, text=True, check=False)
    assert missing.returncode == 4 and "summary.json" in missing.stderr and "Traceback" not in missing.stderr


def test_online_cross_task_mixes_locomo_with_dbbench_in_one_stream(pytester):
    _run(pytester, "--amb-task=dbbench,locomo", "--amb-cross-task=true", "--amb-limit=40")
    (stream,) = _summary(pytester)["streams"]
    assert stream["stream"] == "stream_icl/cross:dbbench+locomo/amb-sample-1+locomo/amb-sample-2"
    assert {"dbbench", "locomo/amb-sample-1"} <= set(stream["tasks"])


def test_cross_task_transfer_reports_tg_against_a_zero_shot_baseline(pytester, amb_original_data):
    result = _run(
        pytester, "--amb-mode=transfer", "--amb-task=dbbench,dbbench-dev", f"--amb-data-dir={amb_original_data}",
        "--amb-transfer-from=dbbench", "--amb-transfer-to=dbbench-dev",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["TG stream_icl/transfer:dbbench->dbbench-dev → dbbench-dev: * pp*"])
    (gain,) = _summary(pytester)["transfer_gains"]
    assert gain["baseline"] == "zero_shot/dbbench-dev/baseline" and gain["n_transfer"] == gain["n_baseline"] == 60


@pytest.mark.parametrize(
    "args, message",
    [
        (["--amb-mode=replay", "--amb-task=dbbench", "--amb-replay-n=40"], "--amb-replay-n: 40 replay tests per stage, but 'dbbench' has only 39*"),
        (["--amb-mode=transfer", "--amb-task=dbbench", "--amb-transfer-from=dbbench", "--amb-transfer-to=dbbench-dev"],
         "--amb-transfer-to: 'dbbench-dev' is not a selected task*"),
        (["--amb-mode=repair", "--amb-repair-size-locomo=1.2"], "--amb-repair-size-locomo: 1.2 is not accepted; give a fraction in (0, 1]"),
        (["--amb-mode=repair", "--amb-repair-m=ten"], "--amb-repair-m (from --amb-repair-m): 'ten' is not an integer"),
        (["--amb-mode=offline", "--amb-cross-task=true"], "--amb-cross-task (from --amb-cross-task): applies to online mode only*"),
    ],
)  # fmt: skip
def test_bad_mode_parameters_are_usage_errors(pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
