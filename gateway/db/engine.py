"""The database handle: async engine, session factories, migrations, health.

SQLite (the embedded default) and PostgreSQL (production) differ in how writers are kept apart:

* PostgreSQL: services lock the rows they change (``SELECT ... FOR UPDATE``), so writers on
  different cards run in parallel and writers on one card queue.
* SQLite: one writer at a time for the whole file. A deferred transaction that reads and then
  writes can fail with "database is locked" when another writer got there first, so write units
  start with ``BEGIN IMMEDIATE`` (the write lock is taken up front); read-only units start with
  a plain ``BEGIN`` and run beside the writer (WAL). Within one process, writers also queue on
  ``write_lock`` before they begin: SQLite's busy handler polls with sleeps of up to 100 ms, so
  waiting there would waste most of the time the lock is free. ``busy_timeout`` still guards
  against writers in other processes.

SQLite runs in this process, behind aiosqlite's one thread per connection. Its driver
connections are ``LoopConnection``: a query is one trip to that thread instead of four, and a
write unit of work that asks for it (``UnitOfWork(inline=True)``: terminal uploads, card
lifecycle) runs its statements on the event loop's thread once ``BEGIN IMMEDIATE`` holds the
write lock. Durability is ``synchronous=FULL``: see ``_SQLITE_PRAGMAS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import aiosqlite.context as aiosqlite_context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from gateway.errors import StorageUnavailable
from gateway.settings import Settings

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_S = 30.0
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: each COMMIT syncs the WAL before it returns, so what a caller was told is stored
    # survives a power cut or an OS crash too (with NORMAL the database stays intact, but the
    # last commits can vanish: a loss report the admin saw done, purchases a terminal was told
    # are stored and then deleted). The ledger is the truth; the sync runs in the connection's
    # thread, and concurrent terminal uploads share one commit (records.UploadQueue).
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}",
)
# How long dispose waits for an abandoned connection's running call before leaving it.
_CLOSE_TIMEOUT_S = 5.0
# Serialises concurrent migrations when several gateway nodes start against one PostgreSQL.
_MIGRATION_LOCK_ID = 0x0_0E_CA_4D


class Database:
    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.database_url)
        self.dialect = url.get_backend_name()
        self.schema = settings.database_schema if self.dialect == "postgresql" else None
        connect_args: dict[str, Any] = {}
        if self.schema:
            connect_args["server_settings"] = {"search_path": self.schema}
        if self.dialect == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite: every driver connection made, to close them all on dispose.
        self._sqlite_connections: weakref.WeakSet[LoopConnection] = weakref.WeakSet()
        if self.dialect == "sqlite":
            # Our own driver connections (see LoopConnection), on the same file.
            self.engine: AsyncEngine = create_async_engine(
                url, async_creator=partial(_connect_sqlite, url.database or ":memory:",
                                           self._sqlite_connections))
            _install_sqlite_hooks(self.engine)
        else:
            self.engine = create_async_engine(url, connect_args=connect_args,
                                              pool_pre_ping=True)
        writer_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self.writer = async_sessionmaker(writer_engine, expire_on_commit=False)
        self.reader = async_sessionmaker(self.engine, expire_on_commit=False)
        # Only SQLite needs it (see the module docstring); None on PostgreSQL.
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        self.lock_timeout_s = _BUSY_TIMEOUT_S

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from gateway.db.migrate import upgrade_to_head

        try:
            async with self.engine.connect() as conn:
                if self.schema:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                    await conn.commit()
            async with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                await conn.run_sync(upgrade_to_head)
        except SQLAlchemyError as exc:
            detail = f"database migration failed: {exc.__class__.__name__}"
            raise StorageUnavailable(detail) from exc

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError):
            log.warning("database ping failed", exc_info=True)
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        # The pool closed what was checked in. A connection still checked out belongs to a
        # unit of work a cancelled task abandoned at shutdown, and may have a call running in
        # its thread: closing it here waits for that call, whose answer would otherwise reach
        # an event loop already closed ("Event loop is closed", raised in the thread).
        for conn in list(self._sqlite_connections):
            conn.inline = False  # the close queued behind the running call, not run in place
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), _CLOSE_TIMEOUT_S)

    def session(self, readonly: bool = False) -> AsyncSession:
        return (self.reader if readonly else self.writer)()


R = TypeVar("R")


# ``AsyncSession.info`` key of the LoopConnection of a unit of work that runs inline.
INLINE_DRIVER = "onecard.inline_driver"


def inline_driver(session: AsyncSession) -> LoopConnection | None:
    """The driver connection of ``session``'s unit of work while it runs inline, else None."""
    driver: LoopConnection | None = session.info.get(INLINE_DRIVER)
    return driver if driver is not None and driver.inline else None


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection with fewer trips to its thread, or none.

    aiosqlite hands every call (cursor, execute, fetch, close...) to the connection's thread
    and back: four round trips per query, each two thread switches and two GIL hand-offs,
    which cost more than SQLite's work on a short statement. Here:

    * a query is one round trip: ``LoopCursor`` executes and fetches its first rows in one
      call; making and closing cursors, ``BEGIN DEFERRED`` and rolling back take no lock and
      do no I/O, and run in place, as does ``BEGIN IMMEDIATE`` unless another process holds
      the write lock;
    * switched to ``inline`` by a write unit of work once it holds SQLite's write lock (see
      ``gateway.db.uow``), calls run in place: SQLite then waits for no other connection.
      ``COMMIT`` (which syncs the file) still goes through the thread, as does a ``BEGIN`` that
      must wait for another process, so the event loop never waits on a lock or on the disk.
    """

    inline = False

    @property
    def connection(self) -> sqlite3.Connection:
        """The sqlite3 connection itself: only for a unit of work running inline."""
        conn: sqlite3.Connection = self._conn
        return conn

    async def _execute(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if self.inline:
            return fn(*args, **kwargs)
        return await self.offload(fn, *args, **kwargs)

    async def offload(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run ``fn`` in the connection's thread, inline or not: one hop there and back."""
        result: R = await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        return result

    @aiosqlite_context.contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return LoopCursor(self, self._conn.cursor())

    async def rollback(self) -> None:
        # In place: it only drops this connection's pages and locks (in WAL mode a rollback
        # neither writes nor waits).
        if self._conn.in_transaction:
            self._conn.rollback()

    async def begin(self, mode: str) -> None:
        """``BEGIN DEFERRED`` in place (it takes no lock until the first read). ``BEGIN
        IMMEDIATE`` in place too when SQLite's write lock is free, as it nearly always is
        (this process's writers queue on ``Database.write_lock`` first); when another process
        holds it, in one hop to the thread, where ``busy_timeout`` waits for it."""
        if mode == "DEFERRED":
            self._begin(mode)
            return
        conn = self._conn
        (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute("PRAGMA busy_timeout = 0").close()
        try:
            self._begin(mode)
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout)}").close()
        await self.offload(self._begin, mode)

    def _begin(self, mode: str) -> None:
        self._conn.execute(f"BEGIN {mode}").close()


