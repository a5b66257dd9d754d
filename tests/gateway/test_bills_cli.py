"""``onecard bill`` as a user runs it (subprocesses on a real SQLite database): a run with its
progress bar and report, the CSV report, resume with nothing to do, cancel, and clear errors."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.db.engine import Database
from gateway.domain import Module
from gateway.notices import CHINA
from gateway.ports import EventBus, utcnow
from gateway.services import enterprises, members
from gateway.services.base import SYSTEM, Deps
from gateway.settings import Settings
from gateway.vault import Vault

ROOT = Path(__file__).parents[2]
MEMBERS = 30


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bill-cli")
    path = data / "onecard.toml"
    path.write_text(f'data_dir = "."\n[security]\nmaster_keys = ["{secrets.token_hex(32)}"]\n'
                    "[bills]\nbatch_size = 7\n")

    async def seed() -> None:
        settings = Settings.load(path)
        deps = Deps(settings=settings, database=Database(settings), bus=EventBus(),
                    vault=Vault(settings.master_keys), clock=utcnow)
        await deps.database.migrate()
        ent = await enterprises.create(deps, SYSTEM, enterprises.EnterpriseIn(
            code="CLI", name="命令行企业", sms_signature="一卡通",
            modules=(Module.ATTENDANCE, Module.PURCHASE)), None)
        rows = "".join(f"861390{i:07d},成员{i}\n" for i in range(MEMBERS))
        await members.import_csv(deps, SYSTEM, ent["id"], f"msisdn,name\n{rows}".encode(),
                                 None)
        await deps.database.dispose()

    asyncio.run(seed())
    return path


def onecard(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "bill", *args,
                           "--config", str(config)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def month() -> str:
    now = datetime.now(UTC).astimezone(CHINA)
    return f"{now.year}-{now.month:02d}"


def test_run_report_resume_cancel(config: Path) -> None:
    done = onecard(config, "run", "--enterprise", "CLI", "--period", month(), "--kind",
                   "attendance", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["run"]["state"] == "done" and report["run"]["trigger"] == "cli"
    assert report["summary"]["members"] == MEMBERS and report["summary"]["billed"] == MEMBERS
    assert "members" in done.stderr and "100%" in done.stderr  # the progress bar
    run_id = report["run"]["id"]
    text = onecard(config, "report", str(run_id))
    assert text.returncode == 0 and f"bill run {run_id} (done)" in text.stdout
    assert f"members {MEMBERS}, bills queued {MEMBERS}" in text.stdout
    table = onecard(config, "report", str(run_id), "--csv")
    lines = list(csv.DictReader(io.StringIO(table.stdout.lstrip("\ufeff"))))
    assert len(lines) == MEMBERS and {line["outcome"] for line in lines} == {"queued"}
    again = onecard(config, "run", "--enterprise", "CLI", "--period", month(), "--kind",
                    "attendance")
    assert again.returncode == 1 and f"bill run {run_id}" in again.stderr
    assert "force" in again.stderr
    resumed = onecard(config, "resume")
    assert resumed.returncode == 0 and resumed.stdout.strip() == "no unfinished run"
    cancel = onecard(config, "cancel", str(run_id))
    assert cancel.returncode == 1 and "the run is done" in cancel.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("run", "--enterprise", "NOPE", "--period", "2026-10"), "no enterprise with code 'NOPE'"),
    (("run", "--enterprise", "CLI", "--period", "2026-13"), "period '2026-13'"),
    (("report", "999"), "bill run not found"),
])
def test_errors_are_one_clear_line(config: Path, args: tuple[str, ...], message: str) -> None:
    result = onecard(config, *args)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("onecard bill: ") and message in result.stderr
