"""What members ask from the STK menu (一卡通 → 余额查询 / 应用删除 / 账单查询), and by SMS.

The card's STK applet sends each request as a ciphered command packet (``ota.mo_request``) to
the service number. Here the gateway finds the card by the sender's number, opens the packet
with the card's keys and the last MO counter it accepted from it (a forged or replayed request
is refused and alerted), and acts (seed 7.3 应用删除流程):

* 应用删除: the card must be active (a card reported lost is refused: 挂失 blocks it), the app
  active on it, and the service password right (hashed; five wrong tries lock it for a while,
  ``gateway.services.members.verify_service_password``); then a DELETE job goes out, and its
  confirmation removes and blacklists the app and tells the member (``ota_effects``). Every
  refusal is told by SMS, with the reason.
* 余额查询: the ledger's balance comes back by SMS (the card also shows its own on the handset).
  A plain text SMS ``YE`` / ``余额`` to the service number asks the same.
* 账单查询: this month's attendance or consumption bill so far, rendered by the bills
  subsystem (``gateway.bills``) with the enterprise's template, comes back by SMS.

The request, its outcome and the new MO counter commit in one transaction: a request the SMSC
delivers twice is acted on once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.db.models import Card, Member
from gateway.db.models_ota import OtaCardState, StkRequest
from gateway.db.models_outbox import SmsKind
from gateway.db.uow import UnitOfWork
from gateway.domain import AppKind, CardState, Role
from gateway.errors import GatewayError, InvalidState
from gateway.notices import Notice, cn_time, render, tail, yuan
from gateway.services import ledger, members, outbox
from gateway.services.base import Deps, Principal, audit
from gateway.services.ota_effects import APP_LABELS
from gateway.services.ota_flow import KeyCache, alert
from gateway.services.ota_jobs import OtaSettings, deletion_job
from ota.errors import CounterTooLow, OtaError, RcCcDsFailed
from ota.mo_request import BillKind, MoRequest, RequestType, open_request
from ota.onecard_apdu import SubApp

log = logging.getLogger(__name__)

BALANCE_KEYWORDS = frozenset({"YE", "余额", "CXYE", "查询余额", "余额查询"})
_STRIP = " \t\r\n.,;:!?'\"。，；：！？、"


def is_balance_query(text: str | None) -> bool:
    """``YE`` and its variants, in any case, full-width or with punctuation around."""
    if not text or len(text) > 32:
        return False
    return unicodedata.normalize("NFKC", text).strip(_STRIP).upper() in BALANCE_KEYWORDS
_APP_KINDS = {SubApp.DOOR: AppKind.DOOR, SubApp.ATTENDANCE: AppKind.ATTENDANCE,
              SubApp.PURSE: AppKind.PURSE}


@dataclass(frozen=True)
class Sender:
    """The card behind an MO's number, and the last MO counter accepted from it."""

    number: str
    member: Member
    card: Card
    mo_counter: int


async def sender(deps: Deps, number: str) -> Sender | None:
    async with deps.uow(readonly=True) as uow:
        found = await uow.members.present_by_msisdns([number])
        if not found:
            return None
        card = await uow.cards.live_for_member(found[0].id)
        if card is None:
            return None
        state = await uow.session.get(OtaCardState, card.id)
        return Sender(number, found[0], card, state.mo_counter if state else 0)


