"""Enterprise notices (企业短信): upload a CSV in a standard template, read the validation
report, then send (seed: 企业短信网关需嵌入一卡通系统; 计件工资 from a standard template).

Upload: the file is parsed and checked row by row (``gateway.bills.csvnotice``); each employee
number must name a present member of the enterprise (unknown, ambiguous and departed ones are
row errors, with the row and column); each employee's text is rendered with the enterprise's
template and must fit its segment limit. The batch is stored with its report and its texts;
**nothing is sent**. Send: ``mode=all`` only when the file had no error at all, ``mode=valid``
sends the texts of the employees without errors (an employee with one bad row gets nothing:
half a wage slip is worse than none). Members who opted out are skipped. The SMS go through the
outbox with ``batch_id`` ``notice:<id>``, dedupe key ``notice:<id>:<member>``, so sending twice
sends once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, insert, select, update

from gateway.bills import config, context, csvnotice, runs
from gateway.bills.csvnotice import NoticeRow, ParsedNotice, RowError
from gateway.bills.errors import TooManySegments
from gateway.bills.policy import not_before
from gateway.bills.render import Compiled, TemplateKind
from gateway.db.models import Member
from gateway.db.models_bills import NoticeBatch, NoticeItem, NoticeState
from gateway.db.models_outbox import SmsKind
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.domain import MemberStatus, Module
from gateway.errors import InvalidState, NotFound, ValidationError
from gateway.services import outbox, views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

SEND_BATCH = 1000
ITEMS = cast(Table, NoticeItem.__table__)


@dataclass(frozen=True)
class UploadIn:
    kind: TemplateKind
    data: bytes
    enterprise_id: int | None = None
    title: str = ""
    urgent: bool = False


@dataclass(frozen=True)
class _Ready:
    member: Member
    rows: Sequence[NoticeRow]
    text: str
    segments: int


def batch_view(row: NoticeBatch) -> View:
    return {"id": row.id, "enterprise_id": row.enterprise_id, "kind": row.kind,
            "title": row.title, "state": row.state.value, "encoding": row.encoding,
            "rows": {"total": row.rows_total, "valid": row.rows_valid,
                     "invalid": row.rows_total - row.rows_valid},
            "recipients": row.recipients, "error_count": row.error_count,
            "errors": list(row.errors), "sendable": {"all": row.error_count == 0,
                                                     "valid": row.recipients > 0},
            "urgent": row.urgent, "send_mode": row.send_mode, "queued": row.queued,
            "created_by": row.created_by, "created_at": views.ts(row.created_at),
            "sent_at": views.ts(row.sent_at), "batch_id": f"notice:{row.id}"}


async def _members(uow: UnitOfWork, enterprise_id: int,
                   employees: set[str]) -> dict[str, list[Member]]:
    found: dict[str, list[Member]] = {}
    numbers = sorted(employees)
    for i in range(0, len(numbers), 500):
        stmt = select(Member).where(Member.enterprise_id == enterprise_id,
                                    Member.employee_no.in_(numbers[i:i + 500]))
        for member in await uow.session.scalars(stmt):
            found.setdefault(member.employee_no or "", []).append(member)
    return found


def _resolve(parsed: ParsedNotice, members: dict[str, list[Member]]
             ) -> tuple[dict[int, tuple[Member, list[NoticeRow]]], list[RowError]]:
    """Employee rows -> member; row errors for unknown, departed, ambiguous, wrong name."""
    column = parsed.columns["employee_no"]
    by_member: dict[int, tuple[Member, list[NoticeRow]]] = {}
    errors: list[RowError] = []
    for row in parsed.rows:
        candidates = [m for m in members.get(row.employee_no, [])
                      if m.status is not MemberStatus.LEFT]
        problem = None
        if not candidates:
            gone = members.get(row.employee_no)
            problem = ("left", f"employee {row.employee_no} has left") if gone else (
                "unknown_employee", f"no member has employee number {row.employee_no}")
        elif len(candidates) > 1:
            problem = ("ambiguous", f"{len(candidates)} members have employee number "
                                    f"{row.employee_no}")
        elif row.name and row.name != candidates[0].name:
            errors.append(RowError(row.row, parsed.columns.get("name"), "name_mismatch",
                                   f"employee {row.employee_no} is {candidates[0].name}, "
                                   f"not {row.name}"))
            continue
        if problem:
            errors.append(RowError(row.row, column, *problem))
            continue
        member = candidates[0]
        by_member.setdefault(member.id, (member, []))[1].append(row)
    return by_member, errors


def _render(cfg: config.EnterpriseConfig, template: Compiled, title: str,
            grouped: dict[int, tuple[Member, list[NoticeRow]]], column: str
            ) -> tuple[list[_Ready], list[RowError]]:
    ready: list[_Ready] = []
    errors: list[RowError] = []
    for member, rows in grouped.values():
        values = {**context.base(cfg.name, cfg.code, context.member_view(
            member.name, member.employee_no, member.department)), "title": title,
            **csvnotice.template_values(template.kind, rows)}
        try:
            measured = template.measure(values)
        except TooManySegments as exc:
            errors += [RowError(r.row, column, "too_long", exc.detail) for r in rows]
            continue
        ready.append(_Ready(member, rows, measured.text, measured.segments))
    return ready, errors


def _error_rows(errors: list[RowError], parsed: ParsedNotice) -> set[int]:
    return {e.row for e in errors} | {e.row for e in parsed.errors}


def _incomplete(parsed: ParsedNotice, bad: set[int]) -> list[RowError]:
    """An employee with a bad row gets no notice at all (half a wage slip is worse than none):
    the employee's other rows say so."""
    first_bad: dict[str, int] = {}
    owners = {**parsed.rejected, **{r.row: r.employee_no for r in parsed.rows}}
    for number in sorted(bad):
        if number in owners:
            first_bad.setdefault(owners[number], number)
    return [RowError(r.row, parsed.columns["employee_no"], "employee_incomplete",
                     f"row {first_bad[r.employee_no]} of employee {r.employee_no} has an error")
            for r in parsed.rows if r.employee_no in first_bad and r.row not in bad]


