"""Unit of work: one database transaction, its repositories and the events it emits.

``async with uow:`` opens a session and a transaction; leaving the block without ``commit()``
rolls back. A ``UnitOfWork`` can be entered again after it exits (each entry is a new
transaction), so services can retry a unit that lost a race.

``inline=True`` asks, on SQLite, for the unit's statements to run on the event loop's thread
once ``BEGIN IMMEDIATE`` holds the write lock (``gateway.db.engine.LoopConnection``); the
COMMIT, which syncs the file, still runs in the connection's thread. For short units of cheap
statements on a hot path (terminal uploads, card lifecycle): while a statement runs, the event
loop waits for it. PostgreSQL ignores it.

SQLAlchemy exceptions stop here: they leave as ``Conflict`` subclasses (a unique or foreign key
constraint, a stale version) or ``StorageUnavailable`` (the database cannot be reached or stays
locked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Self, cast

from sqlalchemy import Table
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from gateway.db import bulk
from gateway.db.engine import INLINE_DRIVER, Database, LoopConnection
from gateway.db.models import DomainEvent
from gateway.db.repositories import (
    AdminRepo,
    AuditRepo,
    BlacklistRepo,
    CardAppRepo,
    CardRepo,
    EnterpriseRepo,
    EventRepo,
    IdempotencyRepo,
    LedgerRepo,
    MemberRepo,
    RecordRepo,
    TerminalRepo,
    TokenRepo,
)
from gateway.errors import ConcurrentUpdate, Conflict, GatewayError, StorageUnavailable
from gateway.ports import Clock, Event, EventBus


class DuplicateRow(Conflict):
    """A unique constraint refused a row: usually a concurrent writer won a race; retryable."""

    code = "already_exists"


class Retryable(ConcurrentUpdate):
    """A serialisation failure or deadlock (PostgreSQL) or a stale version: run the unit again."""


_EVENTS = cast(Table, DomainEvent.__table__)
_EVENT_COLUMNS = ("name", "enterprise_id", "payload", "created_at")

# PostgreSQL SQLSTATEs after which the whole transaction can simply be retried.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})


def translate(exc: SQLAlchemyError | OSError) -> GatewayError:
    if isinstance(exc, OSError):
        # Drivers raise OSError when the server cannot be reached at all (asyncpg on connect).
        return StorageUnavailable(f"database unreachable ({exc.__class__.__name__})")
    if isinstance(exc, IntegrityError):
        return DuplicateRow("a concurrent change conflicts with this one; retry")
    if isinstance(exc, StaleDataError):
        return Retryable("the row changed under this transaction; retry")
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if sqlstate in _RETRY_SQLSTATES:
            return Retryable("the database aborted this transaction to avoid a deadlock; retry")
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig):
            return StorageUnavailable("the database stayed locked; retry later")
    return StorageUnavailable(f"database error ({exc.__class__.__name__})")


class UnitOfWork:
    session: AsyncSession

    def __init__(
        self, database: Database, bus: EventBus, clock: Clock, *, readonly: bool = False,
        inline: bool = False,
    ) -> None:
        self.database = database
        self.bus = bus
        self.clock = clock
        self.readonly = readonly
        # SQLite writers only: run statements on the event loop's thread (engine.LoopConnection).
        # For short units whose statements are cheap: a slow statement would stall the loop.
        self.inline = inline and database.is_sqlite and not readonly
        self._driver: LoopConnection | None = None
        self._events: list[Event] = []
        self._committed = False
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> Self:
        lock = None if self.readonly else self.database.write_lock
        if lock is not None:
            try:
                # As long as SQLite's own busy_timeout: a unit that waits longer than that for
                # the writer before it gives up, rather than hang (e.g. behind a unit of work
                # that awaits another one).
                await asyncio.wait_for(lock.acquire(), self.database.lock_timeout_s)
            except TimeoutError:
                raise StorageUnavailable("the database stayed locked; retry later") from None
        self._lock = lock
        self.session = self.database.session(readonly=self.readonly)
        s = self.session
        self.enterprises = EnterpriseRepo(s)
        self.admins = AdminRepo(s)
        self.tokens = TokenRepo(s)
        self.members = MemberRepo(s)
        self.cards = CardRepo(s)
        self.apps = CardAppRepo(s)
        self.ledger = LedgerRepo(s)
        self.terminals = TerminalRepo(s)
        self.records = RecordRepo(s)
        self.blacklist = BlacklistRepo(s)
        self.audit = AuditRepo(s)
        self.idempotency = IdempotencyRepo(s)
        self.events = EventRepo(s)
        self._events = []
        self._committed = False
        if self.inline:
            await self._go_inline()
        return self

    async def _go_inline(self) -> None:
        """Begin (BEGIN IMMEDIATE, through the connection's thread: it may wait for another
        process), then run the rest of the unit in place."""
        try:
            conn = await self.session.connection()
            raw = await conn.get_raw_connection()
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)  # releases, translates
            raise
        driver = raw.driver_connection
        if isinstance(driver, LoopConnection):
            self._driver = driver
            driver.inline = True
            self.session.info[INLINE_DRIVER] = driver  # gateway.db.fast and bulk use it

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends an uncommitted transaction (a rollback) without expiring loaded rows, so
        # what a read-only unit returned stays readable after it.
        try:
            await self.session.close()
        finally:
            if self._driver is not None:
                self._driver.inline = False
                self._driver = None
            if self._lock is not None:
                self._lock.release()
        if isinstance(exc, (SQLAlchemyError, OSError)):
            raise translate(exc) from exc

    @property
    def is_sqlite(self) -> bool:
        return self.database.is_sqlite

    def emit(self, event: Event) -> None:
        self._events.append(event)

    @property
    def emitted(self) -> Sequence[Event]:
        return tuple(self._events)

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except SQLAlchemyError as exc:
            raise translate(exc) from exc

    async def commit(self) -> None:
        """Run transactional subscribers, persist events, commit, then wake notifiers."""
        events = list(self._events)
        await self.bus.in_transaction(self, events)
        now = self.clock()
        try:
            await bulk.insert_rows(self.session, _EVENTS, _EVENT_COLUMNS, [
                (e.name.value, e.enterprise_id, dict(e.payload), now) for e in events])
            if self._driver is not None:
                # Statements in place; COMMIT (it syncs the file) through the thread.
                await self.session.flush()
                self._driver.inline = False
            await self.session.commit()
        except SQLAlchemyError as exc:
            raise translate(exc) from exc
        self._committed = True
        await self.bus.after_commit(events)
