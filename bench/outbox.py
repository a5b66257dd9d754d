"""SMS outbox throughput on SQLite: messages and segments submitted and receipted, end to end.

    .venv/bin/python bench/outbox.py [--messages 20000] [--segments 2] [--handsets 200]
                                     [--smsc inprocess|process] [--window 100]

A fresh SQLite database gets ``--messages`` queued SMS (UCS2, ``--segments`` segments each,
queued with ``enqueue_many`` in chunks: timed as ``enqueued_per_s``). Then the gateway
application starts (outbox dispatcher and writer, SMSC link) and everything is timed from the
moment its link is bound:

- ``--smsc inprocess`` (default) is the embedded stack of ``onecard serve --embedded``: the SMSC
  simulator and a fleet of ``--handsets`` emulated handsets (SIM cards inside) run in the same
  process and event loop as the gateway; each message goes to a handset, whose deliver_sm_resp
  makes the simulator send a DELIVRD receipt. ``--handsets 0``: the simulator plays the radio
  network itself (``--unrouted deliver``).
- ``--smsc process``: the simulator runs in its own process (``onecard smsc --unrouted
  deliver``), as a carrier's SMSC would, and the gateway has the core to itself.

Figures: ``submitted_*``: segments (and messages) whose message_id is committed, per second,
until the last; ``receipted_*``: segments whose final receipt is committed and messages
``delivered``, per second, until the last; ``writer_txns`` and ``segments_per_txn``: how much
each writer transaction carried; ``cpu_s``: this process's CPU time during the run.

Prints one line per figure, then one JSON line with all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/outbox.py: its folder must not shadow the packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from gateway import keys  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.db.engine import Database  # noqa: E402
from gateway.db.models_outbox import SmsKind  # noqa: E402
from gateway.ports import EventBus, utcnow  # noqa: E402
from gateway.services import outbox  # noqa: E402
from gateway.services.base import Deps  # noqa: E402
from gateway.settings import OutboxSettings, Settings, SmscSettings  # noqa: E402
from gateway.vault import Vault  # noqa: E402
from sim_emulator.factory import new_card_state, open_card  # noqa: E402
from sim_emulator.handset import Fleet, Handset  # noqa: E402
from sim_emulator.profile import Identity  # noqa: E402
from smpp.simulator import Smsc, SmscConfig, Unrouted, User  # noqa: E402

GATEWAY = User("gateway", "gwpass")
HANDSETS = User("handsets", "hspass")
SEGMENT = "一卡通账单测试" * 9 + "一卡通账单"  # 67 UCS2 characters: one concatenated part


def text_of(i: int, segments: int) -> str:
    body = f"{i:08d}" + SEGMENT * segments
    return body[: 67 * segments] if segments > 1 else body[:70]


def msisdns(count: int) -> list[str]:
    return [f"8613800{i:06d}" for i in range(count)]


async def queue(settings: Settings, count: int, segments: int, numbers: list[str]) -> float:
    database = Database(settings)
    await database.migrate()
    deps = Deps(settings, database, EventBus(), Vault(settings.master_keys), utcnow)
    started = time.perf_counter()
    for first in range(0, count, 2000):
        items = [outbox.Sms(numbers[i % len(numbers)], text_of(i, segments), SmsKind.BILL, None)
                 for i in range(first, min(count, first + 2000))]
        async with deps.uow() as uow:
            await outbox.enqueue_many(uow, items)
            await uow.commit()
    elapsed = time.perf_counter() - started
    await database.dispose()
    return count / elapsed


def fleet_of(numbers: list[str], port: int) -> Fleet:
    phones = []
    for i, msisdn in enumerate(numbers):
        state, _ = new_card_state(Identity(f"898600{i:013d}0", f"46000{i:010d}", msisdn))
        phones.append(Handset(open_card(state), msisdn))
    return Fleet(phones, "127.0.0.1", port, system_id=HANDSETS.system_id,
                 password=HANDSETS.password)


def simulator_process(window: int) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "gateway.cli", "smsc", "--port", "0", "--user",
               f"{GATEWAY.system_id}:{GATEWAY.password}", "--unrouted", "deliver", "--window",
               str(window), "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening on HOST:PORT"
    return process, int(line.rsplit(":", 1)[1])


async def run(settings: Settings, count: int, segments: int) -> dict[str, float]:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    link, dispatcher = app[keys.SMSC_LINK], app[keys.OUTBOX]
    try:
        await link.wait_bound(30)
        started, cpu = time.perf_counter(), time.process_time()
        submitted_at = 0.0
        metrics = dispatcher.metrics
        total = count * segments
        while metrics.transitions.value(state="delivered") < count:
            if not submitted_at and metrics.segments.value(event="accepted") >= total:
                submitted_at = time.perf_counter() - started
            await asyncio.sleep(0.02)
        receipted_at = time.perf_counter() - started
        cpu = time.process_time() - cpu
        submitted_at = submitted_at or receipted_at
        txns = dispatcher.writer.transactions
    finally:
        await runner.cleanup()
    return {
        "submitted_msgs_per_s": round(count / submitted_at),
        "submitted_segments_per_s": round(total / submitted_at),
        "receipted_msgs_per_s": round(count / receipted_at),
        "receipted_segments_per_s": round(total / receipted_at),
        "total_s": round(receipted_at, 2),
        "cpu_s": round(cpu, 2),
        "writer_txns": txns,
        "segments_per_txn": round(2 * total / max(1, txns), 1),  # accepted + receipted
    }


async def main_async(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    numbers = msisdns(args.handsets or 1000)
    base = Settings.for_database(data, log_level="WARNING")
    enqueued = await queue(base, args.messages, args.segments, numbers)
    figures: dict[str, Any] = {"enqueued_per_s": round(enqueued)}
    outbox_settings = OutboxSettings(poll_s=0.05)
    if args.smsc == "process":
        process, port = simulator_process(args.sim_window)
        try:
            settings = base.replace(outbox=outbox_settings, smsc=_link(port, args.window))
            figures.update(await run(settings, args.messages, args.segments))
        finally:
            process.terminate()
            process.wait(10)
        return figures
    config = SmscConfig(port=0, users=(GATEWAY, HANDSETS), unrouted=Unrouted.DELIVER,
                        deliver_window=args.sim_window)
    async with Smsc(config) as smsc:
        fleet = fleet_of(numbers, smsc.port) if args.handsets else None
        if fleet is not None:
            await fleet.start()
        try:
            settings = base.replace(outbox=outbox_settings, smsc=_link(smsc.port, args.window))
            figures.update(await run(settings, args.messages, args.segments))
        finally:
            if fleet is not None:
                await fleet.stop()
    return figures


def _link(port: int, window: int) -> SmscSettings:
    return SmscSettings(host="127.0.0.1", port=port, system_id=GATEWAY.system_id,
                        password=GATEWAY.password, source_addr="10658888", window=window)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=2, choices=(1, 2, 3))
    parser.add_argument("--handsets", type=int, default=200)
    parser.add_argument("--smsc", choices=("inprocess", "process"), default="inprocess")
    parser.add_argument("--window", type=int, default=100, help="the gateway's submit window")
    parser.add_argument("--sim-window", type=int, default=500,
                        help="the simulator's deliver_sm window per bind (receipts in flight)")
    args = parser.parse_args()
    if args.smsc == "process":
        args.handsets = 0
    with tempfile.TemporaryDirectory(prefix="onecard-outbox-bench-") as tmp:
        figures = asyncio.run(main_async(args, Path(tmp)))
    figures.update(messages=args.messages, segments=args.segments, handsets=args.handsets,
                   smsc=args.smsc, window=args.window, cpus=os.cpu_count() or 0,
                   load_1min=round(os.getloadavg()[0], 2))
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
