"""The asyncio adapter around one :class:`smpp.session.Session`: a TCP connection of either role.

Octets read from the socket go to the session; its events go to a handler (the ESME or the
SMSC simulator). PDUs to send are encoded by the session and written in batches: everything
sent during one turn of the event loop leaves in one ``transport.write`` (one system call
instead of one per PDU, which matters at thousands of PDUs a second).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from smpp.pdus import Pdu
from smpp.session import Event, Session

log = logging.getLogger(__name__)

# Write out once this much is queued, even within one loop turn: the peer starts on the first
# PDUs while we produce the rest, yet small PDUs (responses) still leave in few system calls.
FLUSH_BYTES = 8192


class LinkHandler(Protocol):
    def link_made(self, link: Link) -> None: ...

    def link_events(self, link: Link, events: list[Event]) -> None: ...

    def link_lost(self, link: Link, exc: Exception | None) -> None: ...

    def link_writable(self, link: Link) -> None: ...


class Link(asyncio.Protocol):
    """One SMPP connection. ``send`` never blocks; ``write_paused`` tells the handler to stop
    producing until :meth:`LinkHandler.link_writable` (the peer is not reading)."""

    def __init__(self, session: Session, handler: LinkHandler) -> None:
        self.session = session
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.closed = False
        self.write_paused = False
        self._out: list[bytes] = []
        self._queued = 0
        self._flush_scheduled = False
        self._reading = False  # inside data_received: flushed when the read is handled

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.handler.link_made(self)

    def data_received(self, data: bytes) -> None:
        events = self.session.receive_data(data)
        if events:
            # What the handler sends in answer leaves at the end of this read, without waiting
            # for another turn of the loop (one round trip less per window-1 message).
            self._reading = True
            try:
                self.handler.link_events(self, events)
            finally:
                self._reading = False
                self.flush()

    def eof_received(self) -> bool | None:
        return False  # close our side too: SMPP has no half-closed use

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._out.clear()
        self._queued = 0
        self.handler.link_lost(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.handler.link_writable(self)

    # -- sending

    def send(self, pdu: Pdu, *, sequence: int | None = None) -> None:
        """Encode through the session (state checks, window) and queue for this loop turn."""
        self.write(self.session.send(pdu, sequence=sequence))

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        out = self._out
        out.append(data)
        self._queued += len(data)
        if self._queued >= FLUSH_BYTES:
            self.flush()
        elif not self._flush_scheduled and not self._reading:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._end_of_turn)

    def _end_of_turn(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write what is queued (called at the end of the loop turn, or when enough queued)."""
        if self._out and self.transport is not None and not self.closed:
            data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self._out.clear()
            self._queued = 0
            self.transport.write(data)

    def close(self) -> None:
        """Send what is queued, then close."""
        if self.transport is not None and not self.closed:
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
