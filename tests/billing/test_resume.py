"""Crash and resume: an export process killed (SIGKILL) in the middle of writing its files
leaves only ``.part`` files and an unfinished job; resuming finishes the job, and its files
are byte for byte those of an export that never crashed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from billing import jobs
from billing.cdr import Cdr, CdrKind, make_cdr_id
from billing.files import complete_file
from billing.period import Period
from billing.repository import BillingRepo
from gateway.services.base import Deps
from tests.billing.conftest import Clock
from tests.gateway.helpers import Api, World

pytestmark = pytest.mark.slow

OCT = Period(2026, 10)
RECORDS = 20_000
KILL_AT = 8_000
ROOT = Path(__file__).resolve().parents[2]

# Runs the job in another process and kills that process, the hard way, once it has fed
# KILL_AT records to the encoders: no finally block, no flush, no cleanup runs.
CRASHING_EXPORT = """
import asyncio, os, signal, sys
from pathlib import Path
import pytest

from billing import jobs
from gateway.db.engine import Database
from gateway.ports import EventBus, utcnow
from gateway.services.base import Deps
from gateway.settings import Settings
from gateway.vault import Vault

data_dir, url, schema = Path(sys.argv[1]), sys.argv[2], sys.argv[3] or None
job_id, kill_at = int(sys.argv[4]), int(sys.argv[5])
settings = Settings.for_database(data_dir, url, database_schema=schema)
deps = Deps(settings, Database(settings), EventBus(), Vault(settings.master_keys), utcnow)

def progress(done, total):
    if done >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(jobs.run_job(deps, job_id, progress=progress))
"""


async def fill_october(deps: Deps, world: World) -> None:
    start = OCT.start()
    cdrs = [
        Cdr(
            make_cdr_id(CdrKind.SMS, "bulk", i),
            CdrKind.SMS,
            start + timedelta(seconds=80 * i),
            str(world.a.id if i % 3 else world.b.id),
            "1",
            "13800000000",
            detail="BILL",
            quantity=1 + i % 3,
        )
        for i in range(RECORDS)
    ]
    async with deps.uow() as uow:
        repo = BillingRepo(uow.session)
        for i in range(0, len(cdrs), 1000):
            await repo.add_cdrs(cdrs[i : i + 1000], uow.clock())
        await uow.commit()


async def test_killed_export_resumes_to_identical_files(
    bapi: Api, bworld: World, deps: Deps, clock: Clock, out: Path, tmp_path: Path
) -> None:
    await fill_october(deps, bworld)
    clock.at(11, 1, 2)
    job_id = await jobs.create_job(deps, "CMCC-GD", OCT, out)
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_EXPORT,
            str(deps.settings.data_dir),
            deps.settings.database_url,
            deps.settings.database_schema or "",
            str(job_id),
            str(KILL_AT),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    leftovers = sorted(p.name for p in out.iterdir())
    assert leftovers and all(name.startswith(".") and name.endswith(".part") for name in leftovers)
    assert (await jobs.get_job(deps, job_id))["state"] == "claimed"

    resumed = await jobs.resume_unfinished(deps)
    assert [r.job_id for r in resumed] == [job_id]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        n for f in resumed[0].files for n in (f.name, f"{f.name}.sha256")
    )
    assert resumed[0].records == RECORDS + 4  # and the four member-months
    clean = await jobs.run_job(deps, job_id, tmp_path / "clean")
    for f in clean.files:
        assert (out / f.name).read_bytes() == (tmp_path / "clean" / f.name).read_bytes()
        assert complete_file(out, f.name) is not None
    assert (await jobs.get_job(deps, job_id))["state"] == "done"
    assert await jobs.resume_unfinished(deps) == []
