"""The ESME's sending side: queue, window, token bucket, throttle pauses, timeouts, resends,
and the futures that report part ids and delivery outcomes. Used by ``smpp.client``.

Parts leave in queue order. A part that must be sent again (throttled, timed out, in flight
when the link dropped, answered with an unreadable response) goes back to its place by its
original order, ahead of parts never sent, so the segments of a message keep their order.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from smpp.errors import (
    InvalidField,
    MessageQueueFull,
    ResponseTimeout,
    SubmitRejected,
    Throttled,
)
from smpp.esmeconf import EsmeConfig, EsmeMetrics, SubmitResult
from smpp.link import Link
from smpp.pdus import CommandId, Pdu, SubmitSm, SubmitSmResp
from smpp.receipts import MessageOutcome, Receipt, ReceiptTracker
from smpp.session import Session
from smpp.status import CommandStatus
from smpp.throttle import Backoff, TokenBucket

log = logging.getLogger(__name__)

S = CommandStatus
_THROTTLING: Final = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
_REFUSALS: Final[dict[int, type[SubmitRejected]]] = {
    S.ESME_RTHROTTLED: Throttled,
    S.ESME_RMSGQFUL: MessageQueueFull,
}


class DeliveryWatch:
    """Delivery futures over a :class:`ReceiptTracker`, for messages submitted with
    ``want_delivery``. ``inflight`` counts their parts awaiting a submit_sm_resp: only then
    can an unknown receipt be an early one worth keeping as an orphan."""

    def __init__(self, tracker: ReceiptTracker) -> None:
        self.tracker = tracker
        self.inflight = 0
        self._futures: dict[int, asyncio.Future[MessageOutcome]] = {}

    def track(self, key: int, total: int, now: float) -> asyncio.Future[MessageOutcome]:
        future: asyncio.Future[MessageOutcome] = asyncio.get_running_loop().create_future()
        self._futures[key] = future
        self.tracker.track(key, total, now)
        return future

    def forget(self, key: int) -> None:
        self.tracker.forget(key)
        future = self._futures.pop(key, None)
        if future is not None and not future.done():
            future.cancel()

    def part_accepted(self, key: int, index: int, message_id: str, now: float) -> None:
        self._resolve(self.tracker.part_accepted(key, index, message_id, now))

    def receipt(self, receipt: Receipt, now: float) -> bool | None:
        """True/False: matched or kept as orphan; None: nobody waits, not correlated."""
        tracker = self.tracker
        if not len(tracker) or not (tracker.knows(receipt.message_id) or self.inflight):
            return None
        matched, outcome = tracker.receipt(receipt, now)
        self._resolve(outcome)
        return matched

    def expire(self, now: float) -> None:
        outcomes, _ = self.tracker.expire(now)
        for outcome in outcomes:  # receipts that never came: the outcome says which
            self._resolve(outcome)

    def cancel_all(self) -> None:
        for key in list(self._futures):
            self.forget(key)

    def _resolve(self, outcome: MessageOutcome | None) -> None:
        if outcome is not None:
            future = self._futures.pop(outcome.key, None)  # type: ignore[call-overload]
            if future is not None and not future.done():
                future.set_result(outcome)


# The outcome of a part sent on its own (``Outbound.add_one``): (message_id, None) once the
# SMSC accepted it, (None, error) if it failed.
PartCallback = Callable[[str | None, Exception | None], None]


class _Message:
    __slots__ = ("accepted", "callback", "delivery", "failed", "ids", "key", "pending",
                 "raw_ids")

    def __init__(self, key: int, total: int, accepted: asyncio.Future[SubmitResult] | None,
                 callback: PartCallback | None = None) -> None:
        self.key = key
        self.ids = [""] * total
        self.raw_ids = [""] * total
        self.pending = total
        self.accepted = accepted  # or, for a part sent on its own, the callback
        self.callback = callback
        self.delivery: asyncio.Future[MessageOutcome] | None = None
        self.failed = False


class _Part:
    __slots__ = ("attempts", "index", "message", "order", "sent_at", "template")

    def __init__(self, message: _Message, index: int, order: int, template: SubmitSm) -> None:
        self.message = message
        self.index = index
        self.order = order
        self.template = template
        self.attempts = 0
        self.sent_at = 0.0


class Outbound:
    def __init__(
        self,
        config: EsmeConfig,
        metrics: EsmeMetrics,
        watch: DeliveryWatch,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.watch = watch
        self._clock = clock
        self.queue: deque[_Part] = deque()
        self.inflight: dict[int, _Part] = {}
        self._keys = itertools.count(1)
        self._orders = itertools.count(1)
        self._bucket = TokenBucket(config.throughput, now=clock())
        self._throttle = Backoff(config.throttle_initial, config.throttle_max)
        self._paused_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._link: Link | None = None
        self._session: Session | None = None

    @property
    def idle(self) -> bool:
        return not self.queue and not self.inflight

    def add(
        self, templates: Sequence[SubmitSm], want_delivery: bool
    ) -> asyncio.Future[SubmitResult]:
        loop = asyncio.get_running_loop()
        message = _Message(next(self._keys), len(templates), loop.create_future())
        if want_delivery:
            message.delivery = self.watch.track(message.key, len(templates), self._clock())
        queue, orders = self.queue, self._orders
        for index, template in enumerate(templates, 1):
            queue.append(_Part(message, index, next(orders), template))
        self.pump()
        assert message.accepted is not None
        return message.accepted

    def add_one(self, template: SubmitSm, callback: PartCallback) -> None:
        """Queue one part as a message of its own, its outcome to ``callback`` (called in the
        read that brings its response: no future, no task; it must be quick)."""
        message = _Message(next(self._keys), 1, None, callback)
        self.queue.append(_Part(message, 1, next(self._orders), template))
        session = self._session
        if session is not None and session.in_window < session.window:
            self.pump()  # else the next response makes room and pumps

    # --- the link ---------------------------------------------------------------------------

    def attach(self, link: Link, session: Session) -> None:
        self._link, self._session = link, session
        self.pump()

    def detach(self) -> None:
        """The link is gone: parts in flight go back to the queue for the next bind."""
        self._link = self._session = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        parts = [self._settle(sequence) for sequence in list(self.inflight)]
        self._requeue([p for p in parts if p is not None and not p.message.failed])

    def pump(self) -> None:
        link, session = self._link, self._session
        if link is None or session is None or link.write_paused or link.closed:
            return
        if not session.can_send(CommandId.SUBMIT_SM):
            return  # unbinding, or unbound by the SMSC: the parts wait for the next bind
        now = self._clock()
        if now < self._paused_until:
            self._later(self._paused_until - now)
            return
        queue, inflight, bucket, watch = self.queue, self.inflight, self._bucket, self.watch
        sent = 0
        while queue and session.in_window < session.window:
            part = queue[0]
            if part.message.failed:
                queue.popleft()
                continue
            wait = bucket.take(now)
            if wait:
                self._later(wait)
                break
            queue.popleft()
            sequence = session.next_sequence()
            try:
                link.write(session.send(part.template, sequence=sequence))
            except InvalidField as exc:  # a value the codec refuses: this message cannot go
                self._fail(part.message, exc)
                continue
            part.attempts += 1
            part.sent_at = now
            inflight[sequence] = part
            if part.message.delivery is not None:
                watch.inflight += 1
            sent += 1
        self.metrics.submitted += sent
        self.metrics.window_in_use = session.in_window

    def _later(self, delay: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self.pump()

    def _settle(self, sequence: int) -> _Part | None:
        part = self.inflight.pop(sequence, None)
        if part is not None and part.message.delivery is not None:
            self.watch.inflight -= 1
        return part

    def _requeue(self, parts: list[_Part]) -> None:
        queue = self.queue
        position = 0
        for part in sorted(parts, key=lambda p: p.order):
            while position < len(queue) and queue[position].order < part.order:
                position += 1
            queue.insert(position, part)
            position += 1
        self.metrics.resubmitted += len(parts)

    # --- responses --------------------------------------------------------------------------

    def on_response(self, pdu: Pdu) -> bool:
        """Settle the part ``pdu`` answers; False when it answers none of ours."""
        part = self._settle(pdu.sequence)
        if part is None:
            return False
        status = pdu.command_status
        if status == S.ESME_ROK and isinstance(pdu, SubmitSmResp):
            self._accepted(part, pdu.message_id)
            if self._throttle.failures:
                self._throttle.reset()
        elif status in _THROTTLING:
            self.metrics.throttled += 1
            self._requeue([part])
            delay = self._throttle.next()
            self._paused_until = max(self._paused_until, self._clock() + delay)
            log.info("SMSC throttles (%s): pausing the bind %.2fs", S.describe(status), delay)
        else:
            self.metrics.rejected[S.describe(status)] += 1
            error = _REFUSALS.get(status, SubmitRejected)
            self._fail(
                part.message, error(f"SMSC refused part {part.index}: {S.describe(status)}", status)
            )
        return True

    def on_unreadable_response(self, sequence: int) -> None:
        part = self._settle(sequence)
        if part is not None:
            self._requeue([part])

    def _accepted(self, part: _Part, raw_id: str) -> None:
        self.metrics.accepted += 1
        message = part.message
        if message.failed:
            return
        message_id = self.config.id_policy.from_response(raw_id)
        message.ids[part.index - 1] = message_id
        message.raw_ids[part.index - 1] = raw_id
        message.pending -= 1
        if message.delivery is not None:
            self.watch.part_accepted(message.key, part.index, message_id, self._clock())
        if message.pending:
            return
        if message.callback is not None:
            _tell(message, message_id, None)
        elif message.accepted is not None and not message.accepted.done():
            result = SubmitResult(tuple(message.ids), tuple(message.raw_ids), message.delivery)
            message.accepted.set_result(result)

    def _fail(self, message: _Message, error: Exception) -> None:
        message.failed = True
        if message.callback is not None:
            _tell(message, None, error)
        elif message.accepted is not None and not message.accepted.done():
            message.accepted.set_exception(error)
        if message.delivery is not None:
            self.watch.forget(message.key)

    def check_timeouts(self, now: float) -> int:
        """Resend (or fail, after ``max_attempts``) parts unanswered for response_timeout."""
        deadline = now - self.config.response_timeout
        expired = []
        for sequence, part in self.inflight.items():  # insertion order is send order
            if part.sent_at > deadline:
                break
            expired.append(sequence)
        retry = []
        for sequence in expired:
            settled = self._settle(sequence)
            if self._session is not None:
                self._session.abandon(sequence)
            assert settled is not None
            part = settled
            self.metrics.timeouts += 1
            if part.attempts >= self.config.max_attempts:
                self._fail(
                    part.message, ResponseTimeout(f"no response after {part.attempts} attempts")
                )
            elif not part.message.failed:
                retry.append(part)
        if retry:
            self._requeue(retry)
        if expired:
            self.pump()
        return len(expired)

    def fail_all(self, error: Exception) -> None:
        parts = [*self.queue, *self.inflight.values()]
        self.queue.clear()
        self.inflight.clear()
        self.watch.inflight = 0
        for part in parts:
            if not part.message.failed:
                self._fail(part.message, error)
        self.watch.cancel_all()


def _tell(message: _Message, message_id: str | None, error: Exception | None) -> None:
    """Hand a part's outcome to its callback, once; a failing callback is logged, not let
    into the read that is handling the SMSC's PDUs."""
    callback, message.callback = message.callback, None
    assert callback is not None
    try:
        callback(message_id, error)
    except Exception:
        log.exception("a submit callback failed")
