"""Architecture rules for ota/: sans-I/O, and only ota/crypto.py imports cryptography."""

from __future__ import annotations

import ast
import pathlib

OTA = pathlib.Path(__file__).parents[2] / "ota"
FORBIDDEN = {"asyncio", "socket", "aiohttp", "sqlalchemy", "selectors", "threading"}


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_crypto_imports_cryptography() -> None:
    users = {p.name for p in OTA.glob("*.py") if "cryptography" in _imports(p)}
    assert users == {"crypto.py"}


def test_ota_is_sans_io() -> None:
    for path in OTA.glob("*.py"):
        assert not (_imports(path) & FORBIDDEN), path.name
