"""Architecture rules for stk/: sans-I/O, standard library only, no other project package."""

from __future__ import annotations

import ast
import pathlib
import sys

STK = pathlib.Path(__file__).parents[2] / "stk"


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_stk_imports_only_the_standard_library_and_itself() -> None:
    forbidden_stdlib = {"asyncio", "socket", "selectors", "threading", "logging", "os"}
    for path in STK.glob("*.py"):
        imported = _imports(path) - {"stk", "__future__"}
        assert imported <= set(sys.stdlib_module_names), (path.name, imported)
        assert not imported & forbidden_stdlib, (path.name, imported)
