"""Loader for os_interaction items in the original AgentBench/AgentMemoryBench format (spec amb_tasks §3.1).

A problem file is a JSON array of items (or one item, or JSON Lines). Each item has a ``description``,
an optional ``create`` (``local`` image kind and ``init`` scripts), an optional ``start`` script run in
the agent's shell, an ``evaluation`` (``match``, or ``check`` with an optional ``example``) and
optional ``labels``. A Script is a bare string of bash, ``{code, language}`` or ``{file, language}``
with the file relative to the problem file's script folder. Script files are read at load time.

Script folders follow the original layout: ``<root>/data/<k>/<name>.json`` uses ``<root>/scripts/<k>/``
and ``<root>/data/<name>.json`` uses ``<root>/scripts/<name>/`` (``dev.json`` -> ``scripts/dev/``).
Sample ids are the 0-based positions over all files of a task, in sorted file order (the original's
indices); each sample keeps its file and position in that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError
from taskcases import datafile

IMAGE_KINDS = ("default", "packages", "ubuntu")
LANGUAGES = ("bash", "python")


@dataclass(frozen=True)
class Script:
    language: str  # "bash" or "python"
    code: str
    origin: str = "inline"  # the file it was read from (relative to the script folder), or "inline"


@dataclass(frozen=True)
class Match:
    answer: str | None = None  # exact comparison
    regex: str | None = None  # re.search
    strip: bool = True


@dataclass(frozen=True)
class OsSample:
    sample_id: str
    file: str  # the problem file
    index_in_file: int
    description: str
    image: str  # "default", "packages" or "ubuntu"
    init: tuple[Script, ...] = ()
    start: Script | None = None
    match: Match | None = None
    check: tuple[Script | None, ...] = ()  # None: run the example
    example: Script | None = None
    labels: tuple[str, ...] = ()

    @property
    def evaluation(self) -> str:
        """A short name of how the sample is scored: ``match``, the checker of ``[null, <checker>]``
        (``integer-match``, ``string-match``, ...), else ``check``."""
        if self.match is not None:
            return "match"
        if len(self.check) == 2 and self.check[0] is None and self.check[1] is not None:
            origin = self.check[1].origin
            if origin != "inline":
                return Path(origin).stem
        return "check"


def script_dir(problem_file: Path) -> Path:
    """The script folder of a problem file, by the original layout."""
    problem_file = Path(problem_file)
    if problem_file.parent.name == "data":  # <root>/data/<name>.json
        return problem_file.parent.parent / "scripts" / problem_file.stem
    if problem_file.parent.parent.name == "data":  # <root>/data/<k>/<name>.json
        return problem_file.parent.parent.parent / "scripts" / problem_file.parent.name
    raise DataError(
        f"{problem_file}: not in the original layout (<root>/data/<name>.json or <root>/data/<k>/<name>.json)"
    )


def load_samples(files: list[Path] | tuple[Path, ...], first_id: int = 0) -> list[OsSample]:
    """Every item of ``files``, in order; ids count on from ``first_id``. A file without items is an error."""
    samples: list[OsSample] = []
    for path in files:
        items = _items(Path(path))
        if not items:
            raise datafile.no_samples(path, "no os_interaction items")
        for index_in_file, item in enumerate(items):
            samples.append(_sample(Path(path), index_in_file, item, str(first_id + len(samples))))
    if not samples:
        raise DataError("no os_interaction files were given")
    return samples


def _items(path: Path) -> list:
    text = datafile.read_text(path)
    if path.suffix == ".jsonl":
        return [item for _, item in datafile.read_json_lines(path, text)]
    data = datafile.parse_json(text, str(path))
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of items, got {datafile.shown(data)}")
    return data


def _sample(path: Path, index: int, item, sample_id: str) -> OsSample:
    where = f"{path}[{index}]"
    datafile.need_object(item, where, "a JSON object (one item)")
    description = datafile.get(item, "description", where, datafile.TEXT, nonempty=True, hint="the problem text")
    folder = script_dir(path)
    image, init = _create(where, item.get("create"), folder)
    evaluation = datafile.get(item, "evaluation", where, datafile.OBJECT, hint="an object with 'match' or 'check'")
    match, check, example = None, (), None
    if "match" in evaluation:
        match = _match(f"{where}.evaluation.match", evaluation["match"])
    elif "check" in evaluation:
        raw = evaluation["check"]
        entries = raw if isinstance(raw, list) else [raw]
        if not entries:
            raise DataError(f"{where}.evaluation.check: an empty list checks nothing")
        check = tuple(
            None if entry is None else _script(f"{where}.evaluation.check[{i}]", entry, folder)
            for i, entry in enumerate(entries)
        )
    else:
        raise DataError(f"{where}.evaluation: needs 'match' or 'check'")
    if evaluation.get("example") is not None:  # null: no example, as in the original
        example = _script(f"{where}.evaluation.example", evaluation["example"], folder)
    if None in check and example is None:
        raise DataError(f"{where}.evaluation: 'check' has a null entry (run the example) but there is no 'example'")
    labels = item.get("labels") or []  # null: no labels
    datafile.expect(labels, datafile.LIST, f"{where}.labels", hint="a list of strings")
    for i, label in enumerate(labels):
        datafile.expect(label, datafile.TEXT, f"{where}.labels[{i}]")
    start = _script(f"{where}.start", item["start"], folder) if item.get("start") is not None else None
    return OsSample(
        sample_id=sample_id,
        file=str(path),
        index_in_file=index,
        description=description,
        image=image,
        init=init,
        start=start,
        match=match,
        check=check,
        example=example,
        labels=tuple(labels),
    )


def _create(where: str, create, folder: Path) -> tuple[str, tuple[Script, ...]]:
    # A 'create' that is not an object (one item of the original's data/5 and dev.json[10] hold a list
    # there) means the default image without init, as in the original.
    if not isinstance(create, dict):
        return "default", ()
    image = create.get("local") or "default"  # null or "": the default image, as in the original
    if image not in IMAGE_KINDS:
        shown = f"'{image}'" if isinstance(image, str) else datafile.shown(image)
        raise DataError(f"{where}.create.local: {shown} is not one of {', '.join(IMAGE_KINDS)}")
    raw = create.get("init")
    if raw is None:
        return image, ()
    entries = raw if isinstance(raw, list) else [raw]
    return image, tuple(_script(f"{where}.create.init[{i}]", entry, folder) for i, entry in enumerate(entries))


def _match(where: str, raw) -> Match:
    if isinstance(raw, str):
        return Match(answer=raw, strip=True)
    if not isinstance(raw, dict) or not ({"answer", "regex"} & raw.keys()):
        raise DataError(f"{where}: expected a string, or an object with 'answer' or 'regex' (and optional 'strip')")
    answer = datafile.get(raw, "answer", where, datafile.TEXT, default=None)
    regex = datafile.get(raw, "regex", where, datafile.TEXT, default=None)
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise DataError(f"{where}.regex: not a valid regular expression ({exc})") from None
    return Match(answer=answer, regex=regex, strip=datafile.get(raw, "strip", where, datafile.BOOLEAN, default=False))


def _script(where: str, raw, folder: Path) -> Script:
    if isinstance(raw, str):
        return Script("bash", raw)
    if not isinstance(raw, dict):
        got = datafile.shown(raw)
        raise DataError(f"{where}: expected a bash string or an object with 'code' or 'file', got {got}")
    language = datafile.get(raw, "language", where, datafile.TEXT, default="bash") or "bash"
    if language not in LANGUAGES:
        raise DataError(f"{where}.language: '{language}' is not supported; use one of {', '.join(LANGUAGES)}")
    if "file" in raw:
        name = datafile.get(raw, "file", where, datafile.TEXT, nonempty=True)
        file = folder / name
        if not file.exists():
            raise DataError(f"{where}.file: {file} does not exist (script files are relative to {folder})")
        return Script(language, datafile.read_text(file, "script file"), name)
    if "code" in raw:
        return Script(language, datafile.get(raw, "code", where, datafile.TEXT))
    raise DataError(f"{where}: a script object needs 'code' (a string) or 'file'")
