"""The member's SMS for each card lifecycle change (seed 7.3 挂失/解挂/补换卡/注销).

A transactional subscriber on the ``EventBus``: the SMS is queued in the outbox inside the
transaction of the change itself, so a committed loss report always has its SMS and a rolled
back one never does. The dedupe key is the blacklist version the change took (one per change
and enterprise), so a replayed event queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.db.models import Card
from gateway.db.models_outbox import SmsKind
from gateway.db.uow import UnitOfWork
from gateway.notices import Notice, cn_time, render, tail, yuan
from gateway.ports import Event, EventBus, EventName
from gateway.services import outbox

# Event -> (notice, the template's fields from the event payload and the time of the change).
_TEXTS: dict[EventName, tuple[Notice, Callable[[dict[str, Any], str], dict[str, object]]]] = {
    EventName.CARD_LOST: (Notice.CARD_LOST, lambda p, t: {"card": tail(p["iccid"]), "time": t}),
    EventName.CARD_UNFROZEN: (
        Notice.CARD_UNFROZEN, lambda p, t: {"card": tail(p["iccid"]), "time": t}),
    EventName.CARD_REPLACED: (Notice.CARD_REPLACED, lambda p, t: {
        "card": tail(p["iccid"]), "new_card": tail(p["new_iccid"]), "time": t,
        "balance": yuan(int(p.get("moved_fen", 0)))}),
    EventName.CARD_DEREGISTERED: (Notice.CARD_DEREGISTERED, lambda p, t: {
        "card": tail(p["iccid"]), "time": t, "refund": yuan(int(p.get("refund_fen", 0)))}),
}


def install(bus: EventBus) -> None:
    bus.subscribe(on_lifecycle, list(_TEXTS))


async def on_lifecycle(uow: UnitOfWork, event: Event) -> None:
    payload = dict(event.payload)
    msisdn = payload.get("msisdn")
    if not msisdn:
        return  # a card whose member has no number: nobody to tell
    notice, fields = _TEXTS[event.name]
    member_id = (await uow.session.execute(
        select(Card.member_id).where(Card.iccid == payload["iccid"]))).scalar_one_or_none()
    await outbox.enqueue(
        uow, msisdn=str(msisdn), text=render(notice, **fields(payload, cn_time(uow.clock()))),
        kind=SmsKind.SERVICE, enterprise_id=event.enterprise_id, member_id=member_id,
        dedupe_key=f"{event.name.value}:{payload['iccid']}:{payload.get('blacklist_version')}")
