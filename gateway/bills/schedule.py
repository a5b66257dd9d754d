"""Scheduled bill runs: an enterprise's daily, weekly or monthly bills start by themselves.

A schedule bills the newest complete period of its cadence (yesterday, last ISO week, last
month) at ``send_at`` (China time) on the day after it ends. Periods that ended before the
schedule was created are not billed (turning a monthly schedule on mid-month does not bill
last month at once). The run's ``schedule_key`` ("<schedule>:<period>") is unique, so
several gateway nodes ticking at once start it once, and a node that was down when a run
was due starts it when it comes back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from gateway.bills import config, runs
from gateway.bills.errors import BillsError
from gateway.bills.period import BillPeriod
from gateway.db.models import Enterprise
from gateway.db.models_bills import BillRun, BillSchedule, RunTrigger
from gateway.db.uow import DuplicateRow
from gateway.domain import EnterpriseStatus
from gateway.errors import GatewayError
from gateway.services.base import SYSTEM, Deps

log = logging.getLogger(__name__)


def due_period(schedule: BillSchedule, now: datetime) -> BillPeriod | None:
    """The period ``schedule`` should have billed by ``now``, if any."""
    period = BillPeriod.last_complete(config.CADENCE_GRANULARITY[schedule.cadence], now)
    if period.end <= schedule.created_at or now < config.due_at(schedule, period):
        return None
    return period


async def tick(deps: Deps) -> list[int]:
    """Start the runs that are due; returns their ids."""
    async with deps.uow(readonly=True) as uow:
        now = uow.clock()
        stmt = (select(BillSchedule).join(Enterprise, Enterprise.id == BillSchedule.enterprise_id)
                .where(BillSchedule.enabled.is_(True),
                       Enterprise.status == EnterpriseStatus.ACTIVE))
        due = [(s, p) for s in await uow.session.scalars(stmt)
               if (p := due_period(s, now)) is not None]
        keys = [f"{s.id}:{p.label}" for s, p in due]
        started = set((await uow.session.scalars(
            select(BillRun.schedule_key).where(BillRun.schedule_key.in_(keys)))).all()
        ) if keys else set()
    created = []
    for (schedule, period), key in zip(due, keys, strict=True):
        if key in started:
            continue
        run_id = await _start(deps, schedule, period, key)
        if run_id is not None:
            created.append(run_id)
    return created


async def _start(deps: Deps, schedule: BillSchedule, period: BillPeriod,
                 key: str) -> int | None:
    cmd = runs.RunIn(period=period.label, kinds=list(schedule.kinds),
                     trigger=RunTrigger.SCHEDULE)
    try:
        async with deps.uow() as uow:
            row = await runs.add_run(uow, SYSTEM, schedule.enterprise_id, cmd, key)
            await uow.commit()
    except DuplicateRow:  # another node started it first
        return None
    except BillsError as exc:  # e.g. a template that no longer fits; retried next tick
        log.warning("schedule %d (%s): not started: %s", schedule.id, key, exc.detail)
        return None
    except GatewayError as exc:
        log.warning("schedule %d (%s): not started: %s", schedule.id, key, exc.detail)
        return None
    log.info("schedule %d started bill run %d for %s", schedule.id, row.id, period.label)
    return int(row.id)
