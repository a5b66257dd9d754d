"""``onecard export`` as a user runs it: a real process on the gateway's database."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.commands.export import ProgressBar
from gateway.services.base import Deps
from gateway.settings import Settings
from tests.billing import conftest as billing
from tests.gateway.helpers import World

bclient, bapi, bworld, clock, deps = (
    billing.bclient,
    billing.bapi,
    billing.bworld,
    billing.clock,
    billing.deps,
)


@pytest.fixture
def settings(sqlite_settings: Settings) -> Settings:
    """SQLite only: the command finds the database through --data-dir."""
    return sqlite_settings


ROOT = Path(__file__).resolve().parents[3]


def onecard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "export", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_export_prints_files_and_draws_progress(
    bworld: World, deps: Deps, tmp_path: Path
) -> None:
    data = ["--data-dir", str(deps.settings.data_dir)]
    out = tmp_path / "files"
    first = onecard("--carrier", "CMCC-GD", "--period", "2026-10", "--out", str(out), *data)
    assert first.returncode == 0, first.stderr
    assert "CMCC-GD 2026-10: 4 records" in first.stdout
    for ext in ("csv", "dat", "ber"):  # node, carrier, the local date it opened, sequence
        assert re.search(rf"GW01_CMCC-GD_\d{{8}}_000001\.{ext} +seq 1 +4 records", first.stdout)
    assert "100%" in first.stderr and "4/4 records" in first.stderr
    again = onecard(
        "--carrier", "CMCC-GD", "--period", "2026-10", "--out", str(out), "--json", *data
    )
    result = json.loads(again.stdout)
    assert result["written"] == [] and len(result["files"]) == 3
    assert (
        onecard("--carrier", "CMCC-GD", "--period", "2026-10", "--rerate", *data).stdout.strip()
        == "nothing to adjust"
    )
    report = json.loads(
        onecard(
            "--carrier", "CMCC-GD", "--period", "2026-10", "--reconcile", "--json", *data
        ).stdout
    )
    assert report["exported"] is True and report["ok"] is True
    assert onecard("--resume", *data).stdout.strip() == "no unfinished export"


async def test_errors_are_one_line(bworld: World, deps: Deps) -> None:
    data = ["--data-dir", str(deps.settings.data_dir)]
    bad = onecard("--carrier", "CMCC-GD", "--period", "2026-13", *data)
    assert bad.returncode == 1 and bad.stderr.startswith("onecard export: no such billing period")
    unknown = onecard("--carrier", "NOPE", "--period", "2026-10", *data)
    assert unknown.returncode == 1 and "no carrier NOPE" in unknown.stderr
    assert onecard("--period", "2026-10", *data).returncode == 2


def test_progress_bar_without_a_terminal_prints_every_tenth() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    for done in range(0, 1001, 50):
        bar(done, 1000)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("[" + "#" * 30 + "] 100%")
    empty = ProgressBar(io.StringIO())
    empty(0, 0)  # an empty month is done at once
