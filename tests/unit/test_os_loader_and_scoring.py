"""os_interaction without containers: the loader (original layout, clear errors), the original's scoring
(scripts run here as local processes), the bundled checkers, the oracle's replies and the reference model's
shell policy, which acts only on what the request contains."""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from memories.stream_icl import PROMPT_TEMPLATE, format_experience
from pytest_amb import registry
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.llm.reference import server
from pytest_amb.memory import MEMORY_SEPARATOR
from pytest_amb.registry import resolve
from pytest_amb.tasks import DataError, TaskNameError
from taskcases.os_interaction import reference as shell
from taskcases.os_interaction import scoring
from taskcases.os_interaction.loader import Match, OsSample, Script, load_samples, script_dir
from taskcases.os_interaction.task import FIRST_MESSAGE, SYSTEM_PROMPT, TOOLS, OsTask, observed_output

BUNDLED = resolve("os", None)
CHECKERS = script_dir(BUNDLED.files[0]) / "check"


def local(argv):
    """Runs a check script as a local process (scoring is independent of where scripts run)."""
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    return scoring.ScriptRun(done.returncode, done.stdout, done.stderr)


def write_items(folder: Path, items, name="dev.json") -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "data" / name
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


# -- loader -------------------------------------------------------------------------------------------
def test_the_bundled_set_loads_in_the_original_layout():
    samples = load_samples(BUNDLED.files)
    assert len(samples) == 25
    assert [s.sample_id for s in samples] == [str(i) for i in range(25)]
    assert {s.image for s in samples} == {"default"}
    assert Counter(s.evaluation for s in samples) == {"integer-match": 11, "string-match": 3, "match": 5, "check": 6}
    assert sum(1 for s in samples if s.start is not None) == 5
    assert samples[0].init[0].origin == "init/service-logs.sh" and "RANDOM" in samples[0].init[0].code
    assert samples[0].check[0] is None and samples[0].check[1].language == "python"
    assert samples[14].match == Match(answer="bob", strip=False)
    assert samples[15].match.regex and samples[15].example is not None


def test_script_folders_follow_the_original_layout(tmp_path):
    assert script_dir(tmp_path / "os_interaction/data/dev.json") == tmp_path / "os_interaction/scripts/dev"
    assert script_dir(tmp_path / "os_interaction/data/4/N41.json") == tmp_path / "os_interaction/scripts/4"
    with pytest.raises(DataError, match="not in the original layout"):
        script_dir(tmp_path / "elsewhere/items.json")


def test_os_std_reads_data_1_to_7_in_sorted_order_with_each_folders_scripts(tmp_path):
    root = tmp_path / "os_interaction"
    item = {"description": "q", "evaluation": {"check": [None, {"file": "check/c.sh"}], "example": "echo 1"}}
    for k, names in (("4", ["Q09", "N4", "N225", "N11"]), ("1", ["stock"])):
        (root / "data" / k).mkdir(parents=True)
        for name in names:
            (root / "data" / k / f"{name}.json").write_text(json.dumps([item]))
        (root / "scripts" / k / "check").mkdir(parents=True)
        (root / "scripts" / k / "check" / "c.sh").write_text(f"echo folder {k}")
    (root / "data" / "6-backup.json").write_text("[]")
    (root / "data" / "dev.json").write_text("[]")
    source = resolve("os-std", tmp_path)
    assert [f.relative_to(root / "data").as_posix() for f in source.files] == [
        "1/stock.json", "4/N11.json", "4/N225.json", "4/N4.json", "4/Q09.json",
    ]  # fmt: skip
    samples = load_samples(source.files)
    assert [s.sample_id for s in samples] == ["0", "1", "2", "3", "4"]
    assert [s.check[1].code for s in samples] == ["echo folder 1"] + ["echo folder 4"] * 4
    assert (samples[3].file.endswith("4/N4.json"), samples[3].index_in_file) == (True, 0)


def test_missing_original_files_say_what_to_pass(tmp_path):
    with pytest.raises(TaskNameError, match="--amb-data-dir"):
        resolve("os-dev", None)
    with pytest.raises(TaskNameError, match=r"os_interaction/data/\[1-7\]/\*\.json"):
        resolve("os-std", tmp_path)


