"""stk.apdu: the APDUs around CAT objects (TS 102 221 10.1.2, 10.2.1)."""

from __future__ import annotations

import pytest

from stk import apdu
from stk.errors import (
    ClassNotSupportedError,
    InstructionNotSupportedError,
    StkError,
    WrongLengthError,
    WrongParametersError,
)


def test_command_apdus_have_no_le() -> None:
    assert apdu.envelope_apdu(b"\xd3\x00").hex() == "80c2000002d300"
    assert apdu.terminal_response_apdu(b"\x81").hex() == "801400000181"
    assert apdu.terminal_profile_apdu(b"\xff", cla=apdu.CLA_GSM).hex() == "a010000001ff"


def test_parse_accepts_gsm_class_and_trailing_le() -> None:
    assert (
        apdu.parse_command_apdu(bytes.fromhex("a0c2000001d3"), apdu.Instruction.ENVELOPE) == b"\xd3"
    )
    assert (
        apdu.parse_command_apdu(bytes.fromhex("80c2000001d300"), apdu.Instruction.ENVELOPE)
        == b"\xd3"
    )


@pytest.mark.parametrize(
    ("data", "error", "sw"),
    [
        ("80c200", WrongLengthError, 0x6700),
        ("80c2000000", WrongLengthError, 0x6700),
        ("80c2000002d3", WrongLengthError, 0x6700),
        ("80c2000001d30000", WrongLengthError, 0x6700),
        ("00c2000001d3", ClassNotSupportedError, 0x6E00),
        ("8012000001d3", InstructionNotSupportedError, 0x6D00),
        ("80c2010001d3", WrongParametersError, 0x6B00),
    ],
)
def test_parse_errors_carry_their_status_word(data: str, error: type[StkError], sw: int) -> None:
    with pytest.raises(error) as info:
        apdu.parse_command_apdu(bytes.fromhex(data), apdu.Instruction.ENVELOPE)
    assert info.value.status_word == sw


def test_data_length_limits() -> None:
    with pytest.raises(WrongLengthError):
        apdu.envelope_apdu(b"")
    with pytest.raises(WrongLengthError):
        apdu.envelope_apdu(bytes(256))
    assert len(apdu.envelope_apdu(bytes(255))) == 260


def test_fetch_and_status_words() -> None:
    assert apdu.fetch_apdu(0x3D).hex() == "801200003d"
    assert apdu.fetch_apdu(256).hex() == "8012000000"
    assert apdu.parse_fetch_apdu(bytes.fromhex("8012000000")) == 256
    assert apdu.parse_fetch_apdu(bytes.fromhex("801200001b")) == 0x1B
    assert apdu.proactive_pending_sw(0x3D) == 0x913D
    assert apdu.pending_length(0x913D) == 0x3D
    assert apdu.pending_length(0x9100) == 256
    assert apdu.pending_length(0x9000) is None
    assert apdu.with_status(b"\xd0\x00") == bytes.fromhex("d0009000")
    assert apdu.split_response(bytes.fromhex("d0009000")) == (b"\xd0\x00", 0x9000)
    for bad in (0, 257):
        with pytest.raises(WrongLengthError):
            apdu.fetch_apdu(bad)
        with pytest.raises(WrongLengthError):
            apdu.proactive_pending_sw(bad)
    with pytest.raises(WrongLengthError):
        apdu.parse_fetch_apdu(bytes.fromhex("801200001b00"))
    with pytest.raises(WrongLengthError):
        apdu.split_response(b"\x90")
