"""The UICC core: SELECT, STATUS, binary and record files, PINs, channels, status words."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_emulator.atr import ATR
from sim_emulator.card import SimCard
from sim_emulator.encoding import decode_iccid, decode_imsi
from sim_emulator.factory import CardSecrets
from sim_emulator.profile import USIM_AID
from sim_emulator.sw import Sw, describe
from tests.sim_emulator.helpers import fresh_card, run


@pytest.fixture
def card() -> tuple[SimCard, CardSecrets]:
    return fresh_card()


def pin_block(digits: str) -> str:
    return digits.encode().ljust(8, b"\xff").hex()


def test_atr_is_well_formed(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    assert sim.power_on() == ATR
    assert ATR[0] == 0x3B and len(ATR) == 2 + 4 + 1 + 15 + 1
    tck = 0
    for octet in ATR[1:]:
        tck ^= octet
    assert tck == 0  # ISO 7816-3 8.2.5: XOR of T0..TCK is zero


def test_select_mf_returns_fcp_or_nothing(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    data, sw = run(sim, "00a40004023f00")
    assert sw == Sw.OK and data[:2] == b"\x62" + bytes((len(data) - 2,))
    assert bytes.fromhex("83023f00") in data and bytes.fromhex("82027821") in data
    assert run(sim, "00a4000c023f00") == (b"", Sw.OK)


def test_select_by_fid_path_and_aid(card: tuple[SimCard, CardSecrets]) -> None:
    sim, secrets = card
    assert run(sim, "00a4000c022fe2")[1] == Sw.OK
    data, sw = run(sim, "00b000000a")
    assert sw == Sw.OK and decode_iccid(data) == secrets.identity.iccid
    # Path from the MF, with and without the MF itself (P1 08), then relative (P1 09).
    assert run(sim, "00a4080c047f206f07")[1] == Sw.OK
    assert run(sim, "00a4080c063f007f206f07")[1] == Sw.OK
    assert run(sim, "00a4000c023f00")[1] == Sw.OK
    assert run(sim, "00a4090c047f106f3a")[1] == Sw.OK
    data, sw = run(sim, "00a4040410" + USIM_AID.hex())
    assert sw == Sw.OK and b"\x84\x10" + USIM_AID in data
    assert run(sim, "00a4000c027fff")[1] == Sw.OK  # current ADF
    data, sw = run(sim, "00a40004026f07")
    assert sw == Sw.OK and bytes.fromhex("8801") + bytes((0x07 << 3,)) in data


def test_select_errors(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    assert run(sim, "00a4000c024f01")[1] == Sw.FILE_NOT_FOUND
    assert run(sim, "00a4000c03aabbcc")[1] == Sw.WRONG_LENGTH
    assert run(sim, "00a4000c0400000000")[1] == Sw.WRONG_LENGTH
    assert run(sim, "00a4000102" + "3f00")[1] == Sw.INCORRECT_P1P2
    assert run(sim, "00a4070c023f00")[1] == Sw.INCORRECT_P1P2
    assert run(sim, "00a404040aa000000087100200000000")[1] in (Sw.FILE_NOT_FOUND,
                                                              Sw.WRONG_LENGTH)
    assert run(sim, "00a4030c")[1] == Sw.FILE_NOT_FOUND  # the MF has no parent


def test_status_returns_current_df(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    run(sim, "00a4040c10" + USIM_AID.hex())
    data, sw = run(sim, "80f2000000")
    assert sw == Sw.OK and USIM_AID in data
    assert run(sim, "80f20001")[0] == b"\x84\x10" + USIM_AID
    assert run(sim, "80f2000c") == (b"", Sw.OK)
    assert run(sim, "80f20003")[1] == Sw.WRONG_P1P2
    assert run(sim, "00f20000")[1] == Sw.CLA_NOT_SUPPORTED


def test_read_binary_rules(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    assert run(sim, "00b0000000")[1] == Sw.NO_EF_SELECTED
    run(sim, "00a4000c022fe2")
    assert len(run(sim, "00b0000000")[0]) == 10
    data, sw = run(sim, "00b0000810")
    assert sw == Sw.END_OF_FILE and len(data) == 2
    assert run(sim, "00b0000b01")[1] == Sw.WRONG_P1P2
    assert run(sim, "00d6000001ff")[1] == Sw.SECURITY_NOT_SATISFIED  # EF.ICCID: never
    run(sim, "00a4000c022f00")
    assert run(sim, "00b0000001")[1] == Sw.INCOMPATIBLE_FILE


def test_pin_protects_and_retry_counter(card: tuple[SimCard, CardSecrets]) -> None:
    sim, secrets = card
    run(sim, "00a4040c10" + USIM_AID.hex())
    run(sim, "00a4000c026f07")
    assert run(sim, "00b0000009")[1] == Sw.SECURITY_NOT_SATISFIED
    assert run(sim, "0020000100")[1] == 0x63C3
    assert run(sim, "0020000108" + pin_block("0000"))[1] == 0x63C2
    assert run(sim, "0020000108" + pin_block("0001"))[1] == 0x63C1
    assert run(sim, "0020000108" + pin_block(secrets.pin1))[1] == Sw.OK
    data, sw = run(sim, "00b0000009")
    assert sw == Sw.OK and decode_imsi(data) == secrets.identity.imsi
    assert run(sim, "0020000100")[1] == Sw.OK
    sim.reset()  # verification is volatile
    assert run(sim, "0020000100")[1] == 0x63C3


def test_pin_blocks_and_unblocks(card: tuple[SimCard, CardSecrets]) -> None:
    sim, secrets = card
    for expected in (0x63C2, 0x63C1, Sw.AUTH_BLOCKED, Sw.AUTH_BLOCKED):
        assert run(sim, "0020000108" + pin_block("9999"))[1] == expected
    assert run(sim, "0020000108" + pin_block(secrets.pin1))[1] == Sw.AUTH_BLOCKED
    assert run(sim, "002c000100")[1] == 0x63CA
    assert run(sim, "002c000110" + pin_block("11111111") + pin_block("4321"))[1] == 0x63C9
    assert run(sim, "002c000110" + pin_block(secrets.puk1) + pin_block("4321"))[1] == Sw.OK
    assert run(sim, "0020000108" + pin_block("4321"))[1] == Sw.OK


def test_change_disable_enable(card: tuple[SimCard, CardSecrets]) -> None:
    sim, secrets = card
    assert run(sim, "0024000110" + pin_block(secrets.pin1) + pin_block("5555"))[1] == Sw.OK
    assert run(sim, "0026000108" + pin_block("5555"))[1] == Sw.OK
    sim.reset()
    assert run(sim, "0020000100")[1] == Sw.OK  # disabled: satisfied without verification
    assert run(sim, "0026000108" + pin_block("5555"))[1] == Sw.CONDITIONS_NOT_SATISFIED
    assert run(sim, "0028000108" + pin_block("5555"))[1] == Sw.OK
    assert run(sim, "0024000108" + pin_block("5555"))[1] == Sw.WRONG_LENGTH
    assert run(sim, "0020000108" + "3132ffffffffffff")[1] == Sw.WRONG_DATA  # too short
    assert run(sim, "0020000a07" + "31323334353637")[1] == Sw.WRONG_LENGTH
    assert run(sim, "0020000f08" + pin_block("1234"))[1] == Sw.DATA_NOT_FOUND


def test_update_and_read_records(card: tuple[SimCard, CardSecrets]) -> None:
    sim, secrets = card
    run(sim, "0020000108" + pin_block(secrets.pin1))
    run(sim, "00a4080c047f106f3a")
    record = "41" * 28
    assert run(sim, "00dc01041c" + record)[1] == Sw.OK
    assert run(sim, "00b201041c") == (bytes.fromhex(record), Sw.OK)
    assert run(sim, "00b2000200")[0] == b"\xff" * 28  # NEXT after record 1
    assert run(sim, "00b2000300")[0] == bytes.fromhex(record)  # PREVIOUS
    assert run(sim, "00b20b0400")[1] == Sw.RECORD_NOT_FOUND
    assert run(sim, "00b2010410")[1] == Sw.WRONG_LENGTH
    assert run(sim, "00dc010403aabbcc")[1] == Sw.WRONG_LENGTH
    assert run(sim, "00b2010700")[1] == Sw.INCORRECT_P1P2
    run(sim, "00a4000c022fe2")
    assert run(sim, "00b2010400")[1] == Sw.INCOMPATIBLE_FILE


def test_logical_channels_are_independent(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    data, sw = run(sim, "0070000001")
    assert (data, sw) == (b"\x01", Sw.OK)
    run(sim, "01a4000c022fe2")
    assert run(sim, "00b0000001")[1] == Sw.NO_EF_SELECTED
    assert len(run(sim, "01b000000a")[0]) == 10
    assert run(sim, "0070800100")[1] == Sw.OK
    assert run(sim, "01b0000001")[1] == Sw.CHANNEL_NOT_SUPPORTED
    assert run(sim, "07b0000001")[1] in (Sw.CHANNEL_NOT_SUPPORTED,)


def test_unknown_instructions_and_classes(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    assert run(sim, "00ee000000")[1] == Sw.INS_NOT_SUPPORTED
    assert run(sim, "a0a40000023f00")[1] == Sw.CLA_NOT_SUPPORTED
    assert run(sim, "0ca4000c023f00")[1] == Sw.SM_NOT_SUPPORTED
    assert run(sim, "80a4000c023f00")[1] == Sw.CLA_NOT_SUPPORTED
    assert run(sim, "8012000010")[1] == Sw.CONDITIONS_NOT_SATISFIED  # nothing to FETCH
    assert run(sim, "80140000")[1] == Sw.WRONG_LENGTH
    assert run(sim, "80c2000002d600")[1] == Sw.OK  # event download: accepted, ignored
    assert run(sim, "80c2000002e100")[1] == Sw.WRONG_DATA
    assert "WRONG_LENGTH" in describe(0x6700) and describe(0x63C2).startswith("63C2")


def test_get_challenge(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    first, sw = run(sim, "0084000008")
    assert sw == Sw.OK and len(first) == 8 and run(sim, "0084000008")[0] != first
    assert run(sim, "0084000005")[1] == Sw.WRONG_LENGTH


def test_terminal_profile_starts_the_menu(card: tuple[SimCard, CardSecrets]) -> None:
    sim, _ = card
    _, sw = run(sim, "801000000301ffff")
    assert sw >> 8 == 0x91
    data, sw = run(sim, "80120000" + f"{sw & 0xFF:02x}")
    assert sw == Sw.OK and data[0] == 0xD0
    assert run(sim, "8014000000")[1] == Sw.WRONG_LENGTH
    _, sw = run(sim, "801000000301ffff")  # a second profile re-sends the menu
    assert run(sim, "80120000" + f"{(sw & 0xFF) - 1:02x}")[1] >> 8 == 0x6C  # wrong Le


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=64))
def test_no_apdu_crashes_the_card(raw: bytes) -> None:
    sim, _ = fresh_card_cached()
    response = sim.execute(raw)
    assert len(response) >= 2
    assert sim.last_internal_error is None, (raw.hex(), sim.last_internal_error)


@settings(max_examples=300)
@given(st.sampled_from([0x00, 0x01, 0x80, 0x84]), st.sampled_from(
    [0xA4, 0xF2, 0xB0, 0xD6, 0xB2, 0xDC, 0x20, 0x24, 0x26, 0x28, 0x2C, 0x70, 0x84, 0x10,
     0xC2, 0x12, 0x14, 0x50, 0x54, 0x56, 0x5C, 0x88, 0x82, 0xD8, 0xE2, 0xDA]),
    st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40))
def test_known_instructions_with_random_parameters(cla: int, ins: int, p1: int, p2: int,
                                                   data: bytes) -> None:
    sim, _ = fresh_card_cached()
    for aid in ("", "00a4040009f04f4e454341524403", "00a4040008f04f4e4543415244"):
        if aid:
            sim.execute(bytes.fromhex(aid))
        apdu = bytes((cla, ins, p1, p2)) + (bytes((len(data),)) + data if data else b"")
        response = sim.execute(apdu)
        assert len(response) >= 2
        assert sim.last_internal_error is None, (apdu.hex(), sim.last_internal_error)


_CACHE: list[tuple[SimCard, CardSecrets]] = []


def fresh_card_cached() -> tuple[SimCard, CardSecrets]:
    # One card for the property tests: building a card is the slow part, and every APDU
    # must be survivable in whatever state the previous ones left.
    if not _CACHE:
        _CACHE.append(fresh_card())
    return _CACHE[0]
