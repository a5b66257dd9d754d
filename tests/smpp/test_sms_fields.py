"""smpp.sms_fields: addresses (TS 23.040 9.1.2.5), PID (9.2.3.9), time stamps (9.2.3.11) and
validity periods (9.2.3.12)."""

from __future__ import annotations

import datetime as dt

import pytest

from smpp.sms_errors import SmsFormatError
from smpp.sms_fields import (
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
from tests.smpp.sms_strategies import (
    SCTS,
)

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
    bad_bcd = EnhancedValidity(bytes.fromhex("03ff0000000000"))
    with pytest.raises(SmsFormatError):
        _ = bad_bcd.duration
    assert "not two decimal semi-octets" in bad_bcd.describe()
    with pytest.raises(SmsFormatError):
        EnhancedValidity(b"\x00")
    with pytest.raises(SmsFormatError):
        EnhancedValidity.seconds(256)
    with pytest.raises(SmsFormatError):
        EnhancedValidity.build(EnhancedFormat.SECONDS, bytes(7))


def test_address_encoding_is_repeatable() -> None:
    # pySim's AddressField.to_bytes appends the F filler to its digits, so a second call on an
    # odd-length number writes a wrong length (tests/data/sim-conformance.FINDINGS.md).
    address = Address("10658")
    assert address.encode() == address.encode() == bytes.fromhex("05810156f8")
    assert address.number == "10658"
