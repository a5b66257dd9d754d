"""What a finished OTA job changes besides itself, in the transaction that finishes it.

* top-up confirmed: the ledger hold is released, the card's balance is compared with the
  ledger, a TOPUP and an OTA CREDIT record are written for billing, the member gets an SMS;
* top-up failed: the ledger posting is reversed (the job ends ``reversed``), the member gets
  an SMS;
* issuance confirmed: the sub-applications are active, billed (one INSTALL each), announced;
* deletion confirmed: the sub-applications are removed and blacklisted (terminals refuse them),
  a deleted purse's balance is settled to the refund account first (as at deregistration),
  billed, and the member told (unless a deregistration, which has its own SMS, asked for it);
* lock / unlock confirmed: billed (BLOCK / UNBLOCK).

SMS and billing records are gathered in :class:`Effects` and written once per batch of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from billing import recorder
from billing.cdr import Cdr, OtaOperation, TopupChannel
from gateway.db.models import Card
from gateway.db.models_ota import OtaJob, StkRequest
from gateway.db.models_outbox import SmsKind
from gateway.db.uow import UnitOfWork
from gateway.domain import (
    AccountKind,
    AppKind,
    AppState,
    BlacklistAction,
    BlacklistReason,
    PostingKind,
)
from gateway.notices import Notice, cn_time, render, tail, yuan
from gateway.ota_core import JobKind, JobState
from gateway.services import blacklist, ledger, ota_reconcile, outbox, topups

APP_LABELS = {AppKind.DOOR: "门禁", AppKind.ATTENDANCE: "考勤", AppKind.PURSE: "消费"}
_OPERATION = {JobKind.ISSUE: OtaOperation.INSTALL, JobKind.TOPUP: OtaOperation.CREDIT,
              JobKind.DELETE: OtaOperation.DELETE, JobKind.LOCK: OtaOperation.BLOCK,
              JobKind.UNLOCK: OtaOperation.UNBLOCK, JobKind.MENU: OtaOperation.OTHER}


@dataclass
class Effects:
    """SMS and billing records of a batch of finished jobs, written together."""

    cdrs: list[Cdr] = field(default_factory=list)
    sms: list[outbox.Sms] = field(default_factory=list)
    # Jobs that reached a final state in this transaction, their effects not applied yet.
    pending: list[OtaJob] = field(default_factory=list)
    # (job id, kind, final state, seconds since the job was made): for waiters and metrics.
    finished: list[tuple[int, str, str, float]] = field(default_factory=list)

    def notify(self, job: OtaJob, notice: Notice, kind: SmsKind = SmsKind.SERVICE,
               **values: object) -> None:
        self.sms.append(outbox.Sms(
            job.msisdn, render(notice, card=tail(job.iccid), **values), kind,
            job.enterprise_id, job.member_id, dedupe_key=f"ota:{job.id}:{notice.value}"))

    def bill(self, uow: UnitOfWork, job: OtaJob, ref: str | None = None) -> None:
        self.cdrs.append(recorder.ota_operation(job.enterprise_id, job.member_id or 0, job.iccid,
                                                _OPERATION[job.kind], ref or str(job.id),
                                                uow.clock()))

    async def flush(self, uow: UnitOfWork) -> None:
        """Apply the pending jobs' effects, then write their SMS and billing records."""
        await finish_all(uow, self)
        if self.cdrs:
            await recorder.record(uow.session, *self.cdrs, now=uow.clock())
        if self.sms:
            await outbox.enqueue_many(uow, self.sms)
        self.cdrs, self.sms = [], []


async def finish_all(uow: UnitOfWork, fx: Effects) -> None:
    """Apply what the pending jobs reaching their final states means (their states are set).

    Confirmed top-ups, the bulk of the traffic, are settled together; the rest one by one.
    """
    jobs, fx.pending = fx.pending, []
    credited = [j for j in jobs if j.kind is JobKind.TOPUP and j.state is JobState.CONFIRMED]
    if credited:
        await _topups_confirmed(uow, credited, fx)
    for job in jobs:
        if job.kind is not JobKind.TOPUP or job.state is not JobState.CONFIRMED:
            await finish(uow, job, fx)
        age = (uow.clock() - job.created_at).total_seconds()
        fx.finished.append((job.id, job.kind.value, job.state.value, age))


async def finish(uow: UnitOfWork, job: OtaJob, fx: Effects) -> None:
    """Apply what ``job`` reaching its final state means (``job.state`` is already final)."""
    if job.kind is JobKind.TOPUP:
        if job.state is not JobState.CONFIRMED:
            await _topup_failed(uow, job, fx)
    elif job.state is not JobState.CONFIRMED:
        if job.kind is JobKind.DELETE:
            await _deletion_failed(uow, job, fx)
    elif job.kind is JobKind.ISSUE:
        await _issued(uow, job, fx)
    elif job.kind is JobKind.DELETE:
        await _deleted(uow, job, fx)
    elif job.kind in (JobKind.LOCK, JobKind.UNLOCK):
        fx.bill(uow, job)


