"""Keeping a response-cache directory (cache.py) in order: ``scan`` its entries, ``list_cache``, ``prune`` (by age,
by size, and whatever is broken) and ``clear``, and the command ``python -m pytest_amb.llm.cache list|prune|clear``
(``main``). Another process may write or remove entries at the same time: what disappears while it is read is
skipped, and only whole entries are counted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_amb.llm.cache import (
    ENTRY_NAME,
    FORMAT,
    HEADER_LIMIT,
    SHARD_NAME,
    TEMP_GRACE_S,
    TEMP_NAME,
    command_directory,
    default_directory,
    utc_now,
)


# -- list, prune, clear -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryInfo:
    path: Path
    key: str
    model: str
    purpose: str
    written: datetime
    size: int  # bytes on disk


@dataclass(frozen=True)
class Scan:
    entries: list[EntryInfo]
    broken: list[Path]  # entry files whose header or size is wrong, and temporary files older than TEMP_GRACE_S


@dataclass(frozen=True)
class CacheListing:
    directory: Path
    entries: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None
    per_model: dict[str, tuple[int, int]]  # model -> (entries, bytes)
    broken: int
    broken_bytes: int


@dataclass(frozen=True)
class Removal:
    removed: int
    removed_bytes: int
    kept: int
    kept_bytes: int


def scan(directory: Path | str, *, now: float | None = None) -> Scan:
    """The entries under ``directory`` read from their headers (bodies are checked on lookup), and the broken
    files. Files that are not the cache's (other names) are not looked at."""
    directory = Path(directory)
    now = time.time() if now is None else now
    entries, broken = [], []
    if not directory.is_dir():
        return Scan(entries, broken)
    for shard in sorted(p for p in directory.iterdir() if SHARD_NAME.match(p.name) and p.is_dir()):
        for path in sorted(shard.iterdir()):
            if ENTRY_NAME.match(path.name):
                info = _entry_info(path)
                if info is None:
                    broken.append(path)
                elif info is not _GONE:
                    entries.append(info)
            elif TEMP_NAME.match(path.name):
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > TEMP_GRACE_S:
                        broken.append(path)
    return Scan(entries, broken)


_GONE = object()  # removed by another process while being scanned


def _entry_info(path: Path):
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            line = file.readline(HEADER_LIMIT)
    except FileNotFoundError:
        return _GONE
    except OSError:
        return None
    try:
        header = json.loads(line)
        written = datetime.fromisoformat(header["written"])
        key, body_bytes = header["key"], header["body_bytes"]
        model, purpose = str(header["model"]), str(header["purpose"])
    except (ValueError, TypeError, KeyError):
        return None
    if header.get("format") != FORMAT or key != path.stem or written.tzinfo is None:
        return None
    if not isinstance(body_bytes, int) or size != len(line) + body_bytes + 1:
        return None
    return EntryInfo(path, key, model, purpose, written, size)


def list_cache(directory: Path | str) -> CacheListing:
    found = scan(directory)
    per_model: dict[str, tuple[int, int]] = {}
    for entry in found.entries:
        count, size = per_model.get(entry.model, (0, 0))
        per_model[entry.model] = (count + 1, size + entry.size)
    times = [entry.written for entry in found.entries]
    return CacheListing(
        directory=Path(directory),
        entries=len(found.entries),
        bytes=sum(entry.size for entry in found.entries),
        oldest=min(times, default=None),
        newest=max(times, default=None),
        per_model=dict(sorted(per_model.items())),
        broken=len(found.broken),
        broken_bytes=sum(_size(path) for path in found.broken),
    )


