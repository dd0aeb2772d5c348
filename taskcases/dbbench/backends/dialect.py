"""The MySQL that agents and gold labels write, translated for SQLite.

What changes (everything else passes through untouched):
- string literals: MySQL backslash escapes (``\\n``, ``\\'``, ``\\\\``) are decoded and double-quoted
  strings are string literals, as in MySQL's default sql_mode; both become SQLite ``'...'`` literals;
- identifiers that start with a digit (``2010_rank``) are quoted, MySQL accepts them bare;
- a bare number compared with something (``col > 5``, ``col BETWEEN 1 AND 3``) becomes
  ``CAST(5 AS NUMERIC)`` so a TEXT column is compared as a number, as MySQL does (SQLite would
  otherwise compare the text '10' < '5');
- ``<=>`` becomes ``IS``, ``RLIKE`` becomes ``REGEXP``, ``#`` comments are dropped.

Statement forms SQLite lacks (``SHOW TABLES``, ``DESCRIBE t``, ``SHOW COLUMNS FROM t``) are recognised
by ``special_statement`` and answered by the backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
   |(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
   |(?P<squote>'(?:[^'\\]|\\.|'')*')
   |(?P<dquote>"(?:[^"\\]|\\.|"")*")
   |(?P<ident>`(?:[^`]|``)*`)
   |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w$]))
   |(?P<word>[A-Za-z_0-9$]+)
   |(?P<op><=>|<=|>=|<>|!=|\|\||[=<>])
   |(?P<other>.)
    """,
    re.DOTALL | re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a", "\\": "\\", "'": "'", '"': '"'}
_COMPARISONS = {"=", "<", ">", "<=", ">=", "<>", "!=", "<=>"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(sql: str) -> list[Token]:
    return [Token(m.lastgroup, m.group()) for m in _TOKEN.finditer(sql)]


def mysql_string_value(literal: str) -> str:
    """The value of a MySQL '...' or "..." literal (backslash escapes and doubled quotes decoded)."""
    quote, body = literal[0], literal[1:-1]
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            # \% and \_ keep their backslash (they are LIKE escapes in MySQL)
            out.append("\\" + following if following in "%_" else _ESCAPES.get(following, following))
            i += 2
        elif char == quote and body[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def sqlite_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_sqlite(sql: str) -> str:
    tokens = [t for t in tokenize(sql.strip().rstrip(";").strip()) if t.kind != "comment"]
    significant = [i for i, t in enumerate(tokens) if t.kind != "space"]
    out = [t.text for t in tokens]
    clause = ""
    for n, i in enumerate(significant):
        token = tokens[i]
        context = _Context(
            before=tokens[significant[n - 1]] if n else None,
            after=tokens[significant[n + 1]] if n + 1 < len(significant) else None,
            three_back=tokens[significant[n - 3]] if n >= 3 else None,
            clause=clause,
        )
        if token.kind == "word" and token.text.upper() in _CLAUSES:
            clause = token.text.upper()
        out[i] = _translate(token, context)
    return "".join(out)


_CLAUSES = {"SELECT", "SET", "VALUES", "VALUE", "WHERE", "HAVING", "ON", "FROM"}


@dataclass(frozen=True)
class _Context:
    before: Token | None
    after: Token | None
    three_back: Token | None
    clause: str


def _translate(token: Token, context: _Context) -> str:
    if token.kind in ("squote", "dquote"):
        return sqlite_string(mysql_string_value(token.text))
    if token.kind == "word":
        if token.text[0].isdigit():
            return f"`{token.text}`"
        return "REGEXP" if token.text.upper() == "RLIKE" else token.text
    if token.kind == "op" and token.text == "<=>":
        return "IS"
    if token.kind == "number":
        if _is_stored(context):
            return sqlite_string(token.text)  # MySQL stores the literal's text in a TEXT column
        if _is_compared(context):
            return f"CAST({token.text} AS NUMERIC)"
    return token.text


def _is_stored(c: _Context) -> bool:
    if c.clause in ("VALUES", "VALUE"):
        return True
    return c.clause == "SET" and c.before is not None and c.before.text == "="


def _is_word(token: Token | None, word: str) -> bool:
    return token is not None and token.kind == "word" and token.text.upper() == word


def _is_compared(c: _Context) -> bool:
    if c.before is not None and c.before.kind == "op" and c.before.text in _COMPARISONS:
        return True
    if c.after is not None and c.after.kind == "op" and c.after.text in _COMPARISONS:
        return True
    return _is_word(c.before, "BETWEEN") or (_is_word(c.before, "AND") and _is_word(c.three_back, "BETWEEN"))


@dataclass(frozen=True)
class Special:
    """A MySQL statement SQLite has no syntax for: ``kind`` is "show_tables" or "describe"."""

    kind: str
    table: str = ""


_SHOW_TABLES = re.compile(r"^\s*SHOW\s+(?:FULL\s+)?TABLES\s*;?\s*$", re.IGNORECASE)
_DESCRIBE = re.compile(
    r"^\s*(?:DESCRIBE|DESC|EXPLAIN|SHOW\s+(?:FULL\s+)?(?:COLUMNS|FIELDS)\s+(?:FROM|IN))\s+"
    r"(`(?:[^`]|``)+`|\"[^\"]+\"|'[^']+'|[^\s;]+)\s*;?\s*$",
    re.IGNORECASE,
)


def special_statement(sql: str) -> Special | None:
    if _SHOW_TABLES.match(sql):
        return Special("show_tables")
    match = _DESCRIBE.match(sql)
    if match:
        name = match.group(1)
        if name[0] in "`\"'":
            name = name[1:-1].replace("``", "`")
        return Special("describe", name)
    return None