class LoopCursor(aiosqlite.Cursor):
    """Executes a query and fetches its first rows in one call; the rest on demand."""

    PREFETCH = 512

    def __init__(self, conn: LoopConnection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._owner = conn
        self._rows: list[Any] = []
        self._more = False

    def _run(self, sql: str, parameters: Any) -> tuple[list[Any], bool]:
        self._cursor.execute(sql, parameters)
        if self._cursor.description is None:
            return [], False
        rows = self._cursor.fetchmany(self.PREFETCH)
        return rows, len(rows) == self.PREFETCH

    async def execute(self, sql: str, parameters: Any = None) -> aiosqlite.Cursor:
        self._rows, self._more = await self._owner._execute(self._run, sql,
                                                                parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Any) -> aiosqlite.Cursor:
        self._rows, self._more = [], False
        return await super().executemany(sql, parameters)

    async def fetchone(self) -> Any:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self._cursor.arraysize
        if len(self._rows) < size and self._more:
            more = await self._owner._execute(self._cursor.fetchmany, max(size, self.PREFETCH))
            self._more = len(more) == max(size, self.PREFETCH)
            self._rows += more
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        if self._more:
            rows += await self._owner._execute(self._cursor.fetchall)
            self._more = False
        return rows

    async def close(self) -> None:
        self._rows, self._more = [], False
        self._cursor.close()  # no I/O: resets the statement


async def _connect_sqlite(path: str, made: weakref.WeakSet[LoopConnection]) -> LoopConnection:
    # check_same_thread=False: the connection is used by its thread and, inline, by the event
    # loop's, never by both at once (a unit of work awaits each call before the next).
    conn = LoopConnection(partial(sqlite3.connect, path, check_same_thread=False), 64)
    # As SQLAlchemy's aiosqlite dialect does (aiosqlite before 0.22 was a Thread itself).
    thread: Any = getattr(conn, "_thread", conn)
    thread.daemon = True
    await conn
    made.add(conn)
    return conn


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below: the driver's own implicit BEGIN
        # would be DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        driver = conn.connection.driver_connection
        if not isinstance(driver, LoopConnection):
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        try:
            await_only(driver.begin(mode))
        except sqlite3.Error as exc:  # as SQLAlchemy would wrap it (the unit of work maps it)
            raise DBAPIError.instance(f"BEGIN {mode}", None, exc, sqlite3.Error) from exc
