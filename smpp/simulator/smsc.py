"""The SMSC simulator: a real SMPP 3.4 server on TCP that stands in for the carrier's SMSC.

- Binds are authenticated against the configured accounts; any number may be bound at once.
- A submit_sm gets a message_id and is routed by destination: to a bound ESME whose
  address_range matches (the SIM emulator's handsets bind that way for their MSISDNs), else by
  a static route to a system_id, else by the ``unrouted`` policy. A routed message travels as
  deliver_sm; its bind's deliver_sm_resp decides the outcome (ESME_ROK: DELIVRD; a temporary
  error or no answer: retried; another error: UNDELIV), and a message that waits past its
  validity ends EXPIRED. That is store-and-forward: nothing routed is dropped while it waits.
- A final outcome produces a delivery receipt (appendix B text plus receipted_message_id and
  message_state TLVs) for the submitter, when its registered_delivery asked for one; receipts
  are stored and retried like messages.
- Fault knobs (:class:`~smpp.simulator.config.Faults`) drive the ESME's fault tests.

Embedded use: ``async with Smsc(config) as smsc:`` on the caller's loop (``smsc.port`` is the
bound port). ``onecard smsc`` runs it from the command line.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from smpp.errors import SmppError
from smpp.link import Link
from smpp.mo import split_concat
from smpp.pdus import (
    BIND_CLASSES,
    INTERFACE_VERSION_34,
    Bind,
    BindResp,
    DeliverSm,
    EsmClass,
    MessageState,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
)
from smpp.receipts import format_receipt_text
from smpp.simulator.binding import EsmeBind
from smpp.simulator.config import Faults, SmscConfig, Unrouted
from smpp.simulator.model import (
    MessageIds,
    Outgoing,
    SimMessage,
    StoredMessage,
    respell,
    validity_seconds,
)
from smpp.status import CommandStatus
from smpp.text import Reassembler, split_text
from smpp.udh import Udh

log = logging.getLogger(__name__)

S = CommandStatus
# deliver_sm_resp statuses after which the SMSC tries again later rather than giving up.
TEMPORARY: Final = frozenset({S.ESME_RX_T_APPN, S.ESME_RMSGQFUL, S.ESME_RTHROTTLED, S.ESME_RSYSERR})
NETWORK: Final = "network"  # origin of MOs injected by inject_mo
_KNOWN_MAX: Final = 100_000  # messages kept for query_sm
_STAT_KEYS: Final = {state: state.name.lower() for state in MessageState}


class Smsc:
    def __init__(
        self,
        config: SmscConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config or SmscConfig()
        self.stats: collections.Counter[str] = collections.Counter()
        self.messages: collections.deque[SimMessage] = collections.deque(maxlen=self.config.max_log)
        self.port = self.config.port
        self._clock = clock
        self._wallclock = wallclock
        self._ids = MessageIds(self.config.id_style)
        self._connections: set[EsmeBind] = set()
        self._bound: list[EsmeBind] = []
        self._known: collections.OrderedDict[str, StoredMessage] = collections.OrderedDict()
        self._waiting: list[Outgoing] = []
        self._reassembler = Reassembler(ttl=300.0)
        self._parts: dict[tuple[str, str, str, int, int], dict[int, str]] = {}
        self._first_udh: dict[tuple[str, str, str, int, int], Udh | None] = {}
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def faults(self) -> Faults:
        """The fault knobs; mutable although the config is frozen, so tests can turn them."""
        return self.config.faults

    def now(self) -> float:
        return self._clock()

    @property
    def binds(self) -> list[EsmeBind]:
        return list(self._bound)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        loop = asyncio.get_running_loop()

        def connection() -> Link:
            bind = EsmeBind(self)
            return Link(bind.session, bind)

        self._server = await loop.create_server(connection, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.ensure_future(self._tick())
        log.info("SMSC simulator listening on %s:%d", self.config.host, self.port)
        return self.port

    async def stop(self, *, timeout: float = 1.0) -> None:
        """Unbind every ESME (waiting up to ``timeout`` for their unbind_resp), then close."""
        if self._server is not None:
            self._server.close()
        self.unbind_all()
        deadline = self.now() + timeout
        while (
            any(b.link and not b.link.closed for b in self._connections) and self.now() < deadline
        ):
            await asyncio.sleep(0.01)
        self.drop_all()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Smsc:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def unbind_all(self) -> None:
        """SMSC-initiated unbind of every bound ESME."""
        for bind in list(self._bound):
            bind.unbind()

    def drop_all(self) -> None:
        """Close every connection abruptly, as a failing SMSC would."""
        for bind in list(self._connections):
            if bind.link is not None:
                bind.link.abort()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it holds; TimeoutError after ``timeout`` seconds."""
        deadline = self.now() + timeout
        while not predicate():
            if self.now() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.005)

    # --- connections (called by EsmeBind) ---------------------------------------------------

    def connected(self, bind: EsmeBind) -> None:
        self._connections.add(bind)
        self.stats["connections"] += 1

    def disconnected(self, bind: EsmeBind) -> None:
        self._connections.discard(bind)
        if bind in self._bound:
            self._bound.remove(bind)
        for outgoing in bind.take_back():
            self._redispatch(outgoing)

    def authenticate(self, bind: EsmeBind, pdu: Bind) -> BindResp:
        _, response = BIND_CLASSES[pdu.mode]
        verdict = self.config.check(pdu.system_id, pdu.password)
        status = S.ESME_ROK
        if verdict is None:
            status = S.ESME_RINVSYSID
        elif not verdict:
            status = S.ESME_RINVPASWD
        else:
            try:
                bind.address_range = re.compile(pdu.address_range) if pdu.address_range else None
            except re.error:
                status = S.ESME_RBINDFAIL
        if status != S.ESME_ROK:
            self.stats["bind_refused"] += 1
            log.info("bind of %r refused: %s", pdu.system_id, status.name)
            return response(
                sequence=pdu.sequence, command_status=status, system_id=self.config.system_id
            )
        bind.system_id = pdu.system_id
        return response(
            sequence=pdu.sequence,
            system_id=self.config.system_id,
            sc_interface_version=INTERFACE_VERSION_34,
        )

    def bound(self, bind: EsmeBind) -> None:
        self._bound.append(bind)
        self.stats["binds"] += 1
        log.info("%s bound as %s", bind.describe(), bind.mode.value if bind.mode else "?")
        self._retry_waiting(force=True)

    # --- submit_sm --------------------------------------------------------------------------

    def submit(self, bind: EsmeBind, pdu: SubmitSm) -> None:
        faults, n = self.config.faults, bind.submits
        if faults.throttle_every and n % faults.throttle_every == 0:
            self._refuse(bind, pdu, S.ESME_RTHROTTLED)
        elif faults.queue_full_every and n % faults.queue_full_every == 0:
            self._refuse(bind, pdu, S.ESME_RMSGQFUL)
        else:
            self._accept(bind, pdu)
        if faults.unbind_after and n >= faults.unbind_after:
            bind.unbind()

    def _refuse(self, bind: EsmeBind, pdu: SubmitSm, status: CommandStatus) -> None:
        self.stats[f"refused_{status.name}"] += 1
        self._respond(bind, SubmitSmResp(sequence=pdu.sequence, command_status=status), None)

    def _accept(self, bind: EsmeBind, pdu: SubmitSm) -> None:
        wall = self._wallclock()
        try:
            validity = validity_seconds(pdu.validity_period, wall)
        except ValueError:
            return self._refuse(bind, pdu, S.ESME_RINVEXPIRY)
        if not pdu.destination_addr:
            return self._refuse(bind, pdu, S.ESME_RINVDSTADR)
        if self.config.unrouted is Unrouted.REJECT and self._route(pdu.destination_addr) is None:
            return self._refuse(bind, pdu, S.ESME_RINVDSTADR)
        lifetime = self.config.default_validity if validity is None else validity
        stored = StoredMessage(self._ids.next(), pdu, bind.system_id, wall, self.now() + lifetime)
        self._remember(stored)
        self._log(bind.system_id, pdu, stored.message_id)
        self.stats["submitted"] += 1
        response = SubmitSmResp(sequence=pdu.sequence, message_id=stored.message_id)
        if self.config.faults.early_receipts:
            self._finish(stored, self.config.receipt_state)  # receipt queued before the resp
            self._respond(bind, response, None)
        else:
            self._respond(bind, response, stored)
        return None

    def _respond(self, bind: EsmeBind, response: Pdu, then: StoredMessage | None) -> None:
        delay = self.config.faults.response_delay
        if delay:
            asyncio.get_running_loop().call_later(delay, self._answer, bind, response, then)
        else:
            self._answer(bind, response, then)

    def _answer(self, bind: EsmeBind, response: Pdu, then: StoredMessage | None) -> None:
        bind.send(response)
        if then is not None:  # routed after the response, so a receipt never overtakes it
            self._dispatch(then)

    def _remember(self, stored: StoredMessage) -> None:
        known = self._known
        known[stored.message_id] = stored
        if len(known) > _KNOWN_MAX:
            known.popitem(last=False)

    def query(self, pdu: QuerySm) -> Pdu:
        """query_sm (4.8): the state of a message we accepted."""
        stored = self._known.get(pdu.message_id)
        if stored is None:
            return QuerySmResp(sequence=pdu.sequence, command_status=S.ESME_RQUERYFAIL)
        done = stored.done_at
        return QuerySmResp(
            sequence=pdu.sequence,
            message_id=stored.message_id,
            final_date=f"{done:%y%m%d%H%M%S}000+" if done else "",
            message_state=stored.state,
        )

    # --- routing and delivery ---------------------------------------------------------------

    def _route(self, destination: str) -> EsmeBind | str | None:
        """A bind whose address_range matches; else a static route's bind, or its system_id
        when none of its binds is up (the message then waits); else None."""
        for bind in self._bound:
            if bind.address_range is not None and bind.serves(destination):
                return bind
        for route in self.config.routes:
            if route.pattern.match(destination):
                return self._bind_of(route.system_id) or route.system_id
        return None

    def _bind_of(self, system_id: str) -> EsmeBind | None:
        """The least busy bind of ``system_id`` that can receive."""
        candidates = [b for b in self._bound if b.system_id == system_id and b.can_receive]
        if len(candidates) < 2:
            return candidates[0] if candidates else None
        return min(candidates, key=lambda b: len(b.queue) + len(b.inflight))

    def _dispatch(self, stored: StoredMessage) -> None:
        config = self.config
        destination = stored.pdu.destination_addr
        if config.undeliverable is not None and config.undeliverable.match(destination):
            self._after(config.receipt_delay, stored, MessageState.UNDELIVERABLE)
            return
        route = self._route(destination)
        if isinstance(route, EsmeBind):
            route.enqueue(Outgoing(stored.as_deliver_sm(), message=stored))
        elif route is not None or config.unrouted is Unrouted.STORE:
            self._waiting.append(Outgoing(stored.as_deliver_sm(), message=stored))
        else:
            self._after(config.receipt_delay, stored, config.receipt_state)

    def _after(self, delay: float, stored: StoredMessage, state: MessageState) -> None:
        if delay:
            asyncio.get_running_loop().call_later(delay, self._finish, stored, state)
        else:
            self._finish(stored, state)

    def _redispatch(self, outgoing: Outgoing) -> None:
        """Send again now if a bind takes it, else wait (a route may come back)."""
        if not self._try(outgoing):
            self._waiting.append(outgoing)

    def _try(self, outgoing: Outgoing) -> bool:
        if outgoing.message is not None:
            target = self._route(outgoing.destination)
        else:
            assert outgoing.receipt_for is not None
            target = self._bind_of(outgoing.receipt_for.origin)
        if isinstance(target, EsmeBind):
            target.enqueue(outgoing)
            return True
        return False

    def settled(self, bind: EsmeBind, outgoing: Outgoing, status: int) -> None:
        """A deliver_sm was answered (status) by ``bind``."""
        if status in TEMPORARY:
            self._retry_later(outgoing)
        elif outgoing.message is not None:
            state = MessageState.DELIVERED if status == S.ESME_ROK else MessageState.UNDELIVERABLE
            self._finish(outgoing.message, state, status)
        elif status == S.ESME_ROK:
            self.stats["receipts_delivered"] += 1
        else:
            self.stats["receipts_refused"] += 1
            log.info("%s refused a receipt: %s", bind.describe(), S.describe(status))

    def _retry_later(self, outgoing: Outgoing) -> None:
        self.stats["retries"] += 1
        outgoing.not_before = self.now() + self.config.retry_interval
        self._waiting.append(outgoing)

    def _finish(self, stored: StoredMessage, state: MessageState, error: int = 0) -> None:
        if stored.state.is_final:
            return
        stored.state = state
        stored.done_at = self._wallclock()
        self.stats[_STAT_KEYS[state]] += 1
        if stored.wants_receipt:
            receipt = Outgoing(self._receipt_pdu(stored, error), receipt_for=stored)
            self.stats["receipts"] += 1
            self._redispatch(receipt)

    def _receipt_pdu(self, stored: StoredMessage, error: int) -> DeliverSm:
        """A delivery receipt (esm_class 0x04, SMPP v3.4 5.2.12 and appendix B)."""
        pdu, config = stored.pdu, self.config
        text_id = respell(stored.message_id, config.id_style, config.receipt_id_style)
        assert stored.done_at is not None
        text = format_receipt_text(
            text_id, stored.state, stored.submitted_at, stored.done_at, err=error & 0xFF
        )
        return DeliverSm(
            source_addr_ton=pdu.dest_addr_ton,
            source_addr_npi=pdu.dest_addr_npi,
            source_addr=pdu.destination_addr,
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            destination_addr=pdu.source_addr,
            esm_class=int(EsmClass.DELIVERY_RECEIPT),
            short_message=text,
            receipted_message_id=stored.message_id if config.receipt_tlvs else None,
            message_state=stored.state if config.receipt_tlvs else None,
        )

    def _retry_waiting(self, *, force: bool = False) -> None:
        """Retry waiting deliveries that are due (all of them when a bind comes up); expire
        messages past their validity (EXPIRED) and receipts kept as long again."""
        now = self.now()
        waiting, self._waiting = self._waiting, []
        for outgoing in waiting:
            message = outgoing.message or outgoing.receipt_for
            assert message is not None
            if outgoing.message is not None and now >= message.expires:
                self._finish(message, MessageState.EXPIRED)
            elif (
                outgoing.receipt_for is not None
                and now >= message.expires + self.config.default_validity
            ):
                self.stats["receipts_expired"] += 1
            elif (force or now >= outgoing.not_before) and self._try(outgoing):
                continue
            else:
                self._waiting.append(outgoing)

    async def _tick(self) -> None:
        interval = min(0.1, self.config.retry_interval / 4, self.config.response_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = self.now()
            for bind in list(self._bound):
                for outgoing in bind.expired(now, self.config.response_timeout):
                    self._retry_later(outgoing)
                bind.keepalive(now)
            if self._waiting:
                self._retry_waiting()

    # --- the log of whole messages and injected MO -------------------------------------------

    def _log(self, origin: str, pdu: SubmitSm, message_id: str) -> None:
        try:
            udh, body, concat = split_concat(pdu)
        except SmppError:  # a UDH we cannot read: log the user data as it came
            udh, body, concat = None, pdu.user_data, None
        if concat is None or concat.total == 1:
            self.messages.append(self._record(origin, pdu, udh, body, (message_id,)))
            return
        key = (origin, pdu.source_addr, pdu.destination_addr, concat.reference, concat.total)
        self._parts.setdefault(key, {})[concat.sequence] = message_id
        if concat.sequence == 1:
            self._first_udh[key] = udh
        try:
            whole = self._reassembler.add(
                f"{origin}/{pdu.source_addr}", pdu.destination_addr, concat, body, self.now()
            )
        except SmppError:
            whole = None
        if whole is not None:
            ids = self._parts.pop(key)
            record = self._record(
                origin,
                pdu,
                self._first_udh.pop(key, None),
                whole,
                tuple(ids[i] for i in sorted(ids)),
            )
            self.messages.append(record)

    @staticmethod
    def _record(
        origin: str, pdu: SubmitSm, udh: Udh | None, payload: bytes, ids: tuple[str, ...]
    ) -> SimMessage:
        return SimMessage(
            origin,
            pdu.source_addr,
            pdu.destination_addr,
            pdu.data_coding,
            pdu.protocol_id,
            udh,
            payload,
            ids,
        )

    def inject_mo(
        self,
        source: str,
        destination: str,
        text: str | None = None,
        *,
        tp_ud_segments: Sequence[bytes] = (),
        protocol_id: int = 0,
        data_coding: int | None = None,
    ) -> tuple[str, ...]:
        """A message from the radio network (a handset not emulated) to ``destination``,
        routed like any other. Text is segmented as a handset would; binary segments are whole
        TP-UDs with their UDH (data_coding 0xF6 unless given). Returns the part ids."""
        if text is not None:
            segments = split_text(text, reference=len(self._known) & 0xFF)
            parts = [(s.short_message, s.esm_udhi, int(s.coding)) for s in segments]
        else:
            coding = 0xF6 if data_coding is None else data_coding
            parts = [(bytes(segment), True, coding) for segment in tp_ud_segments]
        return tuple(self._inject(source, destination, part, protocol_id) for part in parts)

    def _inject(
        self, source: str, destination: str, part: tuple[bytes, bool, int], protocol_id: int
    ) -> str:
        short_message, udhi, coding = part
        pdu = SubmitSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=source,
            destination_addr=destination,
            esm_class=int(EsmClass.UDHI) if udhi else 0,
            protocol_id=protocol_id,
            data_coding=coding,
            short_message=short_message,
        )
        expires = self.now() + self.config.default_validity
        stored = StoredMessage(self._ids.next(), pdu, NETWORK, self._wallclock(), expires)
        self._remember(stored)
        self._log(NETWORK, pdu, stored.message_id)
        self._dispatch(stored)
        return stored.message_id


__all__ = ["NETWORK", "Smsc"]
