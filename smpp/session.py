"""Sans-I/O SMPP session: framing, bind state, sequence numbers and the window, for both roles.

In the style of h11: the adapter feeds received octets to :meth:`Session.receive_data` and gets
events back; it turns PDUs into octets with :meth:`Session.send`. No sockets, no clocks, no
asyncio. Everything that decides whether a PDU is allowed lives in the tables below, so the
ESME (``smpp.client``) and the SMSC simulator (``smpp.simulator``) obey one state machine.

States follow SMPP v3.4 2.3 (OPEN, BOUND_TX/RX/TRX, CLOSED) with two transient ones: BINDING
between a bind and its response, UNBINDING between an unbind and its response.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from smpp import codec, fastcodec
from smpp.errors import (
    AlreadyBound,
    FramingError,
    InvalidBindState,
    PduError,
    SessionError,
    WindowFull,
)
from smpp.pdus import (
    RESPONSE_BIT,
    UNANSWERED,
    Bind,
    BindMode,
    BindResp,
    CommandId,
    GenericNack,
    Pdu,
    UnbindResp,
    UnsupportedPdu,
    response_to,
    wire_command_id,
)
from smpp.status import CommandStatus


class Role(enum.Enum):
    ESME = "esme"
    SMSC = "smsc"

    @property
    def peer(self) -> Role:
        return Role.SMSC if self is Role.ESME else Role.ESME


class State(enum.Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"


C = CommandId
_ANY_BOUND = frozenset({C.ENQUIRE_LINK, C.UNBIND})
# Requests each role may send while bound in each mode (SMPP v3.4 2.3 and table 2-1..2-3).
_BOUND_REQUESTS: Final[dict[tuple[Role, BindMode], frozenset[int]]] = {
    (Role.ESME, BindMode.TRANSMITTER): _ANY_BOUND
    | {C.SUBMIT_SM, C.QUERY_SM, C.DATA_SM, C.SUBMIT_MULTI, C.CANCEL_SM, C.REPLACE_SM},
    (Role.ESME, BindMode.RECEIVER): _ANY_BOUND,
    (Role.ESME, BindMode.TRANSCEIVER): _ANY_BOUND
    | {C.SUBMIT_SM, C.QUERY_SM, C.DATA_SM, C.SUBMIT_MULTI, C.CANCEL_SM, C.REPLACE_SM},
    (Role.SMSC, BindMode.TRANSMITTER): _ANY_BOUND,
    (Role.SMSC, BindMode.RECEIVER): _ANY_BOUND | {C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION},
    (Role.SMSC, BindMode.TRANSCEIVER): _ANY_BOUND | {C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION},
}
_BINDS: Final = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
# Outside a bind: the ESME may bind, the SMSC may outbind; enquire_link is tolerated by peers.
_UNBOUND_REQUESTS: Final[dict[Role, frozenset[int]]] = {
    Role.ESME: _BINDS | {C.ENQUIRE_LINK},
    Role.SMSC: frozenset({C.OUTBIND, C.ENQUIRE_LINK}),
}
_HOUSEKEEPING: Final = frozenset({C.ENQUIRE_LINK})
# Requests that occupy a window slot: the traffic, not the housekeeping (enquire_link, unbind
# and binds must get through even when the window is full).
WINDOWED: Final = frozenset({C.SUBMIT_SM, C.DELIVER_SM, C.DATA_SM, C.QUERY_SM, C.SUBMIT_MULTI})


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """The peer sent a request the state allows; the adapter must answer it (unless it is
    outbind or alert_notification)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The response to one of our outstanding requests (a generic_nack included)."""

    pdu: Pdu
    request: Pdu


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    """A response whose sequence matches nothing outstanding (e.g. it came after a timeout)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class BadPdu:
    """A PDU we could not decode, or that the state does not allow.

    ``reply`` (if any) is the answer to send; ``request`` is our outstanding request when the
    bad PDU was its response, so the adapter can fail or retry it.
    """

    error: PduError | SessionError
    reply: Pdu | None
    request: Pdu | None = None


@dataclass(frozen=True, slots=True)
class ConnectionBroken:
    """The octet stream cannot be framed any more (bad command_length): send ``reply`` and
    close the connection; nothing more will be decoded."""

    error: FramingError
    reply: Pdu


