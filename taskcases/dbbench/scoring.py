"""dbbench scoring, as the original's ``result_processor.py`` (spec amb_tasks §2.4), as pure functions.

Queries: both sides are normalised to lists of strings and compared with a 0.01 float tolerance, as a
set (or a one-to-one float matching when every value is a number). Mutations: the per-table hash of the
rows after the agent's statements, compared with the gold hash.
"""

from __future__ import annotations

import ast
import re

FLOAT_TOLERANCE = 0.01
GROUP_CONCAT_MAX_LEN = 1024  # MySQL 8's default group_concat_max_len, which caps the hashed row list
_SPECIAL = {"none", "null", "undefined", "nan", "inf", "infinity", "-inf", "-infinity", ""}
_HASH = re.compile(r"\b[0-9a-f]{32}\b|\bNone\b")
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")


def hash_query(table: str, columns: tuple[str, ...]) -> str:
    """The original's per-table hash query (MySQL syntax)."""
    fields = ", ".join(quote_identifier(c) for c in columns)
    return (
        "select md5(group_concat(rowhash order by rowhash)) as hash from "
        f"(SELECT substring(MD5(CONCAT_WS(',', {fields})), 1, 5) AS rowhash FROM {quote_identifier(table)}) as sub"
    )


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def combine_hashes(per_table: list[str]) -> str:
    """The original's answer: the tables' hashes, sorted, joined with '_'."""
    return "_".join(sorted(per_table))


def normalize_gold_hash(answer_md5: str) -> str:
    """The stored ``answer_md5`` (e.g. ``"[('03b2...',)]"``) in the form ``combine_hashes`` produces."""
    return combine_hashes(_HASH.findall(answer_md5))


def clean_answer(answer) -> list[str]:
    """The original's ``_clean_answer`` followed by ``_normalize_special_values`` on every value."""
    if answer is None:
        return ["0"]
    if isinstance(answer, str) and answer.strip().startswith("[") and answer.strip().endswith("]"):
        try:
            answer = ast.literal_eval(_DECIMAL.sub(r"'\1'", answer.strip()))
        except (ValueError, SyntaxError):
            answer = _split_outside_quotes(answer.strip()[1:-1])
    values = list(answer) if isinstance(answer, (list, tuple)) else [answer]
    cleaned = []
    for value in values:
        if isinstance(value, tuple):
            if len(value) != 1:
                continue  # multi-column rows are dropped, as in the original
            value = value[0]
        cleaned.append(normalize_value(value))
    return cleaned


def normalize_value(value) -> str:
    text = "0" if value is None else str(value).strip().strip("'\"").strip()
    text = text.removesuffix("%")
    text = text.replace(",", "")
    return "0" if text.lower() in _SPECIAL else text


def answers_match(predicted, gold) -> bool:
    """True when the committed answers equal the gold answers under the original's rules."""
    ours, theirs = clean_answer(predicted), clean_answer(gold)
    if len(ours) == 1 and len(theirs) == 1:
        return _value_match(ours[0], theirs[0])
    our_floats, their_floats = _floats(ours), _floats(theirs)
    if our_floats is not None and their_floats is not None:
        return len(our_floats) == len(their_floats) and _greedy_match(our_floats, their_floats)
    return set(ours) == set(theirs)


def _value_match(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return abs(float(a) - float(b)) <= FLOAT_TOLERANCE
    except ValueError:
        return False


def _floats(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _greedy_match(ours: list[float], theirs: list[float]) -> bool:
    remaining = list(theirs)
    for value in ours:
        partner = next((i for i, other in enumerate(remaining) if abs(value - other) <= FLOAT_TOLERANCE), None)
        if partner is None:
            return False
        remaining.pop(partner)
    return True


def _split_outside_quotes(text: str) -> list[str]:
    parts, current, quote = [], [], None
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
