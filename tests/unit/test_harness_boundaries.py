"""The harness names no task and no memory (issue 13): nothing under pytest_amb/ imports the built-in task
families or memory mechanisms, and no harness module names one. They are found through entry points only."""

import ast
import re
from pathlib import Path

import pytest

from pytest_amb import registry

HARNESS = Path(__file__).resolve().parents[2] / "pytest_amb"
MODULES = sorted(HARNESS.rglob("*.py"))
# The option keeps the original benchmark's name; it applies to every conversational task.
KEPT_NAMES = ("repair_size_locomo", "repair-size-locomo")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_harness_has_modules_to_check():
    assert len(MODULES) > 40


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_no_harness_module_imports_a_task_family_or_a_memory_package(path):
    providers = {value.partition(":")[0].split(".")[0] for group in (registry.TASKS, registry.MEMORIES)
                 for value in registry._entry_points(group).values()}  # fmt: skip
    assert providers >= {"taskcases", "memories"}  # the built-ins really are registered by entry points
    offending = [name for name in _imports(path) if name.split(".")[0] in providers]
    assert not offending, f"{path} imports {offending}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_no_harness_module_names_a_task_family_or_a_memory_mechanism(path):
    families = registry.task_families()
    names = {n for family in families.values() for n in family.names if len(n) > 2}  # "os" is Python's module
    names |= {"os_interaction", "sql"} | set(registry.memory_names()) | {"awm", "taskcases"}
    text = path.read_text(encoding="utf-8")
    for kept in KEPT_NAMES:
        text = text.replace(kept, "")
    found = sorted({n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE)})
    assert not found, f"{path} names {found}"


def test_a_harness_import_of_a_task_would_be_caught(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from taskcases.dbbench import task\n    import memories.mem0\n")
    assert _imports(module) == ["taskcases.dbbench", "memories.mem0"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """Imported module names, at module level or inside functions, leaving out ``if TYPE_CHECKING:`` blocks and a
    module's ``if __name__ == "__main__":`` block (run as a script it is ``__main__``, another module: no cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guards = ("TYPE_CHECKING", "__name__ == '__main__'")
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and any(g in ast.unparse(node.test) for g in guards)
               for child in node.body for n in ast.walk(child)}  # fmt: skip
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_harness_modules_import_each_other_without_cycles():
    modules = {_module_name(p): p for p in MODULES}
    graph = {name: {t for t in _runtime_imports(path) if t in modules and t != name} for name, path in modules.items()}
    cycles, state = [], {}

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, f"import cycles: {cycles}"


def test_a_sources_data_is_loaded_once_for_the_plan_and_the_run(monkeypatch, tmp_path):
    from pytest_amb.interfaces import TaskIndex
    from pytest_amb.tasks import TaskContext, TaskFamily, TaskSource

    loads = []
    family = TaskFamily(
        name="counted", root=tmp_path, bundled="*.jsonl", original={},
        load=lambda source: loads.append(source) or ["a", "b"],
        index=lambda source, data: [TaskIndex(source.name, "counted", tuple(data))],
        build=lambda source, data, context: [data],
    )  # fmt: skip
    monkeypatch.setattr(registry, "family", lambda name: family)
    source = TaskSource("counted", "counted", (tmp_path / "a.jsonl",), bundled=True)
    assert registry.indexes(source)[0].sample_ids == ("a", "b")  # the plan, at configure time
    assert registry.indexes(source)[0].sample_ids == ("a", "b")  # an xdist worker's plan
    built = family.build(source, registry.load_data(source), TaskContext({}, lambda name: None))  # the run
    assert built == [["a", "b"]] and len(loads) == 1
    registry.refresh()
    registry.indexes(source)
    assert len(loads) == 2  # a new pytest session looks again
