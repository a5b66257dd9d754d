"""Card lifecycle (seed 7.3, RFID-SIM卡服务流程): 挂失, 解挂, 补换卡, 注销.

Each operation locks the card, checks the transition table (``domain.CARD_TRANSITIONS``),
changes state, records the blacklist change under the enterprise's next version, writes the
audit row and emits an event for the subsystems and the member's SMS; all in one transaction,
replayed by ``Idempotency-Key``.

* Loss report: card LOST and blacklisted (seed 7.3 挂失 steps 4-5).
* Unfreeze: card ACTIVE and taken off the blacklist (解挂 step 4).
* Replacement: a new card for the same member; the ledger balance moves to the new card's
  purse (the old card is not trusted), sub-applications and their data are carried over and
  left PENDING for air issuance (补换卡 steps 5-7); the old card is blacklisted.
* Deregistration: the balance is settled first and the refund recorded (注销 step 4), the
  sub-applications are removed and the card is marked unpersonalised (step 5), and it is
  blacklisted (step 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.models import Account, Card
from gateway.db.uow import UnitOfWork
from gateway.domain import (
    CARD_TRANSITIONS,
    AccountKind,
    AppState,
    BlacklistAction,
    BlacklistReason,
    CardState,
    LifecycleOp,
    PostingKind,
)
from gateway.errors import InvalidState
from gateway.ports import Event, EventName
from gateway.services import blacklist, cards, ledger
from gateway.services.base import Deps, IdemKey, Principal, View, audit, transact
from ota.keys import OtaKeyset


@dataclass(frozen=True)
class ReplaceIn:
    new_iccid: str
    keys: OtaKeyset | None = None
    reason: str | None = None


async def _transition(uow: UnitOfWork, principal: Principal, iccid: str, op: LifecycleOp
                      ) -> tuple[Card, CardState]:
    card = await cards.visible(uow, principal, iccid, for_update=True)
    target = CARD_TRANSITIONS.get((card.state, op))
    if target is None:
        raise InvalidState(f"cannot {op.value.replace('_', ' ')} a card that is "
                           f"{card.state.value}", state=card.state.value, operation=op.value)
    return card, target


async def _member_msisdn(uow: UnitOfWork, card: Card) -> str | None:
    member = await uow.members.get(card.member_id)
    return member.msisdn if member else None


async def report_loss(deps: Deps, principal: Principal, iccid: str, reason: str | None,
                      idem: IdemKey) -> View:
    async def work(uow: UnitOfWork) -> View:
        card, target = await _transition(uow, principal, iccid, LifecycleOp.REPORT_LOSS)
        card.state, card.lost_at, card.updated_at = target, uow.clock(), uow.clock()
        version = await blacklist.change(uow, card, BlacklistAction.ADD, BlacklistReason.LOST)
        audit(uow, principal, "card.report_loss", ("card", iccid), card.enterprise_id,
              reason=reason, blacklist_version=version)
        uow.emit(Event(EventName.CARD_LOST, card.enterprise_id,
                       {"iccid": iccid, "msisdn": await _member_msisdn(uow, card),
                        "blacklist_version": version}))
        return {**await cards.card_view(uow, card), "blacklist_version": version}

    return await transact(deps, principal, work, idem, inline=True)


async def unfreeze(deps: Deps, principal: Principal, iccid: str, idem: IdemKey) -> View:
    async def work(uow: UnitOfWork) -> View:
        card, target = await _transition(uow, principal, iccid, LifecycleOp.UNFREEZE)
        card.state, card.lost_at, card.updated_at = target, None, uow.clock()
        version = await blacklist.change(uow, card, BlacklistAction.REMOVE,
                                         BlacklistReason.UNFROZEN)
        audit(uow, principal, "card.unfreeze", ("card", iccid), card.enterprise_id,
              blacklist_version=version)
        uow.emit(Event(EventName.CARD_UNFROZEN, card.enterprise_id,
                       {"iccid": iccid, "msisdn": await _member_msisdn(uow, card),
                        "blacklist_version": version}))
        return {**await cards.card_view(uow, card), "blacklist_version": version}

    return await transact(deps, principal, work, idem, inline=True)


async def _settle_holds(uow: UnitOfWork, card: Card) -> Account:
    purse = await ledger.account(uow, ledger.purse_code(card.id), for_update=True)
    if purse.held:
        raise InvalidState(f"{purse.held} fen on the card are held by a pending top-up; "
                           "wait for it to settle", state=card.state.value)
    return purse


async def replace(deps: Deps, principal: Principal, iccid: str, cmd: ReplaceIn,
                  idem: IdemKey) -> View:
    async def work(uow: UnitOfWork) -> View:
        old, target = await _transition(uow, principal, iccid, LifecycleOp.REPLACE)
        purse = await _settle_holds(uow, old)
        now = uow.clock()
        old.state, old.closed_at, old.personalised, old.updated_at = target, now, False, now
        await uow.flush()  # the member's live-card slot is free before the new card takes it
        member = await uow.members.get(old.member_id)
        enterprise = await uow.enterprises.get(old.enterprise_id)
        assert member is not None and enterprise is not None
        new = await cards.new_card(uow, deps, enterprise, member, cmd.new_iccid, cmd.keys)
        old.replaced_by_id = new.id
        await _move_apps(uow, old, new)
        moved = purse.balance
        if moved:
            await ledger.post(uow, ledger.transfer(
                f"replace:{old.id}", PostingKind.TRANSFER, old.enterprise_id,
                purse.code, ledger.purse_code(new.id), moved, f"replacement {iccid}"))
        version = await blacklist.change(uow, old, BlacklistAction.ADD, BlacklistReason.REPLACED)
        audit(uow, principal, "card.replace", ("card", iccid), old.enterprise_id,
              new_iccid=new.iccid, moved_fen=moved, reason=cmd.reason, blacklist_version=version)
        uow.emit(Event(EventName.CARD_REPLACED, old.enterprise_id, {
            "iccid": iccid, "new_iccid": new.iccid, "msisdn": member.msisdn,
            "moved_fen": moved, "blacklist_version": version}))
        await uow.flush()
        return {"old": await cards.card_view(uow, old), "new": await cards.card_view(uow, new),
                "moved_fen": moved, "blacklist_version": version}

    return await transact(deps, principal, work, idem, inline=True)


async def _move_apps(uow: UnitOfWork, old: Card, new: Card) -> None:
    """Carry sub-applications and their data to the new card, to be issued over the air."""
    carried = [a for a in await uow.apps.for_card(old.id) if a.state is not AppState.REMOVED]
    cards.add_apps(uow, new, [a.app for a in carried], AppState.PENDING,
                   {a.app.value: a.data for a in carried})
    for app in carried:
        app.state, app.updated_at = AppState.REMOVED, uow.clock()


async def deregister(deps: Deps, principal: Principal, iccid: str, reason: str | None,
                     idem: IdemKey) -> View:
    async def work(uow: UnitOfWork) -> View:
        card, target = await _transition(uow, principal, iccid, LifecycleOp.DEREGISTER)
        purse = await _settle_holds(uow, card)
        refund = purse.balance
        if refund:
            await ledger.post(uow, ledger.transfer(
                f"deregister:{card.id}", PostingKind.REFUND, card.enterprise_id, purse.code,
                ledger.enterprise_code(AccountKind.REFUND, card.enterprise_id), refund,
                f"refund at deregistration of {iccid}"))
            uow.emit(Event(EventName.REFUND_RECORDED, card.enterprise_id,
                           {"iccid": iccid, "amount_fen": refund}))
        now = uow.clock()
        for app in await uow.apps.for_card(card.id):
            app.state, app.updated_at = AppState.REMOVED, now
        card.state, card.personalised, card.closed_at, card.updated_at = target, False, now, now
        version = await blacklist.change(uow, card, BlacklistAction.ADD,
                                         BlacklistReason.DEREGISTERED)
        audit(uow, principal, "card.deregister", ("card", iccid), card.enterprise_id,
              refund_fen=refund, reason=reason, blacklist_version=version)
        uow.emit(Event(EventName.CARD_DEREGISTERED, card.enterprise_id, {
            "iccid": iccid, "msisdn": await _member_msisdn(uow, card), "refund_fen": refund,
            "blacklist_version": version}))
        return {**await cards.card_view(uow, card), "refund_fen": refund,
                "blacklist_version": version}

    return await transact(deps, principal, work, idem, inline=True)
