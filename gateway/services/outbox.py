"""The SMS outbox, as services use it: ``enqueue`` in the caller's transaction, and reading.

``enqueue`` adds a ``queued`` row inside the caller's unit of work, so the SMS exists if and only
if the business change commits; the dispatchers (``gateway.workers.outbox``) send it later. With
a ``dedupe_key`` it is idempotent per enterprise: a second enqueue with the same key returns
the first row's id and adds nothing (a retried transaction, a replayed event).

What enqueue decides:

- the text gets the enterprise's signature 【...】 in front unless it already carries it
  (Chinese carriers require the sender's signature in every enterprise SMS);
- ``segments`` (GSM 7-bit or UCS2, concatenated when long: ``smpp.text``); a text longer than
  255 segments is refused here, not at the SMSC;
- ``due_at``: ``not_before`` or now; ``valid_until``: when an undelivered SMS expires.

Room for bill runs (issue 7): ``urgent=False`` messages wait out the quiet hours
(``[outbox] quiet_hours``, applied when dispatchers claim), ``batch_id`` groups a run, and the
dispatcher's opt-out hook skips kinds a member refused (``OPT_OUT_KINDS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, insert, select

from gateway import identifiers
from gateway.db import bulk
from gateway.db.fast import Query
from gateway.db.models import Enterprise
from gateway.db.models_outbox import (
    FINAL_SMS_STATES,
    OutboxMessage,
    OutboxPart,
    SmsKind,
    SmsState,
)
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.errors import NotFound, ValidationError
from gateway.services import views
from gateway.services.base import Deps, Principal, View, read
from smpp.errors import SmppError
from smpp.text import count_segments

__all__ = [
    "DEFAULT_VALIDITY",
    "FINAL_SMS_STATES",
    "OPT_OUT_KINDS",
    "Sms",
    "SmsFilter",
    "SmsKind",
    "SmsState",
    "enqueue",
    "enqueue_many",
    "get_sms",
    "list_sms",
    "signed",
]

DEFAULT_VALIDITY = timedelta(hours=48)
# Kinds a member's ``sms_opt_out`` stops; SERVICE answers what the member asked for.
OPT_OUT_KINDS = frozenset({SmsKind.BILL, SmsKind.NOTICE})
_MAX_TEXT = 255 * 67  # a bound before counting: 255 UCS2 parts


@dataclass(frozen=True)
class Sms:
    """One SMS for :func:`enqueue_many` (the arguments of :func:`enqueue`)."""

    msisdn: str
    text: str
    kind: SmsKind
    enterprise_id: int | None
    member_id: int | None = None
    dedupe_key: str | None = None
    urgent: bool = True
    not_before: datetime | None = None
    batch_id: str | None = None
    source: str | None = None
    valid_for: timedelta = DEFAULT_VALIDITY


def signed(text: str, signature: str | None) -> str:
    """``【signature】text`` unless the text already carries that signature (front or end)."""
    if not signature:
        return text
    mark = f"【{signature}】"
    return text if text.startswith(mark) or text.endswith(mark) else mark + text


def _segments(text: str) -> int:
    if not text or len(text) > _MAX_TEXT:
        raise ValidationError("text", f"an SMS text has 1 to {_MAX_TEXT} characters")
    try:
        return count_segments(text)
    except SmppError as exc:
        raise ValidationError("text", str(exc)) from exc


async def enqueue(
    uow: UnitOfWork,
    *,
    msisdn: str,
    text: str,
    kind: SmsKind,
    enterprise_id: int | None,
    member_id: int | None = None,
    dedupe_key: str | None = None,
    urgent: bool = True,
    not_before: datetime | None = None,
    batch_id: str | None = None,
    source: str | None = None,
    valid_for: timedelta = DEFAULT_VALIDITY,
) -> int:
    """Queue one SMS in ``uow``'s transaction; returns the outbox id (the first row's, when
    ``dedupe_key`` was seen before for this enterprise)."""
    sms = Sms(msisdn, text, kind, enterprise_id, member_id, dedupe_key, urgent, not_before,
              batch_id, source, valid_for)
    (row_id,) = await enqueue_many(uow, [sms])
    return row_id


async def enqueue_many(uow: UnitOfWork, items: Sequence[Sms], *, ids: bool = True
                       ) -> list[int]:
    """Queue many SMS in one statement (bill runs); ids in the order of ``items``. With
    ``ids=False`` and a ``dedupe_key`` on every item, none: a bill run needs no ids, and
    reading them back by key is a statement of its own."""
    if not items:
        return []
    signatures = await _signatures(uow, {i.enterprise_id for i in items})
    now = uow.clock()
    rows = [_row(item, signatures.get(item.enterprise_id), now) for item in items]
    keyed = [r for r in rows if r["dedupe_key"] is not None]
    if not keyed:
        stmt = insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True)
        return list((await uow.session.scalars(stmt, rows)).all())
    await _insert_ignoring_duplicates(uow, rows)
    if not ids and len(keyed) == len(rows):
        return []
    found = await _BY_KEYS.rows(uow.session, {"keys": [r["dedupe_key"] for r in keyed]})
    by_key = {key: row_id for key, row_id in found}
    plain = [r for r in rows if r["dedupe_key"] is None]
    if plain:
        stmt = insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True)
        new = iter((await uow.session.scalars(stmt, plain)).all())
        return [by_key[r["dedupe_key"]] if r["dedupe_key"] else next(new) for r in rows]
    return [by_key[r["dedupe_key"]] for r in rows]


async def _insert_ignoring_duplicates(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Insert the keyed rows; a key already stored (or twice in ``rows``) keeps the first."""
    keyed = [r for r in rows if r["dedupe_key"] is not None]
    names = tuple(keyed[0])
    # The table's rows as tuples (gateway.db.bulk), not the ORM's bulk path nor SQLAlchemy's
    # executemany: a bill run inserts 100,000 rows, and their cost was the statement's.
    await bulk.insert_rows(uow.session, _TABLE, names, [tuple(r.values()) for r in keyed],
                           ignore=("dedupe_key",))


