"""ota.smspp: SMS-PP framing, concatenation and reassembly (TS 31.115 4.2, TS 23.040)."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota.errors import FormatError, InsufficientMemory, OtaError
from ota.smspp import (
    MAX_SINGLE_PACKET,
    MAX_TP_UD,
    Reassembler,
    command_segments,
    parse_segment,
    reassemble,
    segment_count,
)


def test_single_sms() -> None:
    packet = bytes(range(MAX_SINGLE_PACKET))
    assert command_segments(packet) == [bytes.fromhex("027000") + packet]


def test_first_and_later_segments() -> None:
    packet = bytes(300)
    segments = command_segments(packet, reference=0x6D)
    assert [len(s) for s in segments] == [140, 140, 6 + 300 - 132 - 134]
    assert segments[0][:8] == bytes.fromhex("0700036d03017000")
    assert segments[1][:6] == bytes.fromhex("0500036d0302")
    assert segments[2][:6] == bytes.fromhex("0500036d0303")


def test_sixteen_bit_reference() -> None:
    segments = command_segments(bytes(200), reference=0x1234, ref16=True)
    assert segments[0][:9] == bytes.fromhex("080804123402017000")
    assert segments[1][:7] == bytes.fromhex("06080412340202")
    assert len(segments[0]) == MAX_TP_UD and len(segments[1]) == 7 + 200 - 131
    assert reassemble(segments) == bytes(200)


@pytest.mark.parametrize(("length", "count"), [(137, 1), (138, 2), (266, 2), (267, 3),
                                               (400, 3), (401, 4)])
def test_segment_count(length: int, count: int) -> None:
    assert segment_count(length) == count
    assert len(command_segments(bytes(length))) == count


def test_too_long_for_255_segments() -> None:
    with pytest.raises(FormatError):
        command_segments(bytes(132 + 134 * 254 + 1))


@settings(max_examples=200)
@given(st.binary(max_size=1200), st.integers(0, 255), st.booleans(), st.randoms())
def test_any_packet_reassembles_in_any_order(packet: bytes, reference: int, ref16: bool,
                                             rnd: random.Random) -> None:
    segments = command_segments(packet, reference=reference, ref16=ref16)
    assert all(len(s) <= MAX_TP_UD for s in segments)
    shuffled = segments[:]
    rnd.shuffle(shuffled)
    reassembler = Reassembler()
    results = [reassembler.feed(s) for s in shuffled]
    assert results[-1] == packet and all(r is None for r in results[:-1])
    assert reassembler.pending == 0


def test_one_segment_at_a_time_with_duplicates_and_interleaving() -> None:
    a, b = bytes(range(200)), bytes(range(100, 255)) * 2
    seg_a, seg_b = command_segments(a, reference=1), command_segments(b, reference=2)
    reassembler = Reassembler()
    assert reassembler.feed(seg_a[1]) is None
    assert reassembler.feed(seg_b[0]) is None
    assert reassembler.feed(seg_a[1]) is None  # identical duplicate: ignored
    assert reassembler.pending == 2
    assert reassembler.feed(seg_a[0]) == a
    assert reassembler.feed(seg_b[2]) is None
    assert reassembler.feed(seg_b[1]) == b


def test_conflicting_duplicate() -> None:
    segments = command_segments(bytes(200), reference=9)
    reassembler = Reassembler()
    reassembler.feed(segments[1])
    with pytest.raises(FormatError):
        reassembler.feed(segments[1][:-1] + b"\x01")


def test_first_segment_without_cpi() -> None:
    with pytest.raises(FormatError):
        Reassembler().feed(bytes.fromhex("050003010201") + b"payload")


def test_single_sms_without_cpi() -> None:
    with pytest.raises(FormatError):
        parse_segment(bytes.fromhex("00") + b"payload")


def test_cpi_anywhere_in_the_first_udh() -> None:
    segment = parse_segment(bytes.fromhex("0770000003050201") + b"x")
    assert segment.has_cpi and segment.concat is not None and segment.concat.sequence == 1


def test_part_one_of_one_is_a_single_sms() -> None:
    assert Reassembler().feed(bytes.fromhex("0700030501017000") + b"pkt") == b"pkt"


def test_too_many_open_messages() -> None:
    reassembler = Reassembler(max_pending=2)
    for ref in (1, 2):
        reassembler.feed(command_segments(bytes(200), reference=ref)[1])
    with pytest.raises(InsufficientMemory):
        reassembler.feed(command_segments(bytes(200), reference=3)[1])


def test_reassemble_needs_every_part_once() -> None:
    segments = command_segments(bytes(300), reference=4)
    with pytest.raises(FormatError):
        reassemble(segments[:2])
    with pytest.raises(FormatError):
        reassemble([*segments, segments[0]])


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=150), max_size=4))
def test_random_segments_raise_only_our_errors(segments: list[bytes]) -> None:
    reassembler = Reassembler()
    for segment in segments:
        with contextlib.suppress(OtaError):
            reassembler.feed(segment)


def test_every_truncation_of_a_segment() -> None:
    segment = command_segments(bytes(200), reference=3)[0]
    for end in range(8):
        with pytest.raises(OtaError):
            Reassembler().feed(segment[:end])