def prune(
    directory: Path | str,
    *,
    older_than_days: float | None = None,
    max_bytes: int | None = None,
    now: datetime | None = None,
) -> Removal:
    """Removes broken files, entries written more than ``older_than_days`` ago, then the oldest entries until
    at most ``max_bytes`` remain."""
    if older_than_days is not None and not older_than_days >= 0:
        raise ValueError(f"--older-than must be a number of days >= 0, got {older_than_days!r}")
    if max_bytes is not None and max_bytes < 0:
        raise ValueError(f"--max-bytes must be >= 0, got {max_bytes!r}")
    now = utc_now() if now is None else now
    found = scan(directory, now=now.timestamp())
    removed = [(path, _size(path)) for path in found.broken]
    kept = sorted(found.entries, key=lambda e: (e.written, e.key))
    if older_than_days is not None:
        cutoff = now - timedelta(days=older_than_days)
        removed += [(e.path, e.size) for e in kept if e.written < cutoff]
        kept = [e for e in kept if e.written >= cutoff]
    if max_bytes is not None:
        total = sum(e.size for e in kept)
        while kept and total > max_bytes:
            oldest = kept.pop(0)
            removed.append((oldest.path, oldest.size))
            total -= oldest.size
    return _remove(Path(directory), removed, kept)


def clear(directory: Path | str) -> Removal:
    """Removes every entry, broken file and temporary file; files of other names are left where they are."""
    directory = Path(directory)
    found = scan(directory, now=math.inf)  # every temporary file counts as left over
    return _remove(directory, [(p, _size(p)) for p in [*(e.path for e in found.entries), *found.broken]], [])


def _remove(directory: Path, removed: list[tuple[Path, int]], kept: list[EntryInfo]) -> Removal:
    count = size = 0
    for path, length in removed:
        with contextlib.suppress(FileNotFoundError):  # another process pruned it first
            path.unlink()
            count, size = count + 1, size + length
    if directory.is_dir():
        for shard in directory.iterdir():
            if SHARD_NAME.match(shard.name) and shard.is_dir():
                with contextlib.suppress(OSError):  # not empty
                    shard.rmdir()
    return Removal(count, size, len(kept), sum(e.size for e in kept))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- the command --------------------------------------------------------------------------------------------
PROG = "python -m pytest_amb.llm.cache"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"{PROG}: {message} (see --help)\n")


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days >= 0")
    return value


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _bytes(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size in bytes (an integer, or with K, M or G)")
    return int(match[1]) * _UNITS[match[2].upper()]


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _time_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="List, prune or clear the LLM response cache of pytest-amb.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="list|prune|clear")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"the cache directory (default: $AMB_CACHE_DIR, else {default_directory()})",
    )
    commands.add_parser("list", parents=[where], help="count entries and bytes, oldest, newest, per model")
    pruning = commands.add_parser("prune", parents=[where], help="remove old entries and broken files")
    pruning.add_argument("--older-than", type=_days, metavar="DAYS", help="remove entries written before")
    pruning.add_argument("--max-bytes", type=_bytes, metavar="N", help="then remove the oldest down to N (K/M/G)")
    commands.add_parser("clear", parents=[where], help="remove every entry")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """0 done; 1 the file system refused; 2 bad input (one line on stderr)."""
    parser = _parser()
    options = parser.parse_args(argv)
    directory = options.dir if options.dir is not None else command_directory()
    if directory.exists() and not directory.is_dir():
        parser.error(f"--dir {directory} is not a directory")
    if options.command == "prune" and options.older_than is None and options.max_bytes is None:
        parser.error("prune needs --older-than DAYS or --max-bytes N (or both)")
    try:
        if options.command == "list":
            print("\n".join(_listing_lines(list_cache(directory))))
        else:
            if options.command == "prune":
                done = prune(directory, older_than_days=options.older_than, max_bytes=options.max_bytes)
            else:
                done = clear(directory)
            print(
                f"{directory}: removed {done.removed} files ({_size_text(done.removed_bytes)}), "
                f"kept {done.kept} entries ({_size_text(done.kept_bytes)})"
            )
    except OSError as exc:
        print(f"{PROG}: {directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _listing_lines(listing: CacheListing) -> list[str]:
    head = f"{listing.directory}: {listing.entries} entries, {_size_text(listing.bytes)}, "
    lines = [head + f"oldest {_time_text(listing.oldest)}, newest {_time_text(listing.newest)}"]
    width = max((len(model) for model in listing.per_model), default=0)
    lines += [
        f"  {model:<{width}}  {count:>7} entries  {_size_text(size):>10}"
        for model, (count, size) in listing.per_model.items()
    ]
    if listing.broken:
        lines.append(f"  {listing.broken} broken files ({_size_text(listing.broken_bytes)}): prune removes them")
    return lines