async def upload(deps: Deps, principal: Principal, cmd: UploadIn, idem: IdemKey | None) -> View:
    target = principal.target_enterprise(cmd.enterprise_id)
    parsed = csvnotice.parse(cmd.kind, cmd.data)

    async def work(uow: UnitOfWork) -> View:
        cfg = await config.load(uow, target)
        if Module.SMS.value not in cfg.modules:
            raise ValidationError("enterprise_id", "the enterprise does not subscribe the "
                                  "enterprise SMS module (企业短信)")
        template = await config.compiled(uow, cfg, cmd.kind)
        members = await _members(uow, target, {r.employee_no for r in parsed.rows})
        grouped, errors = _resolve(parsed, members)
        errors += _incomplete(parsed, _error_rows(errors, parsed))
        bad = _error_rows(errors, parsed)
        grouped = {k: v for k, v in grouped.items() if not any(r.row in bad for r in v[1])}
        ready, too_long = _render(cfg, template, cmd.title, grouped,
                                  parsed.columns["employee_no"])
        return await _store(uow, principal, cmd, target, parsed, errors + too_long, ready)

    return await transact(deps, principal, work, idem)


async def _store(uow: UnitOfWork, principal: Principal, cmd: UploadIn, target: int,
                 parsed: ParsedNotice, extra: list[RowError], ready: list[_Ready]) -> View:
    errors = sorted([*parsed.errors, *extra], key=lambda e: (e.row, e.column or ""))
    listed = [e.to_dict() for e in errors[:csvnotice.MAX_ERRORS]]
    bad_rows = _error_rows(extra, parsed)
    row = NoticeBatch(
        enterprise_id=target, kind=cmd.kind.value, title=cmd.title, state=NoticeState.VALIDATED,
        encoding=parsed.encoding, rows_total=parsed.total_rows,
        rows_valid=parsed.total_rows - len(bad_rows), recipients=len(ready), errors=listed,
        error_count=len(errors) + parsed.more_errors, urgent=cmd.urgent, queued=0,
        created_by=principal.actor, created_at=uow.clock())
    uow.session.add(row)
    await uow.flush()
    if ready:
        await uow.session.execute(insert(NoticeItem), [
            {"batch_id": row.id, "member_id": r.member.id, "msisdn": r.member.msisdn,
             "rows": [x.row for x in r.rows], "text": r.text, "segments": r.segments,
             "opted_out": r.member.sms_opt_out, "sms_id": None} for r in ready])
    audit(uow, principal, "notices.uploaded", ("notice", row.id), target, kind=cmd.kind.value,
          rows=parsed.total_rows, errors=row.error_count, recipients=len(ready))
    return {**batch_view(row), "preview": [{"member_id": r.member.id, "text": r.text,
                                            "segments": r.segments} for r in ready[:3]]}


async def _batch(uow: UnitOfWork, principal: Principal, batch_id: int,
                 for_update: bool = False) -> NoticeBatch:
    stmt = select(NoticeBatch).where(NoticeBatch.id == batch_id)
    if for_update and not uow.is_sqlite:
        stmt = stmt.with_for_update()
    row = (await uow.session.scalars(stmt)).first()
    if row is None:
        raise NotFound("notice not found")
    principal.check_tenant(row.enterprise_id, "notice")
    return row


