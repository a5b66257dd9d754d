"""Helpers shared by the test tree."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    """Skip when a system part is missing on a developer laptop; fail in CI.

    CI installs every part (scripts/test does it as root), so a missing part there means a
    broken install step, which must not pass silently as a skip.
    """
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def need_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} not found (install the Debian package {package})")
    assert path is not None
    return path
