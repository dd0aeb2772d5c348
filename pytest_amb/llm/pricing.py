"""Cost in money of LLM calls: a price table per model, and sums per purpose (or any grouping) of ledger calls.

Prices are USD per million tokens: ``input`` for prompt tokens the provider did not serve from its prompt
cache, ``cached_input`` for those it did (absent: billed as input), ``output`` for completion tokens. The
bundled table (``prices.json``) gives the source and date of every price. A user file (JSON, or YAML by its
suffix) of the same shape extends or overrides it, entry by entry: an entry replaces the price of its name and
of its aliases only. A model is looked up by its exact name; an unknown model's cost is None, never 0.

Ledger calls are ``CallRecord``s or their JSON dicts: ``purpose``, ``model``, ``prompt_tokens``,
``completion_tokens``, and when present ``cached_prompt_tokens`` (the provider's prompt cache) and
``from_cache`` (an answer replayed from the response cache, which cost nothing).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).with_name("prices.json")
CURRENCY = "USD"
UNIT = "per million tokens"
PRICE_FIELDS = ("input", "output", "cached_input")
ENTRY_FIELDS = (*PRICE_FIELDS, "aliases", "source", "as_of")
TOP_FIELDS = ("currency", "unit", "note", "models")


class PriceFileError(ValueError):
    """A price file that cannot be used; the message is one line naming the file, the model and the field."""


@dataclass(frozen=True)
class Price:
    model: str
    input: float
    output: float
    cached_input: float | None = None  # None: cached prompt tokens are billed as input
    source: str | None = None
    as_of: str | None = None

    def cost(self, prompt: int, completion: int, cached: int = 0) -> float:
        """``prompt`` counts every prompt token, ``cached`` the part of them the provider served from its cache."""
        for name, value in (("prompt", prompt), ("completion", completion), ("cached", cached)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} tokens must be an integer >= 0, got {value!r}")
        if cached > prompt:
            raise ValueError(f"cached tokens ({cached}) exceed the prompt tokens ({prompt})")
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return math.fsum(((prompt - cached) * self.input, cached * cached_rate, completion * self.output)) / 1e6


class PriceTable:
    """Prices by model name (aliases included)."""

    def __init__(self, prices: Mapping[str, Price]):
        self._prices = dict(prices)

    @classmethod
    def bundled(cls) -> PriceTable:
        return _bundled()

    @classmethod
    def load(cls, user_file: Path | str | None = None) -> PriceTable:
        """The bundled table, extended or overridden by ``user_file`` (PriceFileError, one line, on a bad file)."""
        table = cls.bundled()
        return table if user_file is None else table.extended(read_prices(Path(user_file)))

    def extended(self, prices: Mapping[str, Price]) -> PriceTable:
        return PriceTable({**self._prices, **prices})

    def price(self, model: str) -> Price | None:
        return self._prices.get(model)

    def cost(self, model: str, prompt: int, completion: int, cached: int = 0) -> float | None:
        price = self.price(model)
        return None if price is None else price.cost(prompt, completion, cached)

    def models(self) -> list[str]:
        return sorted(self._prices)


@cache
def _bundled() -> PriceTable:
    return PriceTable(read_prices(BUNDLED, require_provenance=True))


def cost(model: str, prompt: int, completion: int, cached: int = 0, *, table: PriceTable | None = None) -> float | None:
    """The cost in USD of one call, or None when the model's price is unknown."""
    return (table or PriceTable.bundled()).cost(model, prompt, completion, cached)


# -- reading a price file -----------------------------------------------------------------------------------
def read_prices(path: Path, *, require_provenance: bool = False) -> dict[str, Price]:
    """The prices a file declares, by name and alias. Every problem is one PriceFileError line naming the file and,
    where there is one, the model and the field."""
    data = _load(path)
    if not isinstance(data, dict):
        raise PriceFileError(f"{path}: the price file must be an object with a 'models' object")
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise PriceFileError(f"{path}: unknown field '{unknown[0]}' (expected: {', '.join(TOP_FIELDS)})")
    if data.get("currency", CURRENCY) != CURRENCY:
        raise PriceFileError(f"{path}: field 'currency' must be {CURRENCY}, got {data['currency']!r}")
    if data.get("unit", UNIT) != UNIT:
        raise PriceFileError(f"{path}: field 'unit' must be '{UNIT}', got {data['unit']!r}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise PriceFileError(f"{path}: field 'models' must be an object of model name -> prices")
    prices: dict[str, Price] = {}
    for model, entry in models.items():
        price = _price(path, str(model), entry, require_provenance)
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            raise PriceFileError(f"{path}: model '{model}': field 'aliases' must be a list of model names")
        for name in (model, *aliases):
            if name in prices:
                raise PriceFileError(f"{path}: model '{model}': the name '{name}' is priced twice in this file")
            prices[name] = price
    return prices


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"{path}: cannot read the price file: {getattr(exc, 'strerror', None) or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise PriceFileError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write the file as JSON")
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
            raise PriceFileError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None


