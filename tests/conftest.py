"""Root fixtures. Package-specific fixtures live in the conftest.py of each test package."""

from __future__ import annotations

import pathlib

import pytest

VECTORS = pathlib.Path(__file__).parent / "data" / "sim-conformance.json"


@pytest.fixture(scope="session")
def vectors_path() -> pathlib.Path:
    return VECTORS
