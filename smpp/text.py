"""SMS text for SMPP: coding choice, segmentation with concatenation UDH, short_message
decoding and reassembly of concatenated parts.

- Codings are the SMPP data_coding / TP-DCS values (SMPP v3.4 5.2.19, TS 23.038 4).
- A single message holds 160 septets or 140 octets (70 UCS2 code units); a concatenated part
  loses room to its UDH (TS 23.040 9.2.3.24.1 / 9.2.3.24.8): 153/67 with an 8-bit reference,
  152/66 with a 16-bit one. A part never ends inside an escape sequence (TS 23.038 6.2.1.1) or
  a UTF-16 surrogate pair, because a receiver that displays each part alone would show garbage.
- GSM 7-bit payloads are unpacked septets, one per octet, as SMPP short_message carries them
  with data_coding 0; the SMSC packs them into the TPDU.

Sans-I/O: the reassembler takes ``now`` as an argument and keeps no clock.
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict
from dataclasses import dataclass

from smpp.sms_dcs import Alphabet, DataCodingScheme
from smpp.sms_errors import ReassemblyError, SmsFormatError, UnsupportedCodingError
from smpp.sms_userdata import decode_ucs2
from smpp.udh import Concat, Udh, concat_ie
from stk.errors import TextCodingError
from stk.text import ESCAPE, GSM7_BASIC, GSM7_EXTENSION, gsm7_decode, gsm7_encode, is_gsm7


class Coding(enum.IntEnum):
    """Text codings we send: SMPP data_coding and TP-DCS share these two values."""

    GSM7 = 0x00
    UCS2 = 0x08


SINGLE_SEPTETS = 160
SINGLE_OCTETS = 140
MAX_PARTS = 0xFF  # the concatenation IE counts parts in one octet
_CONCAT_UDH_OCTETS = {False: 6, True: 7}  # UDHL + IE 00 (len 3) / IE 08 (len 4)


def choose_coding(text: str) -> Coding:
    """GSM 7-bit when every character is in the default alphabet or its extension table."""
    return Coding.GSM7 if is_gsm7(text) else Coding.UCS2


def part_capacity(coding: Coding, ref16: bool = False) -> int:
    """Septets (GSM7) or UCS2 code units left in a concatenated part beside its UDH."""
    udh = _CONCAT_UDH_OCTETS[ref16]
    if coding is Coding.GSM7:
        return SINGLE_SEPTETS - (udh * 8 + 6) // 7
    return (SINGLE_OCTETS - udh) // 2


@dataclass(frozen=True, slots=True)
class Segment:
    """One short message of a text: its UDH (with UDHL, empty when single) and payload."""

    coding: Coding
    udh: bytes
    payload: bytes
    index: int
    total: int

    @property
    def short_message(self) -> bytes:
        return self.udh + self.payload

    @property
    def esm_udhi(self) -> bool:
        """Whether esm_class must carry the UDHI flag (0x40) for this part."""
        return bool(self.udh)


def encode_text(text: str, coding: Coding) -> bytes:
    """Unpacked septets for GSM7, UTF-16BE for UCS2; unencodable text is refused clearly."""
    if coding is Coding.GSM7:
        try:
            return gsm7_encode(text)
        except TextCodingError as exc:
            raise UnsupportedCodingError(str(exc)) from exc
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise UnsupportedCodingError(
            f"text cannot be coded as UCS2 at position {exc.start}: {exc.reason}"
        ) from exc


def _cut_points(units: bytes, coding: Coding, capacity_octets: int) -> list[int]:
    """End offsets of each part, never inside an escape sequence or a surrogate pair."""
    cuts: list[int] = []
    start = 0
    while start < len(units):
        end = start + capacity_octets
        if end >= len(units):
            end = len(units)
        elif coding is Coding.GSM7:
            # gsm7_encode emits ESCAPE only as the first half of a pair (no extension code
            # is 1B), so a part that would end on one moves it to the next part.
            if units[end - 1] == ESCAPE:
                end -= 1
        elif 0xD8 <= units[end - 2] <= 0xDB:  # high surrogate: keep it with its low half
            end -= 2
        cuts.append(end)
        start = end
    return cuts


def _unit_octets(coding: Coding) -> int:
    return 1 if coding is Coding.GSM7 else 2


# The highest character GSM 7-bit can carry: a text with any character above it (Chinese,
# say) is UCS2 without trying, and failing, to encode it as GSM 7-bit first.
_BEYOND_GSM7 = re.compile(f"[^\\x00-{re.escape(max(max(GSM7_BASIC), max(GSM7_EXTENSION)))}]")


def _encode_chosen(text: str, coding: Coding | None) -> tuple[Coding, bytes]:
    """The coding and the encoded units; with no coding given, GSM 7-bit when it can be."""
    if coding is not None:
        chosen = Coding(coding)
        return chosen, encode_text(text, chosen)
    if _BEYOND_GSM7.search(text) is not None:
        return Coding.UCS2, encode_text(text, Coding.UCS2)
    try:  # one pass over the text both decides the coding and encodes it
        return Coding.GSM7, gsm7_encode(text)
    except TextCodingError:
        return Coding.UCS2, encode_text(text, Coding.UCS2)


def split_text(
    text: str, *, reference: int, ref16: bool = False, coding: Coding | None = None
) -> tuple[Segment, ...]:
    """Split ``text`` into one or more segments, concatenated parts numbered from 1."""
    concat_ie(reference, 1, 1, ref16)  # validates the reference range even for one part
    chosen, units = _encode_chosen(text, coding)
    single = SINGLE_SEPTETS if chosen is Coding.GSM7 else SINGLE_OCTETS
    if len(units) <= single:
        return (Segment(chosen, b"", units, 1, 1),)
    capacity = part_capacity(chosen, ref16) * _unit_octets(chosen)
    cuts = _cut_points(units, chosen, capacity)
    total = len(cuts)
    if total > MAX_PARTS:
        raise SmsFormatError(f"text needs {total} parts, a concatenated message holds 255")
    # The concatenation UDH (UDHL, IEI, IEDL, reference, total, index) written directly:
    # what Udh((concat_ie(...),)).encode() gives, without three objects per part.
    head = (bytes((6, 0x08, 4, reference >> 8, reference & 0xFF, total)) if ref16
            else bytes((5, 0x00, 3, reference, total)))
    segments = []
    start = 0
    for index, end in enumerate(cuts, 1):
        segments.append(Segment(chosen, head + bytes((index,)), units[start:end], index, total))
        start = end
    return tuple(segments)


def count_segments(text: str, *, ref16: bool = False, coding: Coding | None = None) -> int:
    """How many segments :func:`split_text` makes, without building them."""
    chosen, units = _encode_chosen(text, coding)
    capacity = part_capacity(chosen, ref16)
    if chosen is Coding.GSM7:
        if len(units) <= SINGLE_SEPTETS:
            return 1
        if ESCAPE not in units:  # no escapes: parts are all full but the last
            return -(-len(units) // capacity)
    else:
        if len(units) <= SINGLE_OCTETS:
            return 1
        if len(units) == 2 * len(text):  # no surrogate pairs
            return -(-len(text) // capacity)
    return len(_cut_points(units, chosen, capacity * _unit_octets(chosen)))


# SMPP v3.4 5.2.19 data_coding values that carry text, and how to read them.
_SMPP_TEXT_CODINGS = {0x00: "gsm7", 0x01: "ascii", 0x03: "latin-1", 0x08: "ucs2"}
_SMPP_BINARY = {0x02, 0x04}


def decode_short_message(
    data_coding: int, short_message: bytes, udhi: bool
) -> tuple[Udh | None, str]:
    """The UDH (when esm_class has UDHI) and the text of an SMPP short_message.

    data_coding 0 is read as GSM 7-bit unpacked septets, 1 as IA5/ASCII, 3 as Latin-1,
    8 as UCS2 (UTF-16BE). Values from 0xC0 are TS 23.038 message waiting / message class
    codings (SMPP v3.4 5.2.19) and are read by their alphabet. Binary and other national
    codings raise :class:`UnsupportedCodingError`.
    """
    udh: Udh | None = None
    body = bytes(short_message)
    if udhi:
        udh, body = Udh.decode(body)
    kind = _coding_kind(data_coding)
    if kind == "gsm7":
        try:
            return udh, gsm7_decode(body)
        except TextCodingError as exc:
            raise SmsFormatError(f"short_message with data_coding 0: {exc}") from exc
    if kind == "ucs2":
        return udh, decode_ucs2(body)
    try:
        return udh, body.decode(kind)
    except UnicodeDecodeError as exc:
        raise SmsFormatError(
            f"short_message is not {kind} at octet {exc.start}: {exc.reason}"
        ) from exc


def _coding_kind(data_coding: int) -> str:
    kind = _SMPP_TEXT_CODINGS.get(data_coding)
    if kind is not None:
        return kind
    if data_coding in _SMPP_BINARY:
        raise UnsupportedCodingError(f"data_coding 0x{data_coding:02X} is binary, not text")
    if 0xC0 <= data_coding <= 0xFF:
        alphabet = DataCodingScheme(data_coding).alphabet
        if alphabet is Alphabet.GSM7:
            return "gsm7"
        if alphabet is Alphabet.UCS2:
            return "ucs2"
        raise UnsupportedCodingError(f"data_coding 0x{data_coding:02X} is 8-bit data")
    raise UnsupportedCodingError(f"data_coding 0x{data_coding:02X} is not a supported text coding")


# --- Reassembly -------------------------------------------------------------------------------

ReassemblyKey = tuple[str, str, int, int]  # originator, destination, reference, total


@dataclass(frozen=True, slots=True)
class IncompleteMessage:
    """A concatenated message whose parts did not all arrive within the time to live."""

    originator: str
    destination: str
    reference: int
    total: int
    parts: tuple[tuple[int, bytes], ...]  # (sequence, payload), ascending
    first_seen: float

    @property
    def missing(self) -> tuple[int, ...]:
        have = {seq for seq, _ in self.parts}
        return tuple(seq for seq in range(1, self.total + 1) if seq not in have)


@dataclass(slots=True)
class _Pending:
    first_seen: float
    parts: dict[int, bytes]


class Reassembler:
    """Collects concatenated parts, keyed by (originator, destination, reference, total).

    Works for UDH concatenation and for SMPP sar_* TLVs alike: callers pass a
    :class:`~smpp.udh.Concat` built from either. Identical duplicates are ignored, also after
    completion (an SMSC resends a part whose response got lost); a duplicate with different
    content raises :class:`ReassemblyError`. Parts older than ``ttl`` come back from
    :meth:`expire`, and so do messages pushed out when ``max_pending`` is reached: nothing
    is dropped silently.
    """

    def __init__(self, *, ttl: float = 300.0, max_pending: int = 10_000) -> None:
        if ttl <= 0 or max_pending < 1:
            raise ValueError("ttl must be positive and max_pending at least 1")
        self.ttl = ttl
        self.max_pending = max_pending
        self._pending: OrderedDict[ReassemblyKey, _Pending] = OrderedDict()
        # Recently completed messages, so that late duplicates are recognised.
        self._done: OrderedDict[ReassemblyKey, _Pending] = OrderedDict()
        self._evicted: list[IncompleteMessage] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, originator: str, destination: str, concat: Concat, payload: bytes, now: float
    ) -> bytes | None:
        """Store one part; return the whole payload when the last missing part arrives."""
        if not concat.is_valid():
            raise ReassemblyError(
                f"part {concat.sequence} of {concat.total} (reference {concat.reference}) "
                "is out of range"
            )
        payload = bytes(payload)
        if concat.total == 1:
            return payload
        key = (originator, destination, concat.reference, concat.total)
        done = self._done.get(key)
        if done is not None and done.parts.get(concat.sequence) == payload:
            return None
        pending = self._pending.get(key)
        if pending is None:
            pending = self._open(key, now)
        known = pending.parts.get(concat.sequence)
        if known is not None:
            if known != payload:
                raise ReassemblyError(
                    f"part {concat.sequence} of {concat.total} (reference {concat.reference}) "
                    "arrived twice with different content"
                )
            return None
        pending.parts[concat.sequence] = payload
        if len(pending.parts) < concat.total:
            return None
        del self._pending[key]
        self._remember(key, pending)
        return b"".join(pending.parts[seq] for seq in range(1, concat.total + 1))

    def _open(self, key: ReassemblyKey, now: float) -> _Pending:
        self._done.pop(key, None)
        if len(self._pending) >= self.max_pending:
            old_key, old = self._pending.popitem(last=False)
            self._evicted.append(_incomplete(old_key, old))
        pending = _Pending(now, {})
        self._pending[key] = pending
        return pending

    def _remember(self, key: ReassemblyKey, pending: _Pending) -> None:
        self._done[key] = pending
        while len(self._done) > self.max_pending:
            self._done.popitem(last=False)

    def expire(self, now: float) -> list[IncompleteMessage]:
        """Remove and return incomplete messages whose first part is older than the TTL."""
        expired, self._evicted = self._evicted, []
        # Both dicts are (about) oldest first, so the scan stops at the first young entry
        # instead of walking thousands of completed messages on every tick.
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.first_seen < self.ttl:
                break
            del self._pending[key]
            expired.append(_incomplete(key, pending))
        while self._done:
            key, pending = next(iter(self._done.items()))
            if now - pending.first_seen < self.ttl:
                break
            del self._done[key]
        return expired


def _incomplete(key: ReassemblyKey, pending: _Pending) -> IncompleteMessage:
    originator, destination, reference, total = key
    parts = tuple(sorted(pending.parts.items()))
    return IncompleteMessage(originator, destination, reference, total, parts, pending.first_seen)
