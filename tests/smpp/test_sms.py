"""smpp.sms: SMS-DELIVER and SMS-SUBMIT (TS 23.040 9.2.2.1, 9.2.2.2), the MTI dispatcher,
describe(), builders for long texts, robustness against malformed input, round trips."""

from __future__ import annotations

import contextlib
import datetime as dt

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
from smpp.sms_dcs import MessageClass
from smpp.sms_errors import FailureCause, SmsFormatError, UnsupportedCodingError
from smpp.sms_fields import (
    AbsoluteValidity,
    Address,
    EnhancedValidity,
    NumberingPlan,
    RelativeValidity,
    TypeOfNumber,
)
from smpp.status import CommandStatus
from smpp.text import Coding, Reassembler
from smpp.udh import Concat, Udh
from stk.text import gsm7_decode
from tests.smpp.sms_strategies import (
    GSM_CHARS,
    SCTS,
    SMS_CASES,
    addresses,
    times,
    user_data,
    validities,
)

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
