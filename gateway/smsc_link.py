"""The gateway's link to its SMSC: one ``smpp.client.Esme`` bound as a transceiver.

- ``submit_text`` / ``submit_binary`` are thin wrappers over the ESME (window, rate limit,
  throttling, reconnects are the ESME's); the outbox uses ``text_parts`` and ``submit_part``
  to send a message segment by segment and record each segment's message_id as soon as its
  submit_sm_resp arrives.
- Inbound deliver_sm go to handlers tried in order (``add_receipt_handler``,
  ``add_mo_handler``); the first that returns True consumed it and must have persisted it,
  because deliver_sm_resp goes out when the handler returns (a handler that raises gets the
  SMSC to retry). What no handler takes is stored in ``inbound_messages``: nothing the SMSC
  handed over is dropped.
- The link exists in every app (``app[gateway.keys.SMSC_LINK]``); it is *enabled* once started
  with settings (``[smsc]``, or the embedded simulator's address). Stop hooks let workers
  stop feeding it before the ESME drains (``before_stop``) and write what it answered after
  (``after_stop``).

Message text never reaches a log here; receipts and MO are logged by their addresses only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select

from gateway.db.models_outbox import InboundKind, InboundMessage
from gateway.db.uow import UnitOfWork
from gateway.metrics import Metrics, _Metric
from gateway.services.base import Deps
from gateway.settings import SmscSettings
from smpp.client import Esme, EsmeConfig, EsmeMetrics, SubmitResult
from smpp.errors import BindFailed, NotBound
from smpp.mo import MoMessage
from smpp.outbound import PartCallback
from smpp.pdus import EsmClass, SubmitSm
from smpp.receipts import IdFormat, IdPolicy, Receipt
from smpp.text import split_text

__all__ = ["MoHandler", "ReceiptHandler", "SmscLink", "esme_config", "relative_validity"]

log = logging.getLogger(__name__)

MoHandler = Callable[[MoMessage], Awaitable[bool]]
ReceiptHandler = Callable[[Receipt], Awaitable[bool]]
StopHook = Callable[[], Awaitable[None]]
REGISTERED_DELIVERY = 0x01  # SMPP v3.4 5.2.17: a receipt for the final outcome


def esme_config(settings: SmscSettings) -> EsmeConfig:
    ids = IdFormat(settings.message_ids)
    receipts = IdFormat(settings.receipt_ids) if settings.receipt_ids else None
    address_range = settings.address_range
    if address_range is None:
        address_range = f"^{re.escape(settings.source_addr)}" if settings.source_addr else ""
    return EsmeConfig(
        host=settings.host, port=settings.port, system_id=settings.system_id,
        address_range=address_range,
        password=settings.password, system_type=settings.system_type,
        source_addr=settings.source_addr, window=settings.window,
        throughput=settings.throughput, ref16=settings.ref16,
        enquire_link_interval=settings.enquire_link_s,
        response_timeout=settings.response_timeout_s,
        callback_workers=settings.callback_workers,
        id_policy=IdPolicy(ids, receipt_tlv=receipts, receipt_text=receipts),
    )


def relative_validity(seconds: float) -> str:
    """An SMPP relative validity_period "YYMMDDhhmmss000R" (SMPP v3.4 7.1.2), days capped at
    99 (two digits); at least one minute, since an SMSC may round a shorter one to zero."""
    total = max(60, min(int(seconds), 99 * 86400 + 86399))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


class SmscLink:
    def __init__(self, deps: Deps, settings: SmscSettings | None,
                 metrics: Metrics | None = None) -> None:
        self.deps = deps
        self.settings = settings
        self.esme: Esme | None = None
        self._receipt_handlers: list[ReceiptHandler] = []
        self._mo_handlers: list[MoHandler] = []
        self._before_stop: list[StopHook] = []
        self._after_stop: list[StopHook] = []
        self._starter: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._stopped = False
        if metrics is not None:
            metrics.add(_EsmeMetrics(self))

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Started with an SMSC to bind to (it may be reconnecting right now)."""
        return self.esme is not None

    @property
    def bound(self) -> bool:
        return self.esme is not None and self.esme.bound

    @property
    def config(self) -> EsmeConfig:
        if self.esme is None:
            raise NotBound("no SMSC is configured ([smsc] host)")
        return self.esme.config

    @property
    def metrics(self) -> EsmeMetrics:
        return self.esme.metrics if self.esme is not None else EsmeMetrics()

    async def start(self, settings: SmscSettings | None = None) -> None:
        """Bind in the background (``wait_bound`` to wait); ``settings`` replaces the configured
        ones (the embedded simulator's address is known only once it listens)."""
        if settings is not None:
            self.settings = settings
        if self.settings is None or self.esme is not None or self._stopped:
            return
        self.esme = Esme(esme_config(self.settings), on_receipt=self._on_receipt,
                         on_mo=self._on_mo)
        self._starter = asyncio.ensure_future(self._bind(self.esme))
        self._started.set()
        log.info("SMSC link: binding to %s:%d as %r", self.settings.host, self.settings.port,
                 self.settings.system_id)

    async def _bind(self, esme: Esme) -> None:
        try:
            await esme.start()
        except BindFailed as exc:  # a wrong password will not heal by retrying
            log.error("SMSC link: bind refused for good (%s); SMS stay queued", exc)

    async def wait_bound(self, timeout: float | None = None) -> None:
        async def bound() -> None:
            await self._started.wait()
            assert self.esme is not None
            await self.esme.wait_bound()

        await asyncio.wait_for(bound(), timeout)

    def add_stop_hooks(self, before: StopHook | None = None,
                       after: StopHook | None = None) -> None:
        if before is not None:
            self._before_stop.append(before)
        if after is not None:
            self._after_stop.append(after)

    async def stop(self) -> None:
        """Before-hooks (stop feeding), drain and unbind the ESME, then after-hooks."""
        if self._stopped:
            return
        self._stopped = True
        for hook in self._before_stop:
            await _quietly(hook)
        if self.esme is not None:
            await self.esme.stop()
        starter = self._starter
        while starter is not None and not starter.done():  # a cancellation can be lost (3.11)
            starter.cancel()
            await asyncio.wait({starter}, timeout=0.5)
        for hook in self._after_stop:
            await _quietly(hook)

    # --- handlers -------------------------------------------------------------------------

    def add_receipt_handler(self, handler: ReceiptHandler) -> None:
        self._receipt_handlers.append(handler)

    def add_mo_handler(self, handler: MoHandler) -> None:
        self._mo_handlers.append(handler)

    async def _on_receipt(self, receipt: Receipt) -> None:
        for handler in self._receipt_handlers:
            if await handler(receipt):
                return
        log.info("receipt for unknown message %s from %s kept in inbound_messages",
                 receipt.message_id, receipt.source)
        await self._keep(InboundMessage(
            kind=InboundKind.RECEIPT, source=receipt.source, destination=receipt.destination,
            protocol_id=0, data_coding=0, esm_class=int(EsmClass.DELIVERY_RECEIPT), udh=None,
            payload=b"", smsc_id=receipt.message_id, receipt_state=receipt.state.name,
            parts=1))

    async def _on_mo(self, message: MoMessage) -> None:
        for handler in self._mo_handlers:
            if await handler(message):
                return
        log.info("MO from %s to %s (%d parts) kept in inbound_messages", message.source,
                 message.destination, message.parts)
        await self._keep(InboundMessage(
            kind=InboundKind.MO, source=message.source, destination=message.destination,
            protocol_id=message.protocol_id, data_coding=message.data_coding,
            esm_class=message.esm_class,
            udh=message.udh.encode() if message.udh is not None else None,
            payload=message.payload, smsc_id=None, receipt_state=None, parts=message.parts))

    async def _keep(self, row: InboundMessage) -> None:
        async with self.deps.uow() as uow:
            if row.kind is InboundKind.RECEIPT and await _kept(uow, row):
                return  # the SMSC redelivers what it did not see answered: once is enough
            row.received_at = uow.clock()
            uow.session.add(row)
            await uow.commit()

    # --- sending --------------------------------------------------------------------------

    def _esme(self) -> Esme:
        if self.esme is None:
            raise NotBound("no SMSC is configured ([smsc] host)")
        return self.esme

    async def submit_text(self, destination: str, text: str, *, source: str | None = None,
                          want_receipt: bool = True) -> SubmitResult:
        """Send a text (GSM 7-bit or UCS2, concatenated when long); returns once the SMSC
        accepted every part. With ``want_receipt``, ``result.delivery`` resolves with the
        outcome once every part has a final receipt (after the handlers saw them)."""
        return await self._esme().submit_nowait(
            destination, text, source=source, want_delivery=want_receipt,
            registered_delivery=REGISTERED_DELIVERY if want_receipt else 0)

    async def submit_binary(self, destination: str, tp_uds: Sequence[bytes], *, pid: int = 0x7F,
                            dcs: int = 0xF6, source: str | None = None,
                            want_receipt: bool = False) -> SubmitResult:
        """Binary SMS, e.g. SMS-PP data download (3GPP TS 31.115): each TP-UD starts with its
        UDH; PID 7F and DCS F6 by default (see ``Esme.submit_binary``)."""
        return await self._esme().submit_binary(
            destination, tp_uds, pid=pid, dcs=dcs, source=source, want_delivery=want_receipt,
            registered_delivery=REGISTERED_DELIVERY if want_receipt else 0)

    def text_parts(self, destination: str, text: str, *, reference: int,
                   source: str | None = None, validity: str = "") -> list[SubmitSm]:
        """The submit_sm of each segment of ``text``, asking a receipt for each; the same
        text and reference give the same segments, so a part can be sent again alone."""
        config = self.config
        limit = 0x10000 if config.ref16 else 0x100
        segments = split_text(text, reference=reference % limit, ref16=config.ref16)
        return [
            SubmitSm(
                source_addr_ton=config.source_addr_ton, source_addr_npi=config.source_addr_npi,
                source_addr=config.source_addr if source is None else source,
                dest_addr_ton=config.dest_addr_ton, dest_addr_npi=config.dest_addr_npi,
                destination_addr=destination,
                esm_class=EsmClass.UDHI if segment.esm_udhi else 0,
                data_coding=int(segment.coding), registered_delivery=REGISTERED_DELIVERY,
                validity_period=validity, short_message=segment.short_message,
            )
            for segment in segments
        ]

    def submit_part(self, template: SubmitSm, callback: PartCallback) -> None:
        """Queue one prepared submit_sm as a message of its own: ``callback(message_id, None)``
        as soon as its submit_sm_resp arrives, ``callback(None, error)`` if it fails for good
        (``smpp.client.Esme.submit_part``: no future per part)."""
        self._esme().submit_part(template, callback)