def _price(path: Path, model: str, entry: Any, require_provenance: bool) -> Price:
    where = f"{path}: model '{model}'"
    if not isinstance(entry, dict):
        raise PriceFileError(f"{where}: the entry must be an object with fields {', '.join(ENTRY_FIELDS)}")
    unknown = sorted(set(entry) - set(ENTRY_FIELDS))
    if unknown:
        raise PriceFileError(f"{where}: unknown field '{unknown[0]}' (expected: {', '.join(ENTRY_FIELDS)})")
    rates = {}
    for name in PRICE_FIELDS:
        value = entry.get(name)
        if value is None and name == "cached_input":
            continue
        if value is None:
            raise PriceFileError(f"{where}: field '{name}' is missing (USD {UNIT})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise PriceFileError(f"{where}: field '{name}' must be a number >= 0 (USD {UNIT}), got {value!r}")
        rates[name] = float(value)
    source, as_of = entry.get("source"), entry.get("as_of")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise PriceFileError(f"{where}: field 'source' must be a non-empty text (where the price is published)")
    if as_of is not None:
        as_of = str(as_of)  # YAML reads an unquoted date as a date
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise PriceFileError(f"{where}: field 'as_of' must be a date YYYY-MM-DD, got {as_of!r}") from None
    if require_provenance and (source is None or as_of is None):
        raise PriceFileError(f"{where}: field '{'source' if source is None else 'as_of'}' is missing")
    return Price(model, rates["input"], rates["output"], rates.get("cached_input"), source, as_of)


# -- sums over ledger calls ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupCost:
    cost: float | None  # USD; None when a call's model has no price
    calls: int
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    unknown_models: tuple[str, ...]  # sorted
    replayed: int  # calls answered from the response cache (no tokens, no cost)

    def to_json(self) -> dict:
        return {
            "cost_usd": self.cost,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "unknown_models": list(self.unknown_models),
            "replayed": self.replayed,
        }


def _field(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def by_purpose(record: Any) -> str:
    return str(_field(record, "purpose", ""))


def sum_costs(
    records: Iterable[Any], table: PriceTable, *, group: Callable[[Any], str] = by_purpose
) -> dict[str, GroupCost]:
    """Cost, tokens and calls per group (default: per purpose), groups sorted by name. A group's cost is None
    as soon as one of its billed calls has a model without a price; ``unknown_models`` names them. Calls
    replayed from the response cache are counted, cost nothing and have no tokens billed."""
    grouped: dict[str, list[Any]] = {}
    for record in records:
        grouped.setdefault(group(record), []).append(record)
    return {name: _group_cost(grouped[name], table) for name in sorted(grouped)}


def total_cost(records: Iterable[Any], table: PriceTable) -> GroupCost:
    """Every call as one group."""
    return _group_cost(list(records), table)


def _group_cost(records: list[Any], table: PriceTable) -> GroupCost:
    costs, unknown = [], set()
    prompt = cached = completion = replayed = 0
    for record in records:
        if _field(record, "from_cache", False):
            replayed += 1
            continue
        model = str(_field(record, "model", ""))
        p, c = int(_field(record, "prompt_tokens", 0) or 0), int(_field(record, "completion_tokens", 0) or 0)
        k = int(_field(record, "cached_prompt_tokens", 0) or 0)
        prompt, completion, cached = prompt + p, completion + c, cached + k
        one = table.cost(model, p, c, k)
        if one is None:
            unknown.add(model)
        else:
            costs.append(one)
    return GroupCost(
        cost=None if unknown else math.fsum(costs),
        calls=len(records),
        prompt_tokens=prompt,
        cached_prompt_tokens=cached,
        completion_tokens=completion,
        unknown_models=tuple(sorted(unknown)),
        replayed=replayed,
    )
