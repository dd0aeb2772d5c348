"""Task names -> data files -> task instances.

A bare family name (``locomo``) selects the bundled sample set shipped with the package. An original
config name (``locomo-0`` ... ``locomo-9``) selects the original data under ``--amb-data-dir``, a folder
laid out like AgentMemoryBench's ``data/``. Resolution only checks names and files; it is cheap and
runs when the configuration is validated.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

BUNDLED_ROOT = Path(__file__).parent


class TaskNameError(ValueError):
    """An unknown task name, or a known one whose files are missing. The message says what to do."""


class DataError(ValueError):
    """A data file does not have the expected shape. The message names the file, the line or field, and what to fix."""


@dataclass(frozen=True)
class TaskSource:
    name: str  # as the user wrote it, e.g. "locomo-0" or "locomo"
    family: str  # e.g. "locomo"
    files: tuple[Path, ...]
    bundled: bool


@dataclass(frozen=True)
class FamilySpec:
    family: str
    module: str  # provides task_indexes(source) -> [TaskIndex] and make_tasks(source, services) -> [Task]
    bundled_glob: str  # bundled sample files, relative to taskcases/
    original_files: dict[str, str]  # original config name -> path (or glob, sorted) under the data dir


FAMILIES: dict[str, FamilySpec] = {
    "locomo": FamilySpec(
        family="locomo",
        module="taskcases.locomo.task",
        bundled_glob="locomo/data/sample*.json",
        original_files={f"locomo-{n}": f"locomo/locomo{n}.json" for n in range(10)},
    ),
    "dbbench": FamilySpec(
        family="dbbench",
        module="taskcases.dbbench.task",
        bundled_glob="dbbench/data/sample*.jsonl",
        original_files={"dbbench-dev": "dbbench/dev.jsonl", "dbbench-std": "dbbench/standard.jsonl"},
    ),
    "os": FamilySpec(
        family="os",
        module="taskcases.os_interaction.task",
        bundled_glob="os_interaction/data/data/*.json",
        # os-std: the original's data/1..7/*.json, in sorted order (its glob order is filesystem-dependent)
        original_files={"os-dev": "os_interaction/data/dev.json", "os-std": "os_interaction/data/[1-7]/*.json"},
    ),
}

# Original config names of tasks this version does not implement yet (they get a clear message).
PLANNED_NAMES = (
    "kg-std", "kg-dev",
    "alfworld-std", "alfworld-dev", "webshop-std",
)  # fmt: skip


def accepted_names() -> list[str]:
    names = []
    for spec in FAMILIES.values():
        names.append(spec.family)
        names.extend(spec.original_files)
    return names


def resolve(name: str, data_dir: Path | None) -> TaskSource:
    for spec in FAMILIES.values():
        if name == spec.family:
            files = tuple(sorted(BUNDLED_ROOT.glob(spec.bundled_glob)))
            if not files:
                raise TaskNameError(
                    f"task '{name}': no bundled sample files match taskcases/{spec.bundled_glob}; "
                    "the installation is incomplete, reinstall pytest-amb"
                )
            return TaskSource(name, spec.family, files, bundled=True)
        if name in spec.original_files:
            relative = spec.original_files[name]
            if data_dir is None:
                raise TaskNameError(
                    f"task '{name}' reads the original data: pass --amb-data-dir (or AMB_DATA_DIR) pointing "
                    f"at a folder laid out like AgentMemoryBench's data/, containing {relative}; "
                    f"or use the bare name '{spec.family}' for the bundled samples"
                )
            if any(c in relative for c in "*?["):
                files = tuple(sorted(p for p in Path(data_dir).glob(relative) if p.is_file()))
                if not files:
                    raise TaskNameError(
                        f"task '{name}': expected files matching {relative} under --amb-data-dir ({data_dir}), "
                        "found none"
                    )
                return TaskSource(name, spec.family, files, bundled=False)
            path = Path(data_dir) / relative
            if not path.is_file():
                raise TaskNameError(
                    f"task '{name}': expected the file {relative} under --amb-data-dir, but {path} does not exist"
                )
            return TaskSource(name, spec.family, (path,), bundled=False)
    if name in PLANNED_NAMES:
        raise TaskNameError(
            f"task '{name}' is not available in this version of pytest-amb; accepted: {', '.join(accepted_names())}"
        )
    raise TaskNameError(f"unknown task '{name}'; accepted: {', '.join(accepted_names())}")


def family_module(family: str):
    return importlib.import_module(FAMILIES[family].module)
