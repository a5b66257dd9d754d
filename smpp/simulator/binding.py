"""One ESME connection to the SMSC simulator: the SMSC side of ``smpp.session`` on a link.

It answers what only concerns the connection (enquire_link, unbind, malformed PDUs, the fault
knobs that act per connection) and hands binds, submits and queries to :class:`Smsc`. It also
runs the connection's deliver_sm window: routed messages and receipts queue here and go out
while the window has room.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import TYPE_CHECKING

from smpp.link import Link
from smpp.pdus import (
    Bind,
    BindMode,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    SubmitSm,
    Unbind,
    UnbindResp,
)
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
from smpp.simulator.model import Outgoing

if TYPE_CHECKING:
    from smpp.simulator.smsc import Smsc

log = logging.getLogger(__name__)


class EsmeBind:
    """A connected (and, after its bind, bound) ESME."""

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.session = Session(Role.SMSC, window=smsc.config.deliver_window)
        self.link: Link | None = None
        self.system_id = ""
        self.address_range: re.Pattern[str] | None = None
        self.received = 0  # PDUs from the ESME on this connection
        self.submits = 0
        self.unbind_sent = False
        self.queue: deque[Outgoing] = deque()
        self.inflight: dict[int, tuple[Outgoing, float]] = {}
        self.last_rx = smsc.now()
        self.enquire: tuple[int, float] | None = None

    @property
    def bound(self) -> bool:
        return self.session.state is State.BOUND

    @property
    def mode(self) -> BindMode | None:
        return self.session.mode

    @property
    def can_receive(self) -> bool:
        mode = self.session.mode
        return self.bound and mode is not None and mode.can_receive

    def serves(self, destination: str) -> bool:
        """Whether the bind's address_range (a regular expression, SMPP v3.4 5.2.7 and
        appendix A: "UNIX regular expression") matches the destination from its start."""
        pattern = self.address_range
        return pattern is not None and self.can_receive and pattern.match(destination) is not None

    def describe(self) -> str:
        peer = self.link.peer if self.link else "?"
        return f"{self.system_id or '(unbound)'}@{peer}"

    # --- sending ----------------------------------------------------------------------------

    def send(self, pdu: Pdu) -> None:
        if self.link is not None and not self.link.closed:
            self.link.send(pdu)

    def enqueue(self, outgoing: Outgoing) -> None:
        self.queue.append(outgoing)
        self.pump()

    def pump(self) -> None:
        link, session = self.link, self.session
        if link is None or link.closed or link.write_paused or not self.can_receive:
            return
        now = self.smsc.now()
        while self.queue and session.in_window < session.window:
            outgoing = self.queue.popleft()
            sequence = session.next_sequence()
            link.write(session.send(outgoing.template, sequence=sequence))
            outgoing.attempts += 1
            self.inflight[sequence] = (outgoing, now)

    def take_back(self) -> list[Outgoing]:
        """Everything queued or in flight, for the SMSC to route again."""
        back = [outgoing for outgoing, _ in self.inflight.values()]
        back.extend(self.queue)
        self.inflight.clear()
        self.queue.clear()
        return back

    def expired(self, now: float, timeout: float) -> list[Outgoing]:
        """deliver_sm unanswered for ``timeout``: abandoned, returned for a later retry."""
        late = [seq for seq, (_, sent) in self.inflight.items() if now - sent > timeout]
        for sequence in late:
            self.session.abandon(sequence)
        return [self.inflight.pop(sequence)[0] for sequence in late]

    def unbind(self) -> None:
        """SMSC-initiated unbind (4.2.1); the connection closes on unbind_resp."""
        if self.bound and not self.unbind_sent:
            self.unbind_sent = True
            self.send(Unbind(sequence=self.session.next_sequence()))

    # --- smpp.link.LinkHandler --------------------------------------------------------------

    def link_made(self, link: Link) -> None:
        self.link = link
        self.smsc.connected(self)

    def link_writable(self, link: Link) -> None:
        self.pump()

    def link_lost(self, link: Link, exc: Exception | None) -> None:
        self.smsc.disconnected(self)

    def link_events(self, link: Link, events: list[Event]) -> None:
        self.last_rx = self.smsc.now()
        faults = self.smsc.config.faults
        for event in events:
            self.received += 1
            if faults.drop_after and self.received >= faults.drop_after:
                log.info("fault: dropping %s after %d PDUs", self.describe(), self.received)
                link.abort()
                return
            if isinstance(event, RequestReceived):
                self._request(link, event.pdu)
            elif isinstance(event, ResponseReceived):
                self._response(event.pdu)
            elif isinstance(event, BadPdu):
                self.smsc.stats["bad_pdus"] += 1
                log.info("bad PDU from %s: %s", self.describe(), event.error)
                if event.reply is not None:
                    link.send(event.reply)
            elif isinstance(event, ConnectionBroken):
                self.smsc.stats["bad_pdus"] += 1
                log.info("unframeable PDU from %s: %s", self.describe(), event.error)
                link.send(event.reply)
                link.close()
                return
            elif isinstance(event, UnmatchedResponse):
                self.smsc.stats["late_responses"] += 1
        self.pump()

    def _request(self, link: Link, pdu: Pdu) -> None:
        smsc = self.smsc
        if isinstance(pdu, SubmitSm):
            self.submits += 1
            smsc.submit(self, pdu)
        elif isinstance(pdu, EnquireLink):
            if not smsc.config.faults.silent_enquire_link:
                link.send(EnquireLinkResp(sequence=pdu.sequence))
        elif isinstance(pdu, Bind):
            link.send(smsc.authenticate(self, pdu))
            if self.bound:
                smsc.bound(self)
        elif isinstance(pdu, Unbind):  # always answered, whatever the faults say
            link.send(UnbindResp(sequence=pdu.sequence))
            link.close()
        elif isinstance(pdu, QuerySm):
            link.send(smsc.query(pdu))

    def _response(self, pdu: Pdu) -> None:
        if isinstance(pdu, UnbindResp) and self.link is not None:
            self.link.close()
            return
        if self.enquire is not None and pdu.sequence == self.enquire[0]:
            self.enquire = None
        entry = self.inflight.pop(pdu.sequence, None)
        if entry is not None:
            status = pdu.command_status if isinstance(pdu, DeliverSmResp | GenericNack) else 0
            self.smsc.settled(self, entry[0], status)

    def keepalive(self, now: float) -> None:
        """enquire_link on an idle bind; a bind that does not answer is dropped."""
        interval = self.smsc.config.enquire_link_interval
        if not self.bound or self.link is None:
            return
        if self.enquire is not None:
            if now - self.enquire[1] > self.smsc.config.response_timeout:
                log.info("%s does not answer enquire_link: dropping it", self.describe())
                self.link.abort()
        elif now - self.last_rx >= interval:
            sequence = self.session.next_sequence()
            self.send(EnquireLink(sequence=sequence))
            self.enquire = (sequence, now)
