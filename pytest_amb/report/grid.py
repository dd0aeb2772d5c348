"""Plain-text tables and lines that fit a terminal of ``WIDTH`` columns: a table too wide for it is split
into consecutive tables over the same rows (the leading label columns repeated), and long prose is
wrapped with a hanging indent."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

WIDTH = 100
GAP = "  "


@dataclass(frozen=True)
class Column:
    heading: str
    cells: tuple[str, ...]
    align: str = ">"  # ">" right (numbers), "<" left (labels, intervals)

    @property
    def width(self) -> int:
        return max(len(self.heading), *(len(c) for c in self.cells)) if self.cells else len(self.heading)

    def cell(self, row: int) -> str:
        return f"{self.cells[row]:{self.align}{self.width}}"

    def head(self) -> str:
        return f"{self.heading:{self.align}{self.width}}"


def table(
    labels: list[Column], columns: list[Column | tuple[Column, ...]], indent: str = "", width: int = WIDTH
) -> list[str]:
    """The rows of ``labels`` and ``columns`` side by side, every line right-stripped. Where one table would
    be wider than ``width``, the columns are split into as few consecutive tables as fit (each repeating
    ``labels``), as evenly wide as can be; a tuple of columns stays in one table."""
    groups = [c if isinstance(c, tuple) else (c,) for c in columns]
    fixed = len(indent) + sum(c.width for c in labels) + len(GAP) * (len(labels) - 1)
    widths = [sum(len(GAP) + c.width for c in group) for group in groups]
    rows = len(labels[0].cells) if labels else 0
    lines = []
    for part in _partition(widths, width - fixed):
        every = [*labels, *(c for n in part for c in groups[n])]
        lines.append((indent + GAP.join(c.head() for c in every)).rstrip())
        lines += [(indent + GAP.join(c.cell(r) for c in every)).rstrip() for r in range(rows)]
    return lines


def _partition(widths: list[int], room: int) -> list[range]:
    """Consecutive runs of ``widths`` in as few parts as fit ``room`` (a part of one wider group stands
    alone), the widest part as narrow as can be."""
    count = len(widths)
    for parts in range(1, count + 1):
        # best[i][k]: (widest part, cuts) splitting widths[:i] into k parts, each within room
        best: dict[tuple[int, int], tuple[int, list[int]]] = {(0, 0): (0, [])}
        for k in range(1, parts + 1):
            for i in range(1, count + 1):
                options = []
                for j in range(k - 1, i):
                    if (j, k - 1) not in best:
                        continue
                    part = sum(widths[j:i])
                    if part > room and i - j > 1:
                        continue
                    previous, cuts = best[(j, k - 1)]
                    options.append((max(previous, part), [*cuts, j]))
                if options:
                    best[(i, k)] = min(options)
        if (count, parts) in best:
            cuts = [*best[(count, parts)][1], count]
            return [range(cuts[n], cuts[n + 1]) for n in range(parts)]
    return [range(count)]


def wrap(text: str, indent: str = "", hang: str = "  ", width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` columns (a word longer than that stays whole): the first
    line starts with ``indent``, the others with ``indent + hang``."""
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + hang,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]  # fmt: skip


def wrap_text(text: str, indent: str = "", hang: str = "  ", width: int = WIDTH) -> list[str]:
    """A text of several lines (a message with a list, a command) wrapped line by line: each line keeps its
    own indentation, under ``indent + hang`` after the first."""
    lines: list[str] = []
    for n, line in enumerate(text.splitlines() or [""]):
        own = line[: len(line) - len(line.lstrip())]
        start = indent if n == 0 else indent + hang + own
        lines += wrap(line.strip(), indent=start, hang=hang, width=width)
    return lines


def join_wrapped(parts: list[str], separator: str = " · ", indent: str = "", width: int = WIDTH,
                 hang: str = "") -> list[str]:  # fmt: skip
    """``parts`` joined by ``separator`` into as few lines as fit ``width``, breaking only between parts;
    lines after the first start with ``indent + hang``. A part too long for a line of its own is wrapped
    between its words."""
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = indent + part if not current else current + separator + part
        if current and len(candidate) > width:
            lines += _fitted(current, width)
            candidate = indent + hang + part
        current = candidate
    if current:
        lines += _fitted(current, width)
    return lines


def _fitted(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    own = line[: len(line) - len(line.lstrip())]
    return wrap(line.lstrip(), indent=own, width=width)
