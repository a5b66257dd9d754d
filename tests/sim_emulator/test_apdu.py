"""Command APDU parsing: the seven length forms and every malformed one (ISO 7816-4 5.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_emulator.apdu import CommandApdu, ResponseApdu
from sim_emulator.errors import ClassNotSupported, SimError, WrongLength


@pytest.mark.parametrize(
    ("raw", "data", "le", "extended"),
    [
        ("00a40000", "", None, False),
        ("00b0000000", "", 256, False),
        ("00b000000a", "", 10, False),
        ("00a40004023f00", "3f00", None, False),
        ("00a40004023f0000", "3f00", 256, False),
        ("00b0000000012c", "", 300, True),
        ("00d60000000003aabbcc", "aabbcc", None, True),
        ("00d60000000003aabbcc0000", "aabbcc", 65536, True),
    ],
)
def test_length_forms(raw: str, data: str, le: int | None, extended: bool) -> None:
    apdu = CommandApdu.parse(bytes.fromhex(raw))
    assert apdu.data == bytes.fromhex(data)
    assert apdu.le == le
    assert apdu.extended is extended


@pytest.mark.parametrize("raw", ["", "00", "00a400", "00a4000405aabb", "00a4000400aa",
                                 "00d600000000", "00a40004020102030405"])
def test_malformed_lengths_are_wrong_length(raw: str) -> None:
    with pytest.raises(WrongLength) as info:
        CommandApdu.parse(bytes.fromhex(raw))
    assert info.value.status_word == 0x6700


def test_cla_ff_is_refused() -> None:
    with pytest.raises(ClassNotSupported):
        CommandApdu.parse(bytes.fromhex("ffa4000000"))


@pytest.mark.parametrize("cla,channel", [(0x00, 0), (0x03, 3), (0x80, 0), (0x81, 1),
                                         (0x40, 4), (0x4F, 19), (0xC5, 9)])
def test_logical_channel_from_cla(cla: int, channel: int) -> None:
    assert CommandApdu(cla, 0xA4, 0, 0).channel == channel


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_our_error(raw: bytes) -> None:
    try:
        apdu = CommandApdu.parse(raw)
    except SimError as exc:
        assert exc.status_word in (0x6700, 0x6E00)
        return
    assert CommandApdu.parse(apdu.encode()) == apdu


def test_response_apdu() -> None:
    response = ResponseApdu.parse(bytes.fromhex("01029000"))
    assert (response.data, response.sw1, response.sw2) == (b"\x01\x02", 0x90, 0x00)
    with pytest.raises(WrongLength):
        ResponseApdu.parse(b"\x90")