Event = RequestReceived | ResponseReceived | UnmatchedResponse | BadPdu | ConnectionBroken


# --- the state machine ----------------------------------------------------------------------


class Session:
    """One SMPP connection as seen from ``role``.

    ``window`` bounds outstanding windowed requests that we sent (:data:`WINDOWED`); ``send``
    raises :class:`WindowFull` rather than queue, since queueing is the adapter's policy.
    """

    def __init__(self, role: Role, *, window: int = 10, fast: bool = True) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.role = role
        self.window = window
        self.fast = fast
        self.state = State.OPEN
        self.mode: BindMode | None = None
        # What each side may send in the current state, cached at every transition.
        self._may_send = self._allowed(role)
        self._may_receive = self._allowed(role.peer)
        self.outstanding: dict[int, Pdu] = {}
        self.in_window = 0
        self._sequence = 0
        self._buffer = b""
        self._broken = False

    # -- sequence and window

    def next_sequence(self) -> int:
        """1..0x7FFFFFFF, wrapping (SMPP v3.4 3.2); skips numbers still outstanding."""
        while True:
            self._sequence = self._sequence % codec.MAX_SEQUENCE + 1
            if self._sequence not in self.outstanding:
                return self._sequence

    @property
    def window_free(self) -> int:
        return self.window - self.in_window

    @property
    def bound(self) -> bool:
        return self.state is State.BOUND

    def can_send(self, command_id: int) -> bool:
        return command_id in self._may_send

    def _enter(self, state: State, mode: BindMode | None) -> None:
        self.state, self.mode = state, mode
        self._may_send = self._allowed(self.role)
        self._may_receive = self._allowed(self.role.peer)

    def abandon(self, sequence: int) -> Pdu | None:
        """Forget an outstanding request (its response timed out); a late response then comes
        back as :class:`UnmatchedResponse`."""
        request = self.outstanding.pop(sequence, None)
        if request is not None and request.command_id in WINDOWED:
            self.in_window -= 1
        return request

    def _allowed(self, sender: Role) -> frozenset[int]:
        if self.state is State.BOUND:
            assert self.mode is not None
            return _BOUND_REQUESTS[(sender, self.mode)]
        if self.state is State.OPEN:
            return _UNBOUND_REQUESTS[sender]
        if self.state is State.UNBINDING and sender is not self.role and self.mode is not None:
            # The peer may still be sending what it had queued before it saw our unbind.
            return _BOUND_REQUESTS[(sender, self.mode)]
        if self.state in (State.BINDING, State.UNBINDING):
            return _HOUSEKEEPING
        return frozenset()

    # -- sending

    def send(self, pdu: Pdu, *, sequence: int | None = None) -> bytes:
        """Octets for ``pdu``; records requests as outstanding and applies state transitions.

        ``sequence`` sends a request template under a fresh sequence number without building
        a new frozen PDU (the ESME resends a part under a new number after a reconnect); the
        template is what comes back as :attr:`ResponseReceived.request`.

        Raises :class:`InvalidBindState` for a request the state forbids, :class:`WindowFull`
        when the window is used up, and :class:`smpp.errors.InvalidField` for values that
        cannot be encoded (the state is then unchanged).
        """
        command_id = wire_command_id(pdu)
        if command_id & RESPONSE_BIT:
            data = codec.encode(pdu, fast=self.fast)
            self._sent_response(pdu)
            return data
        if command_id not in self._may_send:
            raise InvalidBindState(
                f"{self.role.value} may not send {_name(command_id)} while {self._describe()}"
            )
        windowed = command_id in WINDOWED
        if windowed and self.in_window >= self.window:
            raise WindowFull(f"window of {self.window} is full")
        number = pdu.sequence if sequence is None else sequence
        if number in self.outstanding or not 0 < number <= codec.MAX_SEQUENCE:
            raise SessionError(f"sequence {number} is out of range or already outstanding")
        data = codec.encode(pdu, fast=self.fast, sequence=number)
        self.outstanding[number] = pdu
        if windowed:
            self.in_window += 1
        if isinstance(pdu, Bind):
            self._enter(State.BINDING, None)
        elif command_id == C.UNBIND:
            self._enter(State.UNBINDING, self.mode)
        return data

    def _sent_response(self, pdu: Pdu) -> None:
        if isinstance(pdu, BindResp) and self.state is State.BINDING:
            ok = pdu.command_status == CommandStatus.ESME_ROK
            self._enter(State.BOUND if ok else State.OPEN, pdu.mode if ok else None)
        elif isinstance(pdu, UnbindResp):
            self._enter(State.CLOSED, self.mode)

    # -- receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """Events for every whole PDU now buffered; a partial PDU waits for more octets."""
        if self._broken:
            return []
        buffer = self._buffer + data if self._buffer else data
        events: list[Event] = []
        pos, size = 0, len(buffer)
        while size - pos >= 16:
            length = int.from_bytes(buffer[pos : pos + 4], "big")
            if not codec.HEADER_LENGTH <= length <= codec.MAX_COMMAND_LENGTH:
                events.append(self._broken_stream(buffer[pos:]))
                return events
            if size - pos < length:
                break
            events.append(self._receive_frame(buffer[pos : pos + length]))
            pos += length
        self._buffer = buffer[pos:]
        return events

    def _broken_stream(self, rest: bytes) -> ConnectionBroken:
        self._broken = True
        self._buffer = b""
        try:
            codec.peek_header(rest)
        except FramingError as exc:
            sequence = exc.sequence or 0
            return ConnectionBroken(
                exc, GenericNack(sequence=sequence, command_status=exc.command_status)
            )
        raise AssertionError("called only for a bad command_length")  # pragma: no cover

    def _receive_frame(self, frame: bytes) -> Event:
        try:
            quick = fastcodec.decode(frame) if self.fast else None
            pdu = quick or codec.decode(frame, fast=False)
        except PduError as exc:
            return self._bad_frame(exc)
        command_id = wire_command_id(pdu)
        if command_id & RESPONSE_BIT:
            return self._received_response(pdu)
        if isinstance(pdu, UnsupportedPdu):
            error = PduError(
                f"{_name(command_id)} is not supported", command_status=CommandStatus.ESME_RINVCMDID
            )
            reply = (
                None
                if command_id in UNANSWERED
                else response_to(command_id, error.command_status, pdu.sequence)
            )
            return BadPdu(error, reply)
        if command_id not in self._may_receive:
            return self._refused(pdu, command_id)
        if isinstance(pdu, Bind):
            self._enter(State.BINDING, None)
        return RequestReceived(pdu)

    def _refused(self, pdu: Pdu, command_id: int) -> BadPdu:
        error: SessionError
        if command_id in _BINDS and self.state in (State.BOUND, State.BINDING):
            error = AlreadyBound(f"{_name(command_id)} while {self._describe()}")
        else:
            error = InvalidBindState(
                f"{self.role.peer.value} may not send {_name(command_id)} while {self._describe()}"
            )
        reply = (
            None
            if command_id in UNANSWERED
            else response_to(command_id, error.command_status, pdu.sequence)
        )
        return BadPdu(error, reply)

    def _bad_frame(self, exc: PduError) -> BadPdu:
        command_id, sequence = exc.command_id, exc.sequence or 0
        if command_id is None or command_id & RESPONSE_BIT:
            # A response we cannot read still settles the request it answers.
            request = self.abandon(sequence) if command_id is not None else None
            return BadPdu(exc, None, request)
        if command_id in UNANSWERED:
            return BadPdu(exc, None)
        return BadPdu(exc, response_to(command_id, exc.command_status, sequence))

    def _received_response(self, pdu: Pdu) -> Event:
        request = self.abandon(pdu.sequence)
        if request is None:
            return UnmatchedResponse(pdu)
        ok = pdu.command_status == CommandStatus.ESME_ROK
        if isinstance(request, Bind):
            accepted = ok and isinstance(pdu, BindResp)
            self._enter(State.BOUND if accepted else State.OPEN, request.mode if accepted else None)
        elif request.command_id == C.UNBIND:
            self._enter(State.CLOSED, self.mode)
        return ResponseReceived(pdu, request)

    def _describe(self) -> str:
        return f"{self.state.value}" + (f" as {self.mode.value}" if self.mode else "")


def _name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"command {command_id:#010x}"
