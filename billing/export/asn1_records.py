"""The BER records of the TS 32.297 file: our ASN.1 module, its encoder and decoder.

    OneCardBilling DEFINITIONS IMPLICIT TAGS ::= BEGIN

    OneCardRecord ::= CHOICE {
        usageRecord  [0] UsageRecord,
        lineRecord   [1] LineRecord
    }

    UsageRecord ::= SEQUENCE {
        recordType    [0]  INTEGER,       -- billing.cdr.CdrKind
        cdrId         [1]  IA5String,     -- stable record id
        eventTime     [2]  TimeStamp,
        enterpriseId  [3]  UTF8String,
        memberId      [4]  UTF8String OPTIONAL,
        servedMSISDN  [5]  TBCD-STRING OPTIONAL,
        iccid         [6]  TBCD-STRING OPTIONAL,
        subKind       [7]  IA5String OPTIONAL,  -- SmsKind / OtaOperation / OneOffItem name
        chargeItem    [8]  INTEGER,       -- billing.tariffs.ChargeItem
        quantity      [9]  INTEGER,
        quantityBase  [10] INTEGER,       -- days in the month for a prorated member-month
        unitPriceE4   [11] INTEGER,       -- 1/10000 fen
        amountE4      [12] INTEGER,       -- 1/10000 fen, informative: lines are authoritative
        valueFen      [13] INTEGER OPTIONAL,    -- top-up / one-off / adjustment amount
        reference     [14] UTF8String OPTIONAL  -- adjusted "YYYY-MM/ITEM", instalment "k/n"
    }

    LineRecord ::= SEQUENCE {      -- one invoice line: the sum, rounded to fen once
        period        [0]  IA5String,     -- YYYY-MM
        enterpriseId  [1]  UTF8String,
        chargeItem    [2]  INTEGER,
        reference     [3]  UTF8String OPTIONAL,
        records       [4]  INTEGER,
        quantity      [5]  INTEGER,
        amountFen     [6]  INTEGER,
        valueFen      [7]  INTEGER
    }

    -- TS 32.298 clause 5.1.2.x TimeStamp: YYMMDDhhmmss in BCD, then the sign of the offset
    -- from UTC as an ASCII '+' or '-', then hhmm of the offset in BCD.
    TimeStamp ::= OCTET STRING (SIZE(9))
    -- TS 29.002: digits as semi-octets, first digit in bits 1-4, odd length filled with 'F'H.
    TBCD-STRING ::= OCTET STRING
    END

OPTIONAL text elements are left out when empty and ``valueFen`` of a usage record when zero.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from billing.errors import BerError
from billing.export.ber import (
    CONTEXT_CONSTRUCTED,
    CONTEXT_PRIMITIVE,
    Tlv,
    decode_integer,
    decode_text,
    decode_tlv,
    integer_content,
    tlv,
)
from billing.rating import InvoiceLine, RatedCdr
from billing.tariffs import units_to_e4

_T = CONTEXT_PRIMITIVE
USAGE_TAG = CONTEXT_CONSTRUCTED[0]
LINE_TAG = CONTEXT_CONSTRUCTED[1]


# INTEGER elements [n] with a value 0..127 (kinds, items, quantities, small amounts): built once.
_SMALL_INTS = tuple(tuple(_T[n] + bytes((1, v)) for v in range(128)) for n in range(16))
_BCD = tuple(bytes.fromhex(f"{v:02d}")[0] for v in range(100))


def _int(number: int, value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL_INTS[number][value]
    content = integer_content(value)
    return _T[number] + bytes((len(content),)) + content


def _text(number: int, value: str) -> bytes:
    return tlv(_T[number], value.encode()) if value else b""


@functools.lru_cache(maxsize=8192)
def tbcd(digits: str) -> bytes:
    """TS 29.002 TBCD-STRING: swapped semi-octets, odd length filled with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def untbcd(value: bytes) -> str:
    text = "".join(f"{octet & 0x0F:X}{octet >> 4:X}" for octet in value)
    return text.removesuffix("F")


@functools.lru_cache(maxsize=64)
def _offset_octets(offset: timedelta) -> bytes:
    minutes = int(offset.total_seconds()) // 60
    sign = b"+" if minutes >= 0 else b"-"
    minutes = abs(minutes)
    return sign + bytes.fromhex(f"{minutes // 60:02d}{minutes % 60:02d}")


def timestamp(moment: datetime, tz: tzinfo) -> bytes:
    """TS 32.298 TimeStamp of ``moment`` in local time ``tz``."""
    local = moment.astimezone(tz)
    digits = (
        f"{local.year % 100:02d}{local.month:02d}{local.day:02d}"
        f"{local.hour:02d}{local.minute:02d}{local.second:02d}"
    )
    return bytes.fromhex(digits) + _offset_octets(local.utcoffset() or timedelta(0))


