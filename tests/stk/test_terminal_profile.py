"""stk.terminal_profile: TERMINAL PROFILE facilities (TS 102 223 5.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stk.errors import StkError, TerminalProfileError
from stk.terminal_profile import ONE_CARD_FACILITIES, Facility, TerminalProfile


def test_facility_positions_are_unique_and_valid() -> None:
    positions = [f.value for f in Facility]
    assert len(positions) == len(set(positions))
    assert all(1 <= byte <= 17 and 1 <= bit <= 8 for byte, bit in positions)


def test_parse_a_typical_handset_profile() -> None:
    # Bytes 1..4 of a common handset: download, UCS2, the dialogues, SET UP MENU.
    profile = TerminalProfile.parse(bytes.fromhex("ffffffff1f"))
    for facility in ONE_CARD_FACILITIES:
        assert profile.supports(facility)
    assert profile.supports(Facility.SET_UP_EVENT_LIST)
    assert not profile.supports(Facility.EVENT_LANGUAGE_SELECTION)  # byte 6 not sent: zero
    assert profile.missing(ONE_CARD_FACILITIES) == frozenset()


def test_a_profile_without_ucs2_display() -> None:
    profile = TerminalProfile.build(ONE_CARD_FACILITIES - {Facility.UCS2_DISPLAY})
    assert profile.missing(ONE_CARD_FACILITIES) == {Facility.UCS2_DISPLAY}
    assert profile.raw[1] & 0x40 == 0


def test_build_sets_exactly_the_bits() -> None:
    profile = TerminalProfile.build({Facility.PROFILE_DOWNLOAD, Facility.SET_UP_MENU})
    assert profile.raw.hex() == "01000020"
    assert profile.facilities == {Facility.PROFILE_DOWNLOAD, Facility.SET_UP_MENU}
    assert TerminalProfile.build({Facility.MENU_SELECTION}, length=20).raw.hex() == "08" + "00" * 19


def test_numbers() -> None:
    profile = TerminalProfile.build(
        {Facility.SOFT_KEYS_SET_UP_MENU, Facility.VARIABLE_SIZE_FONTS},
        soft_keys=2,
        channels=7,
        screen_height=12,
        screen_width=20,
    )
    assert (profile.soft_keys, profile.channels) == (2, 7)
    assert (profile.screen_height, profile.screen_width) == (12, 20)
    assert profile.raw[12] == 0xE0
    assert profile.raw[14] == 0x80 | 20
    assert profile.supports(Facility.VARIABLE_SIZE_FONTS)
    assert TerminalProfile.parse(profile.raw) == profile
    text = "\n".join(profile.describe())
    assert "screen width: 20" in text and "soft keys set up menu" in text


@given(st.sets(st.sampled_from(list(Facility))))
def test_build_parse_round_trip(facilities: set[Facility]) -> None:
    profile = TerminalProfile.build(facilities)
    assert TerminalProfile.parse(profile.raw).facilities == facilities
    assert TerminalProfile.parse_apdu(profile.to_apdu()) == profile


def test_unnamed_bits_survive() -> None:
    raw = bytes.fromhex("00000000000000e0000000000000000000ff")  # RFU bits of byte 7, byte 18
    assert TerminalProfile.parse(raw).raw == raw


@pytest.mark.parametrize(
    "kwargs",
    [{"soft_keys": 256}, {"channels": 8}, {"screen_height": 32}, {"screen_width": -1}],
)
def test_number_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(TerminalProfileError):
        TerminalProfile.build(set(), **kwargs)


def test_invalid_profiles() -> None:
    with pytest.raises(TerminalProfileError):
        TerminalProfile.parse(b"")
    with pytest.raises(TerminalProfileError):
        TerminalProfile.parse(bytes(256))
    with pytest.raises(TerminalProfileError):
        TerminalProfile.build({Facility.TEXT_ATTRIBUTES}, length=3)
    with pytest.raises(StkError):
        TerminalProfile.parse_apdu(bytes.fromhex("8010000002ff"))


@given(st.binary(max_size=300))
def test_random_input_raises_only_stk_errors(data: bytes) -> None:
    for parse in (TerminalProfile.parse, TerminalProfile.parse_apdu):
        try:
            profile = parse(data)
        except StkError:
            continue
        assert profile.describe()