def test_script_forms_and_a_create_that_is_not_an_object(tmp_path):
    root = tmp_path / "os_interaction"
    (root / "scripts" / "dev" / "init").mkdir(parents=True)
    (root / "scripts" / "dev" / "init" / "a.sh").write_text("touch /tmp/a")
    path = write_items(root, [
        {"description": "d", "create": {"local": "packages", "init": ["echo 1", {"code": "print(1)", "language": "python"},
                                                                     {"file": "init/a.sh"}]},
         "start": "cd /tmp", "evaluation": {"match": "x"}, "labels": ["file"]},
        {"description": "d", "create": [None, {"file": "check/x.py"}], "evaluation": {"match": {"regex": "^a", "strip": True}}},
    ])  # fmt: skip
    first, second = load_samples([path])
    assert first.image == "packages"
    assert first.init == (
        Script("bash", "echo 1"),
        Script("python", "print(1)"),
        Script("bash", "touch /tmp/a", "init/a.sh"),
    )
    assert first.start == Script("bash", "cd /tmp") and first.match == Match(answer="x", strip=True)
    assert (second.image, second.init) == ("default", ())  # as the original: a malformed 'create' is ignored
    assert second.match == Match(regex="^a", strip=True)


@pytest.mark.parametrize(
    "item, message",
    [
        ({"evaluation": {"match": "x"}}, r"dev\.json\[0\]: missing field 'description'"),
        ({"description": "d"}, r"dev\.json\[0\]: missing field 'evaluation'"),
        ({"description": "d", "evaluation": {}}, r"dev\.json\[0\]\.evaluation: needs 'match' or 'check'"),
        ({"description": "d", "create": {"local": "alpine"}, "evaluation": {"match": "x"}},
         r"dev\.json\[0\]\.create\.local: 'alpine' is not one of default, packages, ubuntu"),
        ({"description": "d", "evaluation": {"check": [None, "exit 0"]}},
         r"dev\.json\[0\]\.evaluation: 'check' has a null entry .* no 'example'"),
        ({"description": "d", "evaluation": {"check": {"file": "check/nope.py", "language": "python"}}},
         r"dev\.json\[0\]\.evaluation\.check\[0\]\.file: .*scripts/dev/check/nope\.py does not exist"),
        ({"description": "d", "evaluation": {"check": {"code": "x", "language": "c++"}}},
         r"dev\.json\[0\]\.evaluation\.check\[0\]\.language: 'c\+\+' is not supported"),
        ({"description": "d", "evaluation": {"match": {"strip": True}}},
         r"dev\.json\[0\]\.evaluation\.match: expected a string, or an object with 'answer' or 'regex'"),
        ({"description": "d", "start": {"language": "bash"}, "evaluation": {"match": "x"}},
         r"dev\.json\[0\]\.start: a script object needs 'code'"),
    ],
)  # fmt: skip
def test_malformed_items_name_the_file_item_and_field(tmp_path, item, message):
    path = write_items(tmp_path / "os_interaction", [item])
    with pytest.raises(DataError, match=message):
        load_samples([path])


def test_invalid_json_names_the_file(tmp_path):
    path = write_items(tmp_path / "os_interaction", [])
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.json: not valid JSON"):
        load_samples([path])


# -- scoring ------------------------------------------------------------------------------------------
def sample(**fields) -> OsSample:
    return OsSample(**{"sample_id": "0", "file": "f.json", "index_in_file": 0, "description": "d", "image": "default",
                       **fields})  # fmt: skip


def checker(name: str) -> Script:
    return Script("python", (CHECKERS / name).read_text(), f"check/{name}")


@pytest.mark.parametrize(
    "answer, match, correct",
    [
        (" 3\n", Match(answer="3", strip=True), True),
        (" 3\n", Match(answer="3", strip=False), False),
        ("3", Match(answer="3", strip=False), True),
        ("Python 3.11.2", Match(regex=r"\d+\.\d+", strip=True), True),
        ("3.11.2 ", Match(regex=r"^3\.\d+\.\d+$", strip=False), False),
        (3, Match(answer="3", strip=True), True),
    ],
)
def test_match_strips_then_compares_exactly_or_searches_the_regex(answer, match, correct):
    assert scoring.evaluate(sample(match=match), answer, local).correct is correct


def test_script_command_lines_are_the_originals():
    assert scoring.argv(Script("bash", "echo $1"), []) == ["bash", "-c", "echo $1"]
    assert scoring.argv(Script("bash", "echo $1"), ["a", "b"]) == ["bash", "-c", "echo $1", "--", "a", "b"]
    assert scoring.argv(Script("python", "print(1)"), ["a"]) == ["python3", "-c", "print(1)", "a"]


