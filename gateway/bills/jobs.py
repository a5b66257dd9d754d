"""Bill runs as resumable jobs: claim a run, bill its members batch by batch, finish it.

A run's whole state is in ``bill_runs``: ``cursor`` (the last member id billed), counters, and
a claim (``claimed_by`` until ``lease_until``). A batch is:

1. read the next members after the cursor and their records (read-only transaction);
2. render their texts (no transaction open: SQLite has one writer, and it is shared with the
   outbox dispatcher);
3. one write transaction: advance the cursor *only if* this worker still holds the run, it is
   still running and the cursor is still where the batch started
   (``UPDATE ... WHERE claimed_by = me AND state = 'running' AND cursor = old``), queue the
   SMS in the outbox (dedupe key ``bill:<run>:<member>:<kind>``, unique) and write a
   ``bill_run_members`` row (unique) for each member and kind *not* billed (opted out, too
   long): a billed member's record is its outbox row.

A process killed anywhere leaves either a whole batch or none of it. Its claim lapses with
its lease; the next claimer (a worker on start, ``onecard bill run --resume``) continues
from the cursor. Two claimers racing for one run cannot both advance the same cursor, and the
unique keys would refuse a second bill anyway: every member is billed exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, insert, or_, select, update

from gateway.bills import batch, config
from gateway.bills.attendance import Calendar
from gateway.bills.errors import TemplateInvalid
from gateway.bills.period import BillPeriod
from gateway.bills.policy import not_before
from gateway.bills.render import TemplateKind
from gateway.db.models_bills import BillRun, BillRunMember, Outcome, RunState
from gateway.db.models_outbox import SmsKind
from gateway.db.uow import UnitOfWork
from gateway.errors import Conflict
from gateway.services import outbox
from gateway.services.base import Deps

log = logging.getLogger(__name__)

RUNS = cast(Table, BillRun.__table__)
MEMBERS = cast(Table, BillRunMember.__table__)  # Core inserts: the ORM's bulk path costs more
RC = RUNS.c
BATCH_SIZE = 1000
LEASE_S = 30.0

Progress = Callable[[int, int], None]
# Reads and renders the batch of ``limit`` members after ``cursor``.
Prepare = Callable[[batch.Plan, int, int], Awaitable[batch.Prepared]]


class RunLost(Conflict):
    """The run was cancelled, or another worker holds it now: this worker stops."""

    code = "bill_run_lost"


@dataclass(frozen=True)
class Outcomes:
    run_id: int
    state: RunState
    processed: int
    total: int


async def claim(deps: Deps, worker: str, lease_s: float = LEASE_S,
                run_id: int | None = None) -> int | None:
    """Take an open run whose claim is free or lapsed (the oldest, or ``run_id``)."""
    async with deps.uow(readonly=True) as uow:  # idle workers poll: no write lock for that
        if (await uow.session.execute(_free(uow.clock(), run_id))).first() is None:
            return None
    async with deps.uow() as uow:
        now = uow.clock()
        free = _free(now, run_id)
        if not uow.is_sqlite:
            free = free.with_for_update(skip_locked=True)
        stmt = (update(RUNS).where(RC.id.in_(free.scalar_subquery()))
                .values(state=RunState.RUNNING, claimed_by=worker,
                        lease_until=now + timedelta(seconds=lease_s), attempts=RC.attempts + 1,
                        updated_at=now)
                .returning(RC.id, RC.started_at))
        row = (await uow.session.execute(stmt)).first()
        if row is None:
            return None
        if row.started_at is None:
            await uow.session.execute(update(RUNS).where(RC.id == row.id).values(started_at=now))
        await uow.commit()
    log.info("bill run %d claimed by %s", row.id, worker)
    return int(row.id)


async def next_open(deps: Deps) -> int | None:
    """The oldest open run nobody holds (or whose holder's lease lapsed)."""
    async with deps.uow(readonly=True) as uow:
        found = (await uow.session.execute(_free(uow.clock(), None))).scalar()
    return None if found is None else int(found)


def _free(now: datetime, run_id: int | None) -> Select[Any]:
    free = select(RC.id).where(RC.state.in_([RunState.PENDING, RunState.RUNNING]),
                               or_(RC.lease_until.is_(None), RC.lease_until < now))
    if run_id is not None:
        free = free.where(RC.id == run_id)
    return free.order_by(RC.id).limit(1)


async def release(deps: Deps, run_id: int, worker: str) -> None:
    """Give the claim back at once (a graceful stop), so another worker need not wait."""
    async with deps.uow() as uow:
        await uow.session.execute(update(RUNS).where(RC.id == run_id, RC.claimed_by == worker)
                                  .values(claimed_by=None, lease_until=None))
        await uow.commit()


async def plan_of(uow: UnitOfWork, run: BillRun) -> batch.Plan:
    cfg = await config.load(uow, run.enterprise_id)
    kinds = tuple(TemplateKind(k) for k in run.kinds)
    templates = {kind: await config.compiled(uow, cfg, kind) for kind in kinds}
    period = BillPeriod.parse(run.period)
    return batch.Plan(run.id, cfg, period, kinds, run.as_of, run.urgent, templates,
                      Calendar(period, cfg.rules, run.as_of))


async def execute(deps: Deps, run_id: int, worker: str, *, batch_size: int = BATCH_SIZE,
                  lease_s: float = LEASE_S, progress: Progress | None = None,
                  queued: Callable[[], None] | None = None,
                  stopping: Callable[[], bool] = lambda: False,
                  prepare: Prepare | None = None) -> Outcomes:
    """Bill the rest of a run this worker has claimed. Returns when it is done, failed, lost
    (cancelled or taken over: :class:`RunLost` is caught here) or ``stopping()`` says so.

    ``prepare`` reads and renders a batch: by default here, in the event loop; the bill
    worker has a worker process do it (``gateway.bills.offload``)."""
    plan, cursor, processed, total = await _resume_point(deps, run_id, worker)
    if isinstance(plan, str):
        return await _fail(deps, run_id, worker, plan, processed, total)
    if prepare is None:
        prepare = functools.partial(_prepare, deps)
    # The next batch is read and rendered while this one is written.
    ahead = asyncio.ensure_future(prepare(plan, cursor, batch_size))
    try:
        while not stopping():
            try:
                ready = await ahead
            except TemplateInvalid as exc:
                return await _fail(deps, run_id, worker, exc.detail, processed, total)
            if not ready.members:
                return await _finish(deps, plan, worker, processed)
            ahead = asyncio.ensure_future(prepare(plan, ready.last, batch_size))
            cursor = await _write(deps, plan, worker, cursor, ready, lease_s)
            processed += ready.members
            if queued is not None:
                queued()
            if progress is not None:
                progress(processed, max(total, processed))
    except RunLost:
        state = await _state(deps, run_id)
        log.info("bill run %d: stopped (%s)", run_id, state.value)
        return Outcomes(run_id, state, processed, total)
    finally:
        await _settle(ahead)
    await release(deps, run_id, worker)
    return Outcomes(run_id, RunState.RUNNING, processed, total)


async def _resume_point(deps: Deps, run_id: int,
                        worker: str) -> tuple[batch.Plan | str, int, int, int]:
    """(the plan, or why there is none; cursor; members processed; total) of a held run."""
    async with deps.uow(readonly=True) as uow:
        run = await uow.session.get(BillRun, run_id)
        if run is None or run.claimed_by != worker:
            raise RunLost("this worker does not hold the run")
        try:
            plan: batch.Plan | str = await plan_of(uow, run)
        except TemplateInvalid as exc:  # a template that no longer renders
            plan = exc.detail
        return plan, run.cursor, run.processed, run.total


async def _prepare(deps: Deps, plan: batch.Plan, cursor: int, limit: int) -> batch.Prepared:
    async with deps.uow(readonly=True) as uow:
        data = await batch.read(uow.session, plan, cursor, limit)
    return batch.prepared(data, batch.render(plan, data), cursor)


async def _settle(task: asyncio.Future[batch.Prepared]) -> None:
    """Let a read ahead that is no longer wanted end (its transaction closes cleanly)."""
    if not task.done():
        with contextlib.suppress(Exception):
            await asyncio.shield(task)
    elif not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning


async def _write(deps: Deps, plan: batch.Plan, worker: str, cursor: int,
                 ready: batch.Prepared, lease_s: float) -> int:
    new_cursor, items = ready.last, ready.items
    counts = batch.counts(items)
    # Not inline: the thousand outbox rows go to SQLite's thread as a few statements of many
    # rows (gateway.db.bulk), which SQLite inserts beside the event loop.
    async with deps.uow() as uow:
        now = uow.clock()
        advanced = await uow.session.execute(
            update(RUNS).where(RC.id == plan.run_id, RC.claimed_by == worker,
                               RC.state == RunState.RUNNING, RC.cursor == cursor)
            .values(cursor=new_cursor, processed=RC.processed + ready.members,
                    queued=RC.queued + counts[Outcome.QUEUED],
                    opted_out=RC.opted_out + counts[Outcome.OPTED_OUT],
                    too_long=RC.too_long + counts[Outcome.TOO_LONG],
                    lease_until=now + timedelta(seconds=lease_s), updated_at=now))
        if getattr(advanced, "rowcount", 0) != 1:
            raise RunLost("the run was cancelled or taken over")
        await _enqueue(uow, plan, items, now)
        skipped = [{"run_id": plan.run_id, "member_id": item.member.id, "kind": item.kind.value,
                    "outcome": item.outcome, "sms_id": None, "segments": item.segments}
                   for item in items if item.outcome is not Outcome.QUEUED]
        if skipped:
            await uow.session.execute(insert(MEMBERS), skipped)
        await uow.commit()
    return new_cursor


async def _enqueue(uow: UnitOfWork, plan: batch.Plan, items: list[batch.Item],
                   now: datetime) -> None:
    sending = [i for i in items if i.outcome is Outcome.QUEUED]
    if not sending:
        return
    later = not_before(plan.cfg.quiet, now, plan.urgent)
    sms = [outbox.Sms(msisdn=i.member.msisdn, text=i.text, kind=SmsKind.BILL,
                      enterprise_id=plan.cfg.enterprise_id, member_id=i.member.id,
                      dedupe_key=plan.dedupe_key(i.member.id, i.kind), urgent=plan.urgent,
                      not_before=later, batch_id=plan.batch_id) for i in sending]
    await outbox.enqueue_many(uow, sms, ids=False)


async def _finish(deps: Deps, plan: batch.Plan, worker: str, processed: int) -> Outcomes:
    async with deps.uow() as uow:
        now = uow.clock()
        done = await uow.session.execute(
            update(RUNS).where(RC.id == plan.run_id, RC.claimed_by == worker,
                               RC.state == RunState.RUNNING)
            .values(state=RunState.DONE, total=RC.processed, finished_at=now, updated_at=now,
                    claimed_by=None, lease_until=None))
        if getattr(done, "rowcount", 0) != 1:
            raise RunLost("the run was cancelled or taken over")
        await uow.commit()
    log.info("bill run %d done: %d members", plan.run_id, processed)
    return Outcomes(plan.run_id, RunState.DONE, processed, processed)


async def _fail(deps: Deps, run_id: int, worker: str, problem: str, processed: int,
                total: int) -> Outcomes:
    async with deps.uow() as uow:
        now = uow.clock()
        await uow.session.execute(
            update(RUNS).where(RC.id == run_id, RC.claimed_by == worker,
                               RC.state == RunState.RUNNING)
            .values(state=RunState.FAILED, error=problem[:200], finished_at=now,
                    updated_at=now, claimed_by=None, lease_until=None))
        await uow.commit()
    log.warning("bill run %d failed: %s", run_id, problem)
    return Outcomes(run_id, RunState.FAILED, processed, total)


async def _state(deps: Deps, run_id: int) -> RunState:
    async with deps.uow(readonly=True) as uow:
        state = (await uow.session.execute(select(RC.state).where(RC.id == run_id))).scalar_one()
    return RunState(state)
