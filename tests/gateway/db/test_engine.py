"""The SQLite driver connection (gateway.db.engine.LoopConnection): what runs where, queries
longer than the first fetch, and a write lock held by another process."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from gateway.db import engine
from gateway.db.engine import Database, LoopCursor
from gateway.db.uow import UnitOfWork
from gateway.errors import StorageUnavailable
from gateway.ports import EventBus, utcnow
from gateway.settings import Settings

COUNT = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " \
        f"{LoopCursor.PREFETCH * 3 + 7}) SELECT i FROM n"


@pytest.fixture
async def database(sqlite_settings: Settings) -> AsyncIterator[Database]:
    db = Database(sqlite_settings)
    yield db
    await db.dispose()


def _trace(db: Database) -> list[tuple[str, bool]]:
    """(statement, ran on the event loop's thread) of every statement SQLite runs."""
    seen: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    @event.listens_for(db.engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        raw: sqlite3.Connection = dbapi_connection.driver_connection._conn
        raw.set_trace_callback(
            lambda sql: seen.append((sql.split()[0].upper(), threading.get_ident() == loop_thread)))

    return seen


async def test_an_inline_writer_runs_statements_in_place_and_syncs_in_the_thread(
        database: Database) -> None:
    seen = _trace(database)
    async with UnitOfWork(database, EventBus(), utcnow, inline=True) as uow:
        await uow.session.execute(text("SELECT count(*) FROM cards"))
        await uow.session.execute(text("UPDATE cards SET note = NULL WHERE id < 0"))
        await uow.commit()
    ran = [(sql, here) for sql, here in seen if not sql.startswith("PRAGMA")]
    # BEGIN IMMEDIATE in place: no other process holds the write lock.
    assert ran == [("BEGIN", True), ("SELECT", True), ("UPDATE", True), ("COMMIT", False)]


async def test_other_units_run_their_statements_in_the_thread(database: Database) -> None:
    seen = _trace(database)
    async with UnitOfWork(database, EventBus(), utcnow) as uow:
        await uow.session.execute(text("SELECT count(*) FROM cards"))
        await uow.commit()
    async with UnitOfWork(database, EventBus(), utcnow, readonly=True) as uow:
        await uow.session.execute(text("SELECT count(*) FROM cards"))
    ran = [(sql, here) for sql, here in seen if not sql.startswith("PRAGMA")]
    # BEGIN takes a free lock or none, and ROLLBACK writes nothing: in place, no trip.
    assert ran == [("BEGIN", True), ("SELECT", False), ("COMMIT", False),
                   ("BEGIN", True), ("SELECT", False), ("ROLLBACK", True)]


async def test_a_query_returns_every_row_past_the_first_fetch(database: Database) -> None:
    expected = list(range(1, LoopCursor.PREFETCH * 3 + 8))
    for inline in (False, True):
        async with UnitOfWork(database, EventBus(), utcnow, inline=inline) as uow:
            assert list(await uow.session.scalars(text(COUNT))) == expected
            streamed = await uow.session.stream_scalars(text(COUNT))
            assert [i async for i in streamed] == expected


async def test_a_write_lock_held_elsewhere_is_storage_unavailable(
        sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_SQLITE_PRAGMAS", tuple(
        "PRAGMA busy_timeout=100" if p.startswith("PRAGMA busy_timeout") else p
        for p in engine._SQLITE_PRAGMAS))
    path = Path(str(sqlite_settings.database_url).split("///", 1)[1])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    db = Database(sqlite_settings)
    try:
        for inline in (False, True):
            with pytest.raises(StorageUnavailable, match="locked"):
                async with UnitOfWork(db, EventBus(), utcnow, inline=inline) as uow:
                    await uow.session.execute(text("UPDATE cards SET note = NULL"))
        other.execute("ROLLBACK")
        async with UnitOfWork(db, EventBus(), utcnow, inline=True) as uow:
            await uow.session.execute(text("UPDATE cards SET note = NULL"))
            await uow.commit()
    finally:
        other.close()
        await db.dispose()


async def test_an_inline_writer_waits_in_the_thread_for_another_process_s_writer(
        sqlite_settings: Settings) -> None:
    path = Path(str(sqlite_settings.database_url).split("///", 1)[1])
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.2, lambda: other.execute("ROLLBACK"))
    db = Database(sqlite_settings)
    seen = _trace(db)
    try:
        releaser.start()
        async with UnitOfWork(db, EventBus(), utcnow, inline=True) as uow:
            await uow.session.execute(text("UPDATE cards SET note = NULL WHERE id < 0"))
            await uow.commit()
        begins = [here for sql, here in seen if sql == "BEGIN"]
        assert begins == [True, False]  # busy in place, then waited for in the thread
        async with db.engine.connect() as conn:  # the connection's busy_timeout is back
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30_000
    finally:
        releaser.join()
        other.close()
        await db.dispose()


async def test_dispose_waits_for_a_call_an_abandoned_connection_is_running(
        sqlite_settings: Settings) -> None:
    """At shutdown a cancelled task can leave its connection checked out with a call still
    running in the connection's thread. Dispose closes that connection too, after the call:
    the thread is done before the event loop can close under it."""
    db = Database(sqlite_settings)
    conn = await db.engine.connect()  # checked out, never returned: abandoned
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, engine.LoopConnection)
    started = threading.Event()

    def slow() -> None:
        started.set()
        threading.Event().wait(0.3)

    task = asyncio.ensure_future(driver.offload(slow))
    while not started.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await db.dispose()
    assert driver._connection is None
    # Its stop sentinel was queued behind the call: the thread ends by itself (it answered
    # the close just before, so it may take a moment more to return).
    driver._thread.join(timeout=5)
    assert not driver._thread.is_alive()
