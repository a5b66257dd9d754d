"""What a bill run reads, a batch of members at a time, in few statements.

Records are read by member (index ``ix_terminal_records_member_time``), only those received
until the run's ``as_of`` (a resumed run bills what its first attempt would have), and only
those the ledger applied (purchases, top-ups, undos with a posting; attendance punches have
none and are all kept).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Table,
    extract,
    func,
    literal_column,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bills.attendance import Calendar, DayPunches
from gateway.bills.consumption import Movement
from gateway.db.models import Account, Card, Member, TerminalRecord
from gateway.domain import LIVE_CARD_STATES, AccountKind, MemberStatus, RecordKind
from gateway.notices import CHINA

R = cast(Table, TerminalRecord.__table__).c
MB = cast(Table, Member.__table__).c


class MemberRow(NamedTuple):
    """A member to bill. A named tuple: a batch of them crosses to the gateway process from
    the worker that renders it (``gateway.bills.offload``), and tuples unpickle in C."""

    id: int
    msisdn: str
    name: str
    employee_no: str | None
    department: str | None
    joined: date  # China date of enrolment: no absence is counted before it
    opted_out: bool


def _present(enterprise_id: int, as_of: datetime) -> list[ColumnElement[bool]]:
    return [MB.enterprise_id == enterprise_id, MB.status != MemberStatus.LEFT,
            MB.created_at <= as_of]


async def count_members(session: AsyncSession, enterprise_id: int, as_of: datetime) -> int:
    stmt = select(func.count()).select_from(Member).where(*_present(enterprise_id, as_of))
    return int((await session.execute(stmt)).scalar_one())


async def members_after(session: AsyncSession, enterprise_id: int, cursor: int,
                        as_of: datetime, limit: int) -> list[MemberRow]:
    """The next ``limit`` members to bill: present, enrolled by ``as_of``, by id."""
    stmt = (select(MB.id, MB.msisdn, MB.name, MB.employee_no, MB.department, MB.created_at,
                   MB.sms_opt_out)
            .where(*_present(enterprise_id, as_of), MB.id > cursor)
            .order_by(MB.id).limit(limit))
    rows = (await session.execute(stmt)).all()
    return [MemberRow(r.id, r.msisdn, r.name, r.employee_no, r.department,
                      r.created_at.astimezone(CHINA).date(), bool(r.sms_opt_out)) for r in rows]


def _posix(session: AsyncSession) -> ColumnElement[int]:
    """``occurred_at`` as whole POSIX seconds, computed by the database (no datetime objects
    are built for a million punches)."""
    if session.get_bind().dialect.name == "sqlite":  # naive UTC text, see db.base
        if sqlite3.sqlite_version_info >= (3, 38):  # twice as fast as strftime
            return func.unixepoch(R.occurred_at, type_=Integer)
        return sql_cast(func.strftime("%s", R.occurred_at), Integer)
    return sql_cast(extract("epoch", R.occurred_at), BigInteger)


@dataclass(frozen=True, slots=True)
class Span:
    """A batch's members: ids ``first`` to ``last`` of one enterprise. Records are read by
    this range (two bound values) rather than by a list of a thousand ids, which would be
    rendered into the statement afresh for every batch.

    The range alone selects the members' records: no condition on the enterprise, which
    would let a planner (SQLite's does) walk the enterprise's whole period through
    ``(enterprise_id, occurred_at)`` for every batch. A member's records at another
    enterprise's terminal are flagged (foreign card) and posted nothing: they do not count."""

    enterprise_id: int
    first: int
    last: int

    def of(self, column: Any) -> ColumnElement[bool]:
        return column.between(self.first, self.last)  # type: ignore[no-any-return]


async def punch_days(session: AsyncSession, span: Span, calendar: Calendar,
                     as_of: datetime) -> dict[int, dict[int, DayPunches]]:
    """Attendance punches per member and attendance day (``Calendar.day_number``): first,
    last and how many, aggregated by the database, for the days around the period (a day on
    each side: a punch before the day cutoff belongs to the day before). Flagged punches
    (card blacklisted, foreign, unknown) do not count."""
    posix = _posix(session)
    # Literals, not bind parameters: PostgreSQL matches the GROUP BY expression to the
    # selected one textually, and two parameters ($1, $3) would not match.
    day = ((posix + literal_column(str(int(calendar.offset)))) // literal_column("86400"))
    period = calendar.period
    stmt = (select(R.member_id, day, func.min(posix), func.max(posix), func.count())
            .where(span.of(R.member_id), R.kind == RecordKind.ATTENDANCE,
                   R.flagged.is_(False),
                   R.occurred_at >= period.start - timedelta(days=1),
                   R.occurred_at < period.end + timedelta(days=1), R.received_at <= as_of)
            .group_by(R.member_id, day))
    out: dict[int, dict[int, DayPunches]] = {}
    for member_id, number, first, last, count in await session.execute(stmt):
        out.setdefault(member_id, {})[int(number)] = (float(first), float(last), int(count))
    return out


async def movements(session: AsyncSession, span: Span, start: datetime,
                    end: datetime, as_of: datetime
                    ) -> tuple[dict[int, list[Movement]], dict[int, list[Movement]]]:
    """(purchases and top-ups of the period, undos from its start on), applied ones only."""
    kinds = (RecordKind.PURCHASE, RecordKind.TOPUP, RecordKind.UNDO)
    stmt = select(R.member_id, R.kind, R.terminal_id, R.seq, R.amount_fen, R.undo_seq,
                  R.occurred_at).where(
        span.of(R.member_id), R.kind.in_(kinds), R.occurred_at >= start,
        R.posting_id.is_not(None), R.received_at <= as_of)
    in_period: dict[int, list[Movement]] = {}
    undos: dict[int, list[Movement]] = {}
    for row in (await session.execute(stmt)):
        member_id, kind, terminal_id, seq, amount, undo_seq, occurred_at = row
        move = Movement(RecordKind(kind), terminal_id, seq, amount or 0, undo_seq)
        if move.kind is RecordKind.UNDO:
            undos.setdefault(member_id, []).append(move)
        elif occurred_at < end:
            in_period.setdefault(member_id, []).append(move)
    return in_period, undos


async def balances(session: AsyncSession, span: Span) -> dict[int, int]:
    """The purse balance (ledger, fen) of each member's live card; absent: no purse."""
    stmt = (select(Card.member_id, Account.balance)
            .join(Account, Account.card_id == Card.id)
            .where(span.of(Card.member_id), Card.state.in_(LIVE_CARD_STATES),
                   Account.kind == AccountKind.PURSE))
    return {member_id: balance for member_id, balance in (await session.execute(stmt))}
