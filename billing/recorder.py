"""Writing usage records as things happen, inside the caller's transaction.

Two ways in:

- ``install(bus)`` subscribes to the gateway's events (``gateway.ports.EventBus``): a card
  registered, replaced or deregistered becomes a membership event (member-months are derived
  from them at export), and top-ups uploaded by top-up terminals become TOPUP records. The
  records are written in the transaction of the change itself, so they exist if and only if
  the change does.
- ``record(session, *cdrs)`` for code that knows more than an event says: the SMS outbox
  (``sms_segments`` when the SMSC accepted a message), the OTA job engine (``ota_operation``
  when the PoR confirms; ``topup`` for an over-the-air credit, with the transaction id), and
  one-off charges (``one_off``, optionally in instalments, seed 5.1.1).

Every record's id is derived from the event (``billing.cdr.make_cdr_id``) and the insert
ignores an id already stored: a retried transaction or a replayed event records nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.cdr import (
    Cdr,
    CdrKind,
    OneOffItem,
    OtaOperation,
    SmsKind,
    TopupChannel,
    check_cdr,
    make_cdr_id,
)
from billing.errors import CdrError
from billing.period import Period
from billing.repository import BillingRepo
from gateway.db.models import Card, TerminalRecord
from gateway.domain import RecordKind
from gateway.ports import Event, EventBus, EventName

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

SUBSCRIBED = (
    EventName.CARD_REGISTERED,
    EventName.CARD_REPLACED,
    EventName.CARD_DEREGISTERED,
    EventName.RECORDS_INGESTED,
)


async def record(session: AsyncSession, *cdrs: Cdr, now: datetime) -> int:
    """Validate and store records; returns how many were new."""
    for cdr in cdrs:
        check_cdr(cdr)
    return await BillingRepo(session).add_cdrs(cdrs, now)


# ----------------------------------------------------------------------------- record builders


def service_started(
    enterprise_id: int, member_id: int, msisdn: str, iccid: str, at: datetime
) -> Cdr:
    """A member's service opens with their first card (a member without a card pays nothing)."""
    return Cdr(
        make_cdr_id(CdrKind.SERVICE_START, "card", iccid),
        CdrKind.SERVICE_START,
        at,
        str(enterprise_id),
        str(member_id),
        msisdn,
        iccid,
    )


def card_replaced(
    enterprise_id: int, member_id: int, msisdn: str, old_iccid: str, new_iccid: str, at: datetime
) -> Cdr:
    """补换卡: the service goes on, on the new card; still one member-month."""
    return Cdr(
        make_cdr_id(CdrKind.CARD_REPLACED, "card", old_iccid),
        CdrKind.CARD_REPLACED,
        at,
        str(enterprise_id),
        str(member_id),
        msisdn,
        new_iccid,
    )


def service_ended(enterprise_id: int, member_id: int, msisdn: str, iccid: str, at: datetime) -> Cdr:
    """注销: the member's last card is deregistered; the fee stops after that day."""
    return Cdr(
        make_cdr_id(CdrKind.SERVICE_END, "card", iccid),
        CdrKind.SERVICE_END,
        at,
        str(enterprise_id),
        str(member_id),
        msisdn,
        iccid,
    )


def sms_segments(
    enterprise_id: int,
    member_id: int | None,
    msisdn: str,
    kind: SmsKind,
    segments: int,
    message_ref: str,
    at: datetime,
) -> Cdr:
    """An SMS the SMSC accepted, ``segments`` long; ``message_ref`` is the outbox row."""
    return Cdr(
        make_cdr_id(CdrKind.SMS, "outbox", message_ref),
        CdrKind.SMS,
        at,
        str(enterprise_id),
        "" if member_id is None else str(member_id),
        msisdn.removeprefix("+"),  # E.164 digits, as the gateway stores them
        detail=kind.name,
        quantity=segments,
    )


def ota_operation(
    enterprise_id: int,
    member_id: int,
    iccid: str,
    operation: OtaOperation,
    job_ref: str,
    at: datetime,
) -> Cdr:
    """An OTA operation the card confirmed (PoR); ``job_ref`` is the OTA job."""
    return Cdr(
        make_cdr_id(CdrKind.OTA, "ota", job_ref),
        CdrKind.OTA,
        at,
        str(enterprise_id),
        str(member_id),
        iccid=iccid,
        detail=operation.name,
    )