class TimestampCoder:
    """``timestamp`` for one zone, fast for fixed offsets (China Standard Time).

    With a fixed offset, the TimeStamp's date octets and offset octets depend on the local day
    only: they are cached per day (a bounded cache), and the time of day is three BCD octets.
    """

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        fixed = tz.utcoffset(None)
        self._offset = None if fixed is None else int(fixed.total_seconds())
        self._days: dict[int, tuple[bytes, bytes]] = {}

    def __call__(self, moment: datetime) -> bytes:
        if self._offset is None:
            return timestamp(moment, self.tz)
        day, second = divmod(int(moment.timestamp()) + self._offset, 86400)
        parts = self._days.get(day)
        if parts is None:
            whole = timestamp(moment, self.tz)
            parts = (whole[:3], whole[6:])
            if len(self._days) < 4096:
                self._days[day] = parts
        hour, rest = divmod(second, 3600)
        bcd = _BCD
        return parts[0] + bytes((bcd[hour], bcd[rest // 60], bcd[rest % 60])) + parts[1]


def encode_usage(rated: RatedCdr, stamp: TimestampCoder) -> bytes:
    """One UsageRecord, tagged [0] in the OneCardRecord CHOICE."""
    cdr = rated.cdr
    t = _T
    parts = [
        _SMALL_INTS[0][cdr.kind],
        tlv(t[1], cdr.cdr_id.encode()),
        t[2] + b"\x09" + stamp(cdr.occurred_at),
        tlv(t[3], cdr.enterprise_id.encode()),
    ]
    if cdr.member_id:
        parts.append(tlv(t[4], cdr.member_id.encode()))
    if cdr.msisdn:
        parts.append(tlv(t[5], tbcd(cdr.msisdn)))
    if cdr.iccid:
        parts.append(tlv(t[6], tbcd(cdr.iccid)))
    if cdr.detail:
        parts.append(tlv(t[7], cdr.detail.encode()))
    parts += (
        _SMALL_INTS[8][rated.item],
        _int(9, rated.quantity),
        _int(10, rated.quantity_base),
        _int(11, units_to_e4(rated.unit_units)),
        _int(12, units_to_e4(rated.units)),
    )
    if rated.value_fen:
        parts.append(_int(13, rated.value_fen))
    if rated.reference:
        parts.append(tlv(t[14], rated.reference.encode()))
    return tlv(USAGE_TAG, b"".join(parts))


def encode_line(line: InvoiceLine) -> bytes:
    """One LineRecord, tagged [1] in the OneCardRecord CHOICE."""
    body = b"".join(
        (
            tlv(_T[0], str(line.period).encode()),
            tlv(_T[1], line.enterprise_id.encode()),
            _int(2, line.item),
            _text(3, line.reference),
            _int(4, line.records),
            _int(5, line.quantity),
            _int(6, line.amount_fen),
            _int(7, line.value_fen),
        )
    )
    return tlv(LINE_TAG, body)


@dataclass(frozen=True, slots=True)
class UsageRecordView:
    """A decoded UsageRecord."""

    record_type: int
    cdr_id: str
    event_time: bytes
    enterprise_id: str
    member_id: str
    msisdn: str
    iccid: str
    sub_kind: str
    charge_item: int
    quantity: int
    quantity_base: int
    unit_price_e4: int
    amount_e4: int
    value_fen: int
    reference: str


@dataclass(frozen=True, slots=True)
class LineRecordView:
    """A decoded LineRecord."""

    period: str
    enterprise_id: str
    charge_item: int
    reference: str
    records: int
    quantity: int
    amount_fen: int
    value_fen: int


_USAGE_FIELDS = {
    0: ("record_type", "int"),
    1: ("cdr_id", "text"),
    2: ("event_time", "octets"),
    3: ("enterprise_id", "text"),
    4: ("member_id", "text"),
    5: ("msisdn", "tbcd"),
    6: ("iccid", "tbcd"),
    7: ("sub_kind", "text"),
    8: ("charge_item", "int"),
    9: ("quantity", "int"),
    10: ("quantity_base", "int"),
    11: ("unit_price_e4", "int"),
    12: ("amount_e4", "int"),
    13: ("value_fen", "int"),
    14: ("reference", "text"),
}
_LINE_FIELDS = {
    0: ("period", "text"),
    1: ("enterprise_id", "text"),
    2: ("charge_item", "int"),
    3: ("reference", "text"),
    4: ("records", "int"),
    5: ("quantity", "int"),
    6: ("amount_fen", "int"),
    7: ("value_fen", "int"),
}
_DEFAULTS = {"text": "", "tbcd": "", "int": 0, "octets": b""}
_USAGE_REQUIRED = frozenset({0, 1, 2, 3, 8, 9, 10, 11, 12})
_LINE_REQUIRED = frozenset({0, 1, 2, 4, 5, 6, 7})


def _decode_fields(
    element: Tlv, fields: dict[int, tuple[str, str]], required: frozenset[int]
) -> dict[str, object]:
    values: dict[str, object] = {name: _DEFAULTS[kind] for name, kind in fields.values()}
    seen = set()
    for child in element.children():
        spec = fields.get(child.number)
        if spec is None or child.number in seen:
            raise BerError(f"unexpected or repeated element [{child.number}] at {child.offset}")
        seen.add(child.number)
        name, kind = spec
        if kind == "int":
            values[name] = decode_integer(child)
        elif kind == "text":
            values[name] = decode_text(child)
        elif kind == "tbcd":
            values[name] = untbcd(child.value)
        else:
            values[name] = child.value
    if missing := sorted(required - seen):
        raise BerError(f"record at offset {element.offset} lacks elements {missing}")
    return values


def decode_record(data: bytes, offset: int = 0) -> UsageRecordView | LineRecordView:
    """Decode one OneCardRecord; ``offset`` is where it sits in the file, for messages."""
    element, end = decode_tlv(data, 0, offset)
    if end != len(data):
        raise BerError(f"{len(data) - end} octets after the record at offset {offset}")
    if element.constructed and element.number == 0:
        return UsageRecordView(**_decode_fields(element, _USAGE_FIELDS, _USAGE_REQUIRED))  # type: ignore[arg-type]
    if element.constructed and element.number == 1:
        return LineRecordView(**_decode_fields(element, _LINE_FIELDS, _LINE_REQUIRED))  # type: ignore[arg-type]
    raise BerError(f"record at offset {offset} is neither [0] usage nor [1] line")
