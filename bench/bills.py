"""Bill runs end to end: 100,000 members billed, their SMS submitted and receipted.

    .venv/bin/python bench/bills.py [--members 100000] [--backend sqlite|postgres|both]
                                    [--window 100] [--batch 1000]

Each backend gets a fresh database with one enterprise, ``--members`` members (enrolled on
1 October) and a week of attendance punches each (2026-W44, Monday to Friday, two punches a
day, some of them late: 10 records per member, bulk-inserted: setting up is not measured).
The embedded stack then runs in this process: the gateway application (its bill worker, outbox
dispatcher and writer, SMSC link), against the SMSC simulator in its own process (``onecard
smsc --unrouted deliver``: it plays the handsets and sends a DELIVRD receipt for every
segment), as a carrier's SMSC would be. One attendance bill run for the week is started and
timed until the last receipt is committed. Every bill is two UCS2 segments, and after the run
the database must hold every bill delivered and every part with its DELIVRD receipt (checked).

Figures, from the start of the run:

- ``billed_per_s``: members billed (rendered and queued in the outbox) per second;
- ``submitted_per_s``: segments accepted by the SMSC (submit_sm_resp written) per second;
- ``receipted_per_s``: segments whose DELIVRD receipt is committed, per second, until the last;
- ``total_s``: run start to last receipt; ``cpu_s``: this process's CPU time meanwhile.

With ``--phases``, a second fresh database measures the halves apart, to show which one
limits: the run with no SMSC bound (``alone_billed_per_s``, CPU per member), then the outbox
dispatcher alone on the 200,000 queued segments (``alone_receipted_per_s``, CPU per segment).

Prints one line per figure, then one JSON line with all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/bills.py: its folder must not shadow the packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from gateway import keys  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.bills import runs  # noqa: E402
from gateway.db.engine import Database  # noqa: E402
from gateway.db.models import Member, TerminalRecord  # noqa: E402
from gateway.db.models_bills import BillRun  # noqa: E402
from gateway.db.models_outbox import (  # noqa: E402
    OutboxMessage,
    OutboxPart,
    PartState,
    SmsState,
)
from gateway.domain import MemberStatus, Module, RecordKind, TerminalKind  # noqa: E402
from gateway.notices import CHINA  # noqa: E402
from gateway.ports import EventBus, utcnow  # noqa: E402
from gateway.services import enterprises, terminals  # noqa: E402
from gateway.services.base import SYSTEM, Deps  # noqa: E402
from gateway.settings import OutboxSettings, Settings, SmscSettings  # noqa: E402
from gateway.vault import Vault  # noqa: E402
from gateway.workers.bills import BILL_WORKER  # noqa: E402

PG_URL = os.environ.get("ONECARD_TEST_PG_URL",
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PERIOD = "2026-W44"
MONDAY = date(2026, 10, 26)
SOURCE = "10658888"


def start_smsc(window: int) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "gateway.cli", "smsc", "--port", "0",
               "--user", "gateway:gwpass", "--unrouted", "deliver",
               "--window", str(window), "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on"):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 2):
            return True
    except OSError:
        return False


def settings_for(backend: str, data_dir: Path, port: int, args: argparse.Namespace) -> Settings:
    smsc = SmscSettings(host="127.0.0.1", port=port, system_id="gateway", password="gwpass",
                        source_addr=SOURCE, window=args.window)
    extra = {"bills": {"batch_size": args.batch}}
    if backend == "sqlite":
        return Settings.for_database(data_dir, smsc=smsc, outbox=OutboxSettings(),
                                     extra=extra, log_level="WARNING")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    return Settings.for_database(data_dir, PG_URL, database_schema=schema, smsc=smsc,
                                 outbox=OutboxSettings(), extra=extra, log_level="WARNING")


async def seed(settings: Settings, members: int) -> int:
    """One enterprise, its members and a week of punches each; returns the enterprise id."""
    deps = Deps(settings=settings, database=Database(settings), bus=EventBus(),
                vault=Vault(settings.master_keys), clock=utcnow)
    try:
        await deps.database.migrate()
        ent = await enterprises.create(deps, SYSTEM, enterprises.EnterpriseIn(
            code="BENCH", name="压测企业", sms_signature="一卡通",
            modules=(Module.ATTENDANCE, Module.PURCHASE, Module.SMS)), None)
        terminal = await terminals.create(deps, SYSTEM, terminals.TerminalIn(
            code="BENCH-ATT", kind=TerminalKind.ATTENDANCE, name="考勤机",
            enterprise_id=ent["id"]), None)
        enrolled = datetime(2026, 10, 1, tzinfo=CHINA)
        async with deps.uow() as uow:
            for start in range(0, members, 10_000):
                await uow.session.execute(insert(Member), [{
                    "enterprise_id": ent["id"], "msisdn": f"86150{i:08d}",
                    "name": f"员工{i:06d}", "employee_no": f"E{i:06d}", "department": "生产部",
                    "status": MemberStatus.ACTIVE, "sms_opt_out": False,
                    "service_password_attempts": 0, "created_at": enrolled,
                    "updated_at": enrolled} for i in range(start, min(members, start + 10_000))])
            await uow.commit()
        await _punches(deps, ent["id"], terminal["id"], enrolled)
        return int(ent["id"])
    finally:
        await deps.database.dispose()


async def _punches(deps: Deps, enterprise_id: int, terminal_id: int, received: datetime) -> None:
    async with deps.uow(readonly=True) as uow:
        ids = list(await uow.session.scalars(select(Member.id).order_by(Member.id)))
    seq = 0
    rows: list[dict[str, Any]] = []
    for n, member_id in enumerate(ids):
        for day in range(5):
            on = MONDAY + timedelta(days=day)
            # 08:40 to 09:09: a few are late (after 09:05) each day
            arrive = datetime(on.year, on.month, on.day, 8, 40, tzinfo=CHINA) + timedelta(
                minutes=(n + day) % 30)
            leave = datetime(on.year, on.month, on.day, 18, (n * 7 + day) % 20, tzinfo=CHINA)
            for at in (arrive, leave):
                seq += 1
                rows.append({"terminal_id": terminal_id, "seq": seq,
                             "enterprise_id": enterprise_id, "kind": RecordKind.ATTENDANCE,
                             "iccid": "89860000000000000000", "card_id": None,
                             "member_id": member_id, "occurred_at": at, "received_at": at,
                             "amount_fen": None, "card_balance_fen": None, "undo_seq": None,
                             "flags": [], "flagged": False, "posting_id": None, "extra": {}})
        if len(rows) >= 20_000 or n == len(ids) - 1:
            async with deps.uow() as uow:
                await uow.session.execute(insert(TerminalRecord), rows)
                await uow.commit()
            rows = []
    del received


async def measure(settings: Settings, enterprise_id: int, members: int) -> dict[str, float]:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # cleanup_ctx: migrate, SMSC link, dispatcher, bill worker
    try:
        deps, dispatcher = app[keys.DEPS], app[keys.OUTBOX]
        await app[keys.SMSC_LINK].wait_bound(10)
        started, cpu = time.perf_counter(), time.process_time()
        run = await runs.create(deps, SYSTEM, runs.RunIn(
            period=PERIOD, kinds=["attendance"], enterprise_id=enterprise_id), None)
        app[BILL_WORKER].wake()
        marks = await _follow(deps, dispatcher, run["id"], members, started)
        total_cpu = time.process_time() - cpu
        segments, delivered, parts = await _stored(deps, run["batch_id"])
    finally:
        await runner.cleanup()
    if segments != 2 * members:
        raise RuntimeError(f"expected two segments per bill, got {segments} for {members}")
    if delivered != members or parts != segments:
        raise RuntimeError(f"stored: {delivered} of {members} bills delivered, "
                           f"{parts} of {segments} parts receipted")
    billed_s, submitted_s, receipted_s = marks
    return {"members": members, "segments": segments,
            "billed_per_s": round(members / billed_s),
            "submitted_per_s": round(segments / submitted_s),
            "receipted_per_s": round(segments / receipted_s),
            "billed_s": round(billed_s, 2), "total_s": round(receipted_s, 2),
            "cpu_s": round(total_cpu, 2)}


async def measure_phases(settings: Settings, enterprise_id: int,
                         members: int) -> dict[str, float]:
    """The two halves apart, to see which one limits: the run with no SMSC (every bill waits
    in the outbox), then the dispatcher alone on that backlog."""
    app = create_app(settings.replace(smsc=None))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        deps = app[keys.DEPS]
        started, cpu = time.perf_counter(), time.process_time()
        run = await runs.create(deps, SYSTEM, runs.RunIn(
            period=PERIOD, kinds=["attendance"], enterprise_id=enterprise_id), None)
        app[BILL_WORKER].wake()
        while (await runs.get(deps, SYSTEM, run["id"]))["state"] != "done":
            await asyncio.sleep(0.1)
        billed_s, billed_cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await runner.cleanup()
    app = create_app(settings.replace(extra={**settings.extra, "bills": {"worker": False}}))
    runner = web.AppRunner(app)
    started, cpu = time.perf_counter(), time.process_time()
    await runner.setup()
    try:
        dispatcher, segments = app[keys.OUTBOX], 2 * members
        while dispatcher.metrics.segments.value(event="receipt_delivered") < segments:
            await asyncio.sleep(0.1)
        sent_s, sent_cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await runner.cleanup()
    return {"alone_billed_per_s": round(members / billed_s),
            "alone_billing_cpu_us_per_member": round(1e6 * billed_cpu / members),
            "alone_receipted_per_s": round(segments / sent_s),
            "alone_dispatch_cpu_us_per_segment": round(1e6 * sent_cpu / segments)}


async def _follow(deps: Deps, dispatcher: Any, run_id: int, members: int,
                  started: float) -> tuple[float, float, float]:
    """Seconds from the start until: the run is done, every segment is accepted, every
    receipt is committed (the dispatcher's own counters, written after each commit)."""
    segments = 2 * members
    billed = submitted = None
    while True:
        await asyncio.sleep(0.25)
        now = time.perf_counter() - started
        if billed is None:
            async with deps.uow(readonly=True) as uow:
                state = (await uow.session.execute(
                    select(BillRun.state).where(BillRun.id == run_id))).scalar_one()
            if state.value == "done":
                billed = now
            elif state.value != "running" and state.value != "pending":
                raise RuntimeError(f"bill run {run_id} ended {state.value}")
        accepted = dispatcher.metrics.segments.value(event="accepted")
        receipted = dispatcher.metrics.segments.value(event="receipt_delivered")
        if submitted is None and accepted >= segments:
            submitted = now
        if billed is not None and submitted is not None and receipted >= segments:
            return billed, submitted, now
        if now > 900:
            raise RuntimeError(f"stuck: accepted {accepted}, receipted {receipted}")


async def _stored(deps: Deps, batch_id: str) -> tuple[int, int, int]:
    """What the database holds after the run (not the counters): the run's segments, its
    messages delivered, and its parts stored with a DELIVRD receipt."""
    async with deps.uow(readonly=True) as uow:
        total = (await uow.session.execute(select(func.sum(OutboxMessage.segments)).where(
            OutboxMessage.batch_id == batch_id))).scalar_one()
        delivered = (await uow.session.execute(select(func.count()).where(
            OutboxMessage.batch_id == batch_id,
            OutboxMessage.state == SmsState.DELIVERED))).scalar_one()
        parts = (await uow.session.execute(
            select(func.count()).select_from(OutboxPart).join(
                OutboxMessage, OutboxPart.message_id == OutboxMessage.id).where(
                OutboxMessage.batch_id == batch_id,
                OutboxPart.state == PartState.DELIVERED))).scalar_one()
    return int(total or 0), int(delivered), int(parts)


async def drop_schema(settings: Settings) -> None:
    database = Database(settings.replace(database_schema=None))
    async with database.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE'))
    await database.dispose()


async def one(backend: str, args: argparse.Namespace, phases: bool) -> dict[str, float]:
    smsc, port = start_smsc(args.smsc_window)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-bills-") as tmp:
            settings = settings_for(backend, Path(tmp), port, args)
            try:
                enterprise_id = await seed(settings, args.members)
                if phases:
                    return await measure_phases(settings, enterprise_id, args.members)
                return await measure(settings, enterprise_id, args.members)
            finally:
                if backend == "postgres":
                    await drop_schema(settings)
    finally:
        smsc.terminate()
        smsc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--window", type=int, default=100, help="the gateway's SMPP window")
    parser.add_argument("--smsc-window", type=int, default=1000,
                        help="the simulator's deliver_sm window (receipts in flight)")
    parser.add_argument("--batch", type=int, default=1000, help="members per transaction")
    parser.add_argument("--phases", action="store_true",
                        help="also measure billing alone and dispatching alone (fresh data)")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not pg_reachable():
        print("postgres: not reachable, skipped", file=sys.stderr)
        backends.remove("postgres")
    figures: dict[str, Any] = {"members": args.members, "window": args.window,
                               "batch": args.batch, "when": datetime.now(UTC).isoformat()}
    for backend in backends:
        for phases in [False, True] if args.phases else [False]:
            result = asyncio.run(one(backend, args, phases))
            for name, value in result.items():
                if name != "members":
                    print(f"{backend} {name}: {value}", flush=True)
                figures[f"{backend}_{name}"] = value
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    secrets.token_bytes(1)  # the vault's random source is warm before timing starts
    sys.exit(main())
