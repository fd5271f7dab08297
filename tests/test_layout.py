"""The package layout is the architecture: layers import downwards only, the core is pure,
no import cycles, and no module outgrows one idea."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .conftest import ROOT

PACKAGE = ROOT / "nhirecon"

LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "nhirecon",
        "nhirecon.exit_codes",
        "nhirecon.errors",
        "nhirecon.output",
        "nhirecon.signals",
        "nhirecon.yamlsafe",
        "nhirecon.core",
    ),
    ("nhirecon.http",),
    ("nhirecon.connectors",),
    ("nhirecon.config",),
    ("nhirecon.columnar",),
    ("nhirecon.state",),
    ("nhirecon.sources", "nhirecon.pipeline", "nhirecon.explain"),
    ("nhirecon.reporters",),
    ("nhirecon.remediation",),
    ("nhirecon.cli", "nhirecon.__main__"),
)
"""Lowest first: a module may import from its own layer and the layers before it."""

MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> Iterator[str]:
    """Every module an import statement names, wherever it stands (in a function, under
    ``TYPE_CHECKING``): ``from a import b`` names ``a.b`` when that is a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module_name(path).split(".")
                anchor = anchor[: len(anchor) - node.level + (path.name == "__init__.py")]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def internal_imports(name: str) -> set[str]:
    return {target for target in imported(MODULES[name]) if target in MODULES} - {name}


def layer(name: str) -> int:
    def matches(prefix: str) -> bool:
        return name == prefix or (prefix != "nhirecon" and name.startswith(prefix + "."))

    for index, prefixes in enumerate(LAYERS):
        if any(matches(prefix) for prefix in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer: add its folder to LAYERS")


def declared_dependencies() -> set[str]:
    """Top-level import names of the packages pyproject.toml declares (not the extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {Requirement(text).name.lower() for text in project["dependencies"]}
    return {
        top
        for top, distributions in packages_distributions().items()
        if any(dist.lower() in wanted for dist in distributions)
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards(name: str) -> None:
    upward = sorted(target for target in internal_imports(name) if layer(target) > layer(name))
    assert not upward, f"{name} (layer {layer(name)}) imports from a higher layer: {upward}"


@pytest.mark.parametrize(
    "name", sorted(name for name in MODULES if name.startswith("nhirecon.core"))
)
def test_the_core_imports_nothing_else_from_nhirecon(name: str) -> None:
    allowed = set(sys.stdlib_module_names) | declared_dependencies()
    outside = sorted(
        target
        for target in imported(MODULES[name])
        if not target.startswith("nhirecon.core")
        and (target.startswith("nhirecon") or target.split(".")[0] not in allowed)
    )
    assert not outside, f"{name} imports from outside the core: {outside}"


def test_no_import_cycles() -> None:
    graph = {name: internal_imports(name) for name in MODULES}
    cycles = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_outgrows_one_idea(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The checks above would pass vacuously if the import reader found nothing."""
    assert "nhirecon.connectors.mapping" in internal_imports("nhirecon.connectors.base")
    assert "nhirecon.core.model" in internal_imports("nhirecon.core.findings")
    assert layer("nhirecon.cli.app") > layer("nhirecon.core.model")
    assert "yaml" in declared_dependencies()


def test_plugins_import_the_connector_base_where_the_readme_says() -> None:
    from nhirecon.connectors.base import Connector, ConnectorContext, Lookup, RawRow

    assert Connector.__module__ == "nhirecon.connectors.base"
    assert {ConnectorContext.__name__, RawRow.__name__} == {"ConnectorContext", "RawRow"}
    assert callable(Lookup)
    assert "nhirecon.connectors.base" in (ROOT / "README.md").read_text(encoding="utf-8")