def topup(
    enterprise_id: int,
    member_id: int | None,
    iccid: str,
    amount_fen: int,
    channel: TopupChannel,
    txn_ref: str,
    at: datetime,
) -> Cdr:
    """A confirmed top-up of ``amount_fen``; ``txn_ref`` is its transaction id."""
    return Cdr(
        make_cdr_id(CdrKind.TOPUP, channel.name, txn_ref),
        CdrKind.TOPUP,
        at,
        str(enterprise_id),
        "" if member_id is None else str(member_id),
        iccid=iccid,
        detail=channel.name,
        amount_fen=amount_fen,
    )


def one_off(
    enterprise_id: int,
    item: OneOffItem,
    amount_fen: int,
    order_ref: str,
    first: Period,
    instalments: int = 1,
) -> list[Cdr]:
    """A one-off charge, whole or in ``instalments`` monthly parts from ``first`` on.

    Parts differ by at most one fen and sum to the amount exactly (the first parts take the
    remainder); part k of n is dated the first instant of its month, reference ``k/n``.
    """
    if instalments < 1 or amount_fen < 0:
        raise CdrError("a one-off charge needs a non-negative amount and at least one part")
    base, extra = divmod(amount_fen, instalments)
    return [
        Cdr(
            make_cdr_id(CdrKind.ONE_OFF, "order", order_ref, k),
            CdrKind.ONE_OFF,
            first.plus(k - 1).start(),
            str(enterprise_id),
            detail=item.name,
            amount_fen=base + (k <= extra),
            reference=f"{k}/{instalments}",
        )
        for k in range(1, instalments + 1)
    ]


# ----------------------------------------------------------------------------- event bus


def install(bus: EventBus) -> None:
    """Record membership events and terminal top-ups from the gateway's events."""
    bus.subscribe(on_event, SUBSCRIBED)


async def on_event(uow: UnitOfWork, event: Event) -> None:
    if event.enterprise_id is None:
        return
    now = uow.clock()
    cdrs = await _records_for(uow, event, event.enterprise_id, now)
    if cdrs:
        await record(uow.session, *cdrs, now=now)


async def _records_for(uow: UnitOfWork, event: Event, enterprise: int, now: datetime) -> list[Cdr]:
    payload = event.payload
    if event.name is EventName.CARD_REGISTERED:
        return [
            service_started(
                enterprise,
                int(payload["member_id"]),
                payload.get("msisdn") or "",
                str(payload["iccid"]),
                now,
            )
        ]
    if event.name is EventName.RECORDS_INGESTED:
        if not payload.get("kinds", {"topup": 1}).get("topup"):
            return []  # a batch without top-ups (the event counts the batch's kinds)
        return await _terminal_topups(
            uow, enterprise, payload["terminal_id"], payload["first_seq"], payload["last_seq"], now
        )
    member = await _member_of(uow, str(payload["iccid"]))
    if member is None:
        return []
    msisdn = payload.get("msisdn") or ""
    if event.name is EventName.CARD_REPLACED:
        return [
            card_replaced(
                enterprise, member, msisdn, str(payload["iccid"]), str(payload["new_iccid"]), now
            )
        ]
    return [service_ended(enterprise, member, msisdn, str(payload["iccid"]), now)]


async def _member_of(uow: UnitOfWork, iccid: str) -> int | None:
    stmt = select(Card.member_id).where(Card.iccid == iccid)
    return (await uow.session.execute(stmt)).scalar_one_or_none()


async def _terminal_topups(
    uow: UnitOfWork, enterprise: int, terminal_id: int, first: int, last: int, now: datetime
) -> list[Cdr]:
    """TOPUP records for the batch's top-ups that reached the ledger (a posting).

    Dated when the ledger posted them (now, in this transaction), not when the terminal
    saw them: an offline terminal's late upload counts in the month the ledger has it in.
    """
    stmt = select(TerminalRecord).where(
        TerminalRecord.terminal_id == terminal_id,
        TerminalRecord.seq.between(first, last),
        TerminalRecord.kind == RecordKind.TOPUP,
        TerminalRecord.posting_id.is_not(None),
    )
    return [
        topup(
            enterprise,
            row.member_id,
            row.iccid,
            row.amount_fen or 0,
            TopupChannel.TERMINAL,
            f"{terminal_id}/{row.seq}",
            now,
        )
        for row in await uow.session.scalars(stmt)
    ]
