"""The outbox dispatcher's statements: claim, record, settle, receipts, renew, sweep.

Everything here works in batches (one statement for hundreds of rows), because a bill run moves
hundreds of thousands of segments and SQLite has one writer: the fewer transactions per segment,
the more segments per second.

Claiming is the one place where PostgreSQL and SQLite differ. PostgreSQL:
``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``: two dispatchers never
lock the same row, and a row one of them claimed and committed no longer matches the other's
re-checked condition (its lease is in the future). SQLite: the same statement, without the
locking clause, runs in a write transaction that holds the database lock (``BEGIN IMMEDIATE``),
which makes it atomic on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import recorder
from billing.cdr import Cdr
from billing.cdr import SmsKind as BillingSmsKind
from gateway.db.fast import Query
from gateway.db.models import Member
from gateway.db.models_outbox import (
    InboundKind,
    InboundMessage,
    OutboxMessage,
    OutboxPart,
    PartState,
    SmsKind,
    SmsState,
)
from smpp.pdus import MessageState

MESSAGES = cast(Table, OutboxMessage.__table__)
PARTS = cast(Table, OutboxPart.__table__)
INBOUND = cast(Table, InboundMessage.__table__)
M, P, IN = MESSAGES.c, PARTS.c, INBOUND.c


@dataclass(slots=True)
class Claimed:
    """A message this dispatcher holds, with the segments the SMSC already has."""

    id: int
    enterprise_id: int | None
    member_id: int | None
    msisdn: str
    kind: SmsKind
    text: str
    source: str | None
    segments: int
    valid_until: datetime
    attempts: int
    accepted: set[int] = field(default_factory=set)  # seq of parts with a message_id


@dataclass(frozen=True, slots=True)
class Accepted:
    """A segment the SMSC accepted (its time is the writer's transaction's)."""

    message_id: int
    seq: int
    smsc_id: str


@dataclass(frozen=True, slots=True)
class Settled:
    """What became of one claim: all parts accepted (``state`` SUBMITTED), a permanent refusal
    (FAILED), or a temporary one (QUEUED again at ``retry_at``)."""

    message: Claimed
    state: SmsState
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReceiptIn:
    smsc_id: str
    state: PartState | None  # None: an intermediate notification (ENROUTE, ACCEPTD)
    error: int


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _state_is(state: SmsState) -> ColumnElement[bool]:
    """``state = :state`` for statements that find their rows by id (``id IN (...)``).

    Written ``state || ''`` so that no index serves it: SQLite has no statistics and takes
    ``ix_sms_outbox_state_due`` (state = ?) over the primary key for a list of more than a few
    ids, walking every queued row (100,000 during a bill run) to settle 250 claims. A
    computed value leaves it the primary key; PostgreSQL takes the primary key either way."""
    return M.state.op("||", return_type=M.state.type)(literal_column("''")) == state


# --- claiming ----------------------------------------------------------------------------


# The statements of the hot path are built once (``gateway.db.fast``): a bill run claims,
# records and settles 100,000 messages, and SQLAlchemy's per-statement and per-row work cost
# more than SQLite's.


def _claim_statement(dialect: str, urgent_only: bool) -> Query:
    now: BindParameter[datetime] = bindparam("now")
    due = select(M.id).where(M.state == SmsState.QUEUED, M.due_at <= now,
                             or_(M.lease_until.is_(None), M.lease_until < now))
    if urgent_only:  # quiet hours: only what cannot wait
        due = due.where(M.urgent.is_(True))
    due = due.order_by(M.due_at, M.id).limit(bindparam("limit"))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return Query(update(MESSAGES).where(M.id.in_(due.scalar_subquery()))
                 .values(claimed_by=bindparam("worker"), lease_until=bindparam("lease"),
                         updated_at=now)
                 .returning(M.id, M.enterprise_id, M.member_id, M.msisdn, M.kind, M.text,
                            M.source, M.segments, M.valid_until, M.attempts))


_CLAIMS = {(dialect, urgent): _claim_statement(dialect, urgent)
           for dialect in ("sqlite", "postgresql") for urgent in (False, True)}
_HELD_PARTS = Query(select(P.message_id, P.seq).where(
    P.message_id.in_(bindparam("ids", expanding=True))))
_OPTED_OUT = Query(select(Member.id).where(Member.id.in_(bindparam("ids", expanding=True)),
                                           Member.sms_opt_out.is_(True)))


async def claim(session: AsyncSession, worker: str, now: datetime, lease_until: datetime,
                limit: int, *, urgent_only: bool) -> list[Claimed]:
    statement = _CLAIMS[_pg_or_sqlite(session), urgent_only]
    rows = await statement.rows(session, {"now": now, "limit": limit, "worker": worker,
                                          "lease": lease_until})
    claimed = {r.id: Claimed(r.id, r.enterprise_id, r.member_id, r.msisdn, SmsKind(r.kind),
                             r.text, r.source, r.segments, r.valid_until, r.attempts)
               for r in rows}
    if claimed:
        for message_id, seq in await _HELD_PARTS.rows(session, {"ids": list(claimed)}):
            claimed[message_id].accepted.add(seq)
    return sorted(claimed.values(), key=lambda c: c.id)


def _pg_or_sqlite(session: AsyncSession) -> str:
    return "postgresql" if _dialect(session) == "postgresql" else "sqlite"


async def opted_out(session: AsyncSession, member_ids: Collection[int]) -> set[int]:
    if not member_ids:
        return set()
    return {r.id for r in await _OPTED_OUT.rows(session, {"ids": list(member_ids)})}


async def close_unsent(session: AsyncSession, ids: Collection[int], state: SmsState,
                       error: str | None, now: datetime) -> None:
    """Final without being sent (opted out, expired before sending)."""
    if ids:
        await session.execute(
            update(MESSAGES).where(M.id.in_(list(ids)), _state_is(SmsState.QUEUED))
            .values(state=state, error=error, done_at=now, updated_at=now, claimed_by=None,
                    lease_until=None))


async def set_segments(session: AsyncSession, counts: dict[int, int]) -> None:
    """Segment counts as the link splits (ref16 may differ from the count at enqueue)."""
    if counts:
        stmt = update(MESSAGES).where(M.id == bindparam("b_id")).values(segments=bindparam("b_n"))
        await session.execute(stmt, [{"b_id": k, "b_n": v} for k, v in counts.items()])


async def renew(session: AsyncSession, worker: str, lease_until: datetime) -> None:
    held = _skip_locked(session, select(M.id).where(M.claimed_by == worker,
                                                    M.state == SmsState.QUEUED))
    await session.execute(update(MESSAGES).where(M.id.in_(held.scalar_subquery()))
                          .values(lease_until=lease_until))


def _skip_locked(session: AsyncSession, stmt: Select[Any]) -> Select[Any]:
    """Housekeeping never waits for a row a writer holds (PostgreSQL; SQLite has one writer):
    waiting in arbitrary row order is how deadlocks start. A skipped row is seen next time."""
    if _dialect(session) == "postgresql":
        return stmt.with_for_update(skip_locked=True, key_share=True)
    return stmt


async def lock_messages(session: AsyncSession, ids: Collection[int]) -> None:
    """Lock the message rows a writer transaction will change, in id order (PostgreSQL).

    Two nodes' writers touch each other's messages (a receipt arrives on whichever bind the
    SMSC picks); taking every lock up front in one order means they queue, never deadlock, and
    the second one's "are all parts final?" sees the first one's parts.
    """
    if ids and _dialect(session) == "postgresql":
        await session.execute(select(M.id).where(M.id.in_(sorted(ids))).order_by(M.id)
                              .with_for_update(key_share=True))


async def release_all(session: AsyncSession, worker: str, now: datetime) -> int:
    """A graceful stop: every claim of ``worker`` is free again at once."""
    result = await session.execute(
        update(MESSAGES).where(M.claimed_by == worker)
        .values(claimed_by=None, lease_until=None, updated_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


# --- what the SMSC answered --------------------------------------------------------------


_RECORD = {
    dialect: Query(builder(PARTS).values(
        message_id=bindparam("m"), seq=bindparam("q"), smsc_id=bindparam("smsc_id"),
        state=PartState.SUBMITTED, error=None, submitted_at=bindparam("now"), done_at=None)
        .on_conflict_do_nothing(index_elements=["message_id", "seq"]))
    for dialect, builder in (("sqlite", sqlite_insert), ("postgresql", pg_insert))}
_SUBMITTED = Query(update(MESSAGES).where(M.id.in_(bindparam("ids", expanding=True)),
                                          _state_is(SmsState.QUEUED))
                   .values(state=SmsState.SUBMITTED, submitted_at=bindparam("now"),
                           updated_at=bindparam("now"), claimed_by=None, lease_until=None,
                           error=None))


async def record_accepted(session: AsyncSession, accepted: Sequence[Accepted],
                          now: datetime) -> None:
    """One part row per accepted segment; a row already there (a second node raced us after
    our lease lapsed) is kept as it is."""
    await _RECORD[_pg_or_sqlite(session)].run_many(session, [
        {"m": a.message_id, "q": a.seq, "smsc_id": a.smsc_id, "now": now}
        for a in sorted(accepted, key=lambda a: (a.message_id, a.seq))])


async def settle(session: AsyncSession, settled: Sequence[Settled], now: datetime) -> None:
    groups: dict[tuple[SmsState, str | None, datetime | None], list[int]] = {}
    for item in settled:
        groups.setdefault((item.state, item.error, item.retry_at), []).append(item.message.id)
    for (state, error, retry_at), ids in groups.items():
        if state is SmsState.SUBMITTED and error is None:  # the common case, built once
            await _SUBMITTED.run(session, {"ids": ids, "now": now})
            continue
        values: dict[str, Any] = {"claimed_by": None, "lease_until": None, "updated_at": now,
                                  "error": error}
        if state is SmsState.SUBMITTED:
            values.update(state=state, submitted_at=now)
        elif state is SmsState.FAILED:
            values.update(state=state, done_at=now)
        else:  # back to the queue, later
            values.update(due_at=retry_at, attempts=M.attempts + 1)
        await session.execute(update(MESSAGES).where(M.id.in_(ids), _state_is(SmsState.QUEUED))
                              .values(**values))
    cdrs = [_cdr(item.message, now) for item in settled
            if item.state is SmsState.SUBMITTED and item.message.enterprise_id is not None]
    if cdrs:
        await recorder.record(session, *cdrs, now=now)


def _cdr(message: Claimed, now: datetime) -> Cdr:
    assert message.enterprise_id is not None
    return recorder.sms_segments(message.enterprise_id, message.member_id, message.msisdn,
                                 BillingSmsKind[message.kind.name], message.segments,
                                 str(message.id), now)


# --- receipts ----------------------------------------------------------------------------

PART_STATE: dict[MessageState, PartState | None] = {
    MessageState.DELIVERED: PartState.DELIVERED,
    MessageState.EXPIRED: PartState.EXPIRED,
    MessageState.DELETED: PartState.FAILED,
    MessageState.UNDELIVERABLE: PartState.FAILED,
    MessageState.REJECTED: PartState.FAILED,
    MessageState.UNKNOWN: PartState.FAILED,
    MessageState.ENROUTE: None,
    MessageState.ACCEPTED: None,
}


@dataclass(frozen=True, slots=True)
class PartKey:
    """Where a receipt applies: the part of ``message_id`` numbered ``seq``, and whether it
    still waits for its final receipt."""

    message_id: int
    seq: int
    waiting: bool = True


async def find_parts(session: AsyncSession, smsc_ids: Collection[str]) -> dict[str, PartKey]:
    """The part each id names: an SMSC may reuse ids (after its own restart), so a part still
    waiting for its receipt wins, then the newest."""
    if not smsc_ids:
        return {}
    rows = await session.execute(select(P.id, P.message_id, P.seq, P.smsc_id, P.state)
                                 .where(P.smsc_id.in_(list(smsc_ids))))
    best: dict[str, Any] = {}
    for row in rows:
        held = best.get(row.smsc_id)
        if held is None or (row.state == PartState.SUBMITTED, row.id) > (
                held.state == PartState.SUBMITTED, held.id):
            best[row.smsc_id] = row
    return {k: PartKey(r.message_id, r.seq, r.state == PartState.SUBMITTED)
            for k, r in best.items()}


async def adopt_inbound(session: AsyncSession, now: datetime,
                        limit: int = 1000) -> list[ReceiptIn]:
    """Receipts kept in ``inbound_messages`` because their part was not written in time (a
    slow commit on another node) whose part now exists and waits: they apply after all."""
    waiting = select(P.id).where(P.smsc_id == IN.smsc_id, P.state == PartState.SUBMITTED)
    stmt = (select(IN.id, IN.smsc_id, IN.receipt_state)
            .where(IN.kind == InboundKind.RECEIPT, IN.handled_at.is_(None), waiting.exists())
            .limit(limit))
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    await session.execute(update(INBOUND).where(IN.id.in_([r.id for r in rows]))
                          .values(handled_at=now))
    return [ReceiptIn(r.smsc_id, PART_STATE.get(MessageState[r.receipt_state]), 0)
            for r in rows if r.receipt_state in MessageState.__members__]


async def apply_receipts(session: AsyncSession, receipts: Sequence[ReceiptIn],
                         parts: dict[str, PartKey], now: datetime) -> dict[SmsState, int]:
    """Apply final receipts to their parts, then finish the messages whose parts are all
    final; returns how many messages reached each final state."""
    changes: list[dict[str, Any]] = sorted(
        ({"b_m": parts[r.smsc_id].message_id, "b_q": parts[r.smsc_id].seq, "b_state": r.state,
          "b_error": r.error or None, "now": now} for r in receipts
         if r.state is not None and r.smsc_id in parts and parts[r.smsc_id].waiting),
        key=lambda change: (int(change["b_m"]), int(change["b_q"])))
    if not changes:
        return {}
    await _RECEIPTED.run_many(session, changes)
    touched = sorted({int(c["b_m"]) for c in changes})
    failures = any(c["b_state"] is not PartState.DELIVERED for c in changes)
    return await _finish_messages(touched, failures, session, now)


_RECEIPTED = Query(update(PARTS).where(P.message_id == bindparam("b_m"),
                                       P.seq == bindparam("b_q"), P.state == PartState.SUBMITTED)
                   .values(state=bindparam("b_state"), error=bindparam("b_error"),
                           done_at=bindparam("now")))


def _parts_in(*states: PartState) -> Any:
    """How many parts of the outer message row are in ``states`` (a correlated subquery on
    the (message_id, seq) index)."""
    return (select(func.count()).select_from(PARTS)
            .where(P.message_id == M.id, P.state.in_(states)).scalar_subquery())


def _finish_statement(state: SmsState, condition: ColumnElement[bool]) -> Query:
    error = None if state is SmsState.DELIVERED else f"receipt:{state.value}"
    return Query(update(MESSAGES)
                 .where(M.id.in_(bindparam("ids", expanding=True)),
                        _state_is(SmsState.SUBMITTED), condition)
                 .values(state=state, done_at=bindparam("now"), updated_at=bindparam("now"),
                         error=error)
                 .returning(M.id))


_ALL_FINAL = M.segments == _parts_in(PartState.DELIVERED, PartState.FAILED, PartState.EXPIRED)
_DELIVERED = _finish_statement(SmsState.DELIVERED, M.segments == _parts_in(PartState.DELIVERED))
_NOT_DELIVERED = (
    _finish_statement(SmsState.FAILED, and_(_ALL_FINAL, _parts_in(PartState.FAILED) > 0)),
    _finish_statement(SmsState.EXPIRED, _ALL_FINAL))


async def _finish_messages(ids: list[int], failures: bool, session: AsyncSession,
                           now: datetime) -> dict[SmsState, int]:
    """Messages whose every part is final: delivered if all parts are, else failed if one
    failed, else expired. Set-based, in the database: one statement per outcome, the common
    one (delivered) first; the others only when a receipt of the batch was not DELIVRD."""
    outcomes = [(SmsState.DELIVERED, _DELIVERED)]
    if failures:
        outcomes += [(SmsState.FAILED, _NOT_DELIVERED[0]), (SmsState.EXPIRED, _NOT_DELIVERED[1])]
    finished: dict[SmsState, int] = {}
    for state, statement in outcomes:
        count = len(await statement.rows(session, {"ids": ids, "now": now}))
        if count:
            finished[state] = count
    return finished


# --- time ----------------------------------------------------------------------------------


async def sweep_expired(session: AsyncSession, now: datetime, grace_until: datetime) -> int:
    """Messages past their validity: queued ones not held by a live claim, and submitted ones
    still without a final receipt ``grace_until`` (an SMSC's own EXPIRED receipt should come
    first). Their open parts expire with them."""
    stale = or_(
        and_(M.state == SmsState.QUEUED, M.valid_until < now,
             or_(M.lease_until.is_(None), M.lease_until < now)),
        and_(M.state == SmsState.SUBMITTED, M.valid_until < grace_until))
    ids = list((await session.scalars(_skip_locked(session, select(M.id).where(stale)))).all())
    if not ids:
        return 0
    await session.execute(update(PARTS).where(P.state == PartState.SUBMITTED,
                                              P.message_id.in_(ids))
                          .values(state=PartState.EXPIRED, done_at=now))
    result = await session.execute(
        update(MESSAGES).where(M.id.in_(ids), stale)
        .values(state=SmsState.EXPIRED, done_at=now, updated_at=now, error="validity",
                claimed_by=None, lease_until=None))
    return int(getattr(result, "rowcount", 0) or 0)


async def state_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(M.state, func.count()).group_by(M.state))
    return {str(getattr(state, "value", state)): int(n) for state, n in rows}
