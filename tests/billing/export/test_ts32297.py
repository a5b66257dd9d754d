from __future__ import annotations

import re
import struct
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from billing.errors import BerError
from billing.export.asn1_records import LineRecordView, UsageRecordView, tbcd, timestamp, untbcd
from billing.export.base import BufferSink, ExportRun
from billing.export.ts32297 import (
    BerEncoder,
    ClosureReason,
    cdr_header,
    decode_file,
    decode_file_header,
    decode_timestamp,
    encode_timestamp,
    node_address_octets,
    release_octets,
)
from billing.rating import Rater, member_months
from tests.billing import sample
from tests.support import need_binary

GOLDEN = Path(__file__).parent.parent / "golden"
CST = timezone(timedelta(hours=8))


def month_file() -> bytes:
    return (GOLDEN / "month_ber.ber").read_bytes()


def test_header_timestamp_bits_worked_by_hand() -> None:
    # 2026-11-01 10:30 +08:00: month 1011, day 00001, hour 01010, minute 011110, sign 1,
    # offset hours 01000, offset minutes 000000 -> 1011 0000 1010 1001 1110 1010 0000 0000.
    moment = datetime(2026, 11, 1, 10, 30, tzinfo=CST)
    assert f"{encode_timestamp(moment, CST):08x}" == "b0a9ea00"
    assert decode_timestamp(0xB0A9EA00).utc_offset_minutes == 480
    west = timezone(-timedelta(hours=3, minutes=30))
    assert decode_timestamp(encode_timestamp(moment, west)).utc_offset_minutes == -210


def test_release_identifiers() -> None:
    assert release_octets(14, 0) == (0xE0, 4)
    assert release_octets(8, 3) == (0xA3, None)
    assert release_octets(99, 1) == (0x01, None)
    with pytest.raises(BerError):
        release_octets(3, 0)
    with pytest.raises(BerError):
        release_octets(14, 32)


def test_node_address_is_four_ff_then_ipv6() -> None:
    assert node_address_octets("10.1.2.3").hex() == "ffffffff" + "00" * 10 + "ffff0a010203"
    assert node_address_octets("2001:db8::1")[4:].hex() == "20010db8" + "00" * 11 + "01"
    with pytest.raises(BerError):
        node_address_octets("gw01.example")


def test_golden_header_fields() -> None:
    data = month_file()
    header = decode_file_header(data)
    assert header.file_length == len(data)
    assert struct.unpack(">I", data[:4])[0] == len(data)
    assert (header.high_release, header.low_release, header.high_version) == (14, 14, 0)
    assert header.sequence == 1
    assert header.cdr_count == 19 + 11
    assert header.closure_reason is ClosureReason.NORMAL
    assert header.node_address == "127.0.0.1"
    assert header.lost_cdrs == 0
    assert header.private_extension == b"onecard;carrier=CMCC-GD;period=2026-10"
    assert (header.opened.month, header.opened.day, header.opened.hour) == (11, 1, 10)
    assert (header.last_append.hour, header.last_append.utc_offset_minutes) == (2, 0)


def test_golden_file_decodes_to_the_same_records_and_lines() -> None:
    parsed = decode_file(month_file())
    usage = [r for r in parsed.records if isinstance(r, UsageRecordView)]
    lines = [r for r in parsed.records if isinstance(r, LineRecordView)]
    assert len(usage) == 19 and len(lines) == 11
    assert usage[0].quantity_base == 31 and usage[1].amount_e4 == 2_741_935
    assert sum(line.amount_fen for line in lines) == 151_941
    adjustment = usage[-1]
    assert (adjustment.value_fen, adjustment.reference) == (-400, "2026-09/SERVICE_FEE")


def test_empty_period_is_a_header_with_zero_cdrs() -> None:
    parsed = decode_file((GOLDEN / "empty_ber.ber").read_bytes())
    assert parsed.header.cdr_count == 0 and parsed.records == []


def test_records_parse_with_openssl_as_an_independent_ber_reader(tmp_path: Path) -> None:
    openssl = need_binary("openssl", "openssl")
    data = month_file()
    header = decode_file_header(data)
    pos = header.header_length
    length = struct.unpack_from(">H", data, pos)[0]
    record = data[pos + 5 : pos + 5 + length]
    (tmp_path / "cdr.der").write_bytes(record)
    out = subprocess.run(
        [openssl, "asn1parse", "-inform", "DER", "-in", str(tmp_path / "cdr.der")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [
        re.search(r"d=(\d).*l=\s*(\d+) (cons|prim): cont \[ (\d+) \]", r) for r in out.splitlines()
    ]
    parsed = [(int(m[1]), int(m[2]), m[3], int(m[4])) for m in rows if m]
    assert parsed[0] == (0, length - 2, "cons", 0)  # UsageRecord [0], short-form length
    # A member-month has no subKind [7], valueFen [13] or reference [14].
    assert [tag for depth, _, _, tag in parsed[1:]] == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    assert (1, 9, "prim", 2) in parsed  # TimeStamp is 9 octets


def test_truncated_or_corrupt_files_are_ber_errors() -> None:
    data = month_file()
    for cut in (0, 10, 60, len(data) - 1):
        with pytest.raises(BerError):
            decode_file(data[:cut])
    corrupt = bytearray(data)
    struct.pack_into(">I", corrupt, 18, 99)  # wrong CDR count
    with pytest.raises(BerError, match="counts 99"):
        decode_file(bytes(corrupt))
    corrupt = bytearray(data)
    corrupt[26] = 77  # closure reason outside the table
    with pytest.raises(BerError, match="closure"):
        decode_file_header(bytes(corrupt))


def test_cdr_header_and_record_helpers() -> None:
    assert cdr_header(300).hex() == "012ce03f04"
    with pytest.raises(BerError):
        cdr_header(0x10000)
    assert tbcd("13800138000").hex() == "3108108300f0"
    assert untbcd(tbcd("13800138000")) == "13800138000"
    assert timestamp(datetime(2026, 10, 3, 2, 4, 5, tzinfo=UTC), CST).hex() == "2610031004052b0800"


def test_encoder_counts_what_it_wrote() -> None:
    encoder = BerEncoder(sample.context(sequence=42))
    sink = BufferSink()
    records = member_months(sample.membership_events(), sample.PERIOD)
    ExportRun(Rater(sample.PERIOD, sample.TARIFFS), [(encoder, sink)]).run(records)
    parsed = decode_file(bytes(sink.data))
    assert parsed.header.sequence == 42
    assert parsed.header.cdr_count == encoder.totals.details + encoder.totals.lines == 6 + 2
