"""Fixtures of the stk tests: the CAT cases of the conformance vector file."""

from __future__ import annotations

import json
import pathlib
from typing import Any

VECTORS = pathlib.Path(__file__).parent.parent / "data" / "sim-conformance.json"


def load_cases(*groups: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return [c for c in cases if not groups or c["group"] in groups]


def case_hex(*groups: str) -> list[tuple[str, bytes]]:
    """(id, expected octets) of every case of ``groups``."""
    return [(c["id"], bytes.fromhex(c["expected"]["hex"])) for c in load_cases(*groups)]
