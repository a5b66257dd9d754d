"""The ESME's receiving side: deliver_sm as delivery receipts or MO messages (``smpp.client``).

The application's callbacks persist what they get; deliver_sm_resp goes out only after the
callback returned, so a crash or a failing database leaves the message with the SMSC, which
retries it. A callback that raises is answered with ESME_RX_T_APPN ("temporary application
error", SMPP v3.4 5.1.3), which tells the SMSC to retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from smpp.errors import SmppError
from smpp.esmeconf import EsmeConfig, EsmeMetrics
from smpp.link import Link
from smpp.mo import MoAssembler, MoComplete, MoDuplicate, MoMessage
from smpp.outbound import DeliveryWatch
from smpp.pdus import DeliverSm, DeliverSmResp
from smpp.receipts import Receipt, receipt_from_pdu
from smpp.status import CommandStatus

log = logging.getLogger(__name__)

S = CommandStatus
ReceiptHandler = Callable[[Receipt], Awaitable[None]]
MoHandler = Callable[[MoMessage], Awaitable[None]]


class Inbound:
    """Decides what each deliver_sm is and runs the callbacks.

    Callbacks run in ``workers`` long-lived tasks fed from one queue rather than in a task per
    deliver_sm: a task per receipt costs more than parsing the receipt, and a bounded number
    of concurrent callbacks keeps a burst of receipts from opening a burst of database
    transactions. Items are taken in arrival order.
    """

    def __init__(
        self,
        config: EsmeConfig,
        metrics: EsmeMetrics,
        watch: DeliveryWatch,
        clock: Callable[[], float],
        on_receipt: ReceiptHandler | None,
        on_mo: MoHandler | None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.watch = watch
        self.on_receipt = on_receipt
        self.on_mo = on_mo
        self._clock = clock
        self._mo = MoAssembler(ttl=config.reassembly_ttl, hold=config.mo_hold)
        self._link: Link | None = None
        self._work: deque[tuple[Link, int, Receipt] | tuple[Link, MoComplete]] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()  # workers waiting for work
        self._busy = 0

    @property
    def idle(self) -> bool:
        return not self._work and not self._busy

    def workers(self, count: int) -> list[Coroutine[Any, Any, None]]:
        return [self._worker() for _ in range(count)]

    def attach(self, link: Link) -> None:
        """A new link: responses held for the old one are void (the SMSC redelivers)."""
        self._mo.release(float("inf"))
        self._link = link

    def on_deliver(self, link: Link, pdu: DeliverSm) -> None:
        try:
            if pdu.is_receipt:
                receipt = receipt_from_pdu(pdu, self.config.id_policy)
                if self.on_receipt is None:
                    self._receipt_done(receipt)
                    _reply(link, pdu.sequence, S.ESME_ROK)
                else:
                    self._queue((link, pdu.sequence, receipt))
                return
            step = self._mo.add(pdu, self._clock())
        except SmppError as exc:
            log.warning("deliver_sm %d refused: %s", pdu.sequence, exc)
            _reply(link, pdu.sequence, exc.command_status)
            return
        if isinstance(step, MoDuplicate):
            _reply(link, pdu.sequence, S.ESME_ROK)
        elif isinstance(step, MoComplete):
            self._queue((link, step))

    def _queue(self, item: tuple[Link, int, Receipt] | tuple[Link, MoComplete]) -> None:
        self._work.append(item)
        # Wake one idle worker, not all of them: an Event would wake every worker per item.
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def _worker(self) -> None:
        work, loop = self._work, asyncio.get_running_loop()
        while True:
            if not work:
                waiter: asyncio.Future[None] = loop.create_future()
                self._idle.append(waiter)
                await waiter
                continue
            item = work.popleft()
            self._busy += 1
            try:
                if len(item) == 3:
                    await self._receipt(*item)
                else:
                    await self._message(*item)
            finally:
                self._busy -= 1

    def tick(self, now: float) -> None:
        """Answer MO parts whose hold ran out; drop reassemblies past their TTL."""
        link = self._link
        for sequence in self._mo.release(now):
            if link is not None:
                _reply(link, sequence, S.ESME_ROK)
        dropped = self._mo.expire(now)
        if dropped:
            log.warning("%d concatenated MO messages expired incomplete", dropped)
        self.watch.expire(now)

    async def _receipt(self, link: Link, sequence: int, receipt: Receipt) -> None:
        assert self.on_receipt is not None
        try:
            await self.on_receipt(receipt)
        except Exception:
            self.metrics.callback_failures += 1
            log.exception("receipt callback failed; answering ESME_RX_T_APPN so the SMSC retries")
            _reply(link, sequence, S.ESME_RX_T_APPN)
            return
        self._receipt_done(receipt)
        _reply(link, sequence, S.ESME_ROK)

    def _receipt_done(self, receipt: Receipt) -> None:
        self.metrics.receipts[receipt.state.name] += 1
        if self.watch.receipt(receipt, self._clock()) is False:
            self.metrics.orphan_receipts += 1

    async def _message(self, link: Link, step: MoComplete) -> None:
        status = S.ESME_ROK
        if self.on_mo is None:
            log.warning("MO received but no MO handler: refused, the SMSC keeps it")
            status = S.ESME_RX_T_APPN
        else:
            try:
                await self.on_mo(step.message)
            except Exception:
                self.metrics.callback_failures += 1
                log.exception("MO callback failed; answering ESME_RX_T_APPN so the SMSC retries")
                status = S.ESME_RX_T_APPN
        if status == S.ESME_ROK:
            self.metrics.mo_messages += 1
        for sequence in self._mo.settle(step, status == S.ESME_ROK):
            _reply(link, sequence, status)


def _reply(link: Link, sequence: int, status: int) -> None:
    if not link.closed:  # else the SMSC redelivers after the next bind
        link.send(DeliverSmResp(sequence=sequence, command_status=status))
