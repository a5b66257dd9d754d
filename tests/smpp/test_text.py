"""smpp.text: coding choice, segmentation (160/153, 70/67 and the 16-bit reference variants),
short_message decoding and reassembly (TS 23.038, TS 23.040 9.2.3.24, SMPP v3.4 5.2.19)."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.errors import SmppError, UdhError
from smpp.sms_errors import ReassemblyError, SmsFormatError, UnsupportedCodingError
from smpp.text import (
    Coding,
    IncompleteMessage,
    Reassembler,
    Segment,
    choose_coding,
    count_segments,
    decode_short_message,
    part_capacity,
    split_text,
)
from smpp.udh import Concat, Iei, Udh
from stk.text import GSM7_BASIC, GSM7_EXTENSION, gsm7_decode

GSM_CHARS = [c for i, c in enumerate(GSM7_BASIC) if i != 0x1B]
EXT_CHARS = list(GSM7_EXTENSION)
WIDE_CHARS = ["尊", "敬", "￥", "é", "😀", "🀄", "𠀋"]  # BMP, and astral (surrogate pairs)

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS + EXT_CHARS), max_size=700)
any_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_CHARS + EXT_CHARS + WIDE_CHARS),
        st.characters(codec="utf-8"),
    ),
    max_size=400,
)


def text_of(segments: tuple[Segment, ...]) -> str:
    payload = b"".join(s.payload for s in segments)
    if segments[0].coding is Coding.GSM7:
        return gsm7_decode(payload)
    return payload.decode("utf-16-be")


# --- coding choice and capacities -------------------------------------------------------------


def test_choose_coding() -> None:
    assert choose_coding("Balance 12.50 CNY {ok} €") is Coding.GSM7
    assert choose_coding("") is Coding.GSM7
    assert choose_coding("余额") is Coding.UCS2
    assert choose_coding("naïve") is Coding.UCS2  # ï is not in the default alphabet
    assert (int(Coding.GSM7), int(Coding.UCS2)) == (0x00, 0x08)


def test_part_capacities() -> None:
    assert part_capacity(Coding.GSM7) == 153
    assert part_capacity(Coding.GSM7, ref16=True) == 152
    assert part_capacity(Coding.UCS2) == 67
    assert part_capacity(Coding.UCS2, ref16=True) == 66


# --- segmentation boundaries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("a" * 160, [160]),
        ("a" * 161, [153, 8]),
        ("a" * 306, [153, 153]),
        ("a" * 307, [153, 153, 1]),
        ("€" * 80, [160]),  # 80 escapes: exactly 160 septets
        ("a" + "€" * 80, [153, 8]),  # part 1 ends on a complete pair
        ("€" * 81, [152, 10]),  # 153 would end on an escape: part 1 stops at 152
    ],
)
def test_gsm7_segment_sizes(text: str, sizes: list[int]) -> None:
    segments = split_text(text, reference=7)
    assert [len(s.payload) for s in segments] == sizes
    assert text_of(segments) == text


def test_gsm7_escape_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    segments = split_text(text, reference=1)
    assert len(segments[0].payload) == 152  # the escape moved to part 2 with its code
    assert segments[1].payload[:2] == bytes((0x1B, 0x65))
    assert [gsm7_decode(s.payload) for s in segments] == ["a" * 152, "€" + "b" * 10]


def test_gsm7_ref16_escape() -> None:
    text = "a" * 151 + "[" + "z" * 10
    segments = split_text(text, reference=0x1234, ref16=True)
    assert [len(s.payload) for s in segments] == [151, 12]


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("余" * 70, [140]),
        ("余" * 71, [134, 8]),
        ("余" * 134, [134, 134]),
        ("😀" * 35, [140]),  # 35 pairs = 70 code units
        ("余" * 66 + "😀" + "x" * 5, [132, 14]),  # the pair would straddle units 67/68
    ],
)
def test_ucs2_segment_sizes(text: str, sizes: list[int]) -> None:
    segments = split_text(text, reference=9)
    assert [len(s.payload) for s in segments] == sizes
    assert text_of(segments) == text


def test_ucs2_ref16_surrogate() -> None:
    text = "余" * 65 + "😀" + "x" * 5
    segments = split_text(text, reference=300, ref16=True)
    assert [len(s.payload) for s in segments] == [130, 14]


def test_single_segment_has_no_udh() -> None:
    (segment,) = split_text("hello", reference=5)
    assert segment == Segment(Coding.GSM7, b"", b"hello", 1, 1)
    assert segment.short_message == b"hello"
    assert not segment.esm_udhi


def test_concatenated_udh_and_short_message() -> None:
    segments = split_text("余" * 71, reference=0x3C)
    assert [s.udh.hex() for s in segments] == ["0500033c0201", "0500033c0202"]
    assert all(s.esm_udhi for s in segments)
    assert segments[1].short_message == bytes.fromhex("0500033c0202") + ("余" * 4).encode(
        "utf-16-be"
    )
    assert [(s.index, s.total) for s in segments] == [(1, 2), (2, 2)]
    wide = split_text("a" * 200, reference=0xBEEF, ref16=True)
    assert wide[0].udh.hex() == "060804beef0201"


def test_forced_coding() -> None:
    (segment,) = split_text("abc", reference=0, coding=Coding.UCS2)
    assert segment.coding is Coding.UCS2 and segment.payload == "abc".encode("utf-16-be")
    with pytest.raises(UnsupportedCodingError):
        split_text("余额", reference=0, coding=Coding.GSM7)
    with pytest.raises(UnsupportedCodingError):
        count_segments("余额", coding=Coding.GSM7)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(UnsupportedCodingError):
        split_text("a\ud800b", reference=0)
    with pytest.raises(UnsupportedCodingError):
        count_segments("a\ud800b")


def test_reference_range_and_too_many_parts() -> None:
    with pytest.raises(UdhError):
        split_text("a", reference=256)
    with pytest.raises(UdhError):
        split_text("a", reference=-1, ref16=True)
    split_text("a" * 400, reference=65535, ref16=True)
    with pytest.raises(SmsFormatError):
        split_text("a" * (153 * 255 + 1), reference=1)
    assert len(split_text("a" * (153 * 255), reference=1)) == 255


def test_empty_text() -> None:
    assert split_text("", reference=0) == (Segment(Coding.GSM7, b"", b"", 1, 1),)
    assert count_segments("") == 1


@pytest.mark.parametrize(
    "text",
    ["a" * 161, "€" * 81, "a" + "€" * 200, "余" * 500, "😀" * 100, "x😀" * 60, "a" * 160],
)
@pytest.mark.parametrize("ref16", [False, True])
def test_count_segments_examples(text: str, ref16: bool) -> None:
    assert count_segments(text, ref16=ref16) == len(split_text(text, reference=1, ref16=ref16))


# --- properties --------------------------------------------------------------------------------


def check_segments(text: str, segments: tuple[Segment, ...]) -> None:
    assert text_of(segments) == text
    assert [s.index for s in segments] == list(range(1, len(segments) + 1))
    assert all(s.total == len(segments) for s in segments)
    for segment in segments:
        if segment.coding is Coding.GSM7:
            header = (len(segment.udh) * 8 + 6) // 7
            assert header + len(segment.payload) <= 160
            assert not segment.payload.endswith(b"\x1b")  # escape split from its code
        else:
            assert len(segment.udh) + len(segment.payload) <= 140
            if segment.payload:
                assert not 0xD8 <= segment.payload[-2] <= 0xDB  # high surrogate left alone


@settings(max_examples=150, deadline=None)
@given(text=any_text, ref16=st.booleans(), reference=st.integers(0, 255))
def test_split_any_text(text: str, ref16: bool, reference: int) -> None:
    segments = split_text(text, reference=reference, ref16=ref16)
    check_segments(text, segments)
    assert count_segments(text, ref16=ref16) == len(segments)
    for segment in segments:
        decoded = Udh.decode(segment.udh)[0].concat if segment.udh else None
        if len(segments) > 1:
            assert decoded == Concat(reference, len(segments), segment.index, ref16)


@settings(max_examples=150, deadline=None)
@given(text=gsm_text, ref16=st.booleans())
def test_split_gsm_text(text: str, ref16: bool) -> None:
    segments = split_text(text, reference=3, ref16=ref16)
    assert all(s.coding is Coding.GSM7 for s in segments)
    check_segments(text, segments)
    assert count_segments(text, ref16=ref16) == len(segments)
    # Parts are as full as the escape rule allows: only the last is short by more than one.
    for segment in segments[:-1]:
        assert len(segment.payload) >= part_capacity(Coding.GSM7, ref16) - 1


@settings(max_examples=100, deadline=None)
@given(text=any_text, seed=st.integers(0, 2**16), ref16=st.booleans())
def test_split_then_reassemble_in_any_order(text: str, seed: int, ref16: bool) -> None:
    segments = list(split_text(text, reference=200, ref16=ref16))
    random.Random(seed).shuffle(segments)
    reassembler = Reassembler(ttl=60)
    results = []
    for segment in segments:
        udh, _ = decode_short_message(segment.coding, segment.short_message, segment.esm_udhi)
        concat = udh.concat if udh is not None else Concat(0, 1, 1)
        assert concat is not None
        whole = reassembler.add("8613912345678", "10658888", concat, segment.payload, now=0.0)
        results.append(whole)
    assert all(r is None for r in results[:-1])
    assert results[-1] is not None
    coding = segments[0].coding
    whole_text = (
        gsm7_decode(results[-1]) if coding is Coding.GSM7 else results[-1].decode("utf-16-be")
    )
    assert whole_text == text
    assert len(reassembler) == 0 and reassembler.expire(now=1e9) == []


# --- decode_short_message -----------------------------------------------------------------


def test_decode_short_message_codings() -> None:
    assert decode_short_message(0x00, bytes((0x48, 0x69, 0x1B, 0x65)), False) == (None, "Hi€")
    assert decode_short_message(0x01, b"Hi!", False) == (None, "Hi!")
    assert decode_short_message(0x03, "café".encode("latin-1"), False) == (None, "café")
    assert decode_short_message(0x08, "余额😀".encode("utf-16-be"), False) == (None, "余额😀")
    # TS 23.038 class / MWI codings that SMPP 3.4 passes through (5.2.19).
    assert decode_short_message(0xF0, b"Hi", False) == (None, "Hi")
    assert decode_short_message(0xE0, "余".encode("utf-16-be"), False) == (None, "余")


def test_decode_short_message_with_udh() -> None:
    data = bytes.fromhex("0500033c0202") + ("余" * 4).encode("utf-16-be")
    udh, text = decode_short_message(0x08, data, True)
    assert text == "余余余余"
    assert udh is not None and udh.concat == Concat(0x3C, 2, 2)
    assert udh.find(Iei.CONCAT_8) is not None


@pytest.mark.parametrize("data_coding", [0x02, 0x04, 0x05, 0x06, 0x09, 0x0E, 0x10, 0x7F, 0xF4])
def test_decode_short_message_refuses_non_text(data_coding: int) -> None:
    with pytest.raises(UnsupportedCodingError) as info:
        decode_short_message(data_coding, b"\x01\x02", False)
    assert f"{data_coding:02X}" in str(info.value)


@pytest.mark.parametrize(
    ("data_coding", "data", "udhi"),
    [
        (0x00, b"\x80", False),  # not a septet
        (0x01, b"\xff", False),  # not ASCII
        (0x08, b"\x00a\x00", False),  # odd UCS2
        (0x08, b"\xdc\x00", False),  # lone low surrogate
        (0x00, b"\x05\x00\x03", True),  # UDHL beyond the data
        (0x00, b"", True),
    ],
)
def test_decode_short_message_malformed(data_coding: int, data: bytes, udhi: bool) -> None:
    with pytest.raises(SmppError):
        decode_short_message(data_coding, data, udhi)


@settings(max_examples=300)
@given(
    data_coding=st.integers(0, 255),
    data=st.binary(max_size=160),
    udhi=st.booleans(),
)
def test_decode_short_message_random_input_raises_only_our_errors(
    data_coding: int, data: bytes, udhi: bool
) -> None:
    with contextlib.suppress(SmppError):
        decode_short_message(data_coding, data, udhi)


# --- Reassembler ----------------------------------------------------------------------------


def test_reassembly_out_of_order_with_duplicates() -> None:
    r = Reassembler(ttl=30)
    assert r.add("a", "b", Concat(5, 3, 2), b"BB", now=0) is None
    assert r.add("a", "b", Concat(5, 3, 2), b"BB", now=1) is None  # duplicate ignored
    assert r.add("a", "b", Concat(5, 3, 3), b"C", now=2) is None
    assert len(r) == 1
    assert r.add("a", "b", Concat(5, 3, 1), b"A", now=3) == b"ABBC"
    assert len(r) == 0
    # The SMSC resends a part whose response was lost: still a duplicate, not a new message.
    assert r.add("a", "b", Concat(5, 3, 3), b"C", now=4) is None
    assert len(r) == 0


def test_reassembly_keys_by_pair_reference_and_total() -> None:
    r = Reassembler(ttl=30)
    assert r.add("a", "b", Concat(5, 2, 1), b"x", now=0) is None
    assert r.add("a", "c", Concat(5, 2, 2), b"y", now=0) is None  # other destination
    assert r.add("z", "b", Concat(5, 2, 2), b"y", now=0) is None  # other originator
    assert r.add("a", "b", Concat(6, 2, 2), b"y", now=0) is None  # other reference
    assert r.add("a", "b", Concat(5, 3, 2), b"y", now=0) is None  # other total
    assert len(r) == 5
    assert r.add("a", "b", Concat(5, 2, 2), b"y", now=0) == b"xy"


def test_reassembly_reference_reused_after_completion() -> None:
    r = Reassembler(ttl=30)
    r.add("a", "b", Concat(1, 2, 1), b"old1", now=0)
    assert r.add("a", "b", Concat(1, 2, 2), b"old2", now=0) == b"old1old2"
    # Same reference, new content: a new message, not a late duplicate.
    assert r.add("a", "b", Concat(1, 2, 2), b"new2", now=5) is None
    assert r.add("a", "b", Concat(1, 2, 1), b"new1", now=6) == b"new1new2"


def test_reassembly_conflicting_duplicate_is_rejected() -> None:
    r = Reassembler(ttl=30)
    r.add("a", "b", Concat(9, 2, 1), b"one", now=0)
    with pytest.raises(ReassemblyError):
        r.add("a", "b", Concat(9, 2, 1), b"two", now=1)


@pytest.mark.parametrize("concat", [Concat(1, 0, 0), Concat(1, 2, 0), Concat(1, 2, 3)])
def test_reassembly_rejects_out_of_range_parts(concat: Concat) -> None:
    with pytest.raises(ReassemblyError) as info:
        Reassembler().add("a", "b", concat, b"x", now=0)
    assert isinstance(info.value, SmppError)


def test_single_part_passes_through() -> None:
    r = Reassembler()
    assert r.add("a", "b", Concat(0, 1, 1), b"whole", now=0) == b"whole"
    assert len(r) == 0


def test_expiry_returns_incomplete_messages() -> None:
    r = Reassembler(ttl=10)
    r.add("a", "b", Concat(7, 3, 3), b"C", now=0)
    r.add("a", "b", Concat(7, 3, 1), b"A", now=5)
    r.add("x", "y", Concat(8, 2, 1), b"Q", now=8)
    assert r.expire(now=9.9) == []
    expired = r.expire(now=10)
    assert expired == [IncompleteMessage("a", "b", 7, 3, ((1, b"A"), (3, b"C")), 0)]
    assert expired[0].missing == (2,)
    assert len(r) == 1
    assert [m.reference for m in r.expire(now=18)] == [8]


def test_overflow_evicts_oldest_and_reports_it() -> None:
    r = Reassembler(ttl=100, max_pending=2)
    r.add("a", "b", Concat(1, 2, 1), b"1", now=0)
    r.add("a", "b", Concat(2, 2, 1), b"2", now=1)
    r.add("a", "b", Concat(3, 2, 1), b"3", now=2)
    assert len(r) == 2
    evicted = r.expire(now=3)
    assert [m.reference for m in evicted] == [1]
    assert r.expire(now=3) == []


def test_sar_parameters_as_concat() -> None:
    # sar_msg_ref_num is 16 bits, sar_total_segments / sar_segment_seqnum one octet each.
    r = Reassembler()
    ref = 0xABCD
    assert r.add("a", "b", Concat(ref, 2, 2, ref16=True), b"lo", now=0) is None
    assert r.add("a", "b", Concat(ref, 2, 1, ref16=True), b"hel", now=0) == b"hello"


def test_reassembler_configuration() -> None:
    with pytest.raises(ValueError):
        Reassembler(ttl=0)
    with pytest.raises(ValueError):
        Reassembler(max_pending=0)
