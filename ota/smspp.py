"""SMS-PP framing of secured packets (3GPP TS 31.115 4.2 / 4.4, TS 23.040 9.2.3.24).

A command packet travels in the TP-UD of SMS-DELIVERs with TP-PID 0x7F (SIM data download,
TS 23.040 9.2.3.9) and TP-DCS 0xF6 (class 2, 8-bit data, TS 23.038 4). Its UDH carries the
command packet identifier (IEI 0x70, empty). TP-UD holds at most 140 octets, so:

* one SMS when the packet has at most 137 octets: UDH ``02 70 00``, then the packet;
* otherwise concatenated SMS (TS 31.115 4.2, TS 23.048 6.2): the first segment's UDH carries the
  concatenation IE and the CPI (``07 00 03 ref n 01 70 00``), later segments only the
  concatenation IE (``05 00 03 ref n i``); the packet is cut into 132, then 134-octet pieces.
  The 16-bit reference variant uses IEI 08 (``08 08 04 refH refL n 01 70 00``: 131, then 133).

The receiving side reassembles segments in any order (IE order in a UDH is not fixed; the CPI
may sit anywhere in segment 1's UDH) with :class:`Reassembler` (sans-I/O: feed TP-UDs, get a
packet back when complete) or :func:`reassemble` (all segments at hand).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ota.errors import FormatError, InsufficientMemory
from smpp.errors import UdhError
from smpp.udh import Concat, Iei, InformationElement, Udh, concat_ie

TP_PID_SIM_DATA_DOWNLOAD = 0x7F
TP_DCS_CLASS2_8BIT = 0xF6
MAX_TP_UD = 140
MAX_SEGMENTS = 255
CPI = InformationElement(Iei.CPI)
SINGLE_UDH = Udh((CPI,)).encode()
MAX_SINGLE_PACKET = MAX_TP_UD - len(SINGLE_UDH)


def _udhs(reference: int, total: int, ref16: bool) -> list[bytes]:
    try:
        return [
            Udh((concat_ie(reference, total, 1, ref16), CPI)).encode(),
            *(Udh((concat_ie(reference, total, i, ref16),)).encode() for i in range(2, total + 1)),
        ]
    except UdhError as exc:
        raise FormatError(f"cannot build the concatenation header: {exc}") from exc


def segment_count(packet_length: int, *, ref16: bool = False) -> int:
    """How many SMS a command packet of ``packet_length`` octets needs."""
    if packet_length <= MAX_SINGLE_PACKET:
        return 1
    concat_udh = 7 if ref16 else 6  # UDHL + concatenation IE (2 + 4 or 2 + 3)
    first, later = MAX_TP_UD - concat_udh - 2, MAX_TP_UD - concat_udh  # segment 1 adds the CPI
    return 1 + -(-(packet_length - first) // later)


def command_segments(packet: bytes, *, reference: int = 0, ref16: bool = False) -> list[bytes]:
    """The TP-UD of each SMS that carries ``packet`` (with its UDH), in sending order.

    ``reference`` is the concatenation reference (0-255, or 0-65535 with ``ref16``); the sender
    picks one per message and should not reuse it while segments may be in flight.
    """
    total = segment_count(len(packet), ref16=ref16)
    if total == 1:
        return [SINGLE_UDH + packet]
    if total > MAX_SEGMENTS:
        raise FormatError(f"a packet of {len(packet)} octets needs {total} SMS, at most 255")
    segments = []
    offset = 0
    for udh in _udhs(reference, total, ref16):
        size = MAX_TP_UD - len(udh)
        segments.append(udh + packet[offset:offset + size])
        offset += size
    return segments


@dataclass(frozen=True, slots=True)
class Segment:
    """One received SMS of a command packet."""

    concat: Concat | None  # None: a single-SMS packet
    has_cpi: bool
    payload: bytes


def parse_segment(tp_ud: bytes) -> Segment:
    """Split a TP-UD (with UDHI set) into its concatenation data, CPI flag and payload."""
    try:
        udh, payload = Udh.decode(tp_ud)
    except UdhError as exc:
        raise FormatError(f"user data header: {exc}") from exc
    concat = udh.concat
    if concat is not None and concat.total == 1:
        concat = None  # "part 1 of 1" is a single SMS
    if concat is None and not udh.has(Iei.CPI):
        raise FormatError("single SMS without a command packet identifier (IEI 70)")
    return Segment(concat, udh.has(Iei.CPI), payload)


def _key(concat: Concat) -> tuple[int, bool, int]:
    return concat.reference, concat.ref16, concat.total


@dataclass
class Reassembler:
    """Collects command-packet segments from one originator; sans-I/O.

    :meth:`feed` returns the packet once every part has arrived, else None. Identical
    duplicates are ignored; a different payload for a part already held, or a segment 1
    without the CPI, raises :class:`FormatError`. At most ``max_pending`` messages are kept
    open; one more raises :class:`InsufficientMemory` (PoR status 07) instead of growing.
    """

    max_pending: int = 8
    _parts: dict[tuple[int, bool, int], dict[int, bytes]] = field(
        default_factory=dict, init=False, repr=False)

    def feed(self, tp_ud: bytes) -> bytes | None:
        segment = parse_segment(tp_ud)
        if segment.concat is None:
            return segment.payload
        concat = segment.concat
        if concat.sequence == 1 and not segment.has_cpi:
            raise FormatError("segment 1 carries no command packet identifier (IEI 70)")
        key = _key(concat)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= self.max_pending:
                raise InsufficientMemory(f"{len(self._parts)} concatenated packets already open")
            parts = self._parts[key] = {}
        held = parts.get(concat.sequence)
        if held is not None and held != segment.payload:
            raise FormatError(f"part {concat.sequence} of reference {concat.reference} "
                              "arrived twice with different contents")
        parts[concat.sequence] = segment.payload
        if len(parts) < concat.total:
            return None
        del self._parts[key]
        return b"".join(parts[i] for i in range(1, concat.total + 1))

    @property
    def pending(self) -> int:
        return len(self._parts)


def reassemble(segments: Iterable[bytes]) -> bytes:
    """The command packet from the TP-UDs of all its SMS, in any order."""
    reassembler = Reassembler(max_pending=1)
    packet = None
    for tp_ud in segments:
        if packet is not None:
            raise FormatError("segments left over after the packet was complete")
        packet = reassembler.feed(tp_ud)
    if packet is None:
        raise FormatError("segments missing: the packet is incomplete")
    return packet
