"""The services' house plan holds (README "Layout"), for each of the three services: no import
cycle between its modules, rules in domain/ without I/O libraries, the database reached only
from adapters/, use cases and views given the ports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import services.intake
import services.routing
import services.sla

PLANNED = [Path(m.__file__).parent for m in (services.intake, services.routing, services.sla)]
IO_LIBRARIES = ("aiohttp", "aiokafka", "pymongo", "gridfs", "pebble")


def _module(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module) -> list[str]:
    """Imports run when the module is loaded (not inside functions or `if TYPE_CHECKING:`)."""
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _modules(root: Path) -> dict[str, ast.Module]:
    return {_module(root, p): ast.parse(p.read_text()) for p in sorted(root.rglob("*.py"))}


@pytest.mark.parametrize("root", PLANNED, ids=lambda p: p.name)
def test_no_import_cycle_between_a_service_s_modules(root: Path) -> None:
    modules = _modules(root)
    graph = {
        name: {i for i in _top_level_imports(tree) if i in modules and i != name}
        for name, tree in modules.items()
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            assert state.get(target) != 1, "import cycle: " + " → ".join([*path, name, target])
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


@pytest.mark.parametrize("root", PLANNED, ids=lambda p: p.name)
def test_domain_imports_no_io_library(root: Path) -> None:
    for name, tree in _modules(root).items():
        if ".domain" in name:
            bad = [i for i in _top_level_imports(tree) if i.split(".")[0] in IO_LIBRARIES]
            assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("root", PLANNED, ids=lambda p: p.name)
def test_only_adapters_reach_the_database(root: Path) -> None:
    for path in sorted(root.rglob("*.py")):
        if "adapters" in path.parts:
            continue
        text = path.read_text()
        assert "db[" not in text and "import pymongo" not in text and "from pymongo import" not in text, path


@pytest.mark.parametrize("root", PLANNED, ids=lambda p: p.name)
def test_use_cases_and_views_reach_the_world_through_ports_only(root: Path) -> None:
    """handlers.py and the HTTP views name no Mongo store: they are given the ports."""
    store = f"services.{root.name}.adapters.store"
    for path in [root / "handlers.py", *sorted((root / "entrypoints").rglob("*.py"))]:
        text = path.read_text()
        assert ".db[" not in text and "AsyncDatabase" not in text, path
        assert f"import {store}" not in text and f"from {store}" not in text, path
