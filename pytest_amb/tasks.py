"""The task-family contract: what a task family declares about itself, and how task names resolve.

A task family is one folder (the built-ins ship in this distribution; others in any importable package)
that declares one ``TaskFamily`` and registers it under the entry-point group ``pytest_amb.tasks``.
The harness reads only this declaration: the names the family answers, how its data is loaded and
indexed, how its task instances are built, its own options, the harness services it needs, its metrics,
and its reference-model policies. See docs/tasks.md.

The shape follows AgentBench's ``Task`` (``get_indices`` ~ ``index``, ``start_sample`` ~ ``Task.open``,
``calculate_overall`` ~ ``aggregates``) and inspect_ai's ``Task(dataset, solver, scorer, metrics)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_amb.option_spec import OptionSpec

# The harness services a family may request by name (see Engine.service).
SERVICES = ("judge_llm", "containers")


class TaskNameError(ValueError):
    """An unknown task name, or a known one whose files are missing. The message says what to do."""


class DataError(ValueError):
    """A data file does not have the expected shape. The message names the file, the line or field, and what to fix."""


@dataclass(frozen=True)
class TaskSource:
    """One task name the user selected, resolved to its data files."""

    name: str  # as the user wrote it: a family name or an original config name
    family: str  # the family's registered name
    files: tuple[Path, ...]
    bundled: bool


@dataclass(frozen=True)
class TaskContext:
    """What a family's ``build`` receives: its own option values and the harness services it declared."""

    options: Mapping[str, Any]
    service: Callable[[str], Any]  # service("judge_llm") -> the object; only declared services are given


@dataclass(frozen=True)
class TaskFamily:
    """Everything the harness knows about one task family.

    ``load(source)`` reads the source's data once per process; ``index(source, data)`` gives the task
    instances' ``TaskIndex``es (stable sample ids, sessions) the plan is built from; ``build(source, data,
    context)`` gives the ``Task`` objects that run episodes. ``options`` are the family's own options
    (flag ``--amb-<name>``, ini ``amb_<name>``, variable ``AMB_<NAME>``), each validated by its ``parse``;
    ``services`` the harness services ``build`` may ask for; ``aggregates`` its metrics (``metrics.table``);
    ``reference`` the reference model's policies for its requests (``llm.reference.policy``); ``plugin``
    a module of pytest fixtures the family offers its users.
    """

    name: str
    root: Path  # the family's folder; ``bundled`` is relative to it
    bundled: str  # glob of the bundled sample files
    original: Mapping[str, str]  # original config name -> path or glob (sorted) under --amb-data-dir
    load: Callable[[TaskSource], Any]
    index: Callable[[TaskSource, Any], list]
    build: Callable[[TaskSource, Any, TaskContext], list]
    options: tuple[OptionSpec, ...] = ()
    services: tuple[str, ...] = ()
    aggregates: tuple = ()  # metrics.table.Aggregate
    reference: tuple = ()  # llm.reference.policy.ReferencePolicy
    plugin: str | None = None
    description: str = ""
    order: int = 0  # place in listings (the built-ins use 1, 2, 3, ...)

    def __post_init__(self):
        unknown = [s for s in self.services if s not in SERVICES]
        if unknown:
            raise ValueError(f"task family '{self.name}': unknown services {unknown}; known: {', '.join(SERVICES)}")

    @property
    def names(self) -> list[str]:
        return [self.name, *self.original]


@dataclass(frozen=True)
class Catalog:
    """The installed task families, and names announced by installed packages but not provided yet."""

    families: Mapping[str, TaskFamily]
    planned: tuple[str, ...] = field(default=())

    def accepted_names(self) -> list[str]:
        return [name for family in self.families.values() for name in family.names]

    def resolve(self, name: str, data_dir: Path | None) -> TaskSource:
        for family in self.families.values():
            if name == family.name:
                return _bundled(family)
            if name in family.original:
                return _original(family, name, data_dir)
        accepted = ", ".join(self.accepted_names())
        if name in self.planned:
            raise TaskNameError(f"task '{name}' is not available in this version of pytest-amb; accepted: {accepted}")
        raise TaskNameError(f"unknown task '{name}'; accepted: {accepted}")


def _bundled(family: TaskFamily) -> TaskSource:
    files = tuple(sorted(family.root.glob(family.bundled)))
    if not files:
        raise TaskNameError(
            f"task '{family.name}': no bundled sample files match {family.root / family.bundled}; "
            "the installation is incomplete, reinstall the package that provides it"
        )
    return TaskSource(family.name, family.name, files, bundled=True)


def _original(family: TaskFamily, name: str, data_dir: Path | None) -> TaskSource:
    relative = family.original[name]
    if data_dir is None:
        raise TaskNameError(
            f"task '{name}' reads the original data: pass --amb-data-dir (or AMB_DATA_DIR) pointing "
            f"at a folder laid out like AgentMemoryBench's data/, containing {relative}; "
            f"or use the bare name '{family.name}' for the bundled samples"
        )
    if any(c in relative for c in "*?["):
        files = tuple(sorted(p for p in Path(data_dir).glob(relative) if p.is_file()))
        if not files:
            raise TaskNameError(
                f"task '{name}': expected files matching {relative} under --amb-data-dir ({data_dir}), found none"
            )
        return TaskSource(name, family.name, files, bundled=False)
    path = Path(data_dir) / relative
    if not path.is_file():
        raise TaskNameError(f"task '{name}': expected the file {relative} under --amb-data-dir, but {path} does not exist")
    return TaskSource(name, family.name, (path,), bundled=False)
