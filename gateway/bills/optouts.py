"""The opt-out list: members who refused bills and notices, by MO keyword or through the API.

``sms_opt_outs`` holds who, since when, how (MO keyword as typed, or an admin's API call) and
by whom; ``members.sms_opt_out`` mirrors it in the same transaction, because that column is
what the outbox dispatcher checks before it sends a BILL or NOTICE SMS
(``gateway.services.outbox.OPT_OUT_KINDS``). Service answers (balance, app deletion) and
urgent notices the member needs are not stopped by it.

MO keywords (``gateway.bills.keywords``): a member replies TD or R (or 退订, 拒收...) to the
service number and is opted out; DY (订阅...) opts back in. Either way the member gets a
confirmation SMS (kind SERVICE, so that the confirmation of an opt-out is not itself refused).
The handler is registered on the SMSC link (``SmscLink.add_mo_handler``): it consumes a text
MO only when it is a keyword from a present member's number, and answers the SMSC only after
the change and the confirmation are committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import ColumnElement, delete, select

from gateway import identifiers
from gateway.bills import keywords
from gateway.db.models import Enterprise, Member
from gateway.db.models_bills import OptOut, OptOutSource
from gateway.db.models_outbox import SmsKind
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import MemberStatus, Role
from gateway.errors import NotFound, ValidationError
from gateway.services import outbox, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact
from smpp.mo import MoMessage

log = logging.getLogger(__name__)

CONFIRM_OUT = "您已退订{name}的账单和通知短信，回复DY可恢复接收。"
CONFIRM_IN = "您已恢复接收{name}的账单和通知短信，回复TD可退订。"


def view(row: OptOut) -> View:
    return {"member_id": row.member_id, "enterprise_id": row.enterprise_id,
            "msisdn": row.msisdn, "source": row.source.value, "keyword": row.keyword,
            "actor": row.actor, "created_at": views.ts(row.created_at)}


async def _row(uow: UnitOfWork, member_id: int) -> OptOut | None:
    stmt = select(OptOut).where(OptOut.member_id == member_id)
    return (await uow.session.scalars(stmt)).first()


async def opt_out(uow: UnitOfWork, member: Member, source: OptOutSource, actor: str,
                  keyword: str | None = None) -> tuple[OptOut, bool]:
    """(the opt-out, whether it is new). Idempotent: opting out twice keeps the first."""
    existing = await _row(uow, member.id)
    member.sms_opt_out = True
    if existing is not None:
        return existing, False
    row = OptOut(enterprise_id=member.enterprise_id, member_id=member.id,
                 msisdn=member.msisdn, source=source, keyword=keyword, actor=actor,
                 created_at=uow.clock())
    uow.session.add(row)
    await uow.flush()
    return row, True


async def opt_in(uow: UnitOfWork, member: Member) -> bool:
    """Whether the member had opted out."""
    had = member.sms_opt_out
    member.sms_opt_out = False
    result = await uow.session.execute(delete(OptOut).where(OptOut.member_id == member.id))
    return had or bool(getattr(result, "rowcount", 0))


# --- API use cases -------------------------------------------------------------------------


async def list_opt_outs(deps: Deps, principal: Principal, enterprise_id: int | None,
                        page: Page) -> View:
    """Members whose ``sms_opt_out`` is set (the flag is what sending obeys), with how and when
    they refused when it was recorded here (a flag set through ``PATCH /members`` has no
    record: source ``member``)."""
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = [Member.sms_opt_out.is_(True),
                                        Member.status != MemberStatus.LEFT]
    if scoped is not None:
        where.append(Member.enterprise_id == scoped)

    async def work(uow: UnitOfWork) -> View:
        stmt = (select(Member, OptOut).outerjoin(OptOut, OptOut.member_id == Member.id)
                .where(*where))
        if page.after is not None:
            stmt = stmt.where(Member.id > page.after)
        rows = (await uow.session.execute(stmt.order_by(Member.id).limit(page.limit + 1))).all()
        items = [view(o) if o is not None else _unrecorded(m) for m, o in rows[:page.limit]]
        return {"items": items,
                "next": items[-1]["member_id"] if len(rows) > page.limit else None}

    return await read(deps, work)


def _unrecorded(member: Member) -> View:
    return {"member_id": member.id, "enterprise_id": member.enterprise_id,
            "msisdn": member.msisdn, "source": "member", "keyword": None, "actor": None,
            "created_at": None}


async def _member(uow: UnitOfWork, principal: Principal, member_id: int | None,
                  msisdn: str | None) -> Member:
    if member_id is not None:
        member = await uow.members.get(member_id, for_update=True)
    elif msisdn is not None:
        found = await uow.members.present_by_msisdns([identifiers.msisdn(msisdn)])
        member = found[0] if found else None
    else:
        raise ValidationError("member_id", "give member_id or msisdn")
    if member is None or member.status is MemberStatus.LEFT:
        raise NotFound("member not found")
    principal.check_tenant(member.enterprise_id, "member")
    return member


async def add(deps: Deps, principal: Principal, member_id: int | None, msisdn: str | None,
              idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        member = await _member(uow, principal, member_id, msisdn)
        row, new = await opt_out(uow, member, OptOutSource.API, principal.actor)
        if new:
            audit(uow, principal, "bills.opt_out", ("member", member.id), member.enterprise_id)
        return {**view(row), "new": new}

    return await transact(deps, principal, work, idem)


async def remove(deps: Deps, principal: Principal, member_id: int,
                 idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        member = await _member(uow, principal, member_id, None)
        if not await opt_in(uow, member):
            raise NotFound("the member has not opted out")
        audit(uow, principal, "bills.opt_in", ("member", member.id), member.enterprise_id)
        return {"member_id": member.id, "opted_out": False}

    return await transact(deps, principal, work, idem)


# --- the MO keyword handler ----------------------------------------------------------------


class KeywordHandler:
    """``SmscLink`` MO handler: TD / R opt out, DY opts back in (see the module docstring)."""

    def __init__(self, deps: Deps, wake: Callable[[], None] | None = None) -> None:
        self.deps = deps
        self.wake = wake  # the outbox dispatcher's: a confirmation is waiting
        self.handled = 0

    async def __call__(self, message: MoMessage) -> bool:
        keyword = keywords.parse(message.text)
        if keyword is None:
            return False
        try:
            msisdn = identifiers.msisdn(message.source)
        except ValidationError:
            return False
        async with self.deps.uow() as uow:
            members = await uow.members.present_by_msisdns([msisdn])
            if not members:
                return False  # not a member's number: someone else's MO, kept as inbound
            member = members[0]
            text = await self._apply(uow, member, keyword, message.text or "")
            await outbox.enqueue(uow, msisdn=member.msisdn, text=text, kind=SmsKind.SERVICE,
                                 enterprise_id=member.enterprise_id, member_id=member.id,
                                 source=message.destination or None)
            await uow.commit()
        self.handled += 1
        if self.wake is not None:
            self.wake()
        log.info("MO keyword %s from member %d", keyword.value, member.id)
        return True

    async def _apply(self, uow: UnitOfWork, member: Member, keyword: keywords.Keyword,
                     typed: str) -> str:
        enterprise = await uow.session.get(Enterprise, member.enterprise_id)
        name = enterprise.name if enterprise is not None else ""
        actor = f"member:{member.id}"
        if keyword is keywords.Keyword.OPT_OUT:
            _, new = await opt_out(uow, member, OptOutSource.MO, actor,
                                   keywords.normalise(typed)[:16])
            if new:
                _audit_mo(uow, member, "bills.opt_out")
            return CONFIRM_OUT.format(name=name)
        if await opt_in(uow, member):
            _audit_mo(uow, member, "bills.opt_in")
        return CONFIRM_IN.format(name=name)


def _audit_mo(uow: UnitOfWork, member: Member, action: str) -> None:
    principal = Principal(role=Role.SYSTEM, actor=f"member:{member.id}")
    audit(uow, principal, action, ("member", member.id), member.enterprise_id, via="mo")
