"""A 3GPP TS 32.297-style binary CDR file: file header, CDR headers, records in BER.

File header, TS 32.297 clause 6.1.1, in this order (all integers big-endian):

    octets  field
    4       file length: the whole file, header included
    4       header length
    1       high release identifier (3 bits) | high version identifier (5 bits)
    1       low release identifier (3 bits) | low version identifier (5 bits)
    4       file opening timestamp (6.1.1.5): month 4 bits, day 5, hour 5, minute 6, sign of
            the offset from UTC 1 (1 = '+'), offset hours 5, offset minutes 6; local time
    4       last CDR append timestamp (6.1.1.6), same encoding, in UTC
    4       number of CDRs in the file
    4       file sequence number
    1       file closure trigger reason (``ClosureReason``)
    20      IP address of the node that generated the file: four octets 0xFF, then the IPv6
            address (an IPv4 address as IPv4-mapped IPv6, ::ffff:a.b.c.d)
    1       lost CDR indicator (0: none lost)
    2       length of CDR routeing filter (0: no filter)
    2       length of private extension
    n       private extension: ASCII ``onecard;carrier=<code>;period=<YYYY-MM>``
    1       high release identifier extension (release id 7 means Rel-10 + this value)
    1       low release identifier extension

Each CDR is preceded by its CDR header, clause 6.1.2: CDR length (2 octets), release id |
version id (1), data record format (3 bits, 1 = BER) | TS number (5 bits) (1), release id
extension (1). Our records are not a 3GPP TS 32.298 record type, so the TS number is 31,
which no TS uses; mediation decodes the records with the ASN.1 module in
``billing/export/LAYOUT.md`` (``OneCardRecord``).

Header counts are only known at the end, and the header has a fixed length for a given job,
so the encoder writes a placeholder header first and returns the final one from
``header_patch()`` for the writer to put back at offset 0 (one pass over the records).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import IntEnum

from billing.errors import BerError
from billing.export.asn1_records import (
    LineRecordView,
    TimestampCoder,
    UsageRecordView,
    decode_record,
    encode_line,
    encode_usage,
)
from billing.export.base import FileContext, FileTotals, LayoutKind
from billing.rating import InvoiceLine, RatedCdr

# Release 14 is encoded as release id 7 (Rel-10 and later) with extension 4 (6.1.1, 6.1.2).
RELEASE = 14
VERSION = 0
DATA_RECORD_FORMAT_BER = 1  # 6.1.2: 1 = BER
TS_NUMBER_PRIVATE = 31  # 6.1.2: no TS of the table; our own ASN.1 module
_FIXED_HEADER = struct.Struct(">IIBBIIIIB20sBH")  # up to and including the filter length
_LENGTH = struct.Struct(">H")


class ClosureReason(IntEnum):
    """File closure trigger reason, TS 32.297 6.1.1."""

    NORMAL = 0
    FILE_SIZE_LIMIT = 1
    FILE_OPEN_TIME_LIMIT = 2
    MAX_CDRS = 3
    MANUAL = 4
    CHANGE = 5  # CGF / release / version change
    UNDEFINED_ERROR = 128
    ABNORMAL_ERROR = 129
    DISK_SPACE = 130
    INTEGRITY = 131


def release_octets(release: int, version: int) -> tuple[int, int | None]:
    """Release/version octet and the release extension octet (None below Rel-10)."""
    if not 0 <= version < 32:
        raise BerError(f"version identifier {version} does not fit in 5 bits")
    if release == 99:
        return version, None
    if 4 <= release <= 9:
        return (release - 3) << 5 | version, None
    if release >= 10:
        return 7 << 5 | version, release - 10
    raise BerError(f"release {release} has no identifier")


def encode_timestamp(moment: datetime, tz: tzinfo) -> int:
    local = moment.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = (1, minutes) if minutes >= 0 else (0, -minutes)
    return (
        local.month << 28
        | local.day << 23
        | local.hour << 18
        | local.minute << 12
        | sign << 11
        | (minutes // 60) << 6
        | minutes % 60
    )


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A decoded header timestamp (the format carries no year)."""

    month: int
    day: int
    hour: int
    minute: int
    utc_offset_minutes: int


def decode_timestamp(value: int) -> Timestamp:
    offset = ((value >> 6) & 0x1F) * 60 + (value & 0x3F)
    return Timestamp(
        value >> 28,
        (value >> 23) & 0x1F,
        (value >> 18) & 0x1F,
        (value >> 12) & 0x3F,
        offset if value >> 11 & 1 else -offset,
    )


def node_address_octets(address: str) -> bytes:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise BerError(f"node address {address!r}: {exc}") from exc
    v6 = ip if isinstance(ip, ipaddress.IPv6Address) else ipaddress.IPv6Address(f"::ffff:{ip}")
    return b"\xff" * 4 + v6.packed


@dataclass(frozen=True, slots=True)
class FileHeader:
    """A decoded TS 32.297 file header."""

    file_length: int
    header_length: int
    high_release: int
    high_version: int
    low_release: int
    low_version: int
    opened: Timestamp
    last_append: Timestamp
    cdr_count: int
    sequence: int
    closure_reason: ClosureReason
    node_address: str
    lost_cdrs: int
    private_extension: bytes


