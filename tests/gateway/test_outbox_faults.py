"""The outbox under faults, over real sockets: restarts mid-flow (graceful and SIGKILL), the SMSC
dropping the connection, throttling, and two dispatchers sharing one database.

What counts is what the SMSC simulator saw: every message accepted at least once, and a message
sent twice only where the at-least-once window allows it (a segment the SMSC accepted whose
message_id the gateway had not committed yet, or whose submit_sm_resp the dropped connection
swallowed).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gateway import keys
from gateway.db.engine import Database
from gateway.db.models_outbox import InboundMessage, OutboxMessage, OutboxPart, SmsKind, SmsState
from gateway.ports import EventBus, utcnow
from gateway.services import outbox
from gateway.services.base import Deps
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workers import outbox_store as store
from smpp.simulator import Faults, Smsc
from tests.gateway.outbox_helpers import (
    GATEWAY,
    Stack,
    eventually,
    smsc_config,
    start_gateway,
    with_smsc,
)

LONG = "长" * 100  # two UCS2 segments


def batch(n: int, prefix: str = "86137") -> list[outbox.Sms]:
    """n SMS to n numbers; every fifth one is two segments long."""
    return [outbox.Sms(msisdn=f"{prefix}{i:08d}", text=f"消息{i}" + (LONG if i % 5 == 0 else ""),
                       kind=SmsKind.NOTICE, enterprise_id=None) for i in range(n)]


def segments_of(items: list[outbox.Sms]) -> int:
    return sum(2 if LONG in item.text else 1 for item in items)


async def queue(deps: Deps, items: list[outbox.Sms]) -> list[int]:
    async with deps.uow() as uow:
        ids = await outbox.enqueue_many(uow, items)
        await uow.commit()
    return ids


def copies(smsc: Smsc) -> collections.Counter[tuple[str, str | None]]:
    """How many times the SMSC accepted each whole (destination, text)."""
    return collections.Counter((m.destination, m.text) for m in smsc.messages)


def duplicates(smsc: Smsc, items: list[outbox.Sms]) -> int:
    seen = copies(smsc)
    for item in items:
        assert seen[(item.msisdn, item.text)] >= 1, f"{item.msisdn} lost"
    return smsc.stats["submitted"] - segments_of(items)


async def all_delivered(deps: Deps, total: int) -> bool:
    async with deps.uow(readonly=True) as uow:
        stmt = select(func.count()).where(OutboxMessage.state == SmsState.DELIVERED)
        return int((await uow.session.execute(stmt)).scalar_one()) == total


async def count_parts(deps: Deps) -> int:
    async with deps.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count(OutboxPart.id)))).scalar_one())


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    async with Smsc(smsc_config()) as simulator:
        yield simulator


async def test_graceful_restart_mid_flow_sends_nothing_twice(
        aiohttp_client: Any, sqlite_settings: Settings, smsc: Smsc) -> None:
    settings = with_smsc(sqlite_settings, smsc.port, throughput=200.0,
                         outbox={"max_in_flight": 20, "claim_batch": 10})
    items = batch(600)  # 720 segments: some 3.6 s at 200 segments/s
    first = await start_gateway(aiohttp_client, settings)
    deps = first.app[keys.DEPS]
    await queue(deps, items)
    first.app[keys.OUTBOX].wake()
    await eventually(lambda: _at_least(deps, 60), what="some parts accepted")
    await first.close()  # stop claiming, drain the ESME, write every answer, release claims
    accepted = smsc.stats["submitted"]
    assert 60 <= accepted < segments_of(items)
    # Counted before the next gateway starts: its dispatcher sends (and writes) at once.
    database = Database(settings)
    try:
        async with database.engine.connect() as conn:
            stored = (await conn.execute(select(func.count(OutboxPart.id)))).scalar_one()
    finally:
        await database.dispose()
    assert stored == accepted  # every accepted segment was written
    again = await start_gateway(aiohttp_client, settings)
    deps = again.app[keys.DEPS]
    await eventually(lambda: all_delivered(deps, len(items)), what="all delivered")
    assert duplicates(smsc, items) == 0
    await again.close()


async def _at_least(deps: Deps, n: int) -> bool:
    return await count_parts(deps) >= n


async def test_the_smsc_dropping_the_link_loses_nothing(
        aiohttp_client: Any, sqlite_settings: Settings, smsc: Smsc) -> None:
    settings = with_smsc(sqlite_settings, smsc.port, window=10)
    client = await start_gateway(aiohttp_client, settings)
    stack = Stack(smsc, client)
    items = batch(200)
    smsc.faults.drop_after = 60  # PDUs from the ESME on one connection (bind included)
    binds = smsc.stats["binds"]
    await queue(client.app[keys.DEPS], items)
    stack.outbox.wake()
    await eventually(lambda: smsc.stats["binds"] >= binds + 2, what="two reconnects")
    smsc.faults.drop_after = 0
    await eventually(lambda: all_delivered(client.app[keys.DEPS], len(items)),
                     what="all delivered")
    extra = duplicates(smsc, items)
    # Only segments in flight when a connection dropped can have been accepted twice: at most
    # a window per drop. Their second receipt names an id no part holds: kept as inbound.
    assert 0 <= extra <= 10 * (smsc.stats["binds"] - binds)
    assert stack.link.metrics.reconnects >= 2
    await eventually(lambda: _inbound_receipts(client.app[keys.DEPS], extra),
                     what="unmatched receipts kept")


async def _inbound_receipts(deps: Deps, n: int) -> bool:
    async with deps.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count(InboundMessage.id))))
                   .scalar_one()) == n


async def test_throttling_slows_but_loses_nothing(
        aiohttp_client: Any, sqlite_settings: Settings) -> None:
    async with Smsc(smsc_config(faults=Faults(throttle_every=7))) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        stack = Stack(smsc, client)
        items = batch(120)
        await queue(client.app[keys.DEPS], items)
        stack.outbox.wake()
        await eventually(lambda: all_delivered(client.app[keys.DEPS], len(items)),
                         what="all delivered")
        assert smsc.stats["refused_ESME_RTHROTTLED"] > 0 and stack.link.metrics.throttled > 0
        assert duplicates(smsc, items) == 0


async def test_two_dispatchers_on_one_database_never_send_a_row_twice(
        settings: Settings, aiohttp_client: Any, smsc: Smsc) -> None:
    """Two gateway nodes (each its own app, ESME bind and dispatcher) share one database:
    PostgreSQL with ``FOR UPDATE SKIP LOCKED``, SQLite with its single writer. (``settings``
    first: the gateways stop before a PostgreSQL schema is dropped.)"""
    tuned = with_smsc(settings, smsc.port, outbox={"claim_batch": 15, "max_in_flight": 30})
    one = await start_gateway(aiohttp_client, tuned)
    two = await start_gateway(aiohttp_client, tuned)
    items = batch(400)
    deps = one.app[keys.DEPS]
    ids = await queue(deps, items)
    await _abandoned_claim(deps, ids[-1])  # a dead node's claim, its lease run out
    for client in (one, two):
        client.app[keys.OUTBOX].wake()
    await eventually(lambda: all_delivered(deps, len(items)), timeout=60, what="all delivered")
    assert duplicates(smsc, items) == 0
    accepted = [c.app[keys.OUTBOX].metrics.segments.value(event="accepted") for c in (one, two)]
    assert sum(accepted) == segments_of(items) and min(accepted) > 0


async def _abandoned_claim(deps: Deps, sms_id: int) -> None:
    async with deps.uow() as uow:
        past = uow.clock() - timedelta(seconds=1)
        await uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == sms_id)
                                  .values(claimed_by="dead-node", lease_until=past))
        await uow.commit()


# --- a process killed mid-flow ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ONECARD_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", str(data), "--config",
         str(config), "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])


async def test_sigkill_mid_flow_loses_nothing(tmp_path: Path, smsc: Smsc) -> None:
    """SIGKILL while segments are in flight; the restarted node resends only segments whose
    message_id was not committed: duplicates stay within the segments in flight."""
    data = tmp_path / "data"
    config = tmp_path / "onecard.toml"
    config.write_text(
        f'[smsc]\nhost = "127.0.0.1"\nport = {smsc.port}\nsystem_id = "{GATEWAY.system_id}"\n'
        f'password = "{GATEWAY.password}"\nwindow = 10\nthroughput = 300.0\n'
        "[outbox]\nlease_s = 1.0\nmax_in_flight = 40\nclaim_batch = 20\npoll_s = 0.05\n")
    settings = Settings.load(config, {"data_dir": str(data)}, {}, create_master_key=True)
    database = Database(settings)
    await database.migrate()
    deps = Deps(settings, database, EventBus(), Vault(settings.master_keys), utcnow)
    items = batch(600)
    await queue(deps, items)
    proc = _serve(data, config, _free_port())
    try:
        await eventually(lambda: _at_least(deps, 150), timeout=60, what="segments accepted")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert smsc.stats["submitted"] < segments_of(items)
        proc = _serve(data, config, _free_port())
        await eventually(lambda: all_delivered(deps, len(items)), timeout=90,
                         what="all delivered after the restart")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        await database.dispose()
    assert 0 <= duplicates(smsc, items) <= 40  # max_in_flight: the uncommitted window


async def test_a_claim_settles_by_the_rules(sqlite_settings: Settings) -> None:
    """Temporary refusals retry with backoff up to max_attempts; permanent ones fail at once."""
    from gateway.app import create_app
    from gateway.workers.outbox import TEMPORARY_STATUSES, Dispatcher, _Sending
    from smpp.errors import ResponseTimeout, SubmitRejected

    app = create_app(sqlite_settings)
    dispatcher: Dispatcher = app[keys.OUTBOX]
    message = store.Claimed(1, None, None, "8613700000000", SmsKind.NOTICE, "x", None, 2,
                            utcnow(), attempts=0)
    settled: list[store.Settled] = []
    dispatcher.writer.settled = settled.append  # type: ignore[method-assign,assignment]
    for errors in ([None, ResponseTimeout("slow")],
                   [SubmitRejected("bad", 0x0B), None],
                   [SubmitRejected("busy", 0x58), SubmitRejected("bad", 0x0B)]):
        sending = _Sending(message, 2)
        for error in errors:
            dispatcher._settle_part(sending, error)
    retry, failed, mixed = settled
    assert retry.state is SmsState.QUEUED and retry.error == "ResponseTimeout"
    assert retry.retry_at is not None and retry.retry_at > utcnow()
    assert failed.state is SmsState.FAILED and failed.error == "ESME_RINVDSTADR"
    assert mixed.state is SmsState.FAILED
    assert 0x58 in TEMPORARY_STATUSES
    message.attempts = dispatcher.settings.max_attempts - 1
    sending = _Sending(message, 1)
    dispatcher._settle_part(sending, ResponseTimeout("slow"))
    assert settled[-1].state is SmsState.FAILED


async def test_a_receipt_overtaking_its_part_waits_for_the_part_row(
        sqlite_settings: Settings) -> None:
    """The submit_sm_resp of a segment arrives while the writer's transaction runs, and its
    receipt was already in that transaction's batch: the receipt must wait for the next one,
    where the part row exists, not be answered (and lost) against a row not written yet."""
    from gateway.settings import OutboxSettings
    from gateway.workers.outbox_metrics import OutboxMetrics
    from gateway.workers.outbox_writer import OutboxWriter
    from smpp.pdus import MessageState
    from smpp.receipts import Receipt

    database = Database(sqlite_settings)
    await database.migrate()
    deps = Deps(sqlite_settings, database, EventBus(), Vault(sqlite_settings.master_keys), utcnow)
    try:
        (sms_id,) = await queue(deps, batch(2)[1:])  # one segment
        async with deps.uow() as uow:
            now = uow.clock()
            (claimed,) = await store.claim(uow.session, "w", now, now + timedelta(seconds=30), 1,
                                           urgent_only=False)
            await uow.commit()
        writer = OutboxWriter(deps, OutboxSettings(orphan_receipt_s=5.0), OutboxMetrics(None))
        write = writer._write
        calls = 0

        async def write_then_accept(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:  # the segment's submit_sm_resp, handled while this one runs
                writer.accepted(store.Accepted(sms_id, 1, "77"))
                writer.settled(store.Settled(claimed, SmsState.SUBMITTED))
            return await write(*args)

        writer._write = write_then_accept  # type: ignore[method-assign]
        receipt = Receipt("77", "77", MessageState.DELIVERED, 0, None, None, "86137", "10658")
        answer = asyncio.ensure_future(writer.receipt(receipt))
        await asyncio.sleep(0)
        writer.start()
        assert await asyncio.wait_for(answer, 10) is True
        await writer.close()
        async with deps.uow(readonly=True) as uow:
            state = (await uow.session.execute(select(OutboxMessage.state).where(
                OutboxMessage.id == sms_id))).scalar_one()
        assert calls >= 2 and state is SmsState.DELIVERED
    finally:
        await database.dispose()