async def _signatures(uow: UnitOfWork, enterprise_ids: set[int | None]) -> dict[int | None, str]:
    wanted = [e for e in enterprise_ids if e is not None]
    if not wanted:
        return {}
    out: dict[int | None, str] = dict(await _SIGNATURES.rows(uow.session, {"ids": wanted}))
    if len(out) < len(wanted):
        raise NotFound("enterprise not found")
    return out


_TABLE = cast(Table, OutboxMessage.__table__)
_BY_KEYS = Query(select(OutboxMessage.dedupe_key, OutboxMessage.id).where(
    OutboxMessage.dedupe_key.in_(bindparam("keys", expanding=True))))
_SIGNATURES = Query(select(Enterprise.id, Enterprise.sms_signature).where(
    Enterprise.id.in_(bindparam("ids", expanding=True))))


def _row(item: Sms, signature: str | None, now: datetime) -> dict[str, Any]:
    msisdn = identifiers.msisdn(item.msisdn)
    text = signed(item.text, signature)
    if item.dedupe_key is not None and not 0 < len(item.dedupe_key) <= 128:
        raise ValidationError("dedupe_key", "1 to 128 characters")
    due = max(now, item.not_before) if item.not_before else now
    return {
        "enterprise_id": item.enterprise_id, "member_id": item.member_id, "msisdn": msisdn,
        "kind": item.kind, "text": text, "source": item.source, "state": SmsState.QUEUED,
        "segments": _segments(text),
        "dedupe_key": None if item.dedupe_key is None
        else f"{item.enterprise_id or 0}/{item.dedupe_key}",
        "batch_id": item.batch_id, "urgent": item.urgent, "not_before": item.not_before,
        "due_at": due, "valid_until": due + item.valid_for, "attempts": 0,
        "claimed_by": None, "lease_until": None, "error": None, "created_at": now,
        "updated_at": now, "submitted_at": None, "done_at": None,
    }


# --- reading (the API) ---------------------------------------------------------------------


@dataclass(frozen=True)
class SmsFilter:
    enterprise_id: int | None = None
    state: SmsState | None = None
    kind: SmsKind | None = None
    msisdn: str | None = None
    member_id: int | None = None
    batch_id: str | None = None


def sms_view(row: OutboxMessage, parts: Sequence[OutboxPart] | None = None) -> View:
    ts = views.ts
    view: View = {
        "id": row.id, "enterprise_id": row.enterprise_id, "member_id": row.member_id,
        "msisdn": row.msisdn, "kind": row.kind.value, "state": row.state.value,
        "text": row.text, "segments": row.segments, "urgent": row.urgent,
        "batch_id": row.batch_id,
        "dedupe_key": row.dedupe_key.partition("/")[2] if row.dedupe_key else None,
        "attempts": row.attempts, "error": row.error, "not_before": ts(row.not_before),
        "valid_until": ts(row.valid_until), "created_at": ts(row.created_at),
        "submitted_at": ts(row.submitted_at), "done_at": ts(row.done_at),
    }
    if parts is not None:
        view["parts"] = [{"seq": p.seq, "smsc_id": p.smsc_id, "state": p.state.value,
                          "error": p.error, "submitted_at": ts(p.submitted_at),
                          "done_at": ts(p.done_at)} for p in parts]
    return view


async def list_sms(deps: Deps, principal: Principal, flt: SmsFilter, page: Page) -> View:
    scoped = principal.enterprise_filter(flt.enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(OutboxMessage.enterprise_id == scoped)
    for column, value in ((OutboxMessage.state, flt.state), (OutboxMessage.kind, flt.kind),
                          (OutboxMessage.msisdn, flt.msisdn),
                          (OutboxMessage.member_id, flt.member_id),
                          (OutboxMessage.batch_id, flt.batch_id)):
        if value is not None:
            where.append(column == value)

    async def work(uow: UnitOfWork) -> View:
        stmt = select(OutboxMessage).where(*where)
        if page.after is not None:
            stmt = stmt.where(OutboxMessage.id > page.after)
        rows = await uow.session.scalars(stmt.order_by(OutboxMessage.id).limit(page.limit + 1))
        return views.page([sms_view(r) for r in rows], page.limit)

    return await read(deps, work)


async def get_sms(deps: Deps, principal: Principal, sms_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await uow.session.get(OutboxMessage, sms_id)
        if row is None or (row.enterprise_id is None and not principal.is_operator):
            raise NotFound("SMS not found")
        if row.enterprise_id is not None:
            principal.check_tenant(row.enterprise_id, "SMS")
        parts = await uow.session.scalars(
            select(OutboxPart).where(OutboxPart.message_id == sms_id).order_by(OutboxPart.seq))
        return sms_view(row, list(parts))

    return await read(deps, work)
