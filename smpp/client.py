"""The gateway's ESME: one bind to an SMSC, on the running asyncio loop.

What a message goes through:

- ``submit``/``submit_nowait``/``submit_binary`` segment it (``smpp.text``) into submit_sm
  templates and queue them (``smpp.outbound``). The call resolves with the SMSC's message_id
  of every part and, when asked, a future that resolves once every part has a final receipt.
- Parts leave while the bind is up, the window has room, the token bucket (segments per
  second) allows and no throttle pause runs. ESME_RTHROTTLED / ESME_RMSGQFUL put the part back
  in its place and pause the bind with exponential backoff. A part unanswered for
  ``response_timeout`` is sent again (up to ``max_attempts``); parts in flight when the link
  drops are sent again after the reconnect. Both are at-least-once: the SMSC may have
  accepted the first copy, which is the price of never losing a message.
- A supervisor task reconnects with exponential backoff and jitter, with an extra wait after
  ESME_RALYBND (the SMSC still holds our previous bind). A ticker task sends enquire_link on an
  idle link, drops a link whose enquire_link goes unanswered, and runs the timeouts.
- deliver_sm from the SMSC (receipts, MO) is handled by ``smpp.inbound``: callbacks first,
  deliver_sm_resp after.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from smpp.errors import BindFailed, ConnectionLost, InvalidField, NotBound, SmppError
from smpp.esmeconf import EsmeConfig, EsmeMetrics, SubmitResult
from smpp.inbound import Inbound, MoHandler, ReceiptHandler
from smpp.link import Link
from smpp.outbound import DeliveryWatch, Outbound, PartCallback
from smpp.pdus import (
    BIND_CLASSES,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    EsmClass,
    Pdu,
    SubmitSm,
    Unbind,
    UnbindResp,
)
from smpp.receipts import ReceiptTracker
from smpp.session import (
    BadPdu,
    ConnectionBroken,
    Event,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    State,
    UnmatchedResponse,
)
from smpp.status import CommandStatus
from smpp.text import Coding, choose_coding, split_text
from smpp.throttle import Backoff

__all__ = ["Esme", "EsmeConfig", "EsmeMetrics", "SubmitResult"]

log = logging.getLogger(__name__)

S = CommandStatus
# Bind refusals that another attempt will not cure: start() reports them instead of retrying.
_PERMANENT_BIND: Final = frozenset({S.ESME_RINVPASWD, S.ESME_RINVSYSID, S.ESME_RINVSYSTYP})


class Esme:
    """An ESME bound to one SMSC: ``await start()``, submit, ``await stop()``."""

    def __init__(
        self,
        config: EsmeConfig,
        *,
        on_receipt: ReceiptHandler | None = None,
        on_mo: MoHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.metrics = EsmeMetrics()
        self._clock = clock
        tracker = ReceiptTracker(orphan_ttl=config.orphan_ttl, message_ttl=config.receipt_ttl)
        watch = DeliveryWatch(tracker)
        self._out = Outbound(config, self.metrics, watch, clock)
        self._in = Inbound(config, self.metrics, watch, clock, on_receipt, on_mo)
        self._references = itertools.count(0)
        self._control: dict[int, asyncio.Future[Pdu]] = {}
        self._link: Link | None = None
        self._session: Session | None = None
        self._closed: asyncio.Future[None] | None = None
        self._bound = asyncio.Event()
        self._started: asyncio.Future[None] | None = None
        self._stopping = False
        self._lifecycle: list[asyncio.Task[None]] = []
        self._last_rx = 0.0
        self._enquire: tuple[int, float] | None = None  # (sequence, sent at)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    async def wait_bound(self) -> None:
        await self._bound.wait()

    async def start(self, *, timeout: float | None = None) -> None:
        """Connect and bind; returns once bound. Raises :class:`BindFailed` for a refusal no
        retry can cure (bad password, unknown system_id); other failures are retried in the
        background until ``timeout`` (None: forever)."""
        if self._started is not None:
            raise RuntimeError("an Esme starts once")
        self._started = asyncio.get_running_loop().create_future()
        self._lifecycle = [
            asyncio.ensure_future(coroutine)
            for coroutine in (
                self._supervise(),
                self._tick(),
                *self._in.workers(self.config.callback_workers),
            )
        ]
        try:
            await asyncio.wait_for(asyncio.shield(self._started), timeout)
        except BaseException:
            await self.stop(timeout=0)
            raise

    async def stop(self, *, timeout: float = 5.0) -> None:
        """Graceful: take no more submits, let queue and callbacks drain (up to ``timeout``),
        unbind, close. Parts still queued fail with :class:`NotBound`."""
        self._stopping = True
        deadline = self._clock() + timeout
        while not self._out.idle and self.bound and self._clock() < deadline:
            await asyncio.sleep(0.01)
        while not self._in.idle and self._clock() < deadline:
            await asyncio.sleep(0.01)
        await self._unbind()
        for task in self._lifecycle:
            task.cancel()
        for task in self._lifecycle:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._out.fail_all(NotBound("the ESME was stopped"))
        if self._started is not None and not self._started.done():
            self._started.cancel()

    async def _supervise(self) -> None:
        config = self.config
        backoff = Backoff(config.reconnect_initial, config.reconnect_max)
        while not self._stopping:
            extra = 0.0
            try:
                await self._connect_and_bind()
            except BindFailed as exc:
                log.warning("bind to %s:%d refused: %s", config.host, config.port, exc)
                if exc.command_status in _PERMANENT_BIND and self._report_start(exc):
                    return
                if exc.command_status == S.ESME_RALYBND:
                    extra = config.already_bound_delay
            except InvalidField as exc:  # our bind cannot be encoded: a configuration error
                log.error("bind to %s:%d cannot be sent: %s", config.host, config.port, exc)
                if self._report_start(exc):
                    return
            except (OSError, TimeoutError, SmppError) as exc:
                log.warning("connecting to %s:%d failed: %r", config.host, config.port, exc)
            else:
                backoff.reset()
                self._report_start(None)
                assert self._closed is not None
                await self._closed
                if self._stopping:
                    return
                self.metrics.reconnects += 1
            await asyncio.sleep(backoff.next(extra))

    def _report_start(self, error: BaseException | None) -> bool:
        """Tell a waiting start() how the first attempt went; True if it was waiting."""
        started = self._started
        if started is None or started.done():
            return False
        if error is None:
            started.set_result(None)
        else:
            started.set_exception(error)
        return True

    async def _connect_and_bind(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        session = Session(Role.ESME, window=config.window)
        self._closed = loop.create_future()
        _, link = await asyncio.wait_for(
            loop.create_connection(lambda: Link(session, self), config.host, config.port),
            config.connect_timeout,
        )
        self._link, self._session = link, session
        # Before the bind goes out: deliver_sm may follow the bind_resp in the same read, and
        # their held responses belong to this link, not to the one that died.
        self._in.attach(link)
        bind_class, _ = BIND_CLASSES[config.bind_mode]
        bind = bind_class(
            sequence=session.next_sequence(),
            system_id=config.system_id,
            password=config.password,
            system_type=config.system_type,
            addr_ton=config.addr_ton,
            addr_npi=config.addr_npi,
            address_range=config.address_range,
        )
        try:
            response = await self._request(link, bind)
        except BaseException:
            link.abort()
            raise
        if response.command_status != S.ESME_ROK or session.state is not State.BOUND:
            link.close()
            raise BindFailed(
                f"SMSC answered {S.describe(response.command_status)}", response.command_status
            )
        log.info("bound to %s as %s (%s)", link.peer, config.system_id, config.bind_mode.value)
        self.metrics.binds += 1
        self._enquire = None
        self._bound.set()
        self._out.attach(link, session)

    async def _request(self, link: Link, pdu: Pdu, timeout: float | None = None) -> Pdu:
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._control[pdu.sequence] = future
        try:
            link.send(pdu)
            return await asyncio.wait_for(future, timeout or self.config.response_timeout)
        finally:
            self._control.pop(pdu.sequence, None)

    async def _unbind(self) -> None:
        link, session, closed = self._link, self._session, self._closed
        if link is None or session is None or link.closed:
            return
        self._bound.clear()
        if session.state is State.BOUND:
            with contextlib.suppress(SmppError, TimeoutError):
                await self._request(
                    link, Unbind(sequence=session.next_sequence()), self.config.unbind_timeout
                )
        link.close()
        if closed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closed), self.config.unbind_timeout)

    async def _tick(self) -> None:
        config = self.config
        interval = min(0.25, config.response_timeout / 4, config.enquire_link_interval / 4)
        while True:
            await asyncio.sleep(interval)
            now = self._clock()
            if self._out.check_timeouts(now) and self._enquire is None:
                self._probe(now)  # a silent SMSC: find out whether the link is alive
            self._in.tick(now)
            self._keepalive(now)

    def _keepalive(self, now: float) -> None:
        link = self._link
        if link is None or not self.bound:
            return
        if self._enquire is not None:
            if now - self._enquire[1] > self.config.response_timeout:
                log.warning("enquire_link to %s unanswered: dropping the link", link.peer)
                link.abort()
        elif now - self._last_rx >= self.config.enquire_link_interval:
            self._probe(now)

    def _probe(self, now: float) -> None:
        link, session = self._link, self._session
        if link is not None and session is not None and self.bound:
            sequence = session.next_sequence()
            link.send(EnquireLink(sequence=sequence))
            self._enquire = (sequence, now)

    # --- submitting -----------------------------------------------------------------------

    def submit_nowait(
        self,
        destination: str,
        text: str,
        *,
        source: str | None = None,
        coding: Coding | None = None,
        want_delivery: bool = False,
        registered_delivery: int = 1,
        validity_period: str = "",
    ) -> asyncio.Future[SubmitResult]:
        """Queue a text message; the future resolves with its part ids. The text is coded
        GSM 7-bit when it can be, else UCS2, and split with a concatenation UDH when long."""
        reference = next(self._references) % (0x10000 if self.config.ref16 else 0x100)
        # Choosing first is cheaper than letting split_text try GSM 7-bit and fail on CJK text.
        chosen = choose_coding(text) if coding is None else coding
        segments = split_text(text, reference=reference, ref16=self.config.ref16, coding=chosen)
        templates = [
            self._template(
                destination,
                segment.short_message,
                source,
                esm_class=int(EsmClass.UDHI) if segment.esm_udhi else 0,
                data_coding=int(segment.coding),
                registered_delivery=registered_delivery,
                validity_period=validity_period,
            )
            for segment in segments
        ]
        return self.submit_parts(templates, want_delivery=want_delivery)

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str | None = None,
        coding: Coding | None = None,
        want_delivery: bool = False,
    ) -> SubmitResult:
        """Send a text message; returns once the SMSC accepted every part."""
        return await self.submit_nowait(
            destination, text, source=source, coding=coding, want_delivery=want_delivery
        )

    async def submit_binary(
        self,
        destination: str,
        tp_ud_segments: Sequence[bytes],
        *,
        pid: int = 0x7F,
        dcs: int = 0xF6,
        source: str | None = None,
        want_delivery: bool = False,
        registered_delivery: int = 1,
    ) -> SubmitResult:
        """Binary SMS such as SMS-PP data download for OTA (3GPP TS 31.115 4.2): each segment
        is a whole TP-UD that starts with its UDH, so esm_class carries UDHI (0x40); PID 0x7F
        (SIM data download, TS 23.040 9.2.3.9) and DCS 0xF6 (8-bit data, class 2, TS 23.038)."""
        templates = [
            self._template(
                destination,
                bytes(segment),
                source,
                esm_class=int(EsmClass.UDHI),
                protocol_id=pid,
                data_coding=dcs,
                registered_delivery=registered_delivery,
            )
            for segment in tp_ud_segments
        ]
        return await self.submit_parts(templates, want_delivery=want_delivery)

    def submit_parts(
        self, templates: Sequence[SubmitSm], *, want_delivery: bool = False
    ) -> asyncio.Future[SubmitResult]:
        """Queue prepared submit_sm PDUs as the parts of one message (sequence ignored)."""
        if self._stopping or self._started is None:
            raise NotBound("the ESME is not started, or is stopping")
        if not self.config.bind_mode.can_submit:
            raise NotBound("a receiver bind cannot submit (SMPP v3.4 2.2)")
        if not templates:
            raise ValueError("a message has at least one part")
        return self._out.add(templates, want_delivery)

    def submit_part(self, template: SubmitSm, callback: PartCallback) -> None:
        """Queue one prepared submit_sm as a message of its own: ``callback(message_id,
        None)`` once the SMSC accepted it, ``callback(None, error)`` if it fails for good.
        For senders of thousands of parts a second (the gateway's outbox): no future and no
        task per part; the callback runs in the read that brings the response."""
        if self._stopping or self._started is None:
            raise NotBound("the ESME is not started, or is stopping")
        if not self.config.bind_mode.can_submit:
            raise NotBound("a receiver bind cannot submit (SMPP v3.4 2.2)")
        self._out.add_one(template, callback)

    def _template(
        self, destination: str, short_message: bytes, source: str | None, **fields: Any
    ) -> SubmitSm:
        config = self.config
        return SubmitSm(
            source_addr_ton=config.source_addr_ton,
            source_addr_npi=config.source_addr_npi,
            source_addr=config.source_addr if source is None else source,
            dest_addr_ton=config.dest_addr_ton,
            dest_addr_npi=config.dest_addr_npi,
            destination_addr=destination,
            short_message=short_message,
            **fields,
        )

    # --- link events (smpp.link.LinkHandler) ------------------------------------------------

    def link_made(self, link: Link) -> None:
        self._last_rx = self._clock()

    def link_writable(self, link: Link) -> None:
        self._out.pump()

    def link_lost(self, link: Link, exc: Exception | None) -> None:
        if link is not self._link:
            return
        self._link = None
        self._bound.clear()
        self._out.detach()
        for future in self._control.values():
            if not future.done():
                future.set_exception(ConnectionLost("connection lost"))
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        log.info("link to %s lost (%s)", link.peer, exc or "closed")

    def link_events(self, link: Link, events: list[Event]) -> None:
        self._last_rx = self._clock()
        out = self._out
        for event in events:
            if isinstance(event, ResponseReceived):
                if not out.on_response(event.pdu):
                    self._control_response(event.pdu)
            elif isinstance(event, RequestReceived):
                self._on_request(link, event.pdu)
            elif isinstance(event, UnmatchedResponse):
                self.metrics.late_responses += 1
            elif isinstance(event, BadPdu):
                self._on_bad_pdu(link, event)
            elif isinstance(event, ConnectionBroken):
                log.warning("SMSC %s broke the PDU stream: %s", link.peer, event.error)
                link.send(event.reply)
                link.close()
        out.pump()

    def _control_response(self, pdu: Pdu) -> None:
        if self._enquire is not None and pdu.sequence == self._enquire[0]:
            self._enquire = None
        future = self._control.pop(pdu.sequence, None)
        if future is not None and not future.done():
            future.set_result(pdu)

    def _on_request(self, link: Link, pdu: Pdu) -> None:
        if isinstance(pdu, DeliverSm):
            self._in.on_deliver(link, pdu)
        elif isinstance(pdu, EnquireLink):
            link.send(EnquireLinkResp(sequence=pdu.sequence))
        elif isinstance(pdu, Unbind):
            log.info("SMSC %s unbinds us; reconnecting", link.peer)
            self._bound.clear()
            link.send(UnbindResp(sequence=pdu.sequence))
            link.close()
        # alert_notification (4.12) needs no answer and tells us nothing we act on.

    def _on_bad_pdu(self, link: Link, event: BadPdu) -> None:
        log.warning("bad PDU from SMSC %s: %s", link.peer, event.error)
        if event.reply is not None:
            link.send(event.reply)
        sequence = getattr(event.error, "sequence", None) or 0
        if event.request is not None:  # an unreadable response settles its request
            self._out.on_unreadable_response(sequence)
            future = self._control.pop(sequence, None)
            if future is not None and not future.done():
                future.set_exception(event.error)
