"""The agent's view of a result, built while the rows are fetched (standard library only: the SQLite
sandbox child imports it).

The original answers ``execute_sql`` with ``str(rows)`` (the list of row tuples) cut at 800 characters,
plus ``[TRUNCATED]`` when it was longer. ``Observation`` produces exactly that text without ever holding
more than that: rows are added one at a time and it says when the text is determined (longer than the
limit), so the caller stops fetching; a single value contributes at most ``limit + 1`` characters of its
``repr`` (a 900 MB blob is never turned into a 1.8 GB string).
"""

from __future__ import annotations

OUTPUT_LIMIT = 800  # the original's cap on an observation
TRUNCATED = "[TRUNCATED]"


def cut(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The original's cut: the first ``limit`` characters and a marker when the text was longer."""
    return text[:limit] + TRUNCATED if len(text) > limit else text


def bounded_repr(value, budget: int) -> str:
    """``repr(value)``, or a prefix of it longer than ``budget`` characters when it would be longer.

    Strings and bytes are the only values whose repr can be large; their prefix is computed from the
    first ``budget`` characters, with the quote character ``repr`` would choose for the whole value
    (single quotes, unless the value holds a single quote and no double quote)."""
    if not isinstance(value, (str, bytes)) or len(value) <= budget:
        return repr(value)
    single, double = ("'", '"') if isinstance(value, str) else (b"'", b'"')
    head = value[:budget]
    whole_uses_double = single in value and double not in value
    head_uses_double = single in head and double not in head
    if whole_uses_double == head_uses_double:
        return repr(head)[:-1]  # without the closing quote: a true prefix of repr(value)
    if whole_uses_double:  # the head has no single quote: the same escapes, the other quote character
        opening = 2 if isinstance(value, bytes) else 1  # b' or '
        return repr(head)[: opening - 1] + '"' + repr(head)[opening:-1]
    # the value holds both quotes, the head only single ones: repr escapes them inside single quotes
    return repr(head + double)[:-2]


class Observation:
    """``str(rows)`` cut at ``limit`` characters, fed one row at a time."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.limit = limit
        self.rows = 0
        self._parts = ["["]
        self._length = 1

    @property
    def complete(self) -> bool:
        """True once the text is longer than the limit: further rows cannot change the observation."""
        return self._length > self.limit

    def add(self, row) -> bool:
        """Add one row (a sequence of values); returns ``complete``."""
        if self.complete:
            return True
        self._append(", (" if self.rows else "(")
        self.rows += 1
        values = tuple(row)
        for i, value in enumerate(values):
            if i:
                self._append(", ")
            self._append(bounded_repr(value, self.limit + 1))
            if self.complete:
                return True
        self._append(",)" if len(values) == 1 else ")")
        return self.complete

    def _append(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)

    def text(self) -> str:
        return cut("".join(self._parts) + "]", self.limit)


def observation(rows, limit: int = OUTPUT_LIMIT) -> str:
    """The original's tool reply for an iterable of rows, consuming only as many rows as it needs."""
    built = Observation(limit)
    for row in rows:
        if built.add(row):
            break
    return built.text()
