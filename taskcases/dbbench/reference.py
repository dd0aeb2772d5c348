"""The reference model's policy for dbbench (SQL with function calling): deterministic, LLM-free, computed
from the request alone. It claims every request that offers the dbbench tools.

From the first user message it reads the table name and headers (the ``add_description`` line) and the
question; from the memory block in front of them, any solved examples (``Question: ...`` followed by
the ``execute_sql(...)`` calls of a past trajectory). It then plans its statements:

1. **Adapt a solved example** whose question has the same shape (token alignment ratio >= 0.7): the
   example's SQL with its table replaced by the current one, and each column and value that the
   example question mentions replaced by what the current question says at the same place.
2. **Else, a surface template** that needs every value written in quotes in the question (a count, a
   lookup, a sum, ...). This is the policy's zero-shot ability.
3. **Else, explore**: ``SELECT * FROM <table>`` and commit nothing useful.

The conversation so far says how far the plan has run: each tool reply advances it by one statement,
and after the last one it commits (the values of the last result for a query; "done" for a change).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from pytest_amb.llm.messages import tool_call_message
from pytest_amb.llm.reference.policy import ReferencePolicy
from pytest_amb.llm.reference.text import content_text, offers_tools

TOOL_NAMES = ("execute_sql", "commit_final_answer")
_TABLE_LINE = re.compile(
    r"The name of this table is (.+?), and the headers of this table are (.*?)\.?\s*$", re.MULTILINE
)
_QUESTION = re.compile(r"^Question: (.*)$", re.MULTILINE)
_WORD = re.compile(r"'[^']*'|\w+(?:[.:\-]\w+)*|[^\w\s]")
_SQL_PART = re.compile(r"'(?:[^'\\]|\\.|'')*'|`(?:[^`]|``)*`|\b\d+(?:\.\d+)?\b|[^'`\d]+|.", re.DOTALL)
_MUTATION = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")
_TABLE_POSITION = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s*$", re.IGNORECASE)
SIMILAR_ENOUGH = 0.7


def claims(request: dict) -> bool:
    """The request offers every tool of the task."""
    return offers_tools(request, TOOL_NAMES)


@dataclass(frozen=True)
class Example:
    question: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    table: str
    headers: tuple[str, ...]
    question: str
    examples: tuple[Example, ...]


def respond(messages: list[dict]) -> dict:
    context = read_context(messages)
    if context is None:
        return _call("commit_final_answer", {"answers": []}, 0, "I cannot find the table description.")
    plan = plan_statements(context)
    replies = [m for m in messages if m.get("role") == "tool"]
    done = len([m for m in messages if m.get("role") == "assistant" and _called(m, "execute_sql")])
    last = str(replies[-1].get("content") or "") if replies else ""
    if done < len(plan) and not _is_error(last):
        return _call("execute_sql", {"query": plan[done]}, done, f"Step {done + 1}: run the SQL.")
    if plan and _MUTATION.match(plan[-1]):
        return _call("commit_final_answer", {"answers": ["done"]}, done, "The change is made.")
    return _call("commit_final_answer", {"answers": result_values(last)}, done, "These are the values found.")


def read_context(messages: list[dict]) -> Context | None:
    first_user = next((content_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    table_match = None
    for table_match in _TABLE_LINE.finditer(first_user):
        pass
    if table_match is None:
        return None
    after = first_user[table_match.end() :]
    question = _QUESTION.search(after)
    headers = tuple(h.strip() for h in table_match.group(2).split(",") if h.strip())
    return Context(
        table=table_match.group(1).strip(),
        headers=headers,
        question=question.group(1).strip() if question else "",
        examples=tuple(read_examples(first_user[: table_match.start()])),
    )


def read_examples(block: str) -> list[Example]:
    """Solved examples in a memory block: each ``Question:`` line with the execute_sql calls after it."""
    examples = []
    chunks = re.split(r"^Question: ", block, flags=re.MULTILINE)[1:]
    for chunk in chunks:
        question, _, rest = chunk.partition("\n")
        statements = []
        for match in re.finditer(r"execute_sql\(", rest):
            try:
                arguments, _ = json.JSONDecoder().raw_decode(rest, match.end())
            except json.JSONDecodeError:
                continue
            if isinstance(arguments, dict) and arguments:
                statements.append(str(next(iter(arguments.values()))))
        if statements:
            examples.append(Example(question.strip(), tuple(statements)))
    return examples


def plan_statements(context: Context) -> list[str]:
    best, best_ratio = None, 0.0
    for example in context.examples:
        ratio = SequenceMatcher(None, _words(example.question), _words(context.question)).ratio()
        if ratio > best_ratio:
            best, best_ratio = example, ratio
    if best is not None and best_ratio >= SIMILAR_ENOUGH:
        return [adapt(statement, best.question, context) for statement in best.statements]
    templated = template_sql(context)
    if templated:
        return [templated]
    return [f"SELECT * FROM {_quote(context.table)}"]


# -- adapting an example ------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().strip("'").lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _words(text: str) -> list[str]:
    return [t for t, _, _ in _tokens(text)]


def aligned_text(phrase: str, source: str, target: str) -> str | None:
    """What ``target`` says where ``source`` says ``phrase`` (None if ``phrase`` is not in ``source`` or
    both questions say the same there)."""
    source_tokens, target_tokens = _tokens(source), _tokens(target)
    wanted = _words(phrase.strip("'"))
    if not wanted:
        return None
    words = [t for t, _, _ in source_tokens]
    start = next((i for i in range(len(words)) if words[i : i + len(wanted)] == wanted), None)
    if start is None:
        start = next((i for i, w in enumerate(words) if w == " ".join(wanted)), None)  # a quoted phrase
        if start is None:
            return None
        end = start + 1
    else:
        end = start + len(wanted)
    matcher = SequenceMatcher(None, words, [t for t, _, _ in target_tokens], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i1 <= start and end <= i2 and (i1, i2) == (start, end) and j2 > j1:
            return target[target_tokens[j1][1] : target_tokens[j2 - 1][2]].strip("'")
    return None


def adapt(statement: str, example_question: str, context: Context) -> str:
    out: list[str] = []
    for part in _SQL_PART.findall(statement):
        if part.startswith("`") and _TABLE_POSITION.search("".join(out)):
            out.append(_quote(context.table))
        elif part.startswith("`"):
            out.append(_quote(_adapt_identifier(part[1:-1].replace("``", "`"), example_question, context)))
        elif part.startswith("'"):
            value = part[1:-1].replace("''", "'")
            replacement = aligned_text(value, example_question, context.question)
            out.append(_string(replacement) if replacement is not None else part)
        elif part[:1].isdigit():
            replacement = aligned_text(part, example_question, context.question)
            out.append(replacement if replacement is not None and _is_number(replacement) else part)
        else:
            out.append(part)
    return "".join(out)


def _adapt_identifier(name: str, example_question: str, context: Context) -> str:
    by_lower = {h.lower(): h for h in context.headers}
    aligned = aligned_text(name, example_question, context.question)
    if aligned is not None and aligned.lower() in by_lower:
        return by_lower[aligned.lower()]
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    return max(context.headers, key=lambda h: SequenceMatcher(None, h.lower(), name.lower()).ratio(), default=name)


# -- the zero-shot templates --------------------------------------------------------------------------
def template_sql(context: Context) -> str | None:
    """SQL from the question's surface, when it names the columns and quotes every value."""
    q = context.question
    lower = q.lower()
    columns = _mentioned_headers(q, context.headers)
    values = [m.group(1) for m in re.finditer(r"'([^']*)'", q)]
    t = _quote(context.table)
    c = [_quote(h) for h in columns]
    v = [_string(x) for x in values]
    if lower.startswith("how many") and c and v:
        return f"SELECT COUNT(*) FROM {t} WHERE {c[0]} = {v[0]}"
    if lower.startswith("insert") and c and len(c) == len(v):
        return f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join(v)})"
    if lower.startswith(("set the", "update", "change")) and len(c) >= 2 and len(v) >= 2:
        return f"UPDATE {t} SET {c[0]} = {v[0]} WHERE {c[1]} = {v[1]}"
    if lower.startswith(("delete", "remove")) and c and v:
        return f"DELETE FROM {t} WHERE {c[0]} = {v[0]}"
    for word, function in (("total", "SUM"), ("average", "AVG")):
        if word in lower and len(c) >= 2 and v:
            return f"SELECT {function}({c[0]}) FROM {t} WHERE {c[1]} = {v[0]}"
    for word, op in (("greater than", ">"), ("less than", "<")):
        if word in lower and len(c) >= 2 and v:
            return f"SELECT {c[0]} FROM {t} WHERE {c[1]} {op} {values[0]}"
    for word, order, function in (("highest", "DESC", "MAX"), ("lowest", "ASC", "MIN")):
        if word in lower and lower.startswith("which") and len(c) >= 2:
            return f"SELECT {c[0]} FROM {t} ORDER BY {c[1]} + 0 {order}, {c[0]} LIMIT 1"
        if word in lower and lower.startswith("what is the") and c and not v:
            return f"SELECT {function}({c[0]} + 0) FROM {t}"
    if lower.startswith("what is the") and len(c) >= 2 and v:
        return f"SELECT {c[0]} FROM {t} WHERE {c[1]} = {v[0]}"
    return None


