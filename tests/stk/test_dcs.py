"""stk.dcs: text strings with a DCS (TS 102 223 8.15, TS 23.038 clause 4 and 6.1.2.1.1)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given

from stk.dcs import (
    DCS_8BIT,
    DCS_GSM7_PACKED,
    DCS_UCS2,
    Alphabet,
    alphabet_of,
    decode_text,
    encode_text,
    shortest_dcs,
)
from stk.errors import TextCodingError
from tests.stk.strategies import any_text, gsm_text


@pytest.mark.parametrize(
    ("dcs", "alphabet"),
    [
        (0x00, Alphabet.GSM7),
        (0x04, Alphabet.EIGHT_BIT),
        (0x08, Alphabet.UCS2),
        (0x10, Alphabet.GSM7),  # class meaning, still the default alphabet
        (0x48, Alphabet.UCS2),  # automatic deletion group
        (0xC0, Alphabet.GSM7),
        (0xE0, Alphabet.UCS2),
        (0xF4, Alphabet.EIGHT_BIT),
        (0xF0, Alphabet.GSM7),
    ],
)
def test_alphabet_of(dcs: int, alphabet: Alphabet) -> None:
    assert alphabet_of(dcs) is alphabet


@pytest.mark.parametrize("dcs", [0x0C, 0x20, 0x24, 0x80, 0xB0, 0x100, -1])
def test_reserved_compressed_or_invalid_dcs(dcs: int) -> None:
    with pytest.raises(TextCodingError):
        alphabet_of(dcs)


def test_packed_vector_pub_cat_010() -> None:
    assert encode_text("Card locked", DCS_GSM7_PACKED).hex() == "c3b09c0c62bfc7eb3219"
    assert decode_text(bytes.fromhex("c3b09c0c62bfc7eb3219"), 0x00) == "Card locked"


def test_seven_septets_get_a_cr_filler_not_an_at_sign() -> None:
    encoded = encode_text("1234567", DCS_GSM7_PACKED)
    assert len(encoded) == 7
    assert encoded[-1] >> 1 == 0x0D  # the spare 7 bits hold CR
    assert decode_text(encoded, DCS_GSM7_PACKED) == "1234567"
    assert decode_text(encode_text("1234567@", DCS_GSM7_PACKED), 0) == "1234567@"


def test_wanted_cr_on_an_octet_boundary_is_doubled() -> None:
    encoded = encode_text("1234567\r", DCS_GSM7_PACKED)
    assert len(encoded) == 8  # 9 septets: the wanted CR and a second one
    assert decode_text(encoded, DCS_GSM7_PACKED) == "1234567\r\r"  # as TS 23.038 accepts


@given(gsm_text)
def test_gsm_text_round_trips_in_both_gsm_codings(text: str) -> None:
    assert decode_text(encode_text(text, DCS_8BIT), DCS_8BIT) == text
    if not (len(encode_text(text, DCS_8BIT)) % 8 == 0 and text.endswith("\r")):
        assert decode_text(encode_text(text, DCS_GSM7_PACKED), DCS_GSM7_PACKED) == text


@given(any_text)
def test_ucs2_round_trip(text: str) -> None:
    assert decode_text(encode_text(text, DCS_UCS2), DCS_UCS2) == text


@given(any_text)
def test_shortest_dcs_round_trips_and_is_shortest(text: str) -> None:
    dcs = shortest_dcs(text)
    encoded = encode_text(text, dcs)
    assert decode_text(encoded, dcs) == text
    for other in (DCS_GSM7_PACKED, DCS_8BIT, DCS_UCS2):
        with contextlib.suppress(TextCodingError):
            assert len(encoded) <= len(encode_text(text, other))


def test_shortest_choices() -> None:
    assert shortest_dcs("100") == DCS_8BIT  # tie: unpacked
    assert shortest_dcs("Enter PIN") == DCS_GSM7_PACKED  # 9 septets -> 8 octets
    assert shortest_dcs("余额") == DCS_UCS2
    assert shortest_dcs("1234567\r") == DCS_8BIT  # packed would need the doubled CR


@pytest.mark.parametrize(("data", "dcs"), [("4e", 0x08), ("d800", 0x08), ("80", 0x04)])
def test_undecodable_text(data: str, dcs: int) -> None:
    with pytest.raises(TextCodingError):
        decode_text(bytes.fromhex(data), dcs)
