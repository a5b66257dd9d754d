"""stk.tlv: BER-TLV and COMPREHENSION-TLV framing (TS 101 220 7.1, TS 102 223 Annex C)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.errors import TlvError, TruncatedError
from stk.tlv import (
    BerTlv,
    BerTlvReader,
    Ctlv,
    decode_ber,
    decode_ctlv,
    decode_ctlvs,
    decode_length,
    encode_ctlvs,
    encode_length,
    split_ber,
)

# Lengths around every boundary of the 1/2/3-octet forms.
BOUNDARY_LENGTHS = [0, 1, 0x7F, 0x80, 0x81, 0xFE, 0xFF, 0x100, 0x101, 0xFFFE, 0xFFFF]


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, "00"),
        (0x7F, "7f"),
        (0x80, "8180"),
        (0xFF, "81ff"),
        (0x100, "820100"),
        (0xFFFF, "82ffff"),
    ],
)
def test_length_forms(length: int, encoded: str) -> None:
    assert encode_length(length).hex() == encoded
    assert decode_length(bytes.fromhex(encoded), 0) == (length, len(encoded) // 2)


@pytest.mark.parametrize("length", BOUNDARY_LENGTHS)
def test_boundary_lengths_round_trip_in_both_tlv_kinds(length: int) -> None:
    value = bytes([0x5A]) * length
    ctlv = Ctlv(0x0D, value)
    encoded = ctlv.encode()
    assert decode_ctlv(encoded) == (ctlv, len(encoded))
    ber = BerTlv(0xD0, value)
    assert decode_ber(ber.encode()) == ber
    assert len(ber.encode()) == 1 + len(encode_length(length)) + length


@given(st.integers(0, 0xFFFF))
def test_length_round_trip(length: int) -> None:
    encoded = encode_length(length)
    assert len(encoded) == (1 if length < 0x80 else 2 if length < 0x100 else 3)
    assert decode_length(encoded + b"\x00", 0) == (length, len(encoded))


def test_length_limits() -> None:
    with pytest.raises(TlvError):
        encode_length(0x10000)
    with pytest.raises(TlvError):
        encode_length(-1)
    for bad in ("80", "83010000", "84"):
        with pytest.raises(TlvError):
            decode_length(bytes.fromhex(bad), 0)
    with pytest.raises(TruncatedError):
        decode_length(b"\x82\x01", 0)


def test_non_minimal_length_is_accepted_and_re_encoded_canonically() -> None:
    tlv, end = decode_ctlv(bytes.fromhex("8d810204aa"))
    assert (tlv, end) == (Ctlv(0x0D, b"\x04\xaa"), 5)
    assert tlv.encode().hex() == "8d0204aa"


@given(st.integers(1, 0x7FFF), st.booleans(), st.binary(max_size=300))
def test_ctlv_round_trip(tag: int, cr: bool, value: bytes) -> None:
    tlv = Ctlv(tag, value, cr)
    encoded = tlv.encode()
    assert encoded[0] == 0x7F if tag >= 0x7F else encoded[0] == tag | (0x80 if cr else 0)
    assert decode_ctlvs(encoded) == (tlv,)


def test_three_octet_tag_form() -> None:
    tlv = Ctlv(0x1234, b"\x01", cr=True)
    assert tlv.encode().hex() == "7f92340101"
    assert decode_ctlv(bytes.fromhex("7f12340100"))[0] == Ctlv(0x1234, b"\x00", cr=False)
    # A small tag value in the long form is legal on the wire and re-encoded short.
    assert decode_ctlv(bytes.fromhex("7f800d00"))[0] == Ctlv(0x0D, b"")


@pytest.mark.parametrize("data", ["00", "8000", "ff00", "7f000000", "7f8000", "7f12"])
def test_reserved_and_truncated_tags(data: str) -> None:
    with pytest.raises(TlvError):
        decode_ctlvs(bytes.fromhex(data))


def test_ctlv_tag_range() -> None:
    for tag in (0, 0x8000):
        with pytest.raises(TlvError):
            Ctlv(tag, b"")


@given(st.lists(st.builds(Ctlv, st.integers(1, 0x7FFF), st.binary(max_size=140), st.booleans())))
def test_ctlv_lists_round_trip(tlvs: list[Ctlv]) -> None:
    assert decode_ctlvs(encode_ctlvs(tlvs)) == tuple(tlvs)


def test_ber_trailing_and_reserved() -> None:
    with pytest.raises(TlvError, match="follow"):
        decode_ber(bytes.fromhex("d00100ff"))
    for bad in ("00", "ff00"):
        with pytest.raises(TlvError):
            decode_ber(bytes.fromhex(bad))
    with pytest.raises(TruncatedError):
        decode_ber(bytes.fromhex("d00301"))
    with pytest.raises(TlvError):
        BerTlv(0x1D0, b"").encode()


def test_split_ber_walks_concatenated_objects() -> None:
    data = bytes.fromhex("d30100d1020102")
    first, end = split_ber(data)
    second, end2 = split_ber(data, end)
    assert (first, second, end2) == (BerTlv(0xD3, b"\x00"), BerTlv(0xD1, b"\x01\x02"), len(data))


@given(st.lists(st.builds(BerTlv, st.integers(1, 0xFE), st.binary(max_size=400)), max_size=4))
def test_reader_fed_one_octet_at_a_time(objects: list[BerTlv]) -> None:
    stream = b"".join(o.encode() for o in objects)
    reader = BerTlvReader()
    out: list[BerTlv] = []
    for i in range(len(stream)):
        out += reader.feed(stream[i : i + 1])
    reader.close()
    assert out == objects
    assert reader.pending == 0


@given(st.binary(max_size=300), st.integers(1, 17))
def test_reader_chunking_does_not_change_the_result(data: bytes, chunk: int) -> None:
    whole = BerTlvReader()
    try:
        expected = whole.feed(data)
    except TlvError:
        return
    pieces = BerTlvReader()
    got = []
    for i in range(0, len(data), chunk):
        got += pieces.feed(data[i : i + chunk])
    assert got == expected
    assert pieces.pending == whole.pending


def test_reader_close_with_partial_object() -> None:
    reader = BerTlvReader()
    assert reader.feed(bytes.fromhex("d00581")) == []
    assert reader.pending == 3
    with pytest.raises(TruncatedError):
        reader.close()
    with pytest.raises(TlvError):
        BerTlvReader().feed(b"\xd0\x83")


@given(st.binary(max_size=600))
def test_decoders_raise_only_tlv_errors(data: bytes) -> None:
    for decode in (decode_ctlvs, decode_ber):
        with contextlib.suppress(TlvError):
            decode(data)
