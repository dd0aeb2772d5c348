"""The reference model's policy for os_interaction (shell tools): deterministic, LLM-free, computed from the
request alone. It claims every request that offers the os_interaction tools.

From the first user message it reads the problem (the text after the last "My problem is:") and, from
the memory block in front of it, any solved examples (a ``Question: ...`` line followed by the
``bash_action(...)`` calls of a past trajectory and how it ended). It then plans its commands:

1. **Adapt a solved example** whose question has the same shape (token alignment ratio >= 0.6): the
   example's commands, with every word, path or quoted text that the example question says at a place
   where the current question says something else replaced by the current question's.
2. **Else, a surface rule** for a common question shape ("how many lines in FILE contain the word W",
   "the sum of the numbers in FILE", "which user owns FILE", "make FILE executable", ...). This is the
   policy's zero-shot ability.
3. **Else, explore**: list or print the first path the problem names, and answer from that.

The conversation so far says how far the plan has run: each tool reply advances it by one command.
After the last one it answers with the last output (its last number when a number is asked for, else
its last line), or calls ``finish_action`` when the problem asks for a change rather than an answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from pytest_amb.llm.messages import tool_call_message
from pytest_amb.llm.reference.policy import ReferencePolicy
from pytest_amb.llm.reference.text import content_text, offers_tools

TOOL_NAMES = ("bash_action", "answer_action", "finish_action")
OUTPUT_PREFIX = "The output of the OS:\n\n"
SIMILAR_ENOUGH = 0.6
_PROBLEM = "My problem is:"
_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|[\w./~*$:=+-]*\w|[^\w\s]")
_PATH = r"((?:~|/)[\w./~-]*[\w/~])"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)*")
ANSWER, FINISH = "answer", "finish"


def claims(request: dict) -> bool:
    """The request offers every tool of the task."""
    return offers_tools(request, TOOL_NAMES)


@dataclass(frozen=True)
class Example:
    question: str
    commands: tuple[str, ...]
    ending: str  # ANSWER or FINISH


@dataclass(frozen=True)
class Plan:
    commands: tuple[str, ...]
    ending: str
    source: str  # "memory", "rule" or "explore"


def respond(messages: list[dict]) -> dict:
    first_user = next((content_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    problem, examples = read_problem(first_user)
    plan = plan_commands(problem, examples)
    done = sum(1 for m in messages if m.get("role") == "assistant" and _called(m, "bash_action"))
    if done < len(plan.commands):
        return _call("bash_action", {"script": plan.commands[done]}, done, f"Step {done + 1}: run a command.")
    if plan.ending == FINISH:
        return _call("finish_action", {"thought": "The task is done."}, done, "The change is made.")
    last = next((content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "tool"), "")
    output = last[len(OUTPUT_PREFIX) :] if last.startswith(OUTPUT_PREFIX) else ""
    return _call("answer_action", {"answer": answer_from(output, problem)}, done, "This is the answer.")


def read_problem(first_user: str) -> tuple[str, list[Example]]:
    at = first_user.rfind(_PROBLEM)
    if at < 0:
        return first_user.strip(), []
    return first_user[at + len(_PROBLEM) :].strip(), read_examples(first_user[:at])


def read_examples(block: str) -> list[Example]:
    """Solved examples in a memory block: each ``Question:`` line with the bash_action calls after it."""
    examples = []
    for chunk in re.split(r"^Question: ", block, flags=re.MULTILINE)[1:]:
        question, _, rest = chunk.partition("\n")
        commands, ending = [], ANSWER
        for match in re.finditer(r"\b(bash_action|answer_action|finish_action)\(", rest):
            try:
                arguments, _ = json.JSONDecoder().raw_decode(rest, match.end())
            except json.JSONDecodeError:
                continue
            if match.group(1) == "bash_action" and isinstance(arguments, dict) and arguments:
                commands.append(str(next(iter(arguments.values()))))
            elif match.group(1) != "bash_action":
                ending = FINISH if match.group(1) == "finish_action" else ANSWER
        if commands:
            examples.append(Example(question.strip(), tuple(commands), ending))
    return examples


def plan_commands(problem: str, examples: list[Example]) -> Plan:
    best, best_ratio = None, 0.0
    for example in examples:
        ratio = SequenceMatcher(None, _lower(tokens(example.question)), _lower(tokens(problem)), autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = example, ratio
    if best is not None and best_ratio >= SIMILAR_ENOUGH:
        mapping = substitutions(best.question, problem)
        return Plan(tuple(adapt(c, mapping) for c in best.commands), best.ending, "memory")
    ruled = rule_plan(problem)
    if ruled is not None:
        return ruled
    return explore(problem)


# -- adapting an example ------------------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _lower(words: list[str]) -> list[str]:
    return [w.lower() for w in words]


def substitutions(example_question: str, problem: str) -> dict[str, str]:
    """What the problem says where the example question says something else, token by token (only where
    both say the same number of tokens, and only words of two or more characters); quoted texts also map
    without their quotes."""
    source, target = tokens(example_question), tokens(problem)
    mapping: dict[str, str] = {}
    matcher = SequenceMatcher(None, _lower(source), _lower(target), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        if i2 - i1 == j2 - j1:
            pairs = list(zip(source[i1:i2], target[j1:j2]))
        else:  # blocks of different lengths: pair paths, extensions, quoted texts and numbers by their shape
            unused = list(target[j1:j2])
            pairs = []
            for old in source[i1:i2]:
                new = next((t for t in unused if _shape(t) and _shape(t) == _shape(old)), None)
                if new is not None:
                    unused.remove(new)
                    pairs.append((old, new))
        for old, new in pairs:
            if len(old) < 2 or not any(c.isalnum() for c in old):
                continue  # a letter or a sign would also hit flags and syntax in the commands
            mapping[old] = new
            if old[:1] in "'\"" and new[:1] in "'\"":
                mapping[old[1:-1]] = new[1:-1]
    return mapping


def _shape(token: str) -> str:
    if token[:1] in "/~":
        return "path"
    if token[:1] == "." and len(token) > 1:
        return "extension"
    if token[:1] in "'\"":
        return "quoted"
    return "number" if token[:1].isdigit() else ""


def adapt(command: str, mapping: dict[str, str]) -> str:
    """``command`` with each mapped token replaced where it stands alone (not inside a longer word)."""
    if not mapping:
        return command
    pattern = "|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True) if old)
    return re.sub(rf"(?<![\w/.])(?:{pattern})(?![\w/])", lambda m: mapping[m.group()], command)


# -- the zero-shot rules ------------------------------------------------------------------------------
_RULES: list[tuple[str, str, str]] = [
    # (pattern over the problem, command template with {1}, {2}... for the groups, ending)
    (rf"how many lines (?:in|of) {_PATH} contain (?:the (?:word|string|text) )?['\"]?([\w.-]+)",
     "grep -c '{2}' {1}", ANSWER),
    (rf"sum of (?:all )?the numbers in {_PATH}", "awk '{{s += $1}} END {{print s}}' {1}", ANSWER),
    (rf"how many files with the extension (\.\w+) are there in {_PATH}", "find {2} -type f -name '*{1}' | wc -l",
     ANSWER),
    (r"how many files are (?:there )?in the current directory", "find . -maxdepth 1 -type f | wc -l", ANSWER),
    (rf"how many (?:hidden )?files are (?:there )?in {_PATH}", "ls -1 {1} | wc -l", ANSWER),
    (r"how many users (?:are there )?(?:in|on) (?:the|my|this) (?:system|computer|machine)",
     "getent passwd | wc -l", ANSWER),
    (r"count of users\b", "getent passwd | wc -l", ANSWER),
    (r"how many groups", "getent group | wc -l", ANSWER),
    (r"(?:count of|how many) (?:my )?(?:cpus|cpu cores|processors)", "nproc", ANSWER),
    (rf"which user owns (?:the (?:file|directory) )?{_PATH}", "stat -c %U {1}", ANSWER),
    (rf"which file in {_PATH} is the largest", "ls -S {1} | head -n 1", ANSWER),
    (r"value of the (?:shell |environment )?variable (?:named |called )?(\w+)", 'echo "${1}"', ANSWER),
    (r"current working directory", "pwd", ANSWER),
    (r"output if i (?:execute|run) (\S+?)\??$", "{1}", ANSWER),
    (r"which user am i|who am i\b", "whoami", ANSWER),
    (r"version of python", "python3 --version", ANSWER),
    (rf"write the text '([^']*)' into (?:the file )?{_PATH}", "echo '{1}' > {2}", FINISH),
    (rf"make (?:the (?:script|file) )?{_PATH} executable", "chmod +x {1}", FINISH),
    (rf"create an? (?:empty )?file (?:named |called )?{_PATH}", "touch {1}", FINISH),
    (rf"create (?:a|the) directory (?:named |called )?{_PATH}", "mkdir -p {1}", FINISH),
    (r"create a user (?:named |called )?(\w+)", "useradd -m {1}", FINISH),
]  # fmt: skip


def rule_plan(problem: str) -> Plan | None:
    for pattern, template, ending in _RULES:
        match = re.search(pattern, problem, re.IGNORECASE)
        if match:
            command = template
            for n, value in enumerate(match.groups(), start=1):
                command = command.replace("{" + str(n) + "}", value or "")
            return Plan((command.replace("{{", "{").replace("}}", "}"),), ending, "rule")
    return None


def explore(problem: str) -> Plan:
    ending = ANSWER if _asks(problem) else FINISH
    path = re.search(_PATH, problem)
    if path is None:
        return Plan(("ls",), ending, "explore")
    target = path.group(1).rstrip(".")
    return Plan((f"if [ -d {target} ]; then ls -A {target}; else cat {target}; fi",), ending, "explore")


def _asks(problem: str) -> bool:
    asking = r"\b(?:how|what|which|who|tell me|find out|answer|count)\b"
    return "?" in problem or re.search(asking, problem, re.IGNORECASE) is not None


# -- answers and calls --------------------------------------------------------------------------------
def answer_from(output: str, problem: str) -> str:
    """The last number of the output when the problem asks for a count or number, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return ""
    if re.search(r"how many|count|number|sum|total|version", problem, re.IGNORECASE):
        numbers = _NUMBER.findall(output)
        if numbers:
            return numbers[-1]
    return lines[-1]


def _called(message: dict, name: str) -> bool:
    return any((c.get("function") or {}).get("name") == name for c in message.get("tool_calls") or [])


def _call(name: str, arguments: dict, n: int, thought: str) -> dict:
    return tool_call_message(f"call_{n}", name, arguments, thought)


def _respond_to(request: dict) -> dict:
    return respond(request.get("messages") or [])


POLICIES = (ReferencePolicy("os.shell", claims, _respond_to),)