async def _kept(uow: UnitOfWork, row: InboundMessage) -> bool:
    stmt = select(InboundMessage.id).where(
        InboundMessage.kind == InboundKind.RECEIPT, InboundMessage.smsc_id == row.smsc_id,
        InboundMessage.receipt_state == row.receipt_state, InboundMessage.source == row.source)
    return (await uow.session.scalars(stmt.limit(1))).first() is not None


async def _quietly(hook: StopHook) -> None:
    try:
        await hook()
    except Exception:
        log.exception("SMSC link: stop hook %r failed", hook)


class _EsmeMetrics(_Metric):
    """The ESME's counters (``smpp.esmeconf.EsmeMetrics``) at scrape time."""

    kind = "gauge"

    def __init__(self, link: SmscLink) -> None:
        super().__init__("onecard_smpp", "SMPP link to the SMSC: bind state and ESME counters")
        self.link = link

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name}_bound {self.help}",
                 f"# TYPE {self.name}_bound gauge",
                 f"{self.name}_bound {int(self.link.bound)}"]
        for name, value in self.link.metrics.snapshot().items():
            lines.append(f"# TYPE {self.name}_{name} gauge")
            if isinstance(value, dict):
                lines += [f'{self.name}_{name}{{status="{k}"}} {v}' for k, v in value.items()]
            else:
                lines.append(f"{self.name}_{name} {value}")
        return lines
