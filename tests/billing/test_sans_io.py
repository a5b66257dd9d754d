"""The billing core (records, tariffs, rating, file formats, reconciliation) does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import billing

CORE = [
    "cdr",
    "period",
    "tariffs",
    "rating",
    "reconcile",
    "errors",
    "export/__init__",
    "export/base",
    "export/ber",
    "export/asn1_records",
    "export/ts32297",
    "export/text",
    "export/fastpath",
]
FORBIDDEN = {"asyncio", "aiohttp", "sqlalchemy", "socket", "os", "subprocess", "gateway"}


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io(module: str) -> None:
    path = Path(billing.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
