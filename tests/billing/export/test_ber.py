from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import BerError
from billing.export.ber import (
    TagClass,
    decode_integer,
    decode_text,
    decode_tlv,
    identifier,
    integer_content,
    iter_tlvs,
    length_octets,
    tlv,
)

# X.690 examples worked by hand: (value, contents octets).
INTEGERS = [
    (0, "00"),
    (127, "7f"),
    (128, "0080"),
    (256, "0100"),
    (-1, "ff"),
    (-128, "80"),
    (-129, "ff7f"),
]


@pytest.mark.parametrize(("value", "octets"), INTEGERS)
def test_integers_use_the_fewest_twos_complement_octets(value: int, octets: str) -> None:
    assert integer_content(value).hex() == octets


@pytest.mark.parametrize(
    ("length", "octets"), [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"), (256, "820100")]
)
def test_definite_length_forms(length: int, octets: str) -> None:
    assert length_octets(length).hex() == octets


def test_identifier_forms() -> None:
    assert identifier(0).hex() == "80"
    assert identifier(14).hex() == "8e"
    assert identifier(1, constructed=True).hex() == "a1"
    assert identifier(16, TagClass.UNIVERSAL, constructed=True).hex() == "30"
    assert identifier(31).hex() == "9f1f"
    assert identifier(201).hex() == "9f8149"


@given(
    st.integers(min_value=0, max_value=5000),
    st.sampled_from(list(TagClass)),
    st.booleans(),
    st.binary(max_size=70_000),
)
def test_tlv_round_trip(number: int, tag_class: TagClass, constructed: bool, value: bytes) -> None:
    encoded = tlv(identifier(number, tag_class, constructed), value)
    element, end = decode_tlv(encoded)
    assert end == len(encoded)
    assert (element.tag_class, element.constructed, element.number, element.value) == (
        tag_class,
        constructed,
        number,
        value,
    )


@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_integer_round_trip(value: int) -> None:
    element, _ = decode_tlv(tlv(identifier(2), integer_content(value)))
    assert decode_integer(element) == value


def test_every_truncation_is_a_ber_error_never_an_index_error() -> None:
    encoded = tlv(identifier(1, constructed=True), tlv(identifier(40), b"x" * 200))
    for cut in range(len(encoded)):
        with pytest.raises(BerError):
            list(iter_tlvs(encoded[:cut])) if cut else decode_tlv(b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("8080", "indefinite"),
        ("8085ffffffffff", "too large"),
        ("9f", "truncated tag"),
        ("9fffffffff7f00", "too large"),
        ("8005aa", "needs 5"),
    ],
)
def test_malformed_encodings_say_why(data: str, message: str) -> None:
    with pytest.raises(BerError, match=message):
        decode_tlv(bytes.fromhex(data))


def test_type_checks_on_decode() -> None:
    constructed, _ = decode_tlv(bytes.fromhex("a100"))
    with pytest.raises(BerError):
        decode_integer(constructed)
    with pytest.raises(BerError):
        decode_text(constructed)
    primitive, _ = decode_tlv(bytes.fromhex("8101ff"))
    with pytest.raises(BerError, match="primitive"):
        primitive.children()
    with pytest.raises(BerError):
        decode_text(primitive)
    with pytest.raises(BerError, match="negative"):
        identifier(-1)
