"""A bill run's report: what happened to every bill, in JSON (totals) and CSV (one line per
member and kind).

Totals (``summary``):

- ``billed``: bills queued in the outbox; ``sent``: of those, accepted by the SMSC (every
  segment); ``delivered``: a final DELIVRD receipt for every segment; ``failed``: refused,
  undeliverable or expired; ``pending``: not final yet;
- ``opted_out``: members who refused bills, found when the run billed them or when the
  dispatcher was about to send (they opted out in between); ``too_long``: bills not sent
  because they needed more segments than allowed; ``cancelled``: withdrawn by a cancel.

The CSV is UTF-8 with a byte order mark, which is how Excel on a Chinese Windows recognises
UTF-8 (``docs/bills.md``).
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from sqlalchemy import Table, case, func, select

from gateway.bills import runs
from gateway.db.models import Member
from gateway.db.models_bills import BillRunMember, Outcome
from gateway.db.models_outbox import OutboxMessage, SmsState
from gateway.db.uow import UnitOfWork
from gateway.services import views
from gateway.services.base import Deps, Principal, View, read

OM = cast(Table, OutboxMessage.__table__).c
CSV_COLUMNS = ("member_id", "employee_no", "name", "msisdn", "kind", "outcome", "sms_id",
               "segments", "sms_state", "error", "submitted_at", "done_at")


async def _sent(uow: UnitOfWork, batch_id: str) -> int:
    stmt = select(func.coalesce(func.sum(case((OM.submitted_at.is_not(None), 1), else_=0)), 0)
                  ).where(OM.batch_id == batch_id)
    return int((await uow.session.execute(stmt)).scalar_one())


def summary(run: View, sms: dict[str, int], sent: int) -> dict[str, int]:
    progress = run["progress"]
    return {
        "members": progress["total"],
        "billed": progress["queued"],
        "sent": sent,
        "delivered": sms[SmsState.DELIVERED.value],
        "failed": sms[SmsState.FAILED.value] + sms[SmsState.EXPIRED.value],
        "pending": sms[SmsState.QUEUED.value] + sms[SmsState.SUBMITTED.value],
        "opted_out": progress["opted_out"] + sms[SmsState.OPTED_OUT.value],
        "too_long": progress["too_long"],
        "cancelled": sms[runs.CANCELLED],
        "segments": sms["segments"],
    }


async def report(deps: Deps, principal: Principal, run_id: int) -> View:
    async def work(uow: UnitOfWork) -> View:
        row = await runs.get_row(uow, principal, run_id)
        view = runs.run_view(row)
        sms = await runs.sms_counts(uow, view["batch_id"])
        return {"run": view, "summary": summary(view, sms, await _sent(uow, view["batch_id"])),
                "sms": sms}

    return await read(deps, work)


async def report_csv(deps: Deps, principal: Principal, run_id: int) -> bytes:
    async def work(uow: UnitOfWork) -> list[tuple[Any, ...]]:
        row = await runs.get_row(uow, principal, run_id)
        billed = (select(OM.member_id, Member.employee_no, Member.name, Member.msisdn,
                         OM.dedupe_key, OM.id, OM.segments, OM.state, OM.error,
                         OM.submitted_at, OM.done_at)
                  .join(Member, Member.id == OM.member_id)
                  .where(OM.batch_id == f"bill-run:{row.id}"))
        lines = [(r[0], r[1], r[2], r[3], _kind(r[4]), Outcome.QUEUED, *r[5:])
                 for r in await uow.session.execute(billed)]
        skipped = (select(BillRunMember.member_id, Member.employee_no, Member.name,
                          Member.msisdn, BillRunMember.kind, BillRunMember.outcome,
                          BillRunMember.sms_id, BillRunMember.segments)
                   .join(Member, Member.id == BillRunMember.member_id)
                   .where(BillRunMember.run_id == row.id))
        lines += [(*r, None, None, None, None) for r in await uow.session.execute(skipped)]
        return sorted(lines, key=lambda line: (line[0], line[4]))

    rows = await read(deps, work)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r[0], r[1] or "", r[2], r[3], r[4], _text(r[5]), r[6] or "", r[7],
                         _text(r[8]), r[9] or "", views.ts(r[10]) or "", views.ts(r[11]) or ""])
    return out.getvalue().encode("utf-8-sig")


def _kind(dedupe_key: str | None) -> str:
    """The bill kind from an outbox dedupe key "<enterprise>/bill:<run>:<member>:<kind>"."""
    return (dedupe_key or "").rpartition(":")[2]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))
