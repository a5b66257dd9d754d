"""smpp.sms and its field modules: TPDUs of TS 23.040 9.2, addresses, DCS (TS 23.038 4),
time stamps, validity periods, user data with UDH and fill bits, builders, robustness."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.errors import SmppError
from smpp.sms import (
    Direction,
    MessageType,
    SmsCommand,
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    build_delivers,
    build_submits,
    decode_tpdu,
)
from smpp.sms_dcs import Alphabet, CodingGroup, DataCodingScheme, IndicationType, MessageClass
from smpp.sms_errors import FailureCause, SmsFormatError, UnsupportedCodingError
from smpp.sms_fields import (
    AbsoluteValidity,
    Address,
    EnhancedFormat,
    EnhancedValidity,
    NumberingPlan,
    Reader,
    RelativeValidity,
    TypeOfNumber,
    decode_timestamp,
    describe_pid,
    encode_timestamp,
)
from smpp.sms_reports import CommandType, TransferStatus, describe_status
from smpp.status import CommandStatus
from smpp.text import Coding, Reassembler
from smpp.udh import Concat, InformationElement, Udh, concat_ie
from stk.text import GSM7_BASIC, GSM7_EXTENSION, gsm7_decode, gsm7_length

VECTORS = pathlib.Path(__file__).parents[1] / "data" / "sim-conformance.json"
SMS_CASES = [
    c for c in json.loads(VECTORS.read_text(encoding="utf-8"))["cases"] if c["group"] == "sms_tpdu"
]
CST = dt.timezone(dt.timedelta(hours=8))
SCTS = dt.datetime(2026, 2, 14, 14, 0, 0, tzinfo=CST)
GSM_CHARS = [c for i, c in enumerate(GSM7_BASIC) if i != 0x1B] + list(GSM7_EXTENSION)

# --- external vectors (not from our vector file) ------------------------------------------------

# The classic SMS-SUBMIT / SMS-DELIVER "hellohello" PDUs (SMSC address prefix removed).
HELLO_SUBMIT = bytes.fromhex("11000b916407281553f80000aa0ae8329bfd4697d9ec37")
HELLO_DELIVER = bytes.fromhex("040bc87238880900f10000993092516195800ae8329bfd4697d9ec37")


def test_external_submit_vector() -> None:
    tpdu = SmsSubmit.decode(HELLO_SUBMIT)
    assert tpdu.destination == Address("46708251358", TypeOfNumber.INTERNATIONAL)
    assert tpdu.validity == RelativeValidity(0xAA)
    assert tpdu.validity.duration == dt.timedelta(days=4)
    assert tpdu.text == "hellohello" and tpdu.udl == 10
    assert tpdu.encode() == HELLO_SUBMIT
    assert build_submits("hellohello", "+46708251358", 0, validity=RelativeValidity(0xAA)) == (
        tpdu,
    )


def test_external_deliver_vector() -> None:
    tpdu = SmsDeliver.decode(HELLO_DELIVER)
    assert tpdu.originator == Address(
        "27838890001", TypeOfNumber.SUBSCRIBER, NumberingPlan.NATIONAL
    )
    expected_time = dt.datetime(2099, 3, 29, 15, 16, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert tpdu.scts == expected_time
    assert tpdu.scts.utcoffset() == dt.timedelta(hours=2)
    assert tpdu.text == "hellohello"
    assert tpdu.encode() == HELLO_DELIVER


# --- addresses (9.1.2.5) -------------------------------------------------------------------


def test_address_forms() -> None:
    intl = Address.parse("+8613912345678")
    assert intl.encode().hex() == "0d91683119325476f8"
    assert str(intl) == "+8613912345678"
    assert Address.parse("10658888").encode().hex() == "0881" + "01568888"
    # Hand-packed: 'A' 'B' = 41 21, four semi-octets, TON alphanumeric, NPI unknown.
    alpha = Address.parse("AB")
    assert alpha.ton is TypeOfNumber.ALPHANUMERIC
    assert alpha.encode().hex() == "04d04121"
    assert Address.decode(Reader(bytes.fromhex("04d04121"))) == alpha
    assert Address("*#12abc").encode().hex() == "0781ba21dcfe"
    assert Address("").encode().hex() == "0081"


def test_alphanumeric_address_round_trip_with_escape() -> None:
    name = "OneCard€"  # 9 septets
    address = Address(name, TypeOfNumber.ALPHANUMERIC, NumberingPlan.UNKNOWN)
    encoded = address.encode()
    assert encoded[0] == 16  # 9 septets = 63 bits = 16 semi-octets
    assert Address.decode(Reader(encoded)) == address


def test_address_value_form() -> None:
    # The SC address of an SMS-PP DOWNLOAD envelope (TS 31.111 7.1.1.2, tag 86).
    sc = Address.decode_value(bytes.fromhex("91683108100005f0"))
    assert str(sc) == "+8613800100500"
    assert sc.encode_value().hex() == "91683108100005f0"
    assert Address.decode_value(Address.parse("Hi").encode_value()).number == "Hi"


@pytest.mark.parametrize(
    "build",
    [
        lambda: Address("12x4"),
        lambda: Address("1" * 21),
        lambda: Address("余额", TypeOfNumber.ALPHANUMERIC),
        lambda: Address("A" * 12, TypeOfNumber.ALPHANUMERIC),
        lambda: Address("A" * 10 + "€", TypeOfNumber.ALPHANUMERIC),
        lambda: Address.decode_value(b""),
        lambda: Address.decode_value(bytes(12)),
    ],
)
def test_address_errors(build: object) -> None:
    with pytest.raises(SmsFormatError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "data",
    [
        "0591",  # value missing
        "1591" + "11" * 11,  # 21 digits
        "0491f1f1",  # filler inside the digits
        "03",  # no type octet
    ],
)
def test_address_decode_errors(data: str) -> None:
    with pytest.raises(SmsFormatError):
        Address.decode(Reader(bytes.fromhex(data)))


# --- PID, time stamps, validity ---------------------------------------------------------------


def test_describe_pid() -> None:
    assert describe_pid(0x7F) == "sim data download"
    assert describe_pid(0x00) == "default"
    assert describe_pid(0x32) == "telematic interworking (Internet electronic mail)"
    assert describe_pid(0x01) == "SME-to-SME protocol 0x01"
    assert describe_pid(0xC5) == "SC specific use"
    assert describe_pid(0x80) == "reserved"


def test_timestamp_vector_and_negative_zone() -> None:
    assert decode_timestamp(bytes.fromhex("62204141000023")) == SCTS
    assert encode_timestamp(SCTS).hex() == "62204141000023"
    west = dt.datetime(2026, 12, 31, 23, 59, 58, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    encoded = encode_timestamp(west)
    assert encoded[-1] == 0x0A  # 20 quarters, swapped "02", sign bit 3
    decoded = decode_timestamp(encoded)
    assert decoded == west and decoded.utcoffset() == dt.timedelta(hours=-5)


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 1, 1),  # naive
        dt.datetime(1999, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=7))),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=20))),
    ],
)
def test_timestamp_encode_errors(when: dt.datetime) -> None:
    with pytest.raises(SmsFormatError):
        encode_timestamp(when)


@pytest.mark.parametrize(
    "data", ["62314141000023", "622041410000", "6a204141000023", "622041410000f3"]
)
def test_timestamp_decode_errors(data: str) -> None:
    with pytest.raises(SmsFormatError):
        decode_timestamp(bytes.fromhex(data))


@pytest.mark.parametrize(
    ("code", "duration"),
    [
        (0, dt.timedelta(minutes=5)),
        (143, dt.timedelta(hours=12)),
        (144, dt.timedelta(hours=12, minutes=30)),
        (167, dt.timedelta(hours=24)),
        (168, dt.timedelta(days=2)),
        (196, dt.timedelta(days=30)),
        (197, dt.timedelta(weeks=5)),
        (255, dt.timedelta(weeks=63)),
    ],
)
def test_relative_validity(code: int, duration: dt.timedelta) -> None:
    assert RelativeValidity(code).duration == duration
    assert RelativeValidity.at_least(duration) == RelativeValidity(code)


def test_relative_validity_rounds_up_and_limits() -> None:
    assert RelativeValidity.at_least(dt.timedelta(hours=24)).code == 0xA7
    assert RelativeValidity.at_least(dt.timedelta(minutes=6)).code == 1
    with pytest.raises(SmsFormatError):
        RelativeValidity.at_least(dt.timedelta(weeks=64))
    with pytest.raises(SmsFormatError):
        RelativeValidity(256)


def test_enhanced_validity() -> None:
    seconds = EnhancedValidity.seconds(30, single_shot=True)
    assert seconds.octets.hex() == "421e0000000000"
    assert seconds.duration == dt.timedelta(seconds=30) and seconds.single_shot
    hms = EnhancedValidity.build(EnhancedFormat.HHMMSS, bytes.fromhex("103254"))
    assert hms.duration == dt.timedelta(hours=1, minutes=23, seconds=45)
    relative = EnhancedValidity.build(EnhancedFormat.RELATIVE, b"\xa7")
    assert relative.duration == dt.timedelta(days=1)
    assert EnhancedValidity(bytes.fromhex("07000000000000")).duration is None  # reserved
    assert EnhancedValidity(bytes.fromhex("81020000000000")).duration is None  # extended
    assert "reserved format 7" in EnhancedValidity(bytes.fromhex("07000000000000")).describe()
    with pytest.raises(SmsFormatError):
        EnhancedValidity(b"\x00")
    with pytest.raises(SmsFormatError):
        EnhancedValidity.seconds(256)
    with pytest.raises(SmsFormatError):
        EnhancedValidity.build(EnhancedFormat.SECONDS, bytes(7))


@pytest.mark.parametrize(
    ("validity", "first"),
    [
        (None, 0x01),
        (RelativeValidity(0xA7), 0x11),
        (EnhancedValidity.seconds(60), 0x09),
        (AbsoluteValidity(SCTS), 0x19),
    ],
)
def test_submit_validity_formats(validity: object, first: int) -> None:
    submit = SmsSubmit(Address("10658888"), 1, validity=validity, payload=b"hi")  # type: ignore[arg-type]
    encoded = submit.encode()
    assert encoded[0] == first
    assert SmsSubmit.decode(encoded) == submit


# --- DCS (TS 23.038 4) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "alphabet", "message_class", "group", "septets"),
    [
        (0x00, Alphabet.GSM7, None, CodingGroup.GENERAL, True),
        (0x04, Alphabet.DATA_8BIT, None, CodingGroup.GENERAL, False),
        (0x08, Alphabet.UCS2, None, CodingGroup.GENERAL, False),
        (0x10, Alphabet.GSM7, MessageClass.CLASS_0, CodingGroup.GENERAL, True),
        (0x18, Alphabet.UCS2, MessageClass.CLASS_0, CodingGroup.GENERAL, False),
        (0x20, Alphabet.GSM7, None, CodingGroup.GENERAL, False),  # compressed: octets
        (0x48, Alphabet.UCS2, None, CodingGroup.AUTO_DELETION, False),
        (0x0C, Alphabet.GSM7, None, CodingGroup.GENERAL, True),  # reserved alphabet
        (0x80, Alphabet.GSM7, None, CodingGroup.RESERVED, True),
        (0xC8, Alphabet.GSM7, None, CodingGroup.MWI_DISCARD, True),
        (0xD1, Alphabet.GSM7, None, CodingGroup.MWI_STORE, True),
        (0xE2, Alphabet.UCS2, None, CodingGroup.MWI_STORE_UCS2, False),
        (0xF0, Alphabet.GSM7, MessageClass.CLASS_0, CodingGroup.DATA_CODING_CLASS, True),
        (0xF6, Alphabet.DATA_8BIT, MessageClass.CLASS_2, CodingGroup.DATA_CODING_CLASS, False),
    ],
)
def test_dcs_table(
    value: int,
    alphabet: Alphabet,
    message_class: MessageClass | None,
    group: CodingGroup,
    septets: bool,
) -> None:
    dcs = DataCodingScheme(value)
    assert (dcs.alphabet, dcs.message_class, dcs.group, dcs.septets) == (
        alphabet,
        message_class,
        group,
        septets,
    )
    assert dcs.describe()


def test_dcs_details() -> None:
    assert DataCodingScheme(0x20).compressed
    assert DataCodingScheme(0x0C).reserved and DataCodingScheme(0xF8).reserved
    assert not DataCodingScheme(0xF6).reserved
    assert DataCodingScheme(0xC8).indication == (True, IndicationType.VOICEMAIL)
    assert DataCodingScheme(0xD2).indication == (False, IndicationType.EMAIL)
    assert DataCodingScheme(0x00).indication is None
    assert DataCodingScheme(0xF6).describe() == (
        "8-bit data, class 2 (SIM specific), data coding / message class"
    )
    assert DataCodingScheme.for_alphabet(Alphabet.UCS2).value == 0x08
    assert DataCodingScheme.for_alphabet(Alphabet.DATA_8BIT, MessageClass.CLASS_2).value == 0x16
    with pytest.raises(SmsFormatError):
        DataCodingScheme(256)


def test_compressed_user_data_is_refused_clearly() -> None:
    deliver = SmsDeliver(Address("10658888"), SCTS, dcs=0x20, payload=b"\xff\x00\x81")
    assert deliver.udl == 3  # octets, not septets (TS 23.040 9.2.3.16)
    decoded = SmsDeliver.decode(deliver.encode())
    assert decoded.payload == b"\xff\x00\x81"
    with pytest.raises(UnsupportedCodingError, match="compressed"):
        _ = decoded.text


def test_eight_bit_and_national_shift_have_no_text() -> None:
    with pytest.raises(UnsupportedCodingError):
        _ = SmsDeliver(Address("1"), SCTS, dcs=0xF6, payload=b"\x01").text
    shift = Udh((InformationElement(0x25, b"\x01"),))
    with pytest.raises(UnsupportedCodingError, match="national language"):
        _ = SmsDeliver(Address("1"), SCTS, udh=shift, payload=b"\x01").text


def test_reserved_dcs_reads_as_gsm7() -> None:
    assert SmsDeliver(Address("1"), SCTS, dcs=0x8C, payload=b"Hi").text == "Hi"


# --- user data: 7-bit with UDH and fill bits ------------------------------------------------


@pytest.mark.parametrize(
    ("udh", "fill"),
    [
        (Udh(()), 6),  # UDHL only: 8 bits, padded to 2 septets
        (Udh((concat_ie(1, 2, 1),)), 1),  # 6 octets: 48 bits + 1 = 7 septets
        (Udh((concat_ie(1, 2, 1, ref16=True),)), 0),  # 7 octets: exactly 8 septets
        (Udh((InformationElement(0x70),)), 4),  # 3 octets: 24 bits + 4 = 4 septets
    ],
)
def test_fill_bits(udh: Udh, fill: int) -> None:
    deliver = SmsDeliver(Address("1"), SCTS, udh=udh, payload=b"Hello")
    assert deliver.fill_bits == fill
    assert deliver.udl == (len(udh) * 8 + fill) // 7 + 5
    again = SmsDeliver.decode(deliver.encode())
    assert again == deliver and again.text == "Hello"


def test_vector_008_fill_bit_in_detail() -> None:
    case = next(c for c in SMS_CASES if c["id"] == "pub-sms-008")
    tpdu = SmsDeliver.decode(bytes.fromhex(case["expected"]["tpdu"]))
    assert tpdu.fill_bits == 1 and tpdu.udl == 34
    assert tpdu.concat == Concat(0x12, 1, 1)


def test_user_data_limits_on_encode() -> None:
    SmsSubmit(Address("1"), payload=b"a" * 160).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), payload=b"a" * 161).encode()
    SmsSubmit(Address("1"), dcs=0x04, payload=bytes(140)).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), dcs=0x04, payload=bytes(141)).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), payload=b"\x80").encode()
    udh = Udh((concat_ie(1, 2, 1),))
    SmsSubmit(Address("1"), udh=udh, payload=b"a" * 153).encode()
    with pytest.raises(SmsFormatError):
        SmsSubmit(Address("1"), udh=udh, payload=b"a" * 154).encode()


@pytest.mark.parametrize(
    "build",
    [
        lambda: SmsSubmit(Address("1"), message_reference=256),
        lambda: SmsSubmit(Address("1"), pid=-1),
        lambda: SmsDeliver(Address("1"), SCTS, dcs=300),
        lambda: SmsDeliverReport(failure_cause=0x10),
        lambda: SmsStatusReport(0, Address("1"), SCTS, SCTS, 256),
        lambda: SmsCommand(0, 0, 0, Address("1"), command_data=bytes(158)),
    ],
)
def test_field_range_errors(build: object) -> None:
    with pytest.raises(SmsFormatError):
        build()  # type: ignore[operator]


# --- reports and SMS-COMMAND ------------------------------------------------------------------


def test_deliver_report_rp_ack_with_por() -> None:
    # From an ota_response case: RP-ACK carrying a PoR (TS 31.111 7.1.1.1).
    raw = bytes.fromhex("40077ff610027100000b0ab0001100000000000001")
    report = decode_tpdu(raw, Direction.MS_TO_SC)
    assert isinstance(report, SmsDeliverReport)
    assert report.failure_cause is None and report.pid == 0x7F and report.dcs == 0xF6
    assert report.user_data.hex() == "027100000b0ab0001100000000000001"
    assert report.encode() == raw


def test_deliver_report_rp_error() -> None:
    por = Udh((InformationElement(0x71),))
    report = SmsDeliverReport(FailureCause.SIM_DATA_DOWNLOAD_ERROR, 0x7F, 0xF6, por, b"\x00\x01")
    raw = report.encode()
    assert raw.hex() == "40d5077ff605027100" + "0001"
    assert SmsDeliverReport.decode(raw) == report
    assert SmsDeliverReport.decode(raw, rp_error=True) == report
    bare = SmsDeliverReport(FailureCause.MEMORY_CAPACITY_EXCEEDED)
    assert bare.encode().hex() == "00d300"
    assert decode_tpdu(bare.encode(), Direction.MS_TO_SC) == bare
    assert any("MEMORY_CAPACITY_EXCEEDED" in line for line in bare.describe())


def test_submit_report() -> None:
    ack = SmsSubmitReport(SCTS)
    assert ack.encode().hex() == "010062204141000023"
    assert decode_tpdu(ack.encode(), Direction.SC_TO_MS) == ack
    error = SmsSubmitReport(SCTS, FailureCause.SC_BUSY, dcs=0x08, payload="忙".encode("utf-16-be"))
    raw = error.encode()
    assert raw.hex() == "01c006" + "62204141000023" + "08" + "02" + "5fd9"
    decoded = decode_tpdu(raw, Direction.SC_TO_MS, rp_error=True)
    assert decoded == error and isinstance(decoded, SmsSubmitReport) and decoded.text == "忙"


def test_status_report() -> None:
    report = SmsStatusReport(
        0x21, Address.parse("+8613912345678"), SCTS, SCTS + dt.timedelta(seconds=5), 0x00
    )
    raw = report.encode()
    assert raw.hex() == "0621" + "0d91683119325476f8" + "62204141000023" + "62204141005023" + "00"
    assert decode_tpdu(raw, Direction.SC_TO_MS) == report
    with_text = SmsStatusReport(
        1, Address("1"), SCTS, SCTS, TransferStatus.VALIDITY_EXPIRED, dcs=0, payload=b"ok"
    )
    assert SmsStatusReport.decode(with_text.encode()) == with_text
    assert describe_status(0x46) == "validity_expired (permanent error, SC not trying)"
    assert describe_status(0x30) == "temporary error, SC still trying"
    assert describe_status(0x90) == "reserved"


def test_command() -> None:
    command = SmsCommand(
        7, CommandType.DELETE, 0x21, Address("10658888"), status_report_request=True
    )
    raw = command.encode()
    assert raw.hex() == "2207000221" + "088101568888" + "00"
    assert decode_tpdu(raw, Direction.MS_TO_SC) == command
    assert "delete" in "\n".join(command.describe())
    with pytest.raises(SmsFormatError):
        SmsCommand.decode(raw + b"\x00")


def test_dispatch_by_mti_and_direction() -> None:
    deliver = SmsDeliver(Address("1"), SCTS, payload=b"x").encode()
    assert isinstance(decode_tpdu(deliver, Direction.SC_TO_MS), SmsDeliver)
    # 9.2.3.1: a reserved TP-MTI towards the MS is read as SMS-DELIVER.
    reserved = bytes((deliver[0] | 0x03,)) + deliver[1:]
    assert isinstance(decode_tpdu(reserved, Direction.SC_TO_MS), SmsDeliver)
    with pytest.raises(SmsFormatError, match="reserved"):
        decode_tpdu(reserved, Direction.MS_TO_SC)
    with pytest.raises(SmsFormatError, match="empty"):
        decode_tpdu(b"", Direction.SC_TO_MS)
    assert MessageType(0b10) is MessageType.COMMAND


def test_describe_lines() -> None:
    case = next(c for c in SMS_CASES if c["id"] == "pub-sms-009")
    lines = decode_tpdu(bytes.fromhex(case["expected"]["tpdu"]), Direction.SC_TO_MS).describe()
    text = "\n".join(lines)
    assert lines[0].startswith("SMS-DELIVER")
    assert "TP-OA   10658888" in text and "TP-PID  7F sim data download" in text
    assert "8-bit data, class 2" in text and "IE 70 CPI" in text
    assert "2026-02-14 14:00:00+08:00" in text
    submit = build_submits("余额" * 40, "+8613912345678", 5, validity=RelativeValidity(0xA7))
    text = "\n".join(submit[0].describe())
    assert "TP-VP   relative 0xA7 (1 day, 0:00:00)" in text and "part 1 of 2" in text
    assert "text    '余额" in text


def test_error_wire_codes() -> None:
    assert SmsFormatError.command_status is CommandStatus.ESME_RINVMSGLEN
    assert UnsupportedCodingError.failure_cause is FailureCause.ALPHABET_NOT_SUPPORTED
    assert FailureCause.describe(0xE5) == "application specific 0xE5"
    assert FailureCause.describe(0x83) == "reserved 0x83"
    assert FailureCause.describe(0xD4) == "SIM_APPLICATION_TOOLKIT_BUSY"


# --- builders -----------------------------------------------------------------------------------


def test_build_submits_long_gsm_text() -> None:
    text = "Bill {March}: " + "x" * 300
    submits = build_submits(text, "10658888", 0x42, message_reference=255)
    assert [s.message_reference for s in submits] == [255, 0, 1]
    assert all(s.dcs == 0x00 for s in submits)
    assert submits[0].udl == 160 and submits[0].fill_bits == 1
    assert all(len(s.encode()) <= 13 + 140 for s in submits)
    assert "".join(gsm7_decode(s.payload) for s in submits) == text


def test_build_with_message_class() -> None:
    (flash,) = build_delivers("hi", "10658888", 0, scts=SCTS, message_class=MessageClass.CLASS_0)
    assert flash.dcs == 0x10
    (ucs2,) = build_submits("余", "10658888", 0, message_class=MessageClass.CLASS_1)
    assert ucs2.dcs == 0x19
    (forced,) = build_submits("abc", "1", 0, coding=Coding.UCS2)
    assert forced.dcs == 0x08 and forced.text == "abc"


# --- robustness -------------------------------------------------------------------------------


def _vector_tpdus() -> list[tuple[bytes, Direction]]:
    out = []
    for case in SMS_CASES:
        kind = case["expected"]["kind"]
        direction = Direction.SC_TO_MS if kind == "deliver" else Direction.MS_TO_SC
        out.append((bytes.fromhex(case["expected"]["tpdu"]), direction))
    return out


@pytest.mark.parametrize(("raw", "direction"), _vector_tpdus())
def test_every_truncation_and_extension_is_refused(raw: bytes, direction: Direction) -> None:
    for end in range(len(raw)):
        with pytest.raises(SmppError):
            decode_tpdu(raw[:end], direction)
    with pytest.raises(SmsFormatError, match="oversized"):
        decode_tpdu(raw + b"\x00", direction)


def _deliver_head(dcs: int, first: int = 0x04) -> str:
    """First octet, OA '00' (2 digits), PID 00, the DCS and the vectors' SCTS, in hex."""
    return f"{first:02x}028100" + f"00{dcs:02x}" + "62204141000023"