def encode_file_header(ctx: FileContext, file_length: int, count: int) -> bytes:
    rel, ext = release_octets(RELEASE, VERSION)
    private = f"onecard;carrier={ctx.carrier};period={ctx.period}".encode("ascii")
    extensions = b"" if ext is None else bytes((ext, ext))
    header_length = _FIXED_HEADER.size + 2 + len(private) + len(extensions)
    fixed = _FIXED_HEADER.pack(
        file_length or header_length,
        header_length,
        rel,
        rel,
        encode_timestamp(ctx.opened_at, ctx.tz),
        encode_timestamp(ctx.closed_at, UTC),
        count,
        ctx.sequence,
        ClosureReason.NORMAL,
        node_address_octets(ctx.node_address),
        0,
        0,
    )
    return fixed + struct.pack(">H", len(private)) + private + extensions


def cdr_header(length: int) -> bytes:
    """The CDR header of 6.1.2 for a BER record of ``length`` octets."""
    if length > 0xFFFF:
        raise BerError(f"a CDR of {length} octets does not fit the 2-octet CDR length")
    rel, ext = release_octets(RELEASE, VERSION)
    fmt = DATA_RECORD_FORMAT_BER << 5 | TS_NUMBER_PRIVATE
    head = struct.pack(">HBB", length, rel, fmt)
    return head if ext is None else head + bytes((ext,))


class BerEncoder:
    """Streams one TS 32.297 file; the header is patched with the counts at the end."""

    kind = LayoutKind.BER
    extension = "ber"

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.totals = FileTotals()
        self._length = 0
        self._prefix = cdr_header(0)[2:]  # release, format and extension octets of every CDR
        self._stamp = TimestampCoder(context.tz)

    def begin(self) -> bytes:
        header = encode_file_header(self.context, 0, 0)
        self._length = len(header)
        return header

    def feed(self, records: Sequence[RatedCdr]) -> bytes:
        stamp, prefix, pack = self._stamp, self._prefix, _LENGTH.pack
        parts = []
        for rated in records:
            body = encode_usage(rated, stamp)
            parts.append(pack(len(body)) + prefix + body)
        data = b"".join(parts)
        self._length += len(data)
        self.totals.details += len(records)
        return data

    def finish(self, lines: Sequence[InvoiceLine]) -> bytes:
        data = b"".join(
            cdr_header(len(body)) + body for body in (encode_line(line) for line in lines)
        )
        self._length += len(data)
        self.totals.add_lines(lines)
        return data

    def header_patch(self) -> bytes:
        count = self.totals.details + self.totals.lines
        return encode_file_header(self.context, self._length, count)


def decode_file_header(data: bytes) -> FileHeader:
    if len(data) < _FIXED_HEADER.size + 2:
        raise BerError(f"a CDR file header needs at least {_FIXED_HEADER.size + 2} octets")
    (file_length, header_length, high, low, opened, appended, count, sequence, reason, address,
     lost, filter_length) = _FIXED_HEADER.unpack_from(data)  # fmt: skip
    if header_length > len(data) or header_length < _FIXED_HEADER.size + 2:
        raise BerError(f"header length {header_length} does not fit the file")
    private, high_release, low_release = _header_tail(data, header_length, filter_length,
                                                      high, low)  # fmt: skip
    try:
        closure = ClosureReason(reason)
    except ValueError as exc:
        raise BerError(f"unknown file closure trigger reason {reason}") from exc
    v6 = ipaddress.IPv6Address(address[4:])
    return FileHeader(
        file_length, header_length, high_release, high & 0x1F, low_release, low & 0x1F,
        decode_timestamp(opened), decode_timestamp(appended), count, sequence, closure,
        str(v6.ipv4_mapped or v6), lost, private,
    )  # fmt: skip


def _header_tail(
    data: bytes, header_length: int, filter_length: int, high: int, low: int
) -> tuple[bytes, int, int]:
    """The private extension and the releases, extensions included (6.1.1)."""
    pos = _FIXED_HEADER.size + filter_length
    if pos + 2 > header_length:
        raise BerError("routeing filter runs past the header")
    (private_length,) = struct.unpack_from(">H", data, pos)
    private = bytes(data[pos + 2 : pos + 2 + private_length])
    pos += 2 + private_length
    high_release = _decode_release(high >> 5, data, pos, header_length)
    low_release = _decode_release(low >> 5, data, pos + (high >> 5 == 7), header_length)
    return private, high_release, low_release


def _decode_release(identifier: int, data: bytes, pos: int, header_length: int) -> int:
    if identifier == 0:
        return 99
    if identifier < 7:
        return identifier + 3
    if pos >= header_length:
        raise BerError("release identifier 7 without its extension octet")
    return 10 + data[pos]


@dataclass(frozen=True, slots=True)
class CdrFile:
    header: FileHeader
    records: list[UsageRecordView | LineRecordView]


def decode_file(data: bytes) -> CdrFile:
    """Parse a whole file: header, then every CDR header and BER record."""
    header = decode_file_header(data)
    if header.file_length != len(data):
        raise BerError(f"file length says {header.file_length} octets, file has {len(data)}")
    pos = header.header_length
    records: list[UsageRecordView | LineRecordView] = []
    while pos < len(data):
        if pos + 4 > len(data):
            raise BerError(f"truncated CDR header at offset {pos}")
        length, rel, fmt = struct.unpack_from(">HBB", data, pos)
        pos += 4 + (rel >> 5 == 7)
        if fmt >> 5 != DATA_RECORD_FORMAT_BER:
            raise BerError(f"CDR at offset {pos} is not BER (format {fmt >> 5})")
        if pos + length > len(data):
            raise BerError(f"CDR at offset {pos} needs {length} octets")
        records.append(decode_record(bytes(data[pos : pos + length]), pos))
        pos += length
    if len(records) != header.cdr_count:
        raise BerError(f"header counts {header.cdr_count} CDRs, file holds {len(records)}")
    return CdrFile(header, records)
