"""BER-TLV and COMPREHENSION-TLV framing (ETSI TS 101 220 7.1, TS 102 223 Annex C and clause 7).

Lengths (TS 101 220 7.1.2, TS 102 223 Annex C): one octet for 0..127, ``81 xx`` for 128..255,
``82 xx xx`` for 256..65535. The four-octet form ``83 xx xx xx`` cannot occur inside a
short-APDU CAT object and is refused, as is the indefinite form ``80``.

COMPREHENSION-TLV tags (TS 101 220 7.1.1.1): one octet ``CR | tag`` for tag values 01..7E, or
three octets ``7F | CR tag(15 bits)`` for values up to 7FFF. ``00``, ``80`` and ``FF`` are not
tags. The encoder uses the one-octet form whenever the value allows it; the decoder accepts both
and also accepts non-minimal length forms, so decode-then-encode is canonical, not a byte copy.

Every failure raises ``TlvError`` (``TruncatedError`` when the data simply ends too early, which
is what ``BerTlvReader`` waits on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stk.errors import TlvError, TruncatedError
from stk.tags import CR_FLAG

MAX_LENGTH = 0xFFFF
MAX_CTLV_TAG = 0x7FFF
_THREE_OCTET_TAG = 0x7F
_RESERVED_TAG_OCTETS = frozenset({0x00, 0x80, 0xFF})


def encode_length(length: int) -> bytes:
    """Encode a length in the shortest of the 1/2/3-octet forms."""
    if length < 0:
        raise TlvError(f"negative length {length}")
    if length < 0x80:
        return bytes((length,))
    if length <= 0xFF:
        return bytes((0x81, length))
    if length <= MAX_LENGTH:
        return b"\x82" + length.to_bytes(2, "big")
    raise TlvError(f"value of {length} octets exceeds the 3-octet length form (65535)")


def decode_length(data: bytes, offset: int) -> tuple[int, int]:
    """Decode the length field at ``offset``; returns (length, offset after the field)."""
    if offset >= len(data):
        raise TruncatedError(f"data ends before the length field at offset {offset}")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    if first == 0x80:
        raise TlvError(f"indefinite length form '80' at offset {offset} is not allowed")
    if first > 0x82:
        raise TlvError(f"length form {first:02X} at offset {offset} is not supported (max '82')")
    size = first - 0x80
    end = offset + 1 + size
    if end > len(data):
        raise TruncatedError(f"data ends inside the {size + 1}-octet length at offset {offset}")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def _value(data: bytes, start: int, length: int, what: str) -> tuple[bytes, int]:
    end = start + length
    if end > len(data):
        raise TruncatedError(f"{what} announces {length} octets, only {len(data) - start} present")
    return data[start:end], end


# --- COMPREHENSION-TLV --------------------------------------------------------------------


@dataclass(frozen=True)
class Ctlv:
    """One COMPREHENSION-TLV: tag value without CR, the CR flag, and the value octets."""

    tag: int
    value: bytes
    cr: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.tag <= MAX_CTLV_TAG:
            raise TlvError(f"COMPREHENSION-TLV tag value {self.tag:#x} is outside 01..7FFF")

    def encode(self) -> bytes:
        return encode_ctlv_tag(self.tag, self.cr) + encode_length(len(self.value)) + self.value

    @property
    def header_hex(self) -> str:
        """Tag and length octets as on the wire, for analyser output."""
        return (
            (encode_ctlv_tag(self.tag, self.cr) + encode_length(len(self.value))).hex(" ").upper()
        )


def encode_ctlv_tag(tag: int, cr: bool) -> bytes:
    if 1 <= tag < _THREE_OCTET_TAG:
        return bytes((tag | (CR_FLAG if cr else 0),))
    if _THREE_OCTET_TAG <= tag <= MAX_CTLV_TAG:
        return bytes((_THREE_OCTET_TAG,)) + (tag | (0x8000 if cr else 0)).to_bytes(2, "big")
    raise TlvError(f"COMPREHENSION-TLV tag value {tag:#x} is outside 01..7FFF")


def decode_ctlv_tag(data: bytes, offset: int) -> tuple[int, bool, int]:
    """Decode a tag at ``offset``; returns (tag value, CR, offset after the tag)."""
    if offset >= len(data):
        raise TruncatedError(f"data ends before a tag at offset {offset}")
    first = data[offset]
    if first in _RESERVED_TAG_OCTETS:
        raise TlvError(f"octet {first:02X} at offset {offset} is not a COMPREHENSION-TLV tag")
    if first != _THREE_OCTET_TAG:
        return first & 0x7F, bool(first & CR_FLAG), offset + 1
    if offset + 3 > len(data):
        raise TruncatedError(f"data ends inside the three-octet tag at offset {offset}")
    word = int.from_bytes(data[offset + 1 : offset + 3], "big")
    tag = word & MAX_CTLV_TAG
    if tag == 0:
        raise TlvError(f"three-octet tag at offset {offset} has tag value 0")
    return tag, bool(word & 0x8000), offset + 3


def decode_ctlv(data: bytes, offset: int = 0) -> tuple[Ctlv, int]:
    """Decode one COMPREHENSION-TLV at ``offset``; returns it and the offset after it."""
    tag, cr, pos = decode_ctlv_tag(data, offset)
    length, pos = decode_length(data, pos)
    value, end = _value(data, pos, length, f"tag {tag:02X} at offset {offset}")
    return Ctlv(tag, value, cr), end


def decode_ctlvs(data: bytes) -> tuple[Ctlv, ...]:
    """Decode a concatenation of COMPREHENSION-TLVs that fills ``data`` exactly."""
    out: list[Ctlv] = []
    offset = 0
    while offset < len(data):
        tlv, offset = decode_ctlv(data, offset)
        out.append(tlv)
    return tuple(out)


def encode_ctlvs(tlvs: Iterable[Ctlv]) -> bytes:
    return b"".join(t.encode() for t in tlvs)


# --- BER-TLV ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BerTlv:
    """One BER-TLV object with a one-octet tag (TS 102 223 Annex C)."""

    tag: int
    value: bytes

    def encode(self) -> bytes:
        return encode_ber_tag(self.tag) + encode_length(len(self.value)) + self.value


def encode_ber_tag(tag: int) -> bytes:
    """CAT BER-TLV tags are one octet (TS 102 223 Annex C), so 'DF' is a whole tag here."""
    if not 0 < tag < 0xFF:
        raise TlvError(f"BER-TLV tag {tag:#x} is not a one-octet CAT tag")
    return bytes((tag,))


def split_ber(data: bytes, offset: int = 0) -> tuple[BerTlv, int]:
    """Decode one BER-TLV at ``offset``; returns it and the offset after it."""
    if offset >= len(data):
        raise TruncatedError(f"data ends before a BER-TLV tag at offset {offset}")
    tag = data[offset]
    if tag in (0x00, 0xFF):
        raise TlvError(f"octet {tag:02X} at offset {offset} is not a BER-TLV tag")
    length, pos = decode_length(data, offset + 1)
    value, end = _value(data, pos, length, f"BER-TLV {tag:02X} at offset {offset}")
    return BerTlv(tag, value), end


def decode_ber(data: bytes) -> BerTlv:
    """Decode exactly one BER-TLV object; trailing octets are an error."""
    tlv, end = split_ber(data)
    if end != len(data):
        raise TlvError(f"{len(data) - end} octets follow the BER-TLV object {tlv.tag:02X}")
    return tlv


class BerTlvReader:
    """Incremental BER-TLV reader: feed octets as they arrive, collect whole objects.

    For a transport that delivers a FETCH response or an ENVELOPE in pieces (T=0 GET
    RESPONSE chunks, a socket). Malformed framing raises at once; a short buffer only waits.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[BerTlv]:
        self._buffer += data
        out: list[BerTlv] = []
        while self._buffer:
            try:
                tlv, end = split_ber(self._buffer)
            except TruncatedError:
                break
            out.append(tlv)
            self._buffer = self._buffer[end:]
        return out

    @property
    def pending(self) -> int:
        """Octets received that do not yet form a whole object."""
        return len(self._buffer)

    def close(self) -> None:
        """Declare the end of input; a partial object left over is an error."""
        if self._buffer:
            raise TruncatedError(f"input ended with {len(self._buffer)} octets of a partial object")