def test_null_runs_the_example_live_and_the_checker_compares():
    item = sample(check=(None, checker("integer-match.py")), example=Script("bash", "echo 42"))
    assert scoring.evaluate(item, "42", local).correct
    verdict = scoring.evaluate(item, " 41 ", local)
    assert not verdict.correct
    assert [step["script"] for step in verdict.steps] == ["example", "check/integer-match.py"]
    assert "'42'" in verdict.detail and "exited with 1" in verdict.detail


def test_each_script_gets_the_answer_and_the_outputs_so_far_and_a_failure_stops_the_chain():
    chain = (
        Script("bash", 'echo "got $1"'),
        Script("python", "import sys\nprint(sys.argv[1:])\nsys.exit(0 if sys.argv[2] == 'got 7\\n' else 1)"),
        Script("bash", "exit 3"),
        Script("bash", "echo never"),
    )
    verdict = scoring.evaluate(sample(check=chain), 7, local)
    assert not verdict.correct
    assert [s["exit_code"] for s in verdict.steps] == [0, 0, 3]
    assert verdict.steps[1]["stdout"] == "['7', 'got 7\\n']\n"


@pytest.mark.parametrize(
    "name, answer, gold, passes",
    [
        ("integer-match.py", "12", "12\n", True),
        ("integer-match.py", " 12 ", "13\n", False),
        ("integer-match.py", "twelve", "12\n", False),
        ("string-match.py", "item3.bin", "item3.bin\n", True),
        ("string-match.py", "a\r\nb", "a\nb\n", True),
        ("string-match.py", "item3", "item3.bin\n", False),
    ],
)
def test_the_bundled_checkers(name, answer, gold, passes):
    assert (local(scoring.argv(checker(name), [answer, gold])).exit_code == 0) is passes


# -- the oracle -----------------------------------------------------------------------------------------
def test_the_oracle_answers_a_match_or_runs_the_example_and_answers_its_output():
    task = OsTask("os", load_samples(BUNDLED.files))
    (only,) = task.oracle_replies("11")
    assert json.loads(only["tool_calls"][0]["function"]["arguments"]) == {"answer": "XK-4821"}
    run, answer = task.oracle_replies("0")
    assert json.loads(run["tool_calls"][0]["function"]["arguments"]) == {"script": "grep -c ERROR /var/log/app/api.log"}
    agent = OracleAgent([run, answer])
    assert agent.chat([], purpose="agent") == run
    seen = [{"role": "tool", "tool_call_id": "call_oracle_0", "content": "The output of the OS:\n\n17\n"}]
    reply = agent.chat(seen, purpose="agent")
    assert reply["tool_calls"][0]["function"]["name"] == "answer_action"
    assert json.loads(reply["tool_calls"][0]["function"]["arguments"]) == {"answer": "17"}
    python_example, _ = task.oracle_replies("4")
    script = json.loads(python_example["tool_calls"][0]["function"]["arguments"])["script"]
    assert script.startswith("python3 -c 'print(sum(")


def test_the_output_inside_a_tool_reply():
    assert observed_output("The output of the OS:\n\na\nb") == "a\nb"
    assert observed_output("The output of the OS is empty.") == ""


# -- the reference model's shell policy -------------------------------------------------------------------
def request(problem, memory=""):
    user = FIRST_MESSAGE + problem
    if memory:
        user = f"{memory}\n\n{MEMORY_SEPARATOR}\n\n{user}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def call(message):
    function = message["tool_calls"][0]["function"]
    return function["name"], json.loads(function["arguments"])


def solved(problem, commands, outputs, ending=("answer_action", {"answer": "5"})):
    """A solved trajectory as stream_icl stores it."""
    messages = request(problem)
    for n, (command, output) in enumerate(zip(commands, outputs)):
        messages.append(shell._call("bash_action", {"script": command}, n, "Run it."))
        messages.append({"role": "tool", "tool_call_id": f"call_{n}", "content": "The output of the OS:\n\n" + output})
    messages.append(shell._call(ending[0], ending[1], len(commands), "Done."))
    return format_experience(problem, messages)


def test_a_request_with_the_os_tools_goes_to_the_shell_policy():
    assert shell.claims({"tools": TOOLS})
    assert not shell.claims({"tools": TOOLS[:1]})
    reply = server.respond({"tools": TOOLS, "messages": request("How many groups are in my system?")}, "",
                           registry.reference_policies(), registry.memory_operations())
    assert call(reply) == ("bash_action", {"script": "getent group | wc -l"})