def _mentioned_headers(question: str, headers: tuple[str, ...]) -> list[str]:
    """Headers the question names outside quotes, in the order it names them (longest names first)."""
    unquoted = re.sub(r"'[^']*'", lambda m: " " * len(m.group()), question)
    found, taken = [], set()
    for header in sorted(headers, key=len, reverse=True):
        for match in re.finditer(r"(?<!\w)" + re.escape(header) + r"(?!\w)", unquoted, re.IGNORECASE):
            span = set(range(match.start(), match.end()))
            if not span & taken:
                taken |= span
                found.append((match.start(), header))
                break
    return [h for _, h in sorted(found)]


# -- reading results and writing calls ----------------------------------------------------------------
def result_values(observation: str) -> list[str]:
    """The values of a tool reply such as ``[('a',), ('b',)]`` (every cell, row by row)."""
    text = _DECIMAL.sub(r"'\1'", observation.removesuffix("[TRUNCATED]"))
    try:
        rows = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    if not isinstance(rows, list):
        return []
    return [str(cell) for row in rows for cell in (row if isinstance(row, tuple) else (row,))]


def _is_error(observation: str) -> bool:
    return bool(observation) and not observation.startswith("[")


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(?:\.\d+)?", text) is not None


def _called(message: dict, name: str) -> bool:
    return any((c.get("function") or {}).get("name") == name for c in message.get("tool_calls") or [])


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _call(name: str, arguments: dict, n: int, thought: str) -> dict:
    return tool_call_message(f"call_{n}", name, arguments, thought)


def _respond_to(request: dict) -> dict:
    return respond(request.get("messages") or [])


POLICIES = (ReferencePolicy("dbbench.sql", claims, _respond_to),)