@pytest.mark.parametrize(
    ("hex_tpdu", "reason"),
    [
        (_deliver_head(0x00) + "a1" + "00" * 141, "over 160"),
        (_deliver_head(0x04) + "8d" + "00" * 141, "over 140"),
        (_deliver_head(0x08, 0x44) + "02" + "0500", "UDHL"),  # UDHL beyond user data
        (_deliver_head(0x00, 0x44) + "01" + "00", "header takes"),  # UDH longer than UDL
        (_deliver_head(0x08) + "03" + "000000", "odd"),  # found when the text is asked for
        (_deliver_head(0x08) + "03" + "0000", "truncated"),
        (_deliver_head(0x00) + "02" + "000000", "oversized"),
    ],
)
def test_malformed_user_data(hex_tpdu: str, reason: str) -> None:
    with pytest.raises(SmppError, match=reason):
        tpdu = decode_tpdu(bytes.fromhex(hex_tpdu), Direction.SC_TO_MS)
        _ = tpdu.text  # type: ignore[union-attr]


DECODERS = [
    lambda data: decode_tpdu(data, Direction.SC_TO_MS),
    lambda data: decode_tpdu(data, Direction.MS_TO_SC),
    lambda data: decode_tpdu(data, Direction.MS_TO_SC, rp_error=True),
    lambda data: decode_tpdu(data, Direction.SC_TO_MS, rp_error=False),
    SmsDeliver.decode,
    SmsSubmit.decode,
    SmsStatusReport.decode,
    SmsCommand.decode,
    SmsDeliverReport.decode,
    SmsSubmitReport.decode,
]


