"""Members (集团成员): enrolment one by one or from CSV, updates, and the service password.

One MSISDN, one card (seed 四 FAQ 2): an MSISDN belongs to at most one member who has not left,
across all enterprises (a partial unique index holds the line under races).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement

from gateway import identifiers, passwords
from gateway.db.models import Member
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import MemberStatus
from gateway.errors import AlreadyExists, InvalidState, NotFound, ValidationError
from gateway.ports import Event, EventName
from gateway.services import views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

MAX_PASSWORD_ATTEMPTS = 5
LOCK_OUT = timedelta(minutes=30)
CSV_COLUMNS = ("msisdn", "name", "employee_no", "department")
CSV_MAX_ROWS = 5000


@dataclass(frozen=True)
class MemberIn:
    msisdn: str
    name: str
    employee_no: str | None = None
    department: str | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class MemberFilter:
    enterprise_id: int | None = None
    msisdn: str | None = None
    status: MemberStatus | None = None
    department: str | None = None


async def _enrol(uow: UnitOfWork, principal: Principal, enterprise_id: int,
                 items: list[MemberIn]) -> list[Member]:
    enterprise = await uow.enterprises.get(enterprise_id)
    if enterprise is None:
        raise NotFound("enterprise not found")
    taken = {m.msisdn for m in await uow.members.present_by_msisdns([i.msisdn for i in items])}
    now = uow.clock()
    rows = []
    for item in items:
        if item.msisdn in taken:
            raise AlreadyExists(f"MSISDN {item.msisdn} is already enrolled", field="msisdn")
        rows.append(Member(
            enterprise_id=enterprise_id, msisdn=item.msisdn, name=item.name,
            employee_no=item.employee_no, department=item.department,
            status=MemberStatus.ACTIVE, sms_opt_out=False, service_password_hash=None,
            service_password_attempts=0, service_password_locked_until=None,
            created_at=now, updated_at=now,
        ))
    uow.members.add_all(rows)
    await uow.flush()
    for row in rows:
        uow.emit(Event(EventName.MEMBER_ENROLLED, enterprise_id,
                       {"member_id": row.id, "msisdn": row.msisdn}))
    return rows


async def create(deps: Deps, principal: Principal, cmd: MemberIn, idem: IdemKey | None) -> View:
    enterprise_id = principal.target_enterprise(cmd.enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        (row,) = await _enrol(uow, principal, enterprise_id, [cmd])
        audit(uow, principal, "member.create", ("member", row.id), enterprise_id,
              msisdn=row.msisdn)
        return views.member(row)

    return await transact(deps, principal, work, idem)


def parse_csv(data: bytes) -> list[MemberIn]:
    """Parse an enrolment CSV (header ``msisdn,name[,employee_no][,department]``).

    UTF-8 (with or without BOM) or GB18030, as spreadsheets in China save. All lines are
    checked and every bad one is reported, by line number, in one error.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="strict")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("msisdn", "name") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        raise ValidationError("csv", f"header needs msisdn,name; missing {missing}, unknown "
                              f"{unknown}; allowed columns: {','.join(CSV_COLUMNS)}")
    reader.fieldnames = header
    items: list[MemberIn] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        if len(items) + len(errors) >= CSV_MAX_ROWS:
            raise ValidationError("csv", f"at most {CSV_MAX_ROWS} members per file")
        try:
            item = _csv_item(raw)
        except ValidationError as exc:
            errors.append({"line": line, "field": exc.field, "detail": exc.detail})
            continue
        if item.msisdn in seen:
            errors.append({"line": line, "field": "msisdn",
                           "detail": f"same MSISDN as line {seen[item.msisdn]}"})
            continue
        seen[item.msisdn] = line
        items.append(item)
    if errors:
        raise ValidationError("csv", f"{len(errors)} invalid line(s); nothing enrolled",
                              errors=errors)
    if not items:
        raise ValidationError("csv", "no members in the file")
    return items


def _csv_item(raw: Mapping[str, str | None]) -> MemberIn:
    def cell(name: str, limit: int) -> str | None:
        value = (raw.get(name) or "").strip()
        if len(value) > limit:
            raise ValidationError(name, f"longer than {limit} characters")
        return value or None

    name = cell("name", 64)
    if name is None:
        raise ValidationError("name", "required")
    return MemberIn(msisdn=identifiers.msisdn(raw.get("msisdn") or ""), name=name,
                    employee_no=cell("employee_no", 32), department=cell("department", 64))


async def import_csv(deps: Deps, principal: Principal, enterprise_id: int | None, data: bytes,
                     idem: IdemKey | None) -> View:
    target = principal.target_enterprise(enterprise_id)
    items = parse_csv(data)

    async def work(uow: UnitOfWork) -> View:
        try:
            rows = await _enrol(uow, principal, target, items)
        except AlreadyExists as exc:
            raise AlreadyExists(exc.detail, field="msisdn",
                                line=_line_of(items, exc.detail)) from exc
        audit(uow, principal, "member.import", ("enterprise", target), target, count=len(rows))
        return {"enterprise_id": target, "created": len(rows),
                "members": [views.member(r) for r in rows]}

    return await transact(deps, principal, work, idem)


