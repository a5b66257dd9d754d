"""stk.text: GSM 7-bit alphabet, septet packing, UCS2 alpha forms (TS 23.038, TS 102 221 A)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    AlphaCoding,
    TextCodingError,
    alpha_coding_of,
    decode_alpha,
    encode_alpha,
    gsm7_decode,
    gsm7_encode,
    gsm7_length,
    is_gsm7,
    pack_7bit,
    unpack_7bit,
)

GSM_CHARS = [c for i, c in enumerate(GSM7_BASIC) if i != 0x1B] + list(GSM7_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=200)


def test_alphabet_table_has_128_positions() -> None:
    assert len(GSM7_BASIC) == 128
    assert GSM7_BASIC[0x00] == "@" and GSM7_BASIC[0x24] == "¤" and GSM7_BASIC[0x7F] == "à"


def test_extension_characters_take_two_septets() -> None:
    assert gsm7_encode("€[") == bytes((0x1B, 0x65, 0x1B, 0x3C))
    assert gsm7_length("a€") == 3


def test_known_packing() -> None:
    # TS 23.038 example family: "hellohello" packs to the well-known octets.
    assert pack_7bit(gsm7_encode("hellohello")).hex() == "e8329bfd4697d9ec37"


def test_packing_with_fill_bits_round_trips() -> None:
    septets = gsm7_encode("Card locked")
    for fill in range(7):
        assert unpack_7bit(pack_7bit(septets, fill), len(septets), fill) == septets


def test_non_gsm_character_is_named_with_its_position() -> None:
    with pytest.raises(TextCodingError, match="position 2"):
        gsm7_encode("ab余")


def test_decode_rejects_octets_above_0x7f() -> None:
    with pytest.raises(TextCodingError):
        gsm7_decode(b"\x80")


def test_unknown_extension_code_shows_basic_character() -> None:
    assert gsm7_decode(bytes((0x1B, 0x41))) == "A"


def test_unpack_needs_enough_octets() -> None:
    with pytest.raises(TextCodingError, match="need"):
        unpack_7bit(b"\x00", 5)


@pytest.mark.parametrize(
    ("text", "coding", "hex_"),
    [
        ("Баланс", AlphaCoding.UCS2_81, "81060891b0bbb0bdc1"),
        ("上下", AlphaCoding.UCS2_82, "82024e0a8081"),
        ("一卡通", AlphaCoding.UCS2_80, "804e005361901a"),
        ("Toolkit", AlphaCoding.GSM8, "546f6f6c6b6974"),
    ],
)
def test_alpha_forms_match_annex_a(text: str, coding: AlphaCoding, hex_: str) -> None:
    assert encode_alpha(text, coding).hex() == hex_
    assert decode_alpha(bytes.fromhex(hex_)) == text
    assert alpha_coding_of(bytes.fromhex(hex_)) is coding


def test_shortest_form_is_chosen() -> None:
    assert alpha_coding_of(encode_alpha("Toolkit")) is AlphaCoding.GSM8
    assert alpha_coding_of(encode_alpha("上下")) is AlphaCoding.UCS2_81  # 5 octets, 82 needs 6
    assert alpha_coding_of(encode_alpha("一卡通")) is AlphaCoding.UCS2_80


def test_form_that_cannot_hold_the_text_is_refused() -> None:
    with pytest.raises(TextCodingError):
        encode_alpha("一卡通", AlphaCoding.UCS2_82)


def test_ff_padding_is_ignored() -> None:
    assert decode_alpha(bytes.fromhex("804e00ffff")) == "一"
    assert decode_alpha(bytes.fromhex("414243ffff")) == "ABC"


@pytest.mark.parametrize("raw", ["81", "8105", "820300", "8104004e4142", "804e"])
def test_truncated_alpha_raises_our_error(raw: str) -> None:
    with pytest.raises(TextCodingError):
        decode_alpha(bytes.fromhex(raw))


@given(gsm_text, st.integers(0, 6))
def test_gsm7_round_trip(text: str, fill: int) -> None:
    septets = gsm7_encode(text)
    assert is_gsm7(text)
    assert len(septets) == gsm7_length(text)
    assert gsm7_decode(unpack_7bit(pack_7bit(septets, fill), len(septets), fill)) == text


@given(st.text(max_size=40))
def test_alpha_round_trip_any_text(text: str) -> None:
    assert decode_alpha(encode_alpha(text)) == text
    for coding in AlphaCoding:
        try:
            encoded = encode_alpha(text, coding)
        except TextCodingError:
            continue
        assert decode_alpha(encoded) == text


@given(st.binary(max_size=40))
def test_decode_alpha_never_raises_foreign_errors(raw: bytes) -> None:
    with contextlib.suppress(TextCodingError):
        decode_alpha(raw)