@settings(max_examples=400)
@given(data=st.binary(max_size=200), which=st.integers(0, len(DECODERS) - 1))
def test_random_input_raises_only_our_errors(data: bytes, which: int) -> None:
    try:
        tpdu = DECODERS[which](data)
    except SmppError:
        return
    # Whatever decodes must describe itself and re-encode without crashing.
    tpdu.describe()
    with contextlib.suppress(SmppError):
        tpdu.encode()


@settings(max_examples=300)
@given(
    first=st.integers(0, 255),
    body=st.binary(max_size=40),
    udl=st.integers(0, 255),
    dcs=st.sampled_from([0x00, 0x04, 0x08, 0x20, 0xF6, 0xF0]),
)
def test_structured_fuzz_of_user_data(first: int, body: bytes, udl: int, dcs: int) -> None:
    raw = bytes.fromhex(_deliver_head(dcs, first & 0xFC)) + bytes((udl,)) + body
    try:
        tpdu = SmsDeliver.decode(raw)
    except SmppError:
        return
    with contextlib.suppress(SmppError):
        _ = tpdu.text


# --- property round trips ----------------------------------------------------------------------

digits = st.text(alphabet="0123456789*#abc", max_size=20)
numeric_address = st.builds(
    Address,
    digits,
    st.sampled_from([t for t in TypeOfNumber if t is not TypeOfNumber.ALPHANUMERIC]),
    st.sampled_from(list(NumberingPlan)),
)
alpha_address = st.builds(
    Address,
    st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=11).filter(
        lambda t: gsm7_length(t) <= 11
    ),
    st.just(TypeOfNumber.ALPHANUMERIC),
    st.sampled_from(list(NumberingPlan)),
)
addresses = st.one_of(numeric_address, alpha_address)
zones = st.integers(-79, 79).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=zones
).map(lambda t: t.replace(microsecond=0))
validities = st.one_of(
    st.none(),
    st.builds(RelativeValidity, st.integers(0, 255)),
    st.builds(AbsoluteValidity, times),
    st.builds(EnhancedValidity, st.binary(min_size=7, max_size=7)),
)
information_elements = st.builds(InformationElement, st.integers(0, 255), st.binary(max_size=8))
headers = st.one_of(
    st.none(), st.lists(information_elements, max_size=3).map(lambda ies: Udh(tuple(ies)))
)


