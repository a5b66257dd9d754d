"""RFID-SIM cards: registration to a member, reading, listing, notes, purse statements and the
OTA counter that the OTA job engine draws from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, update

from gateway import cardkeys
from gateway.db.models import Card, CardApp, Enterprise, Member
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import MODULE_FOR_APP, AppKind, AppState, CardState, MemberStatus
from gateway.errors import AlreadyExists, InvalidState, NotFound, ValidationError
from gateway.ports import Event, EventName
from gateway.services import enterprises, ledger, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact
from ota.keys import OtaKeyset


@dataclass(frozen=True)
class CardIn:
    iccid: str
    member_id: int
    keys: OtaKeyset | None = None
    apps: tuple[AppKind, ...] = ()
    app_data: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class CardFilter:
    enterprise_id: int | None = None
    member_id: int | None = None
    state: CardState | None = None


async def visible(uow: UnitOfWork, principal: Principal, iccid: str,
                  for_update: bool = False) -> Card:
    card = await uow.cards.by_iccid(iccid, for_update=for_update)
    if card is None:
        raise NotFound(f"card {iccid} not found")
    principal.check_tenant(card.enterprise_id, f"card {iccid}")
    return card


async def card_view(uow: UnitOfWork, card: Card) -> View:
    apps = await uow.apps.for_card(card.id)
    purses = await uow.ledger.accounts_by_codes([ledger.purse_code(card.id)])
    return views.card(card, apps, purses[0] if purses else None)


def check_apps(enterprise: Enterprise, apps: Sequence[AppKind], field_name: str = "apps") -> None:
    for app in apps:
        if MODULE_FOR_APP[app].value not in enterprise.modules:
            raise ValidationError(
                field_name, f"{app.value} needs the {MODULE_FOR_APP[app].value} module")


def keyset_for(deps: Deps, enterprise: Enterprise, iccid: str,
               given: OtaKeyset | None) -> tuple[bytes, str]:
    """Sealed keys for a new card: derived from the key master root unless given."""
    if given is not None:
        keys, source = given, cardkeys.SOURCE_PROVIDED
    else:
        keys = cardkeys.derive(enterprises.root_key(deps, enterprise), iccid)
        source = cardkeys.SOURCE_DERIVED
    return cardkeys.seal(deps.vault, iccid, keys), source


async def new_card(uow: UnitOfWork, deps: Deps, enterprise: Enterprise, member: Member,
                   iccid: str, keys: OtaKeyset | None) -> Card:
    """Insert an active card for ``member`` with its keys and its purse account."""
    if await uow.cards.by_iccid(iccid) is not None:
        raise AlreadyExists(f"card {iccid} is already registered", field="iccid")
    sealed, source = keyset_for(deps, enterprise, iccid, keys)
    now = uow.clock()
    card = uow.cards.add(Card(
        iccid=iccid, enterprise_id=enterprise.id, member_id=member.id, state=CardState.ACTIVE,
        keys_sealed=sealed, keys_source=source, key_version=1, ota_counter=0,
        personalised=True, replaced_by_id=None, note=None, lost_at=None, closed_at=None,
        created_at=now, updated_at=now,
    ))
    await uow.flush()
    ledger.open_purse(uow, card)
    return card


def add_apps(uow: UnitOfWork, card: Card, apps: Sequence[AppKind], state: AppState,
             data: Mapping[str, Mapping[str, Any]]) -> list[CardApp]:
    now = uow.clock()
    rows = [CardApp(card_id=card.id, app=app, state=state, data=dict(data.get(app.value, {})),
                    created_at=now, updated_at=now) for app in apps]
    uow.apps.add_all(rows)
    return rows


async def register(deps: Deps, principal: Principal, cmd: CardIn, idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        member = await uow.members.get(cmd.member_id, for_update=True)
        if member is None:
            raise NotFound("member not found")
        principal.check_tenant(member.enterprise_id, "member")
        if member.status is not MemberStatus.ACTIVE:
            raise InvalidState("the member has left", state=member.status.value)
        live = await uow.cards.live_for_member(member.id)
        if live is not None:
            raise InvalidState(f"the member already holds card {live.iccid}: one number, "
                               "one card", state=live.state.value)
        enterprise = await uow.enterprises.get(member.enterprise_id)
        assert enterprise is not None
        check_apps(enterprise, cmd.apps)
        card = await new_card(uow, deps, enterprise, member, cmd.iccid, cmd.keys)
        card.note = cmd.note
        add_apps(uow, card, cmd.apps, AppState.ACTIVE, cmd.app_data)
        audit(uow, principal, "card.register", ("card", card.iccid), card.enterprise_id,
              member_id=member.id, keys_source=card.keys_source)
        uow.emit(Event(EventName.CARD_REGISTERED, card.enterprise_id,
                       {"iccid": card.iccid, "member_id": member.id, "msisdn": member.msisdn}))
        await uow.flush()
        return await card_view(uow, card)

    return await transact(deps, principal, work, idem)


async def get(deps: Deps, principal: Principal, iccid: str) -> View:
    async def work(uow: UnitOfWork) -> View:
        return await card_view(uow, await visible(uow, principal, iccid))

    return await read(deps, work)


async def list_cards(deps: Deps, principal: Principal, flt: CardFilter, page: Page) -> View:
    scoped = principal.enterprise_filter(flt.enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(Card.enterprise_id == scoped)
    if flt.member_id is not None:
        where.append(Card.member_id == flt.member_id)
    if flt.state is not None:
        where.append(Card.state == flt.state)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.cards.page(where, Page(page.after, page.limit + 1))
        apps: dict[int, list[CardApp]] = {}
        for app in await uow.apps.for_cards([r.id for r in rows]):
            apps.setdefault(app.card_id, []).append(app)
        codes = [ledger.purse_code(r.id) for r in rows]
        purses = {a.card_id: a for a in await uow.ledger.accounts_by_codes(codes)}
        items = [views.card(r, apps.get(r.id, []), purses.get(r.id)) for r in rows]
        return views.page(items, page.limit)

    return await read(deps, work)


async def update_note(deps: Deps, principal: Principal, iccid: str, changes: Mapping[str, Any],
                      idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        card = await visible(uow, principal, iccid, for_update=True)
        if "note" in changes:
            card.note = changes["note"]
        card.updated_at = uow.clock()
        audit(uow, principal, "card.update", ("card", card.iccid), card.enterprise_id,
              fields=sorted(changes))
        return await card_view(uow, card)

    return await transact(deps, principal, work, idem)


async def statement(deps: Deps, principal: Principal, iccid: str, page: Page) -> View:
    """The purse account's entries (ledger truth), oldest first."""

    async def work(uow: UnitOfWork) -> View:
        card = await visible(uow, principal, iccid)
        purse = await ledger.account(uow, ledger.purse_code(card.id))
        rows = await uow.ledger.entries_page(purse.id, Page(page.after, page.limit + 1))
        lines = [views.statement_line(e, p) for e, p in rows]
        return {**views.page(lines, page.limit, "entry_id"), "balance_fen": purse.balance,
                "held_fen": purse.held}

    return await read(deps, work)


async def reserve_ota_counter(uow: UnitOfWork, card_id: int) -> int:
    """Take the card's next SCP80 counter (TS 102 225 5.1.1), in the caller's transaction.

    The counter must be committed before the SMS leaves, so that a crash never reuses it.
    """
    stmt = (
        update(Card).where(Card.id == card_id).values(ota_counter=Card.ota_counter + 1)
        .returning(Card.ota_counter).execution_options(synchronize_session=False)
    )
    value = (await uow.session.execute(stmt)).scalar_one_or_none()
    if value is None:
        raise NotFound("card not found")
    return int(value)