class NumberLocks:
    """One lock per sending number: a card's requests are handled one after the other, in the
    order they arrived, so a request never finds a later one's counter already stored."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, number: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(number, asyncio.Lock())
        self._users[number] = self._users.get(number, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[number] -= 1
            if not self._users[number]:
                del self._users[number], self._locks[number]


async def handle_request(deps: Deps, keys: KeyCache, locks: NumberLocks, number: str,
                         packet: bytes) -> str:
    """One ciphered MO request from ``number``; returns a label (``done``, ``alert:*``...)."""
    async with locks.hold(number):
        return await _handle(deps, keys, number, packet)


async def _handle(deps: Deps, keys: KeyCache, number: str, packet: bytes) -> str:
    who = await sender(deps, number)
    if who is None:
        return await _alert(deps, "unknown_sender", number, "no live card for this number")
    keyset = keys.get(who.card.id, who.card.iccid, who.card.keys_sealed)
    try:
        request, counter = open_request(packet, keyset, who.mo_counter)
    except OtaError as exc:
        kind = ("mo_bad_cc" if isinstance(exc, RcCcDsFailed)
                else "mo_replayed" if isinstance(exc, CounterTooLow) else "mo_malformed")
        return await _alert(deps, kind, number, exc.detail, who)
    if request.iccid != who.card.iccid:
        return await _alert(deps, "iccid_mismatch", number,
                            f"request names card {tail(request.iccid)}", who)
    if request.kind is RequestType.APP_DELETE:
        return await _app_delete(deps, who, request, counter)
    if request.kind is RequestType.BILL:
        text = await _bill_text(deps, who, request)
        notice = Notice.BILL_UNAVAILABLE if text is None else None
        return await _record(deps, who, request, counter, "done", notice, bill=text)
    return await _record(deps, who, request, counter, "done", Notice.BALANCE)


async def _bill_text(deps: Deps, who: Sender, request: MoRequest) -> str | None:
    """This month's bill of the member so far (``gateway.bills``), or None if it cannot be
    rendered (the enterprise has no such bill, its template is broken...)."""
    from gateway.bills import runs  # the bills subsystem is optional for the rest of OTA
    from gateway.bills.render import TemplateKind

    kind = TemplateKind.CONSUMPTION if request.bill is BillKind.CONSUMPTION \
        else TemplateKind.ATTENDANCE
    principal = Principal(role=Role.SYSTEM, actor=f"member:{who.number}")
    try:
        rendered = await runs.preview(deps, principal, who.card.enterprise_id, kind,
                                      {"member_id": who.member.id})
    except GatewayError as exc:
        log.info("no %s bill for %s: %s", kind.value, who.number, exc.detail)
        return None
    text = rendered.get("text")
    return text if isinstance(text, str) and text else None


async def _alert(deps: Deps, kind: str, number: str, reason: str,
                 who: Sender | None = None) -> str:
    async with deps.uow() as uow:
        label = alert(uow, kind, number, reason=reason,
                      enterprise_id=who.card.enterprise_id if who else None,
                      card_id=who.card.id if who else None)
        await uow.commit()
    return label


async def _app_delete(deps: Deps, who: Sender, request: MoRequest, counter: int) -> str:
    assert request.app is not None and request.password is not None
    app = _APP_KINDS[request.app]
    if who.card.state is not CardState.ACTIVE:
        return await _record(deps, who, request, counter, "refused", Notice.DELETE_CARD_BLOCKED)
    if who.member.service_password_hash is None:
        return await _record(deps, who, request, counter, "refused", Notice.PASSWORD_UNSET)
    principal = Principal(role=Role.SYSTEM, actor=f"member:{who.number}",
                          enterprise_id=who.card.enterprise_id)
    if not await members.verify_service_password(deps, principal, who.number, request.password):
        notice, left = await _password_refusal(deps, who)
        return await _record(deps, who, request, counter, "refused", notice, left=left)
    return await _record(deps, who, request, counter, "accepted", None, app=app)


async def _password_refusal(deps: Deps, who: Sender) -> tuple[Notice, int]:
    async with deps.uow(readonly=True) as uow:
        row = await uow.members.get(who.member.id)
    assert row is not None
    locked = row.service_password_locked_until
    if locked is not None and locked > deps.clock():
        return Notice.PASSWORD_LOCKED, 0
    return Notice.PASSWORD_WRONG, members.MAX_PASSWORD_ATTEMPTS - row.service_password_attempts


async def _record(deps: Deps, who: Sender, request: MoRequest, counter: int, state: str,
                  notice: Notice | None, *, app: AppKind | None = None, left: int = 0,
                  bill: str | None = None) -> str:
    """Store the counter, the request and its outcome (and SMS / job) in one transaction."""
    policy = OtaSettings.of(deps.settings).policy
    async with deps.uow(inline=True) as uow:
        card_state = await _counter_row(uow, who.card.id)
        if card_state.mo_counter >= counter:
            return "duplicate"  # the SMSC delivered it twice; the first is being acted on
        card_state.mo_counter, card_state.updated_at = counter, uow.clock()
        card = await uow.cards.get(who.card.id, for_update=True)
        assert card is not None
        row = _request_row(uow, who, request, counter, state)
        if app is not None:
            try:
                job = await deletion_job(uow, card, app, origin="stk", policy=policy)
            except InvalidState as exc:
                row.state, row.outcome = "refused", exc.detail[:200]
                notice = _refusal_notice(exc)
            else:
                row.job_id = job.id
                audit(uow, Principal(role=Role.SYSTEM, actor=f"member:{who.number}"),
                      "card.stk_delete_app", ("card", card.iccid), card.enterprise_id,
                      app=app.value, job_id=job.id)
        if notice is not None:
            row.outcome = row.outcome or notice.value
            await _tell(uow, who, card, request, notice, left)
        if bill is not None:
            row.outcome = "bill sent"
            await outbox.enqueue(uow, msisdn=who.number, text=bill, kind=SmsKind.SERVICE,
                                 enterprise_id=card.enterprise_id, member_id=who.member.id,
                                 dedupe_key=f"stk:{card.id}:{request.request_id}:bill")
        await uow.commit()
        return row.state


def _refusal_notice(exc: InvalidState) -> Notice:
    state = exc.extra.get("state")
    if state == "topup_pending":
        return Notice.DELETE_TOPUP_PENDING
    if state == "absent":
        return Notice.DELETE_NOT_ACTIVE
    return Notice.DELETE_CARD_BLOCKED


async def _counter_row(uow: UnitOfWork, card_id: int) -> OtaCardState:
    stmt = select(OtaCardState).where(OtaCardState.card_id == card_id)
    if not uow.is_sqlite:
        stmt = stmt.with_for_update()
    row = (await uow.session.scalars(stmt)).first()
    if row is None:
        row = OtaCardState(card_id=card_id, mo_counter=0, updated_at=uow.clock())
        uow.session.add(row)
        await uow.flush()
    return row


def _request_row(uow: UnitOfWork, who: Sender, request: MoRequest, counter: int,
                 state: str) -> StkRequest:
    now = uow.clock()
    row = StkRequest(
        enterprise_id=who.card.enterprise_id, card_id=who.card.id, member_id=who.member.id,
        msisdn=who.number, kind=request.kind.name.lower(), request_id=request.request_id,
        mo_counter=counter, app=_APP_KINDS[request.app].value if request.app else None,
        state=state, outcome=None, job_id=None, created_at=now, updated_at=now)
    uow.session.add(row)
    return row


async def _tell(uow: UnitOfWork, who: Sender, card: Card, request: MoRequest, notice: Notice,
                left: int) -> None:
    values: dict[str, object] = {"card": tail(card.iccid), "time": cn_time(uow.clock())}
    if request.app is not None:
        values["app"] = APP_LABELS[_APP_KINDS[request.app]]
    if notice is Notice.BALANCE:
        values["balance"] = yuan(await available(uow, card.id))
    if notice is Notice.PASSWORD_WRONG:
        values["left"] = left
        values["limit"] = members.MAX_PASSWORD_ATTEMPTS
    if notice is Notice.PASSWORD_LOCKED:
        values["minutes"] = int(members.LOCK_OUT.total_seconds() // 60)
    await outbox.enqueue(
        uow, msisdn=who.number, text=render(notice, **values), kind=SmsKind.SERVICE,
        enterprise_id=card.enterprise_id, member_id=who.member.id,
        dedupe_key=f"stk:{card.id}:{request.request_id}:{notice.value}")


async def available(uow: UnitOfWork, card_id: int) -> int:
    """What the card should hold: the purse balance less top-ups not confirmed yet."""
    found = await uow.ledger.accounts_by_codes([ledger.purse_code(card_id)])
    return found[0].balance - found[0].held if found else 0


async def balance_by_text(deps: Deps, number: str, at: datetime) -> str:
    """``YE`` by SMS: the balance of the sender's card, or that no card is known."""
    who = await sender(deps, number)
    async with deps.uow() as uow:
        if who is None:
            text = render(Notice.NO_CARD, number=tail(number))
            await outbox.enqueue(uow, msisdn=number, text=text, kind=SmsKind.SERVICE,
                                 enterprise_id=None, dedupe_key=f"ye:{number}:{at.isoformat()}")
        else:
            text = render(Notice.BALANCE, card=tail(who.card.iccid), time=cn_time(at),
                          balance=yuan(await available(uow, who.card.id)))
            await outbox.enqueue(uow, msisdn=number, text=text, kind=SmsKind.SERVICE,
                                 enterprise_id=who.card.enterprise_id, member_id=who.member.id,
                                 dedupe_key=f"ye:{number}:{at.isoformat()}")
        await uow.commit()
    return "done"
