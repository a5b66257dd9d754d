"""ota.spi: SPI octets (TS 102 225 5.1.1, TS 31.115 4.2), KIc/KID bytes, minimum security level."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.errors import FormatError
from ota.spi import (
    CounterMode,
    Integrity,
    MinimumSecurityLevel,
    PorRequest,
    PorTransport,
    Spi,
    key_byte,
)

# Defined bits: octet 1 b5..b1, octet 2 b6..b1; the rest is reserved and ignored.
DEFINED = (0b0001_1111, 0b0011_1111)


def test_each_field_has_its_bits() -> None:
    assert Spi(counter=CounterMode.PLUS_ONE).encode() == bytes((0x18, 0x00))
    assert Spi(ciphering=True).encode() == bytes((0x04, 0x00))
    assert Spi(integrity=Integrity.DS).encode() == bytes((0x03, 0x00))
    assert Spi(por=PorRequest.ON_ERROR).encode() == bytes((0x00, 0x02))
    assert Spi(por_integrity=Integrity.CC).encode() == bytes((0x00, 0x08))
    assert Spi(por_ciphering=True).encode() == bytes((0x00, 0x10))
    assert Spi(por_transport=PorTransport.SMS_SUBMIT).encode() == bytes((0x00, 0x20))


def test_common_spi_1639() -> None:
    spi = Spi.decode(bytes.fromhex("1639"))
    assert spi == Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC,
                      True, PorTransport.SMS_SUBMIT)


@given(st.binary(min_size=2, max_size=2))
def test_any_two_octets_decode_and_reserved_bits_are_dropped(raw: bytes) -> None:
    spi = Spi.decode(raw)
    assert spi.encode() == bytes((raw[0] & DEFINED[0], raw[1] & DEFINED[1]))


@given(st.builds(Spi, st.sampled_from(CounterMode), st.booleans(), st.sampled_from(Integrity),
                 st.sampled_from(PorRequest), st.sampled_from(Integrity), st.booleans(),
                 st.sampled_from(PorTransport)))
def test_every_spi_round_trips(spi: Spi) -> None:
    assert Spi.decode(spi.encode()) == spi


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\x00\x00\x00"])
def test_wrong_length_is_a_format_error(raw: bytes) -> None:
    with pytest.raises(FormatError):
        Spi.decode(raw)


def test_por_wanted() -> None:
    assert Spi(por=PorRequest.ALWAYS).wants_por
    assert not Spi(por=PorRequest.ON_ERROR).wants_por
    assert Spi(por=PorRequest.ON_ERROR).wants_por_on_error
    assert not Spi(por=PorRequest.NONE).wants_por_on_error


def test_key_byte() -> None:
    assert key_byte(3, 0x5) == 0x35
    with pytest.raises(FormatError):
        key_byte(16, 0x2)


def test_minimum_security_level() -> None:
    msl = MinimumSecurityLevel.decode(0x16)  # counter higher, ciphering, CC
    assert msl == MinimumSecurityLevel(CounterMode.HIGHER, True, Integrity.CC)
    assert msl.encode() == 0x16
    assert msl.shortfall(Spi.decode(bytes.fromhex("1600"))) is None
    assert msl.shortfall(Spi.decode(bytes.fromhex("1e00"))) is None  # stricter counter is fine
    assert msl.shortfall(Spi.decode(bytes.fromhex("1200"))) == "ciphering required"
    assert "integrity" in (msl.shortfall(Spi.decode(bytes.fromhex("1500"))) or "")
    assert "counter" in (msl.shortfall(Spi.decode(bytes.fromhex("0e00"))) or "")
    assert MinimumSecurityLevel().shortfall(Spi()) is None
