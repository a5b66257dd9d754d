"""What the SMSC simulator stores: messages, deliveries waiting to go, and the log of whole
messages that tests and the embedded gateway look at. Sans-I/O helpers (times are arguments).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smpp.errors import SmppError
from smpp.pdus import DeliverSm, MessageState, SubmitSm
from smpp.simulator.config import IdStyle
from smpp.text import decode_short_message
from smpp.udh import Udh


class MessageIds:
    """Message ids in one of the styles SMSCs use (``IdStyle``), from a counter."""

    def __init__(self, style: IdStyle, start: int = 1) -> None:
        self.style = style
        self._counter = itertools.count(start)

    def next(self) -> str:
        n = next(self._counter)
        return spell(n, self.style)


def spell(n: int, style: IdStyle) -> str:
    if style is IdStyle.HEX:
        return f"{n:08X}"
    if style is IdStyle.DECIMAL:
        return str(n)
    if style is IdStyle.DECIMAL_PADDED:
        return f"{n:010d}"
    return str(uuid.UUID(int=n))


def respell(message_id: str, source: IdStyle, target: IdStyle | None) -> str:
    """The same id in another style (receipt text vs submit_sm_resp), as some SMSCs do."""
    if target is None or target is source or source is IdStyle.UUID or target is IdStyle.UUID:
        return message_id
    value = int(message_id, 16) if source is IdStyle.HEX else int(message_id)
    return spell(value, target)


def validity_seconds(value: str, now: datetime) -> float | None:
    """Seconds until an SMPP validity_period ends (SMPP v3.4 7.1.1 absolute
    "YYMMDDhhmmsstnnp", 7.1.2 relative "YYMMDDhhmmss000R"); None when empty.

    Raises ValueError for a malformed time.
    """
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or value[15] not in "R+-":
        raise ValueError(f"{value!r} is not an SMPP time")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    if value[15] == "R":  # relative: a year counts 365 days, a month 30 (7.1.2)
        return float((((yy * 365 + mo * 30 + dd) * 24 + hh) * 60 + mi) * 60 + ss)
    local = datetime(2000 + yy, mo, dd, hh, mi, ss, int(value[12]) * 100_000)
    offset = timedelta(minutes=15 * int(value[13:15]))
    utc = local - offset if value[15] == "+" else local + offset
    return (utc.replace(tzinfo=UTC) - now).total_seconds()


class StoredMessage:
    """A submit_sm the SMSC accepted, until it reaches a final state."""

    __slots__ = (
        "attempts",
        "done_at",
        "expires",
        "message_id",
        "origin",
        "pdu",
        "state",
        "submitted_at",
    )

    def __init__(
        self, message_id: str, pdu: SubmitSm, origin: str, submitted_at: datetime, expires: float
    ) -> None:
        self.message_id = message_id
        self.pdu = pdu
        self.origin = origin  # system_id of the bind that submitted it
        self.submitted_at = submitted_at
        self.expires = expires  # on the loop's clock
        self.state = MessageState.ENROUTE
        self.done_at: datetime | None = None
        self.attempts = 0

    @property
    def wants_receipt(self) -> bool:
        """registered_delivery bits 1-0 (5.2.17): 1 any final outcome, 2 failure only."""
        asked = self.pdu.registered_delivery & 0x03
        return asked == 1 or (asked == 2 and self.state is not MessageState.DELIVERED)

    def as_deliver_sm(self) -> DeliverSm:
        """The deliver_sm that carries this message to the destination's bind (4.6.1)."""
        pdu = self.pdu
        return DeliverSm(
            service_type=pdu.service_type,
            source_addr_ton=pdu.source_addr_ton,
            source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr,
            dest_addr_ton=pdu.dest_addr_ton,
            dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr,
            esm_class=pdu.esm_class & 0xC0,  # GSM features (UDHI) kept; mode/type reset
            protocol_id=pdu.protocol_id,
            priority_flag=pdu.priority_flag,
            data_coding=pdu.data_coding,
            short_message=pdu.short_message,
            message_payload=pdu.message_payload,
            sar_msg_ref_num=pdu.sar_msg_ref_num,
            sar_total_segments=pdu.sar_total_segments,
            sar_segment_seqnum=pdu.sar_segment_seqnum,
            source_port=pdu.source_port,
            destination_port=pdu.destination_port,
            user_message_reference=pdu.user_message_reference,
        )


class Outgoing:
    """A deliver_sm waiting to go out, or in flight: a routed message or a receipt.

    A message goes to whichever bind serves its destination when it is sent; a receipt goes
    to a bind of the system that submitted the message.
    """

    __slots__ = ("attempts", "message", "not_before", "receipt_for", "template")

    def __init__(
        self,
        template: DeliverSm,
        message: StoredMessage | None = None,
        receipt_for: StoredMessage | None = None,
    ) -> None:
        self.template = template
        self.message = message
        self.receipt_for = receipt_for
        self.attempts = 0
        self.not_before = 0.0  # a retry waits until then (loop clock)

    @property
    def destination(self) -> str:
        return self.template.destination_addr


@dataclass(frozen=True, slots=True)
class SimMessage:
    """A whole message the SMSC accepted (concatenated parts joined), for tests to inspect.

    ``text`` is decoded on access: the simulator itself never looks at content.
    """

    origin: str
    source: str
    destination: str
    data_coding: int
    protocol_id: int
    udh: Udh | None
    payload: bytes
    message_ids: tuple[str, ...]

    @property
    def parts(self) -> int:
        return len(self.message_ids)

    @property
    def text(self) -> str | None:
        try:
            return decode_short_message(self.data_coding, self.payload, False)[1]
        except SmppError:
            return None