async def send(deps: Deps, principal: Principal, batch_id: int, mode: str,
               idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _batch(uow, principal, batch_id, for_update=True)
        if row.state is not NoticeState.VALIDATED:
            raise InvalidState(f"the notice is {row.state.value}", state=row.state.value)
        if mode == "all" and row.error_count:
            raise InvalidState(f"the file has {row.error_count} error(s): correct it, or send "
                               "the valid rows (mode=valid)", errors=row.error_count)
        items = list(await uow.session.scalars(
            select(NoticeItem).where(NoticeItem.batch_id == row.id).order_by(NoticeItem.id)))
        queued = await _enqueue(uow, row, items)
        row.state, row.send_mode, row.queued, row.sent_at = (
            NoticeState.SENT, mode, queued, uow.clock())
        audit(uow, principal, "notices.sent", ("notice", row.id), row.enterprise_id,
              mode=mode, queued=queued)
        return batch_view(row)

    return await transact(deps, principal, work, idem)


async def _enqueue(uow: UnitOfWork, row: NoticeBatch, items: list[NoticeItem]) -> int:
    members = {m.id: m for m in await uow.members.all(select(Member).where(
        Member.id.in_([i.member_id for i in items])))} if items else {}
    sending = [i for i in items if not members[i.member_id].sms_opt_out
               and members[i.member_id].status is not MemberStatus.LEFT]
    for item in items:
        item.opted_out = members[item.member_id].sms_opt_out
    cfg = await config.load(uow, row.enterprise_id)
    later = not_before(cfg.quiet, uow.clock(), row.urgent)  # the enterprise's quiet hours
    for start in range(0, len(sending), SEND_BATCH):
        chunk = sending[start:start + SEND_BATCH]
        ids = await outbox.enqueue_many(uow, [outbox.Sms(
            msisdn=i.msisdn, text=i.text, kind=SmsKind.NOTICE, enterprise_id=row.enterprise_id,
            member_id=i.member_id, dedupe_key=f"notice:{row.id}:{i.member_id}",
            urgent=row.urgent, not_before=later, batch_id=f"notice:{row.id}") for i in chunk])
        await uow.session.execute(update(ITEMS).where(
            ITEMS.c.id == bindparam("b_id")).values(sms_id=bindparam("b_sms")),
            [{"b_id": i.id, "b_sms": sms_id} for i, sms_id in zip(chunk, ids, strict=True)])
    return len(sending)


async def discard(deps: Deps, principal: Principal, batch_id: int,
                  idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _batch(uow, principal, batch_id, for_update=True)
        if row.state is not NoticeState.VALIDATED:
            raise InvalidState(f"the notice is {row.state.value}", state=row.state.value)
        row.state = NoticeState.DISCARDED
        audit(uow, principal, "notices.discarded", ("notice", row.id), row.enterprise_id)
        return batch_view(row)

    return await transact(deps, principal, work, idem)


async def get(deps: Deps, principal: Principal, batch_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _batch(uow, principal, batch_id)
        return {**batch_view(row), "sms": await runs.sms_counts(uow, f"notice:{row.id}")}

    return await read(deps, work)


async def items(deps: Deps, principal: Principal, batch_id: int, page: Page) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await _batch(uow, principal, batch_id)
        stmt = select(NoticeItem).where(NoticeItem.batch_id == row.id)
        if page.after is not None:
            stmt = stmt.where(NoticeItem.id > page.after)
        found = list(await uow.session.scalars(stmt.order_by(NoticeItem.id)
                                               .limit(page.limit + 1)))
        shown = found[:page.limit]
        return {"items": [{"id": i.id, "member_id": i.member_id, "msisdn": i.msisdn,
                           "rows": list(i.rows), "text": i.text, "segments": i.segments,
                           "opted_out": i.opted_out, "sms_id": i.sms_id} for i in shown],
                "next": shown[-1].id if len(found) > page.limit else None}

    return await read(deps, work)


async def list_batches(deps: Deps, principal: Principal, enterprise_id: int | None,
                       page: Page) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(NoticeBatch.enterprise_id == scoped)

    async def work(uow: UnitOfWork) -> View:
        stmt = select(NoticeBatch).where(*where)
        if page.after is not None:
            stmt = stmt.where(NoticeBatch.id < page.after)
        found = list(await uow.session.scalars(stmt.order_by(NoticeBatch.id.desc())
                                               .limit(page.limit + 1)))
        shown = [batch_view(r) for r in found[:page.limit]]
        for view in shown:
            view.pop("errors")
        return {"items": shown, "next": shown[-1]["id"] if len(found) > page.limit else None}

    return await read(deps, work)
