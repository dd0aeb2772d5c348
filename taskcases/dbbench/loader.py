"""Loader for dbbench samples in the original AgentBench/AgentMemoryBench format.

A file is JSON Lines (``data/dbbench/dev.jsonl``, ``standard.jsonl``), one sample per line, or a JSON
array of the same objects. Fields used: ``description``, ``label``, ``table`` (``table_name``,
``table_info.columns[].name``, ``table_info.rows``; an object or a list of them), ``type``,
``add_description``, ``answer_md5`` and ``evidence`` where present, and ``sql.query`` (the source SQL
of SELECT-type rows, kept for reference). The sample id is the optional ``id`` field, else the
0-based position in the file (the original's sample index).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError
from taskcases import datafile

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
    text = datafile.read_text(path)
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
        raise datafile.no_samples(path, "an empty list" if text.lstrip().startswith("[") else "no JSON lines")
    return samples


def _records(path: Path, text: str) -> list[tuple[str, int, object]]:
    """(where, index, object) for each sample; ``where`` is ``file:line`` for JSONL, ``file[i]`` for arrays."""
    if text.lstrip().startswith("["):
        items = datafile.parse_json(text, str(path))
        return [(f"{path}[{i}]", i, item) for i, item in enumerate(items)]
    return [(f"{path}:{number}", i, item) for i, (number, item) in enumerate(datafile.read_json_lines(path, text))]


def _sample(where: str, index: int, record) -> DbSample:
    datafile.need_object(record, where, "a JSON object (one sample)")
    for key in ("description", "label", "table", "type"):
        if key not in record:
            raise DataError(f"{where}: missing field '{key}'")
    description = datafile.get(record, "description", where, datafile.TEXT, nonempty=True)
    label = record["label"]
    if isinstance(label, str):
        label = [label]
    datafile.expect(label, datafile.LIST, f"{where}.label", hint="a list of strings: gold answers, or the gold SQL")
    for i, value in enumerate(label):
        datafile.expect(value, datafile.TEXT, f"{where}.label[{i}]")
    kind = _type(record["type"], f"{where}.type")
    tables_field = record["table"] if isinstance(record["table"], list) else [record["table"]]
    if not tables_field:
        raise DataError(f"{where}.table: an empty list; give the table the question is about")
    tables = tuple(_table(f"{where}.table" + (f"[{i}]" if isinstance(record["table"], list) else ""), t)
                   for i, t in enumerate(tables_field))  # fmt: skip
    if kind in MUTATION_TYPES and not (label and label[0].strip()):
        raise DataError(f"{where}.label: a {kind} sample needs its gold SQL in 'label'")
    sample_id = datafile.get(record, "id", where, datafile.TEXT_OR_NUMBER, default=str(index), nonempty=True)
    sql = datafile.get(record, "sql", where, datafile.OBJECT, default={})
    add_description = datafile.get(record, "add_description", where, datafile.TEXT, default="")
    return DbSample(
        sample_id=str(sample_id),
        index=index,
        description=description,
        label=tuple(label),
        type=kind,
        tables=tables,
        add_description=add_description or _describe(tables[0]),
        evidence=datafile.get(record, "evidence", where, datafile.TEXT, default=""),
        answer_md5=datafile.get(record, "answer_md5", where, datafile.TEXT, default=""),
        source_sql=datafile.get(sql, "query", f"{where}.sql", datafile.TEXT, default=""),
    )


def _type(value, where: str) -> str:
    """The sample's type: a one-element list such as ["counting"] (the original), or the string itself."""
    hint = 'a one-element list such as ["counting"] or ["INSERT"]'
    if isinstance(value, list):
        if len(value) != 1:
            raise DataError(f"{where}: expected {hint}, got {datafile.shown(value)}")
        return datafile.expect(value[0], datafile.TEXT, f"{where}[0]", nonempty=True, hint=hint)
    return datafile.expect(value, datafile.TEXT, where, nonempty=True, hint=hint)


def _table(where: str, table) -> Table:
    datafile.need_object(table, where, "an object with 'table_name' and 'table_info'")
    name = datafile.get(table, "table_name", where, datafile.TEXT, nonempty=True)
    info = datafile.get(table, "table_info", where, datafile.OBJECT, hint="an object with 'columns' and 'rows'")
    at = f"{where}.table_info"
    columns = []
    raw_columns = datafile.get(info, "columns", at, datafile.LIST, nonempty=True, hint='a list of {"name": ...}')
    for i, column in enumerate(raw_columns):
        datafile.need_object(column, f"{at}.columns[{i}]", "an object with 'name'")
        # MySQL cannot create a column without a name (dev.jsonl has one); see docs/deviations.md
        columns.append(datafile.get(column, "name", f"{at}.columns[{i}]", datafile.TEXT) or f"column_{i + 1}")
    if len(set(columns)) != len(columns):
        raise DataError(f"{at}.columns: a column name is repeated in table '{name}'")
    rows = []
    for i, row in enumerate(datafile.get(info, "rows", at, datafile.LIST)):
        if not isinstance(row, list) or len(row) != len(columns):
            got = f"{len(row)} values" if isinstance(row, list) else datafile.shown(row)
            raise DataError(f"{at}.rows[{i}]: table '{name}' has {len(columns)} columns but this row has {got}")
        for j, value in enumerate(row):
            datafile.expect(value, datafile.SCALAR, f"{at}.rows[{i}][{j}]")
        rows.append(tuple(str(v) for v in row))  # the original's str(value): None becomes "None"
    return Table(name, tuple(columns), tuple(rows))


def _describe(table: Table) -> str:
    return f"The name of this table is {table.name}, and the headers of this table are {','.join(table.columns)}."
