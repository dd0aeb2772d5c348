"""Small, deterministic text utilities of the reference model (no downloads, no randomness)."""

from __future__ import annotations

import re
from datetime import date, timedelta

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also really like get got going go went gonna yeah oh wow hey hi thanks
    thank lot much many ever kind sort way thing things one two""".split()
)
MONTHS = "january february march april may june july august september october november december".split()


def offers_tools(request: dict, names) -> bool:
    """The request offers every one of these tools (how a policy recognises its requests)."""
    offered = {(t.get("function") or {}).get("name") for t in request.get("tools") or []}
    return set(names) <= offered


def content_text(content) -> str:
    """The text of a message's ``content``: a string, or the text of its content parts."""
    if isinstance(content, list):  # content parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def words(text: str) -> list[str]:
    return _WORD.findall(str(text).lower())


def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: enough to match 'paints'/'painted'/'painting'."""
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS]


_DATE = re.compile(r"(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})")


def parse_date(text: str) -> date | None:
    """The first date written like '8 May, 2023' or '1:56 pm on 8 May 2023' in ``text`` (None if none)."""
    match = _DATE.search(text or "")
    if not match:
        return None
    month = match.group(2).lower()
    if month not in MONTHS:
        return None
    try:
        return date(int(match.group(3)), MONTHS.index(month) + 1, int(match.group(1)))
    except ValueError:
        return None


def format_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1].capitalize()} {day.year}"


def resolve_relative_date(text: str, anchor: date) -> str:
    """Turn a relative time expression in ``text`` into an absolute one, as of ``anchor``."""
    lowered = str(text).lower()
    if re.search(r"\byesterday\b|\blast night\b", lowered):
        return format_date(anchor - timedelta(days=1))
    if re.search(r"\blast week\b", lowered):
        return f"the week before {format_date(anchor)}"
    if re.search(r"\blast weekend\b", lowered):
        return f"the weekend before {format_date(anchor)}"
    if re.search(r"\blast month\b", lowered):
        previous = anchor.replace(day=1) - timedelta(days=1)
        return f"{MONTHS[previous.month - 1].capitalize()} {previous.year}"
    if re.search(r"\blast year\b", lowered):
        return str(anchor.year - 1)
    match = re.search(r"\b(\d+|two|three|four|five|six)\s+days\s+ago\b", lowered)
    if match:
        amount = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}.get(match.group(1))
        return format_date(anchor - timedelta(days=amount or int(match.group(1))))
    if re.search(r"\bnext month\b", lowered):
        following = (anchor.replace(day=28) + timedelta(days=4)).replace(day=1)
        return f"{MONTHS[following.month - 1].capitalize()} {following.year}"
    return format_date(anchor)
