"""Bill run use cases: start one (API, CLI or schedule), list, watch, cancel; preview a bill.

Starting a run only writes a ``pending`` row: a worker (``gateway.workers.bills``) or the CLI
claims and executes it (``gateway.bills.jobs``). Its ``as_of`` is the moment it was created,
capped at the period's end: the records it bills are those received until then.

Cancelling stops a run between two batches and withdraws its SMS that no dispatcher holds yet
(they end ``failed`` with error ``cancelled``); what the SMSC already has is delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, or_, select, update

from gateway.bills import batch, config, store
from gateway.bills.jobs import plan_of
from gateway.bills.period import BillPeriod, Granularity
from gateway.bills.render import BILL_KINDS, Compiled, TemplateKind
from gateway.db.models import Member
from gateway.db.models_bills import OPEN_RUN_STATES, BillRun, RunState, RunTrigger
from gateway.db.models_outbox import OutboxMessage, SmsState
from gateway.db.repositories import Page
from gateway.db.uow import UnitOfWork
from gateway.errors import Conflict, InvalidState, NotFound, ValidationError
from gateway.notices import CHINA
from gateway.services import views
from gateway.services.base import Deps, IdemKey, Principal, View, audit, read, transact

RUNS = cast(Table, BillRun.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
OM = OUTBOX.c
CANCELLED = "cancelled"


class AlreadyBilled(Conflict):
    code = "already_billed"


@dataclass(frozen=True)
class RunIn:
    period: str
    kinds: Sequence[str] = tuple(k.value for k in BILL_KINDS)
    enterprise_id: int | None = None
    trigger: RunTrigger = RunTrigger.API
    urgent: bool = False
    force: bool = False  # bill a period again although a run billed it already


def run_view(row: BillRun) -> View:
    return {
        "id": row.id, "enterprise_id": row.enterprise_id, "period": row.period,
        "kinds": list(row.kinds), "trigger": row.trigger.value, "state": row.state.value,
        "urgent": row.urgent, "as_of": views.ts(row.as_of),
        "progress": {"total": row.total, "processed": row.processed, "queued": row.queued,
                     "opted_out": row.opted_out, "too_long": row.too_long,
                     "percent": round(100 * row.processed / row.total, 1) if row.total
                     else (100.0 if row.state is RunState.DONE else 0.0)},
        "attempts": row.attempts, "error": row.error, "created_by": row.created_by,
        "created_at": views.ts(row.created_at), "started_at": views.ts(row.started_at),
        "finished_at": views.ts(row.finished_at), "batch_id": f"bill-run:{row.id}",
    }


def _kinds(kinds: Sequence[str]) -> list[str]:
    out: list[str] = []
    for kind in kinds:
        if kind == "both":
            out += [k.value for k in BILL_KINDS]
        elif kind not in {k.value for k in BILL_KINDS}:
            raise ValidationError("kinds", f"{kind!r}: attendance, consumption or both")
        else:
            out.append(kind)
    if not out:
        raise ValidationError("kinds", "at least one kind")
    return sorted(set(out), key=out.index)


async def add_run(uow: UnitOfWork, principal: Principal, enterprise_id: int, cmd: RunIn,
                  schedule_key: str | None = None) -> BillRun:
    """The pending run row, in the caller's transaction (the scheduler's too)."""
    period = BillPeriod.parse(cmd.period)
    kinds = _kinds(cmd.kinds)
    cfg = await config.load(uow, enterprise_id)
    config.check_modules(cfg, kinds)
    for kind in kinds:  # a template that cannot render stops the run before it starts
        config.sample_measure(cfg, await config.compiled(uow, cfg, TemplateKind(kind)),
                              period.granularity)
    now = uow.clock()
    as_of = min(now, period.end)
    if period.start > now:
        raise ValidationError("period", f"{period.label} has not started yet")
    if not cmd.force:
        await _refuse_double_billing(uow, enterprise_id, period, kinds)
    row = BillRun(enterprise_id=enterprise_id, period=period.label, kinds=kinds,
                  trigger=cmd.trigger, schedule_key=schedule_key, state=RunState.PENDING,
                  as_of=as_of, urgent=cmd.urgent,
                  total=await store.count_members(uow.session, enterprise_id, as_of),
                  processed=0, queued=0, opted_out=0, too_long=0, cursor=0, attempts=0,
                  created_by=principal.actor, created_at=now, updated_at=now)
    uow.session.add(row)
    await uow.flush()
    audit(uow, principal, "bills.run_created", ("bill_run", row.id), enterprise_id,
          period=period.label, kinds=kinds, trigger=cmd.trigger.value)
    return row


async def _refuse_double_billing(uow: UnitOfWork, enterprise_id: int, period: BillPeriod,
                                 kinds: list[str]) -> None:
    rows = await uow.session.scalars(select(BillRun).where(
        BillRun.enterprise_id == enterprise_id, BillRun.period == period.label,
        BillRun.state.in_([RunState.PENDING, RunState.RUNNING, RunState.DONE])))
    for row in rows:
        if set(row.kinds) & set(kinds):
            raise AlreadyBilled(f"bill run {row.id} ({row.state.value}) bills {period.label} "
                                "already; set force to bill it again", run_id=row.id)


async def create(deps: Deps, principal: Principal, cmd: RunIn, idem: IdemKey | None) -> View:
    target = principal.target_enterprise(cmd.enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        return run_view(await add_run(uow, principal, target, cmd))

    return await transact(deps, principal, work, idem)


async def get_row(uow: UnitOfWork, principal: Principal, run_id: int) -> BillRun:
    row = await uow.session.get(BillRun, run_id)
    if row is None:
        raise NotFound("bill run not found")
    principal.check_tenant(row.enterprise_id, "bill run")
    return row


async def sms_counts(uow: UnitOfWork, batch_id: str) -> dict[str, int]:
    """The run's SMS per outbox state; withdrawn ones (cancelled) apart."""
    withdrawn = func.coalesce(OM.error == CANCELLED, False)
    rows = await uow.session.execute(
        select(OM.state, withdrawn, func.count(), func.coalesce(func.sum(OM.segments), 0))
        .where(OM.batch_id == batch_id).group_by(OM.state, withdrawn))
    counts: dict[str, int] = {s.value: 0 for s in SmsState}
    counts[CANCELLED] = 0
    counts["segments"] = 0
    for value, cancelled, n, segments in rows:
        key = CANCELLED if cancelled else str(getattr(value, "value", value))
        counts[key] += int(n)
        counts["segments"] += int(segments)
    return counts