def _line_of(items: list[MemberIn], detail: str) -> int | None:
    return next((i + 2 for i, item in enumerate(items) if item.msisdn in detail), None)


async def _visible(uow: UnitOfWork, principal: Principal, member_id: int) -> Member:
    row = await uow.members.get(member_id, for_update=not uow.readonly)
    if row is None:
        raise NotFound("member not found")
    principal.check_tenant(row.enterprise_id, "member")
    return row


async def get(deps: Deps, principal: Principal, member_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        return views.member(await _visible(uow, principal, member_id))

    return await read(deps, work)


async def list_members(deps: Deps, principal: Principal, flt: MemberFilter, page: Page) -> View:
    scoped = principal.enterprise_filter(flt.enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(Member.enterprise_id == scoped)
    if flt.msisdn is not None:
        where.append(Member.msisdn == flt.msisdn)
    if flt.status is not None:
        where.append(Member.status == flt.status)
    if flt.department is not None:
        where.append(Member.department == flt.department)

    async def work(uow: UnitOfWork) -> View:
        rows = await uow.members.page(where, Page(page.after, page.limit + 1))
        return views.page([views.member(r) for r in rows], page.limit)

    return await read(deps, work)


async def update(deps: Deps, principal: Principal, member_id: int, changes: Mapping[str, Any],
                 idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, member_id)
        status = changes.get("status")
        if status is not None and MemberStatus(status) is not row.status:
            await _change_status(uow, row, MemberStatus(status))
        for name in ("name", "employee_no", "department", "sms_opt_out"):
            if name in changes:
                setattr(row, name, changes[name])
        row.updated_at = uow.clock()
        audit(uow, principal, "member.update", ("member", row.id), row.enterprise_id,
              **dict(changes))
        return views.member(row)

    return await transact(deps, principal, work, idem)


async def _change_status(uow: UnitOfWork, row: Member, status: MemberStatus) -> None:
    if status is MemberStatus.LEFT:
        card = await uow.cards.live_for_member(row.id)
        if card is not None:
            raise InvalidState(f"member still holds card {card.iccid}; deregister it first",
                               state=row.status.value)
        uow.emit(Event(EventName.MEMBER_LEFT, row.enterprise_id, {"member_id": row.id}))
    elif await uow.members.present_by_msisdns([row.msisdn]):
        raise AlreadyExists(f"MSISDN {row.msisdn} was enrolled again meanwhile", field="status")
    row.status = status


async def set_service_password(deps: Deps, principal: Principal, member_id: int, password: str,
                               idem: IdemKey | None) -> View:
    hashed = await asyncio.to_thread(passwords.hash_password, password)

    async def work(uow: UnitOfWork) -> View:
        row = await _visible(uow, principal, member_id)
        row.service_password_hash = hashed
        row.service_password_attempts = 0
        row.service_password_locked_until = None
        row.updated_at = uow.clock()
        audit(uow, principal, "member.service_password", ("member", row.id), row.enterprise_id)
        return views.member(row)

    return await transact(deps, principal, work, idem)


async def verify_service_password(deps: Deps, principal: Principal, msisdn: str,
                                  password: str) -> bool:
    """Check a member's service password (STK app deletion), counting failures.

    After ``MAX_PASSWORD_ATTEMPTS`` failures in a row the member is locked out for
    ``LOCK_OUT``; while locked, even the right password is refused.
    """
    number = identifiers.msisdn(msisdn)

    async def load(uow: UnitOfWork) -> str | None:
        found = await uow.members.present_by_msisdns([number])
        return found[0].service_password_hash if found else None

    stored = await read(deps, load)
    ok = stored is not None and await asyncio.to_thread(passwords.verify_password, password,
                                                         stored)

    async def record(uow: UnitOfWork) -> View:
        row = await uow.members.first(
            Member.msisdn == number, Member.status != MemberStatus.LEFT, for_update=True)
        if row is None:
            return {"accepted": False}
        now = uow.clock()
        locked = row.service_password_locked_until is not None and \
            row.service_password_locked_until > now
        accepted = ok and not locked and row.service_password_hash == stored
        if accepted:
            row.service_password_attempts = 0
        elif not locked:
            row.service_password_attempts += 1
            if row.service_password_attempts >= MAX_PASSWORD_ATTEMPTS:
                row.service_password_locked_until = now + LOCK_OUT
                row.service_password_attempts = 0
        audit(uow, principal, "member.service_password_check", ("member", row.id),
              row.enterprise_id, accepted=accepted, locked=locked)
        return {"accepted": accepted}

    if stored is None:
        return False
    return bool((await transact(deps, principal, record))["accepted"])
