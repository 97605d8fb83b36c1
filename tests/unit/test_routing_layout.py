"""Routing's house plan holds (README "Layout"): no import cycle between its modules, rules in
domain/ without I/O libraries, and the database reached only from adapters/."""

from __future__ import annotations

import ast
from pathlib import Path

import services.routing

ROOT = Path(services.routing.__file__).parent
IO_LIBRARIES = ("aiohttp", "aiokafka", "pymongo", "gridfs", "pebble")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent.parent).with_suffix("").parts
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


def _modules() -> dict[str, ast.Module]:
    return {_module(p): ast.parse(p.read_text()) for p in sorted(ROOT.rglob("*.py"))}


def test_no_import_cycle_between_routing_modules() -> None:
    modules = _modules()
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


def test_domain_imports_no_io_library() -> None:
    for name, tree in _modules().items():
        if ".domain" in name:
            bad = [i for i in _top_level_imports(tree) if i.split(".")[0] in IO_LIBRARIES]
            assert not bad, f"{name} imports {bad}"


def test_only_adapters_reach_the_database() -> None:
    for path in sorted(ROOT.rglob("*.py")):
        if "adapters" in path.parts:
            continue
        text = path.read_text()
        assert "db[" not in text and "import pymongo" not in text and "from pymongo import" not in text, path


def test_use_cases_and_views_reach_the_world_through_ports_only() -> None:
    """handlers.py and the HTTP views name no Mongo store: they are given the ports."""
    for path in [ROOT / "handlers.py", *sorted((ROOT / "entrypoints").rglob("*.py"))]:
        text = path.read_text()
        assert ".db[" not in text and "AsyncDatabase" not in text, path
        assert "import services.routing.adapters.store" not in text, path
        assert "from services.routing.adapters.store" not in text, path
