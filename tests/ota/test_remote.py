"""ota.remote: TS 102 226 compact and expanded remote command/response formats."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.errors import FormatError, OtaError
from ota.remote import (
    CompactResponse,
    ExpandedResponse,
    RApdu,
    ber_length,
    expanded_command,
    iter_ber_tlv,
    parse_expanded_command,
)


def test_vector_expanded_command() -> None:
    # pub-ota-cmd-006 secured data: SELECT MF then GET RESPONSE in a Command Scripting Template.
    raw = bytes.fromhex("aa0d220700a40004023f00220200c0")
    apdus = parse_expanded_command(raw)
    assert apdus == [bytes.fromhex("00a40004023f00"), bytes.fromhex("00c0")]
    assert expanded_command(apdus) == raw


def test_compact_response() -> None:
    compact = CompactResponse.decode(bytes.fromhex("0390000000ffff"))
    assert compact == CompactResponse(3, 0x9000, bytes.fromhex("0000ffff"))
    assert compact.encode() == bytes.fromhex("0390000000ffff")
    with pytest.raises(FormatError):
        CompactResponse.decode(b"\x01\x90")
    with pytest.raises(FormatError):
        CompactResponse(256, 0x9000).encode()


@given(st.integers(0, 255), st.lists(st.tuples(st.binary(max_size=300), st.integers(0, 0xFFFF)),
                                     max_size=3),
       st.one_of(st.none(), st.binary(max_size=4)), st.one_of(st.none(), st.integers(0, 255)))
def test_expanded_response_round_trip(executed: int, responses: list[tuple[bytes, int]],
                                      immediate: bytes | None, bad: int | None) -> None:
    value = ExpandedResponse(executed, tuple(RApdu(d, sw) for d, sw in responses), immediate, bad)
    assert ExpandedResponse.decode(value.encode()) == value


def test_ber_lengths() -> None:
    assert ber_length(0x7F) == b"\x7f"
    assert ber_length(0x80) == b"\x81\x80"
    assert ber_length(0x100) == b"\x82\x01\x00"
    with pytest.raises(FormatError):
        ber_length(0x10000)


@pytest.mark.parametrize("raw", ["ab04800101", "ab00", "aa0323", "ab0423020000", "ab0283ff",
                                 "ab0380010190", "ab84"])
def test_malformed_expanded_response(raw: str) -> None:
    with pytest.raises(FormatError):
        ExpandedResponse.decode(bytes.fromhex(raw))


@given(st.binary(max_size=64))
def test_random_input_raises_only_our_errors(data: bytes) -> None:
    with contextlib.suppress(OtaError):
        ExpandedResponse.decode(data)
    with contextlib.suppress(OtaError):
        parse_expanded_command(data)
    with contextlib.suppress(OtaError):
        list(iter_ber_tlv(data))