def _now_text(uow: UnitOfWork) -> str:
    return cn_time(uow.clock())


async def _topups_confirmed(uow: UnitOfWork, jobs: list[OtaJob], fx: Effects) -> None:
    rows = await topups.confirm_many(uow, jobs)
    results: dict[int, dict[str, Any]] = {j.id: j.result or {} for j in jobs}
    await ota_reconcile.report_many(uow, [ota_reconcile.Reported(
        j.card_id, j.enterprise_id, "por", f"job:{j.id}", int(results[j.id]["balance_fen"]),
        int(results[j.id]["load_counter"])) for j in jobs])
    now = _now_text(uow)
    for job in jobs:
        row = rows[job.id]
        fx.bill(uow, job)
        fx.cdrs.append(recorder.topup(job.enterprise_id, job.member_id, job.iccid,
                                      row.amount_fen, TopupChannel.OTA, row.transaction_id,
                                      uow.clock()))
        fx.notify(job, Notice.TOPUP_CONFIRMED, time=now, amount=yuan(row.amount_fen),
                  balance=yuan(int(results[job.id]["balance_fen"])))


async def _topup_failed(uow: UnitOfWork, job: OtaJob, fx: Effects) -> None:
    row = await topups.reverse(uow, job)
    job.state = JobState.REVERSED
    fx.notify(job, Notice.TOPUP_REVERSED, time=_now_text(uow), amount=yuan(row.amount_fen))


def _job_apps(job: OtaJob) -> list[AppKind]:
    names = [a["app"] if isinstance(a, dict) else a for a in job.params.get("apps", [])]
    return [AppKind(str(name)) for name in names]


async def _issued(uow: UnitOfWork, job: OtaJob, fx: Effects) -> None:
    apps = _job_apps(job)
    specs = {a["app"]: a for a in job.params.get("apps", [])}
    now = uow.clock()
    for row in await uow.apps.for_card(job.card_id):
        if row.app in apps and row.state is not AppState.REMOVED:
            spec = specs.get(row.app.value, {})
            row.state, row.updated_at = AppState.ACTIVE, now
            row.data = {**row.data, "member_number": spec.get("member_number"),
                        "issued_by_job": job.id}
    for app in apps:
        fx.bill(uow, job, f"{job.id}:{app.value}")
    names = "、".join(APP_LABELS[a] for a in apps)
    fx.notify(job, Notice.APPS_ISSUED, time=_now_text(uow), apps=names)


async def _deleted(uow: UnitOfWork, job: OtaJob, fx: Effects) -> None:
    apps = _job_apps(job)
    card = await uow.session.get(Card, job.card_id)
    assert card is not None
    now = uow.clock()
    for row in await uow.apps.for_card(job.card_id):
        if row.app in apps:
            row.state, row.updated_at = AppState.REMOVED, now
    refund = await _settle_purse(uow, job, card) if AppKind.PURSE in apps else 0
    for app in apps:
        await blacklist.change(uow, card, BlacklistAction.ADD, BlacklistReason.APP_DELETED, app)
    fx.bill(uow, job)
    await _close_request(uow, job, "done", "deleted")
    if job.origin == "lifecycle":
        return  # deregistration sent its own SMS
    label = "、".join(APP_LABELS[a] for a in apps)
    if AppKind.PURSE in apps:
        fx.notify(job, Notice.PURSE_DELETED, time=_now_text(uow), app=label, refund=yuan(refund))
    else:
        fx.notify(job, Notice.APP_DELETED, time=_now_text(uow), app=label)


async def _settle_purse(uow: UnitOfWork, job: OtaJob, card: Card) -> int:
    """The card's purse is gone: pay the balance back (the refund account), as 注销 does."""
    purse = await ledger.account(uow, ledger.purse_code(card.id), for_update=True)
    refund = purse.balance - purse.held
    if refund > 0:
        await ledger.post(uow, ledger.transfer(
            f"ota-delete:{job.id}", PostingKind.REFUND, card.enterprise_id, purse.code,
            ledger.enterprise_code(AccountKind.REFUND, card.enterprise_id), refund,
            f"purse deleted from {card.iccid}"))
    return max(refund, 0)


async def _deletion_failed(uow: UnitOfWork, job: OtaJob, fx: Effects) -> None:
    await _close_request(uow, job, "failed", job.failure or "failed")
    if job.origin in ("stk", "api"):
        label = "、".join(APP_LABELS[a] for a in _job_apps(job))
        fx.notify(job, Notice.APP_DELETE_FAILED, time=_now_text(uow), app=label)


async def _close_request(uow: UnitOfWork, job: OtaJob, state: str, outcome: str) -> None:
    for request in await uow.session.scalars(select(StkRequest).where(
            StkRequest.job_id == job.id)):
        request.state, request.outcome, request.updated_at = state, outcome[:200], uow.clock()

