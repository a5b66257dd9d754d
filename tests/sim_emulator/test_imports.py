"""Architecture rules: the card and its applets are sans-I/O; only adapters own I/O."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).parents[2] / "sim_emulator"
FORBIDDEN = {"asyncio", "socket", "aiohttp", "sqlalchemy", "selectors", "threading",
             "subprocess", "urllib", "smartcard", "cryptography"}
# The modules that talk to the outside world (sockets, files, readers, HTTP, SMPP).
ADAPTERS = {"vpcd.py", "handset.py", "storage.py", "transport.py", "uplink.py", "console.py"}


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_card_and_applets_are_sans_io() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.name not in ADAPTERS:
            assert not (_imports(path) & FORBIDDEN), path.name


def test_crypto_comes_from_ota_crypto_only() -> None:
    for path in PACKAGE.glob("*.py"):
        assert "cryptography" not in _imports(path), path.name


def test_modules_stay_small() -> None:
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name