@st.composite
def user_data(draw: st.DrawFn, dcs_values: st.SearchStrategy[int]) -> tuple[int, Udh | None, bytes]:
    dcs = draw(dcs_values)
    udh = draw(headers)
    scheme = DataCodingScheme(dcs)
    header = len(udh) if udh is not None else 0
    if scheme.septets:
        room = 160 - (header * 8 + 6) // 7
        payload = draw(st.binary(max_size=room).map(lambda b: bytes(x & 0x7F for x in b)))
    else:
        payload = draw(st.binary(max_size=140 - header))
    return dcs, udh, payload


@settings(max_examples=200, deadline=None)
@given(
    originator=addresses,
    scts=times,
    pid=st.integers(0, 255),
    ud=user_data(st.integers(0, 255)),
    flags=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_deliver_round_trip(
    originator: Address,
    scts: dt.datetime,
    pid: int,
    ud: tuple[int, Udh | None, bytes],
    flags: list[bool],
) -> None:
    dcs, udh, payload = ud
    tpdu = SmsDeliver(originator, scts, pid, dcs, udh, payload, *flags)
    raw = tpdu.encode()
    again = decode_tpdu(raw, Direction.SC_TO_MS)
    assert again == tpdu and again.encode() == raw
    assert isinstance(again, SmsDeliver) and again.scts.utcoffset() == scts.utcoffset()


@settings(max_examples=200, deadline=None)
@given(
    destination=addresses,
    reference=st.integers(0, 255),
    pid=st.integers(0, 255),
    ud=user_data(st.integers(0, 255)),
    validity=validities,
    flags=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_submit_round_trip(
    destination: Address,
    reference: int,
    pid: int,
    ud: tuple[int, Udh | None, bytes],
    validity: RelativeValidity | AbsoluteValidity | EnhancedValidity | None,
    flags: list[bool],
) -> None:
    dcs, udh, payload = ud
    tpdu = SmsSubmit(destination, reference, pid, dcs, udh, payload, validity, *flags)
    raw = tpdu.encode()
    assert decode_tpdu(raw, Direction.MS_TO_SC) == tpdu


optional_octet = st.one_of(st.none(), st.integers(0, 255))


@settings(max_examples=150, deadline=None)
@given(
    fcs=st.one_of(st.none(), st.integers(0x80, 0xFF)),
    pid=optional_octet,
    ud=user_data(st.integers(0, 255)),
    dcs_present=st.booleans(),
    scts=times,
)
def test_report_round_trips(
    fcs: int | None,
    pid: int | None,
    ud: tuple[int, Udh | None, bytes],
    dcs_present: bool,
    scts: dt.datetime,
) -> None:
    dcs, udh, payload = ud
    if not dcs_present:
        dcs_value: int | None = None
        payload = bytes(b & 0x7F for b in payload)[: 160 - (len(udh) * 8 + 6) // 7 if udh else 160]
    else:
        dcs_value = dcs
    deliver_report = SmsDeliverReport(fcs, pid, dcs_value, udh, payload)
    assert decode_tpdu(deliver_report.encode(), Direction.MS_TO_SC) == deliver_report
    submit_report = SmsSubmitReport(scts, fcs, pid, dcs_value, udh, payload)
    assert decode_tpdu(submit_report.encode(), Direction.SC_TO_MS) == submit_report


@settings(max_examples=150, deadline=None)
@given(
    reference=st.integers(0, 255),
    recipient=addresses,
    scts=times,
    discharge=times,
    status=st.integers(0, 255),
    pid=optional_octet,
    ud=user_data(st.sampled_from([0x00, 0x04, 0x08, 0xF6])),
    flags=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_status_report_round_trip(
    reference: int,
    recipient: Address,
    scts: dt.datetime,
    discharge: dt.datetime,
    status: int,
    pid: int | None,
    ud: tuple[int, Udh | None, bytes],
    flags: list[bool],
) -> None:
    dcs, udh, payload = ud
    report = SmsStatusReport(
        reference, recipient, scts, discharge, status, pid, dcs, udh, payload, *flags
    )
    assert decode_tpdu(report.encode(), Direction.SC_TO_MS) == report


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(0, 255), min_size=4, max_size=4),
    destination=addresses,
    data=st.binary(max_size=157),
    flags=st.lists(st.booleans(), min_size=2, max_size=2),
)
def test_command_round_trip(
    values: list[int], destination: Address, data: bytes, flags: list[bool]
) -> None:
    mr, ct, mn, pid = values
    command = SmsCommand(mr, ct, mn, destination, pid, data, *flags)
    assert decode_tpdu(command.encode(), Direction.MS_TO_SC) == command


any_text = st.text(
    alphabet=st.one_of(
        st.sampled_from([*GSM_CHARS, "余", "😀", "é"]), st.characters(codec="utf-8")
    ),
    max_size=400,
)


@settings(max_examples=100, deadline=None)
@given(text=any_text, ref16=st.booleans(), reference=st.integers(0, 255))
def test_long_text_through_tpdus_and_back(text: str, ref16: bool, reference: int) -> None:
    delivers = build_delivers(text, "+8613912345678", reference, scts=SCTS, ref16=ref16)
    reassembler = Reassembler(ttl=60)
    whole = None
    for tpdu in reversed(delivers):
        decoded = decode_tpdu(tpdu.encode(), Direction.SC_TO_MS)
        assert isinstance(decoded, SmsDeliver) and decoded == tpdu
        concat = decoded.concat or Concat(0, 1, 1)
        whole = reassembler.add(str(decoded.originator), "me", concat, decoded.payload, now=0)
    assert whole is not None
    final = SmsDeliver(Address("1"), SCTS, dcs=delivers[0].dcs, payload=whole)
    assert final.text == text
