"""What is installed: task families and memory mechanisms, found through entry points only.

- ``pytest_amb.tasks``: ``name = "package:FAMILY"``, a ``pytest_amb.tasks.TaskFamily``;
- ``pytest_amb.memories``: ``name = "module:Class"``, a ``pytest_amb.memory.Memory`` subclass;
- ``pytest_amb.planned_tasks``: ``name = "module:NAMES"``, task names a package announces but does not
  provide yet (they get "not available in this version" instead of "unknown task").

The built-ins are registered by this distribution's own ``pyproject.toml``, exactly like a third-party
package would register its own. Two packages registering one name is an error naming both. Listings
follow each entry's ``order`` (default 0, so a package's own entries come before the built-ins).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pytest_amb.tasks import Catalog, TaskSource

TASKS = "pytest_amb.tasks"
MEMORIES = "pytest_amb.memories"
PLANNED_TASKS = "pytest_amb.planned_tasks"
DEFAULTS = "pytest_amb.defaults"  # "task" / "memory" = "module:NAME": the defaults of --amb-task / --amb-memory


class RegistryError(RuntimeError):
    """Installed packages register conflicting or broken entry points."""


def refresh() -> None:
    """Forget what was found: every pytest session looks again (pytester runs several in one process)."""
    for cached in (_entry_points, task_families, catalog, listed_memory_names, memory_class, load_data):
        cached.cache_clear()


def _load(value: str):
    module, _, attr = value.partition(":")
    try:
        target = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"entry point '{value}' cannot be loaded: {exc}") from exc
    return target


@cache
def _entry_points(group: str) -> dict[str, str]:
    """name -> "module:attr", in installation order; one name registered twice differently is an error."""
    found: dict[str, str] = {}
    for ep in entry_points(group=group):
        if ep.name in found and found[ep.name] != ep.value:
            raise RegistryError(
                f"two installed packages register '{ep.name}' under the entry-point group '{group}': "
                f"{found[ep.name]} and {ep.value}; uninstall one of them"
            )
        found[ep.name] = ep.value
    return found


@cache
def task_families() -> dict:
    families = {}
    for name, value in _entry_points(TASKS).items():
        family = _load(value)
        if getattr(family, "name", None) != name:
            raise RegistryError(f"entry point '{name} = {value}' (group {TASKS}) must be a TaskFamily named '{name}'")
        families[name] = family
    return dict(sorted(families.items(), key=lambda item: item[1].order))


def family(name: str):
    return task_families()[name]


@cache
def catalog() -> Catalog:
    planned = tuple(n for value in _entry_points(PLANNED_TASKS).values() for n in _load(value))
    return Catalog(task_families(), planned)


def memory_names() -> list[str]:
    """The installed mechanisms' names (no class is imported)."""
    return list(_entry_points(MEMORIES))


@cache
def listed_memory_names() -> list[str]:
    """The names in listing order (each class's ``order``; imports every mechanism: for messages only)."""
    return sorted(_entry_points(MEMORIES), key=lambda name: getattr(memory_class(name), "order", 0))


@cache
def memory_class(name: str):
    return _load(_entry_points(MEMORIES)[name])


def default(option: str) -> str | None:
    """The default of --amb-task or --amb-memory an installed package declares (group ``pytest_amb.defaults``;
    cheap: it imports no task and no memory), else the first installed one."""
    declared = _entry_points(DEFAULTS).get(option)
    if declared is not None:
        return _load(declared)
    names = list(task_families()) if option == "task" else list(_entry_points(MEMORIES))
    return names[0] if names else None


def baseline_memory() -> str:
    """The mechanism that learns nothing from episodes (``Memory.is_baseline``): the reference of transfer gains."""
    for name in listed_memory_names():
        if getattr(memory_class(name), "is_baseline", False):
            return name
    raise RegistryError(f"no installed memory mechanism declares is_baseline = True (group {MEMORIES})")


def memory_operations() -> dict:
    """The reference model's answers to the memory mechanisms' own LLM operations (``X-AMB-Operation``)."""
    operations = {}
    for name in memory_names():
        operations.update(getattr(memory_class(name), "reference_operations", {}) or {})
    return operations


def reference_policies() -> list:
    """The reference model's policies of every installed task family, in registration order."""
    return [policy for family in task_families().values() for policy in family.reference]


def option_specs() -> list:
    """Every installed family's own options (a name claimed twice is an error)."""
    owners: dict[str, str] = {}
    specs = []
    for family in task_families().values():
        for spec in family.options:
            if spec.name in owners:
                raise RegistryError(f"task families '{owners[spec.name]}' and '{family.name}' both declare --amb-"
                                    f"{spec.name.replace('_', '-')}")  # fmt: skip
            owners[spec.name] = family.name
            specs.append(spec)
    return specs


def _family_module(name: str):
    """The module of a family's entry point (already imported when the family was loaded)."""
    return importlib.import_module(_entry_points(TASKS)[name].partition(":")[0])


def family_folder(name: str) -> Path:
    """A family's folder: its entry point module's folder (where its test module lives)."""
    return Path(_family_module(name).__file__).resolve().parent


def family_package(name: str) -> str:
    """The package holding a family's test module, as ``pytest --pyargs`` takes it."""
    module = _family_module(name)
    return module.__spec__.parent or module.__name__


def families_named(args: Iterable[str], invocation_dir: Path, pyargs: bool) -> dict[str, str]:
    """The task families whose folder a command-line argument names (the folder, or a file or node id inside it;
    with ``--pyargs``, a package or module inside it), each with the first argument naming it. A folder that
    holds several families' folders names none of them."""
    folders = {name: family_folder(name) for name in task_families()}
    named: dict[str, str] = {}
    for arg in args:
        path = _argument_path(arg.split("::")[0], Path(invocation_dir), pyargs)
        inside = [name for name, folder in folders.items() if path == folder or folder in path.parents]
        if inside:
            named.setdefault(max(inside, key=lambda name: len(folders[name].parts)), arg)
    return named


def _argument_path(target: str, invocation_dir: Path, pyargs: bool) -> Path:
    """The file or folder a collection argument stands for (pytest's reading: with ``--pyargs`` a module name
    when one is importable, else a path)."""
    if pyargs:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations))).resolve()
        if spec is not None and spec.origin:
            return Path(spec.origin).resolve()
    return (invocation_dir / target).resolve()


def resolve(name: str, data_dir: Path | None) -> TaskSource:
    """A task name against the installed families."""
    return catalog().resolve(name, data_dir)


@cache
def load_data(source: TaskSource) -> Any:
    """The source's data, loaded once per process (per pytest session): the plan's index and the run's tasks
    share it."""
    return family(source.family).load(source)


def indexes(source: TaskSource) -> list:
    return family(source.family).index(source, load_data(source))