def test_a_rule_runs_its_command_then_answers_the_last_number_of_the_output():
    messages = request("How many lines in /var/log/x.log contain the word ERROR?")
    name, arguments = call(shell.respond(messages))
    assert (name, arguments) == ("bash_action", {"script": "grep -c 'ERROR' /var/log/x.log"})
    messages += [shell._call(name, arguments, 0, ""), {"role": "tool", "content": "The output of the OS:\n\n37\r\n"}]
    assert call(shell.respond(messages)) == ("answer_action", {"answer": "37"})


def test_a_change_ends_with_finish_action():
    messages = request("Make the script /opt/run.sh executable.")
    assert call(shell.respond(messages)) == ("bash_action", {"script": "chmod +x /opt/run.sh"})
    messages += [shell._call("bash_action", {}, 0, ""), {"role": "tool", "content": "The output of the OS is empty."}]
    assert call(shell.respond(messages))[0] == "finish_action"


def test_without_a_rule_or_memory_it_only_explores():
    _, arguments = call(shell.respond(request("How many lines in /srv/a.log mention the word WARN?")))
    assert arguments == {"script": "if [ -d /srv/a.log ]; then ls -A /srv/a.log; else cat /srv/a.log; fi"}


def test_a_solved_example_in_memory_is_adapted_to_the_current_problem():
    shot = solved("How many lines in /var/log/app/api.log contain the word ERROR?",
                  ["grep -c 'ERROR' /var/log/app/api.log"], ["12"])  # fmt: skip
    memory = f"{PROMPT_TEMPLATE}\n\n{shot}"
    messages = request("How many lines in /var/log/app/db.log mention the word WARN?", memory)
    assert call(shell.respond(messages)) == ("bash_action", {"script": "grep -c 'WARN' /var/log/app/db.log"})
    problem, examples = shell.read_problem(messages[1]["content"])
    assert problem == "How many lines in /var/log/app/db.log mention the word WARN?"
    assert examples == [shell.Example("How many lines in /var/log/app/api.log contain the word ERROR?",
                                      ("grep -c 'ERROR' /var/log/app/api.log",), shell.ANSWER)]  # fmt: skip


@pytest.mark.parametrize(
    "example, commands, problem, expected",
    [
        ("How many files with the extension .txt are there in /srv/docs, including subdirectories?",
         ["find /srv/docs -type f -name '*.txt' | wc -l"],
         "How many files with the extension .md exist in /srv/notes, including subdirectories?",
         ["find /srv/notes -type f -name '*.md' | wc -l"]),
        ("Write the text 'hello world' into the file /root/greeting.txt.",
         ["echo 'hello world' > /root/greeting.txt"],
         "Put the text 'deploy=ok' into the file /etc/status.conf.",
         ["echo 'deploy=ok' > /etc/status.conf"]),
        ("Which file in /var/cache/blobs is the largest? Answer with its name only.",
         ["ls -S /var/cache/blobs | head -n 1", "ls -a /var/cache/blobs"],
         "Which file in /opt/media/clips is the biggest? Answer with its name only.",
         ["ls -S /opt/media/clips | head -n 1", "ls -a /opt/media/clips"]),
    ],
)  # fmt: skip
def test_adaptation_replaces_paths_extensions_and_quoted_text_but_not_flags(example, commands, problem, expected):
    shot = solved(example, commands, ["x"] * len(commands))
    plan = shell.plan_commands(problem, shell.read_examples(f"{PROMPT_TEMPLATE}\n\n{shot}"))
    assert (plan.source, list(plan.commands)) == ("memory", expected)


def test_a_dissimilar_example_is_not_used():
    shot = solved("Which user owns the file /srv/a.csv?", ["stat -c %U /srv/a.csv"], ["carol"])
    plan = shell.plan_commands("How many groups are in my system?", shell.read_examples(shot))
    assert (plan.source, plan.commands) == ("rule", ("getent group | wc -l",))


def test_an_example_that_ended_with_finish_is_replayed_as_a_change():
    shot = solved("Write the text 'a' into the file /tmp/a.", ["echo 'a' > /tmp/a"], [""], ("finish_action", {}))
    assert shell.read_examples(shot)[0].ending == shell.FINISH


@pytest.mark.parametrize(
    "output, problem, answer",
    [
        ("Python 3.11.2\n", "What is the version of Python 3? Answer with the version number only.", "3.11.2"),
        ("total 3\nitem2.bin\n", "Which file is the largest?", "item2.bin"),
        ("", "How many files?", ""),
        ("12 /etc/passwd\n", "How many lines does /etc/passwd have?", "12"),
    ],
)
def test_answers_are_the_last_number_or_the_last_line(output, problem, answer):
    assert shell.answer_from(output, problem) == answer
