"""The outbox dispatcher: claims queued SMS, sends their segments through the SMSC link with the
window full, and has the writer record what the SMSC answered.

One dispatcher per gateway process. Its loop:

1. claim up to ``claim_batch`` due rows (``outbox_store.claim``: ``FOR UPDATE SKIP LOCKED``
   on PostgreSQL, an atomic conditional UPDATE on SQLite) with a lease in its name; skip what
   a member opted out of, expire what is past its validity;
2. split each text into its submit_sm (the concatenation reference is the row id, so a
   segment sent again alone still joins its siblings on the handset) and hand every segment
   the SMSC does not have yet to the ESME, each as a message of its own, so that each
   segment's message_id is known, and recorded, as soon as its submit_sm_resp arrives;
3. keep at most ``max_in_flight`` segments handed over and unanswered (the ESME's window
   stays full, its queue stays short, leases stay honest);
4. when every handed segment of a claim has its answer, settle the claim: SUBMITTED (all
   segments accepted), FAILED (a permanent SMSC refusal, the status recorded), or back to
   QUEUED with exponential backoff (a temporary refusal, a timeout, the link going down),
   FAILED after ``max_attempts``.

A ticker renews the leases of claims still held (a dead node's claims lapse and another node
takes them), expires what outlived its validity and counts rows per state for ``/metrics``.
Non-urgent SMS are not claimed during the quiet hours (``[outbox] quiet_hours``).

Stopping (``SmscLink`` stop hooks): stop claiming; let the ESME drain and unbind; have the
writer commit every answer; release the claims left, so a restart resumes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models_outbox import SmsState
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.notices import CHINA
from gateway.ports import Event
from gateway.services.base import Deps
from gateway.services.outbox import OPT_OUT_KINDS
from gateway.settings import OutboxSettings
from gateway.smsc_link import SmscLink, relative_validity
from gateway.workers import outbox_store as store
from gateway.workers.outbox_metrics import OutboxMetrics
from gateway.workers.outbox_writer import OutboxWriter
from smpp.errors import SmppError, SubmitRejected
from smpp.pdus import SubmitSm
from smpp.status import CommandStatus

log = logging.getLogger(__name__)

S = CommandStatus
# SMSC refusals that another attempt may cure (SMPP v3.4 5.1.3: system error, throttling, queue
# full, the receiver's temporary error, the catch-alls). Anything else fails the message.
TEMPORARY_STATUSES: Final = frozenset({
    S.ESME_RSYSERR, S.ESME_RTHROTTLED, S.ESME_RMSGQFUL, S.ESME_RX_T_APPN, S.ESME_RSUBMITFAIL,
    S.ESME_RUNKNOWNERR, S.ESME_RINVBNDSTS,
})
SWEEP_EVERY_S = 5.0
COUNT_EVERY_S = 10.0
RECEIPT_GRACE = timedelta(minutes=10)  # after validity, for the SMSC's own EXPIRED receipt


class ClaimPolicy(Protocol):
    """Keeps the claims that may be sent now; hands the others back to the queue (a later
    ``due_at``, claim released) in the same transaction."""

    async def admit(self, session: AsyncSession, claimed: Sequence[store.Claimed],
                    now: datetime) -> list[store.Claimed]: ...


@dataclass(slots=True)
class _Sending:
    """One claim on its way: segments handed to the ESME and not answered yet."""

    message: store.Claimed
    pending: int
    temporary: str | None = None
    permanent: str | None = None


async def _stop_task(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it is done. Cancelling again while it runs: on Python
    3.11 a cancellation can be lost (``asyncio.wait_for`` finishing at the same moment, a
    database driver's cleanup), which would leave a loop running and its stopper waiting."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        log.error("outbox: a task ended with an error", exc_info=task.exception())


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def in_quiet_hours(spec: str | None, now: datetime) -> bool:
    """``spec`` "HH:MM-HH:MM" in China time; a span may cross midnight ("22:00-08:00")."""
    if spec is None:
        return False
    start, end = ((int(p[:2]) * 60 + int(p[3:])) for p in spec.split("-"))
    local = now.astimezone(CHINA)
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start <= end else (minute >= start or minute < end)


class Dispatcher:
    def __init__(self, deps: Deps, link: SmscLink, settings: OutboxSettings,
                 metrics: Metrics | None = None, *, worker: str | None = None) -> None:
        self.deps = deps
        self.link = link
        self.settings = settings
        self.worker = worker or worker_name()
        self.metrics = OutboxMetrics(metrics)
        self.writer = OutboxWriter(deps, settings, self.metrics)
        self._in_flight = 0
        self._room = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._claiming: asyncio.Task[None] | None = None
        self._closed = False
        self._running = False  # bound once: writer and housekeeping started
        self._intake = True  # claiming allowed (stop_intake ends it)
        # Claim policies (gateway.bills.dispatch: enterprises' quiet hours and send rates).
        self.policies: list[ClaimPolicy] = []
        link.add_receipt_handler(self.writer.receipt)  # first: receipts are mostly ours
        link.add_stop_hooks(before=self.stop_intake, after=self.close)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        """Run once the link is bound (an app without an SMSC never gets that far)."""
        if self._tasks or self._closed:
            return
        self._claiming = asyncio.ensure_future(self._claim_loop())
        self._tasks = [self._claiming]

    def wake(self) -> None:
        """Something was queued: claim now rather than at the next poll."""
        self._wake.set()

    async def notify(self, events: Sequence[Event]) -> None:
        """``gateway.ports.Notifier``: a committed change may have queued SMS."""
        self.wake()

    async def stop_intake(self) -> None:
        """Claim nothing more (segments already handed to the ESME still go)."""
        self._intake = False
        if self._claiming is not None:
            await _stop_task(self._claiming)

    async def close(self) -> None:
        """After the ESME stopped: commit every answer, release the claims left, stop."""
        if self._closed:
            return
        self._closed = True
        await self.stop_intake()
        await self.writer.close()
        for task in self._tasks:
            await _stop_task(task)
        if not self._running:
            return
        try:
            async with self.deps.uow() as uow:
                released = await store.release_all(uow.session, self.worker, uow.clock())
                await uow.commit()
            log.info("outbox: stopped; %d claims released", released)
        except GatewayError as exc:
            log.warning("outbox: claims not released (%s); they lapse with their lease",
                        exc.detail)

    # --- claiming -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        await self.link.wait_bound()
        if not self._running:
            self._running = True
            self.writer.start()
            self._tasks.append(asyncio.ensure_future(self._tick()))
        settings = self.settings
        while self._intake:
            room = settings.max_in_flight - self._in_flight
            if room < min(settings.claim_batch, settings.max_in_flight // 2) or room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                plans = await self._claim(min(settings.claim_batch, room))
            except GatewayError as exc:
                log.warning("outbox: claim failed (%s)", exc.detail)
                await asyncio.sleep(settings.poll_s)
                continue
            if not plans:
                await self._idle()
                continue
            for sending, parts in plans:
                self._send(sending, parts)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)

    async def _claim(self, limit: int) -> list[tuple[_Sending, list[tuple[int, SubmitSm]]]]:
        # Inline (statements on the loop once the write lock is held): through the
        # connection's thread, each statement would wait for the loop to come round again
        # while holding SQLite's one write lock, and OTA top-ups queue behind it.
        async with self.deps.uow(inline=True) as uow:
            session, now = uow.session, uow.clock()
            lease = now + timedelta(seconds=self.settings.lease_s)
            quiet = in_quiet_hours(self.settings.quiet_hours, now)
            claimed = await store.claim(session, self.worker, now, lease, limit,
                                        urgent_only=quiet)
            refusing = await store.opted_out(session, {
                c.member_id for c in claimed if c.member_id and c.kind in OPT_OUT_KINDS})
            opted = [c.id for c in claimed if c.member_id in refusing and c.kind in OPT_OUT_KINDS]
            expired = [c.id for c in claimed if c.valid_until <= now and c.id not in opted]
            sendable = [c for c in claimed if c.id not in opted and c.id not in expired]
            for policy in self.policies:  # may hand some back to the queue for later
                sendable = await policy.admit(session, sendable, now)
            plans, done, bad, counts = self._plan(sendable, now)
            await store.close_unsent(session, opted, SmsState.OPTED_OUT, "opted_out", now)
            await store.close_unsent(session, expired, SmsState.EXPIRED, "validity", now)
            await store.close_unsent(session, bad, SmsState.FAILED, "unencodable", now)
            await store.set_segments(session, counts)
            await store.settle(session, done, now)
            await uow.commit()
        for state, ids in ((SmsState.OPTED_OUT, opted), (SmsState.EXPIRED, expired),
                           (SmsState.FAILED, bad)):
            if ids:
                self.metrics.transitions.inc(len(ids), state=state.value)
        return plans

    def _plan(self, claimed: list[store.Claimed], now: datetime
              ) -> tuple[list[tuple[_Sending, list[tuple[int, SubmitSm]]]], list[store.Settled],
                         list[int], dict[int, int]]:
        """Segments to send per claim; claims whose every segment the SMSC already has (a
        crash after the last submit_sm_resp was written) settle at once."""
        plans, done, bad, counts = [], [], [], {}
        for message in claimed:
            validity = relative_validity((message.valid_until - now).total_seconds())
            try:
                templates = self.link.text_parts(message.msisdn, message.text,
                                                 reference=message.id, source=message.source,
                                                 validity=validity)
            except SmppError:
                bad.append(message.id)
                continue
            if len(templates) != message.segments:
                counts[message.id] = message.segments = len(templates)
            missing = [(seq, t) for seq, t in enumerate(templates, 1)
                       if seq not in message.accepted]
            if missing:
                plans.append((_Sending(message, len(missing)), missing))
            else:
                done.append(store.Settled(message, SmsState.SUBMITTED))
        return plans, done, bad, counts

    # --- sending --------------------------------------------------------------------------

    def _send(self, sending: _Sending, parts: list[tuple[int, SubmitSm]]) -> None:
        now = asyncio.get_running_loop().time()
        for seq, template in parts:
            # Counted first: the answer may come inside submit_part (a part the codec refuses).
            self._in_flight += 1
            try:
                self.link.submit_part(
                    template, functools.partial(self._answered, sending, seq, now))
            except SmppError as exc:  # the ESME is stopping: the claim goes back
                self._in_flight -= 1
                self._settle_part(sending, exc)
        self.metrics.in_flight = self._in_flight

    def _answered(self, sending: _Sending, seq: int, sent_at: float, message_id: str | None,
                  error: Exception | None) -> None:
        """A part's outcome, from the ESME's read that brought its submit_sm_resp."""
        self._in_flight -= 1
        self.metrics.in_flight = self._in_flight
        if self._in_flight <= self.settings.max_in_flight // 2:
            self._room.set()
        if message_id is not None:
            self.metrics.submit_seconds.observe(asyncio.get_running_loop().time() - sent_at)
            self.writer.accepted(store.Accepted(sending.message.id, seq, message_id))
        self._settle_part(sending, error)

    def _settle_part(self, sending: _Sending, error: BaseException | None) -> None:
        if isinstance(error, SubmitRejected):
            status = CommandStatus.describe(error.raw_status)
            if error.raw_status in TEMPORARY_STATUSES:
                sending.temporary = status
            else:
                sending.permanent = status
        elif error is not None:  # timeout, link lost, ESME stopped: not the SMSC's verdict
            sending.temporary = type(error).__name__
        sending.pending -= 1
        if sending.pending == 0:
            self.writer.settled(self._settlement(sending))

    def _settlement(self, sending: _Sending) -> store.Settled:
        message = sending.message
        if sending.permanent is not None:
            return store.Settled(message, SmsState.FAILED, sending.permanent)
        if sending.temporary is None:
            return store.Settled(message, SmsState.SUBMITTED)
        if message.attempts + 1 >= self.settings.max_attempts:
            return store.Settled(message, SmsState.FAILED, sending.temporary)
        delay = min(self.settings.retry_max_s,
                    self.settings.retry_initial_s * 2 ** message.attempts)
        retry_at = self.deps.clock() + timedelta(seconds=delay * (0.5 + random.random() / 2))
        return store.Settled(message, SmsState.QUEUED, sending.temporary, retry_at)

    # --- time -----------------------------------------------------------------------------

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        renew_every = self.settings.lease_s / 3
        next_sweep = next_count = loop.time()
        while True:
            await asyncio.sleep(min(renew_every, SWEEP_EVERY_S))
            now_loop = loop.time()
            try:
                await self._renew()
                if now_loop >= next_sweep:
                    next_sweep = now_loop + SWEEP_EVERY_S
                    await self._sweep()
                if now_loop >= next_count:
                    next_count = now_loop + COUNT_EVERY_S
                    await self.count()
            except GatewayError as exc:
                log.warning("outbox: housekeeping failed (%s)", exc.detail)

    async def _renew(self) -> None:
        async with self.deps.uow() as uow:
            lease = uow.clock() + timedelta(seconds=self.settings.lease_s)
            await store.renew(uow.session, self.worker, lease)
            await uow.commit()

    async def _sweep(self) -> None:
        adopted = await self.writer.adopt_kept()
        if adopted:
            log.info("outbox: %d kept receipts matched their parts late", adopted)
        async with self.deps.uow() as uow:
            now = uow.clock()
            expired = await store.sweep_expired(uow.session, now, now - RECEIPT_GRACE)
            await uow.commit()
        if expired:
            self.metrics.transitions.inc(expired, state=SmsState.EXPIRED.value)
            log.info("outbox: %d messages expired (validity)", expired)

    async def count(self) -> dict[str, int]:
        """Rows per state, also kept for ``/metrics``."""
        async with self.deps.uow(readonly=True) as uow:
            counts = await store.state_counts(uow.session)
        self.metrics.messages.values = {state.value: float(counts.get(state.value, 0))
                                        for state in SmsState}
        return counts