async def get(deps: Deps, principal: Principal, run_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await get_row(uow, principal, run_id)
        return {**run_view(row), "sms": await sms_counts(uow, f"bill-run:{row.id}")}

    return await read(deps, work)


async def list_runs(deps: Deps, principal: Principal, enterprise_id: int | None,
                    state: RunState | None, page: Page) -> View:
    scoped = principal.enterprise_filter(enterprise_id)
    where: list[ColumnElement[bool]] = []
    if scoped is not None:
        where.append(BillRun.enterprise_id == scoped)
    if state is not None:
        where.append(BillRun.state == state)

    async def work(uow: UnitOfWork) -> View:
        stmt = select(BillRun).where(*where)
        if page.after is not None:
            stmt = stmt.where(BillRun.id < page.after)  # newest first
        rows = list(await uow.session.scalars(stmt.order_by(BillRun.id.desc())
                                              .limit(page.limit + 1)))
        items = [run_view(r) for r in rows[:page.limit]]
        more = len(rows) > page.limit
        return {"items": items, "next": items[-1]["id"] if more else None}

    return await read(deps, work)


async def cancel(deps: Deps, principal: Principal, run_id: int, idem: IdemKey | None) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await get_row(uow, principal, run_id)
        if row.state not in OPEN_RUN_STATES:
            raise InvalidState(f"the run is {row.state.value}", state=row.state.value)
        now = uow.clock()
        row.state, row.finished_at, row.updated_at = RunState.CANCELLED, now, now
        row.claimed_by, row.lease_until = None, None
        withdrawn = await withdraw(uow, f"bill-run:{row.id}")
        audit(uow, principal, "bills.run_cancelled", ("bill_run", row.id), row.enterprise_id,
              withdrawn=withdrawn)
        await uow.flush()
        return {**run_view(row), "withdrawn": withdrawn}

    return await transact(deps, principal, work, idem)


async def withdraw(uow: UnitOfWork, batch_id: str) -> int:
    """Queued SMS of a batch that no dispatcher holds: failed, error ``cancelled``."""
    now = uow.clock()
    result = await uow.session.execute(
        update(OUTBOX)
        .where(OM.batch_id == batch_id, OM.state == SmsState.QUEUED,
               or_(OM.lease_until.is_(None), OM.lease_until < now))
        .values(state=SmsState.FAILED, error=CANCELLED, done_at=now, updated_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def preview(deps: Deps, principal: Principal, enterprise_id: int | None,
                  kind: TemplateKind, body: dict[str, Any]) -> View:
    """A template (the stored one, or ``source``) rendered for a member's real bill of
    ``period``, or with sample values; with its segment count. Nothing is stored or sent."""
    target = principal.target_enterprise(enterprise_id)

    async def work(uow: UnitOfWork) -> View:
        cfg = await config.load(uow, target)
        source = body.get("source")
        template = (Compiled(kind, source.strip(), cfg.policy) if source
                    else await config.compiled(uow, cfg, kind))
        member_id = body.get("member_id")
        if member_id is None or kind not in BILL_KINDS:
            measured = config.sample_measure(cfg, template)
            return {"kind": kind.value, "sample": True, **measured.to_dict()}
        member = await uow.members.get(member_id)
        if member is None or member.enterprise_id != target:
            raise NotFound("member not found")
        values = await _member_context(uow, cfg, template, member, body, kind)
        return {"kind": kind.value, "sample": False, "member_id": member.id,
                **template.measure(values).to_dict()}

    return await read(deps, work)


async def _member_context(uow: UnitOfWork, cfg: config.EnterpriseConfig,
                          template: Compiled, member: Member, body: dict[str, Any],
                          kind: TemplateKind) -> dict[str, object]:
    now = uow.clock()
    period = (BillPeriod.parse(body["period"]) if body.get("period")
              else BillPeriod.containing(Granularity.MONTH, now.astimezone(CHINA).date()))
    fake = BillRun(id=0, enterprise_id=cfg.enterprise_id, period=period.label,
                   kinds=[kind.value], as_of=min(now, period.end), urgent=False)
    plan = await plan_of(uow, fake)
    plan = batch.Plan(0, cfg, plan.period, (kind,), plan.as_of, False, {kind: template},
                      plan.calendar)
    row = store.MemberRow(member.id, member.msisdn, member.name, member.employee_no,
                          member.department, member.created_at.astimezone(CHINA).date(), False)
    data = await batch.gather(uow.session, plan, [row])
    return batch.contexts(plan, data, row, kind)
