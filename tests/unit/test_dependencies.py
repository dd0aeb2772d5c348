"""What `pip install pytest-amb` installs is what a run needs (issue 15): every distribution whose modules the
plugin, the built-in memories and the task families import is a dependency of the distribution, not of an extra
(the README's `-n 4` and `--html` need pytest-xdist and pytest-html; `memories/config.py` needs PyYAML); and
pytest-benchmark, whose plugin prints its header and creates .benchmarks/ in every pytest run of an environment
it is installed in, is only in the `bench` extra of the project's own micro-benchmarks."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SHIPPED = ("pytest_amb", "memories", "taskcases")  # the distribution's packages


def _declared(requirements) -> set[str]:
    return {canonicalize_name(Requirement(text).name) for text in requirements}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, guarded): guarded imports sit in a ``try`` that handles ImportError (optional ones)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = set()
    for node in ast.walk(tree):
        handles = isinstance(node, ast.Try) and any(
            h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers
        )
        if handles:
            guarded |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], id(node) in guarded) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], id(node) in guarded))
    return found


def _third_party_imports(packages) -> dict[str, list[tuple[str, bool]]]:
    modules: dict[str, list[tuple[str, bool]]] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module, guarded in _imports(path):
                if module not in sys.stdlib_module_names and module not in SHIPPED:
                    modules.setdefault(module, []).append((str(path.relative_to(ROOT)), guarded))
    return modules


def test_every_distribution_the_shipped_code_imports_is_a_dependency():
    declared = _declared(PROJECT["dependencies"])
    installed = packages_distributions()
    missing = []
    for module, places in _third_party_imports(SHIPPED).items():
        if any(guarded for _, guarded in places):
            continue  # an optional backend: one import of it is under `except ImportError`, saying what to install
        owners = {canonicalize_name(name) for name in installed.get(module, [])}
        if not owners & declared:
            missing.append(f"{module} ({places[0][0]}; distribution {sorted(owners) or 'not installed'})")
    assert not missing, f"imported but not in [project] dependencies: {missing}"
    assert {"pytest-xdist", "pytest-html", "pyyaml"} <= declared  # the headline's -n, --html; memory configs


def test_pytest_benchmark_is_only_in_the_bench_extra_and_nothing_else_needs_it():
    assert "pytest-benchmark" not in _declared(PROJECT["dependencies"])
    extras = PROJECT.get("optional-dependencies", {})
    assert "pytest-benchmark" in _declared(extras["bench"])
    assert all("pytest-benchmark" not in _declared(reqs) for name, reqs in extras.items() if name != "bench")
    assert "pytest_benchmark" not in _third_party_imports([*SHIPPED, "tests"])
    fixtures = [
        f"{path.relative_to(ROOT)}::{node.name}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and "benchmark" in {a.arg for a in node.args.args}
    ]
    assert not fixtures, f"tests using pytest-benchmark's fixture: {fixtures}"
