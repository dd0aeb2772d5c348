"""Loader for dbbench samples in the original AgentBench/AgentMemoryBench format.

A file is JSON Lines (``data/dbbench/dev.jsonl``, ``standard.jsonl``), one sample per line, or a JSON
array of the same objects. Fields used: ``description``, ``label``, ``table`` (``table_name``,
``table_info.columns[].name``, ``table_info.rows``; an object or a list of them), ``type``,
``add_description``, ``answer_md5`` and ``evidence`` where present, and ``sql.query`` (the source SQL
of SELECT-type rows, kept for reference). The sample id is the optional ``id`` field, else the
0-based position in the file (the original's sample index).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError

MUTATION_TYPES = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # every value stringified, as the original's str(value)


@dataclass(frozen=True)
class DbSample:
    sample_id: str
    index: int  # position in the file
    description: str
    label: tuple[str, ...]  # gold answers (queries) or gold SQL (mutations)
    type: str
    tables: tuple[Table, ...]
    add_description: str = ""
    evidence: str = ""
    answer_md5: str = ""  # stored gold hash of the mutated tables ("" = compute from the label SQL)
    source_sql: str = ""

    @property
    def is_mutation(self) -> bool:
        return self.type in MUTATION_TYPES

    def user_message(self) -> str:
        """The original's first user message."""
        parts = []
        if self.evidence:
            parts.append(f"Evidence about the question: {self.evidence}")
        parts.append(f"Additional table information about the question: {self.add_description}")
        parts.append(f"Question: {self.description}")
        return "\n".join(parts)


def load_samples(path: Path) -> list[DbSample]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    records = _records(path, text)
    samples: list[DbSample] = []
    seen: dict[str, str] = {}
    for where, index, record in records:
        sample = _sample(where, index, record)
        if sample.sample_id in seen:
            raise DataError(
                f"{where}: duplicate sample id '{sample.sample_id}' (first at {seen[sample.sample_id]}); "
                "every sample needs its own 'id'"
            )
        seen[sample.sample_id] = where
        samples.append(sample)
    if not samples:
        raise DataError(f"{path}: no samples")
    return samples


def _records(path: Path, text: str) -> list[tuple[str, int, dict]]:
    """(where, index, object) for each sample; ``where`` is ``file:line`` for JSONL, ``file[i]`` for arrays."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        return [(f"{path}[{i}]", i, item) for i, item in enumerate(items)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not a valid JSON line ({exc.msg} at column {exc.colno})") from None
        records.append((f"{path}:{number}", len(records), item))
    return records


def _sample(where: str, index: int, record) -> DbSample:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in ("description", "label", "table", "type"):
        if key not in record:
            raise DataError(f"{where}: missing field '{key}'")
    label = record["label"]
    if isinstance(label, str):
        label = [label]
    if not isinstance(label, list):
        raise DataError(f"{where}: field 'label' must be a list of strings")
    kind = record["type"][0] if isinstance(record["type"], list) and record["type"] else record["type"]
    if not isinstance(kind, str) or not kind:
        raise DataError(f'{where}: field \'type\' must be a one-element list such as ["counting"] or ["INSERT"]')
    tables_field = record["table"] if isinstance(record["table"], list) else [record["table"]]
    tables = tuple(_table(f"{where}.table", t) for t in tables_field)
    if kind in MUTATION_TYPES and not (label and isinstance(label[0], str) and label[0].strip()):
        raise DataError(f"{where}: a {kind} sample needs its gold SQL in 'label'")
    sql = record.get("sql")
    return DbSample(
        sample_id=str(record["id"]) if record.get("id") not in (None, "") else str(index),
        index=index,
        description=str(record["description"]),
        label=tuple("" if v is None else str(v) for v in label),
        type=kind,
        tables=tables,
        add_description=str(record.get("add_description") or _describe(tables[0])),
        evidence=str(record.get("evidence") or ""),
        answer_md5=str(record.get("answer_md5") or ""),
        source_sql=str(sql.get("query") or "") if isinstance(sql, dict) else "",
    )


def _table(where: str, table) -> Table:
    if not isinstance(table, dict):
        raise DataError(f"{where}: expected an object with 'table_name' and 'table_info'")
    name = table.get("table_name")
    info = table.get("table_info")
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: missing field 'table_name'")
    if not isinstance(info, dict) or "columns" not in info or "rows" not in info:
        raise DataError(f"{where}.table_info: needs 'columns' and 'rows'")
    columns = []
    for i, column in enumerate(info["columns"]):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            raise DataError(f"{where}.table_info.columns[{i}]: missing field 'name'")
        # MySQL cannot create a column without a name (dev.jsonl has one); see docs/deviations.md
        columns.append(column["name"] or f"column_{i + 1}")
    if len(set(columns)) != len(columns):
        raise DataError(f"{where}.table_info.columns: a column name is repeated in table '{name}'")
    rows = []
    for i, row in enumerate(info["rows"]):
        if not isinstance(row, list) or len(row) != len(columns):
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise DataError(
                f"{where}.table_info.rows[{i}]: table '{name}' has {len(columns)} columns but this row has {got} values"
            )
        rows.append(tuple(str(v) for v in row))  # the original's str(value): None becomes "None"
    return Table(name, tuple(columns), tuple(rows))


def _describe(table: Table) -> str:
    return f"The name of this table is {table.name}, and the headers of this table are {','.join(table.columns)}."
