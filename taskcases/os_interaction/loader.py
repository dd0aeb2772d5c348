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

import json
from dataclasses import dataclass
from pathlib import Path

from pytest_amb.tasks import DataError

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
    """Every item of ``files``, in order; ids count on from ``first_id``."""
    samples: list[OsSample] = []
    for path in files:
        for index_in_file, item in enumerate(_items(Path(path))):
            samples.append(_sample(Path(path), index_in_file, item, str(first_id + len(samples))))
    if not samples:
        raise DataError(f"{', '.join(str(f) for f in files) or 'no files'}: no os_interaction items")
    return samples


def _items(path: Path) -> list:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if path.suffix == ".jsonl":
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number}: not a valid JSON line ({exc.msg})") from None
        return items
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of items, got {type(data).__name__}")
    return data


def _sample(path: Path, index: int, item, sample_id: str) -> OsSample:
    where = f"{path}[{index}]"
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(item).__name__}")
    description = item.get("description")
    if not isinstance(description, str) or not description.strip():
        raise DataError(f"{where}: missing field 'description' (the problem text)")
    folder = script_dir(path)
    image, init = _create(where, item.get("create"), folder)
    evaluation = item.get("evaluation")
    if not isinstance(evaluation, dict):
        raise DataError(f"{where}: missing field 'evaluation' (an object with 'match' or 'check')")
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
    if evaluation.get("example") is not None:
        example = _script(f"{where}.evaluation.example", evaluation["example"], folder)
    if None in check and example is None:
        raise DataError(f"{where}.evaluation: 'check' has a null entry (run the example) but there is no 'example'")
    labels = item.get("labels") or []
    if not isinstance(labels, list):
        raise DataError(f"{where}.labels: expected a list of strings")
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
        labels=tuple(str(label) for label in labels),
    )


def _create(where: str, create, folder: Path) -> tuple[str, tuple[Script, ...]]:
    # A 'create' that is not an object (one item of the original's data/5 and dev.json[10] hold a list
    # there) means the default image without init, as in the original.
    if not isinstance(create, dict):
        return "default", ()
    image = create.get("local") or "default"
    if image not in IMAGE_KINDS:
        raise DataError(f"{where}.create.local: '{image}' is not one of {', '.join(IMAGE_KINDS)}")
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
    for key in ("answer", "regex"):
        if key in raw and not isinstance(raw[key], str):
            raise DataError(f"{where}.{key}: expected a string")
    return Match(answer=raw.get("answer"), regex=raw.get("regex"), strip=bool(raw.get("strip", False)))


def _script(where: str, raw, folder: Path) -> Script:
    if isinstance(raw, str):
        return Script("bash", raw)
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a bash string or an object with 'code' or 'file'")
    language = raw.get("language") or "bash"
    if language not in LANGUAGES:
        raise DataError(f"{where}.language: '{language}' is not supported; use one of {', '.join(LANGUAGES)}")
    if "file" in raw:
        file = folder / str(raw["file"])
        try:
            return Script(language, file.read_text(encoding="utf-8"), str(raw["file"]))
        except FileNotFoundError:
            raise DataError(f"{where}.file: {file} does not exist (script files are relative to {folder})") from None
    if isinstance(raw.get("code"), str):
        return Script(language, raw["code"])
    raise DataError(f"{where}: a script object needs 'code' (a string) or 'file'")
