"""OTA in the card role: every command vector, real-card PoRs, and every refusal's PoR."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota.conformance import keyset_of, spi_of
from ota.counters import COUNTER_MAX
from ota.onecard_apdu import TAR_ONECARD
from ota.packet import build_command
from ota.por import PorStatus, verify_por
from ota.remote import CompactResponse, ExpandedResponse, expanded_command
from ota.spi import CounterMode, Integrity, PorRequest, PorTransport, Spi
from sim_emulator.card import SimCard
from sim_emulator.factory import new_card_state, open_card
from sim_emulator.ota_applet import OtaApplet, StoredKeyset
from sim_emulator.sw import Sw
from smpp.sms import SmsDeliver, SmsSubmit
from smpp.sms_fields import Address
from smpp.udh import Udh
from stk.commands import SendShortMessage, decode_proactive_command
from stk.envelopes import SmsPpDownload
from tests.sim_emulator.helpers import (
    SCTS,
    SPI_STRONG,
    SPI_SUBMIT,
    OtaSender,
    envelopes,
    fresh_card,
)

VECTORS = json.loads((pathlib.Path(__file__).parents[1] / "data" /
                      "sim-conformance.json").read_text())["cases"]
COMMANDS = [c for c in VECTORS if c["group"] in ("ota_command", "ota_upstream_kat")
            and "command_packet" in c["expected"]]
KAT_PORS = {c["id"].replace("-por-", "-cmd-"): c for c in VECTORS
            if c["group"] == "ota_upstream_kat" and "response_tp_ud" in c["input"]}


def lab_card(case: dict[str, Any]) -> tuple[SimCard, OtaApplet]:
    """A card holding the vector's key set, its counter just below the vector's, no MSL."""
    state, _ = new_card_state()
    card = open_card(state)
    ota = card.applet_named("ota")
    assert isinstance(ota, OtaApplet)
    counter = case["input"]["counter"]
    ota.state.keysets = [StoredKeyset(keyset_of(case), max(0, counter - 1))]
    ota.state.msl[case["input"]["tar"]] = 0
    card.terminal_profile = b"\x01"  # a toolkit terminal: PoRs by SMS-SUBMIT can be fetched
    return card, ota


def expected_status(case: dict[str, Any]) -> PorStatus:
    spi = spi_of(case)
    if spi.counter in (CounterMode.HIGHER, CounterMode.PLUS_ONE) and case["input"]["counter"] == 0:
        return PorStatus.CNTR_LOW  # no stored value is below 0
    return PorStatus.POR_OK


@pytest.mark.parametrize("case", COMMANDS, ids=[c["id"] for c in COMMANDS])
def test_every_command_vector_is_accepted(case: dict[str, Any]) -> None:
    card, ota = lab_card(case)
    spi, keyset = spi_of(case), keyset_of(case)
    data, sw = b"", 0
    for segment in case["expected"]["sms_segments"]:
        response = card.execute(bytes.fromhex(segment["envelope_apdu"]))
        assert card.last_internal_error is None
        data, sw = response[:-2], int.from_bytes(response[-2:], "big")
    status = expected_status(case)
    assert ota.last_status == status
    wanted = spi.wants_por if status == PorStatus.POR_OK else spi.wants_por_on_error
    if not wanted:
        assert (data, sw) == (b"", Sw.OK)
        return
    if spi.por_transport is PorTransport.SMS_SUBMIT:
        assert data == b"" and sw >> 8 == 0x91
        fetched = card.execute(bytes((0x80, 0x12, 0, 0, sw & 0xFF)))
        command = decode_proactive_command(fetched[:-2])
        assert isinstance(command, SendShortMessage)
        submit = SmsSubmit.decode(command.tpdu)
        assert (submit.pid, submit.dcs, str(submit.destination)) == (0x7F, 0xF6, "10658888")
        data = submit.user_data
    else:
        assert sw == Sw.OK
    por = verify_por(data, spi, keyset)
    assert por.status == status and por.tar == bytes.fromhex(case["input"]["tar"])
    assert por.counter == case["input"]["counter"]
    if status == PorStatus.POR_OK and spi.counter in (CounterMode.HIGHER, CounterMode.PLUS_ONE):
        assert ota.state.keysets[0].counter == case["input"]["counter"]


@pytest.mark.parametrize("cmd_id", sorted(KAT_PORS))
def test_card_answers_like_the_real_card(cmd_id: str) -> None:
    """pySim's KATs hold the PoRs a sysmoISIM-SJA5 gave for these commands (SELECT MF by RFM):
    same layout, security, counter and status, and the same T=0 answer '61xx' to SELECT.

    Only xx differs: the length of the MF's FCP (the real card's has 0x32 octets, ours fewer).
    """
    case = next(c for c in COMMANDS if c["id"] == cmd_id)
    card, _ = lab_card(case)
    response = b""
    for segment in case["expected"]["sms_segments"]:
        response = card.execute(bytes.fromhex(segment["envelope_apdu"]))
    spi, keyset = spi_of(case), keyset_of(case)
    ours = verify_por(response[:-2], spi, keyset)
    real = verify_por(bytes.fromhex(KAT_PORS[cmd_id]["input"]["response_tp_ud"]), spi, keyset)
    assert (ours.tar, ours.counter, ours.status, ours.pcntr, ours.rpl, ours.rhl) == (
        real.tar, real.counter, real.status, real.pcntr, real.rpl, real.rhl)
    assert ours.data[:2] == real.data[:2] == b"\x01\x61"
    fcp_length = card.execute(bytes.fromhex("00a40004023f00"))[1] + 2
    assert ours.data[2] == fcp_length
    assert response[-2:] == b"\x90\x00"


def test_concatenated_segments_in_any_order() -> None:
    case = next(c for c in COMMANDS if len(c["expected"]["sms_segments"]) == 3)
    card, ota = lab_card(case)
    apdus = [bytes.fromhex(s["envelope_apdu"]) for s in case["expected"]["sms_segments"]]
    for apdu in (apdus[2], apdus[0]):
        assert card.execute(apdu) == b"\x90\x00"  # held, acknowledged
    response = card.execute(apdus[1])
    assert ota.last_status == PorStatus.POR_OK and len(response) > 2


def test_truncated_or_inconsistent_concatenation_is_refused() -> None:
    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota)
    packet = sender.packet(TAR_ONECARD, bytes(300))
    first, second, third = envelopes(packet, reference=7)
    assert card.execute(first) == b"\x90\x00"
    # The same part again with other contents: refused, no PoR can be addressed.
    changed = bytearray(first)
    changed[-1] ^= 0xFF
    assert card.execute(bytes(changed)) == b"\x6a\x80"
    # A reset loses held segments (card RAM): the rest alone never completes.
    card.reset()
    assert card.execute(second) == b"\x90\x00"
    assert card.execute(third) == b"\x90\x00"


def test_bad_envelopes_get_status_words() -> None:
    card, _ = fresh_card()
    deliver_no_udh = bytes.fromhex("d10e82028381" + "8b08" + "0003a1000000")
    for apdu in ("80c2000003d10182", "80c2000004d1028202", "80c20000" + f"{len(deliver_no_udh):02x}"
                 + deliver_no_udh.hex(), "80c2000102d100"):
        response = card.execute(bytes.fromhex(apdu))
        assert card.last_internal_error is None
        assert response[-2:] in (b"\x6a\x80", b"\x67\x00", b"\x6b\x00"), (apdu, response.hex())


def test_wrong_key_answers_unsecured_cc_failure() -> None:
    card, secrets = fresh_card()
    other, _ = new_card_state()
    other_ota = open_card(other).applet_named("ota")
    assert isinstance(other_ota, OtaApplet)
    forger = OtaSender(card, other_ota.state.keysets[0].keyset)
    response, sw = forger.send_packet(forger.packet(TAR_ONECARD, b""))
    por = verify_por(response, SPI_STRONG, secrets.ota)
    # Wrong keys decipher to noise: the PCNTR check (05) or the CC check (01) refuses it.
    assert sw == Sw.OK
    assert por.status in (PorStatus.RC_CC_DS_FAILED, PorStatus.CIPHERING_ERROR)


def test_replayed_counter_answers_counter_low() -> None:
    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota)
    assert sender.send(TAR_ONECARD, b"").ok
    packet = sender.packet(TAR_ONECARD, b"", counter=sender.counter)
    response, _ = sender.send_packet(packet)
    assert verify_por(response, SPI_STRONG, secrets.ota).status == PorStatus.CNTR_LOW
    # Strictly one higher (SPI b5b4 = 11): a gap answers counter high.
    sender.spi = Spi(CounterMode.PLUS_ONE, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC,
                     True)
    response, _ = sender.send_packet(sender.packet(TAR_ONECARD, b"", counter=sender.counter + 5))
    assert verify_por(response, sender.spi, secrets.ota).status == PorStatus.CNTR_HIGH


def test_blocked_counter() -> None:
    card, secrets = fresh_card()
    ota = card.applet_named("ota")
    assert isinstance(ota, OtaApplet)
    ota.state.keysets[0].counter = COUNTER_MAX
    sender = OtaSender(card, secrets.ota)
    response, _ = sender.send_packet(sender.packet(TAR_ONECARD, b"", counter=COUNTER_MAX))
    assert verify_por(response, SPI_STRONG, secrets.ota).status == PorStatus.CNTR_BLOCKED


def test_unknown_tar_and_insufficient_security() -> None:
    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota)
    response, _ = sender.send_packet(sender.packet(b"XYZ", b""))
    assert verify_por(response, SPI_STRONG, secrets.ota).status == PorStatus.TAR_UNKNOWN
    sender.spi = Spi(CounterMode.HIGHER, False, Integrity.CC, PorRequest.ALWAYS, Integrity.CC)
    response, _ = sender.send_packet(sender.packet(TAR_ONECARD, b""))
    por = verify_por(response, sender.spi, secrets.ota)
    assert por.status == PorStatus.INSUFFICIENT_SECURITY_LEVEL


def test_por_only_on_error() -> None:
    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota,
                       Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ON_ERROR,
                           Integrity.CC, True))
    assert sender.send_packet(sender.packet(TAR_ONECARD, b"")) == (b"", Sw.OK)
    response, _ = sender.send_packet(sender.packet(TAR_ONECARD, b"", counter=1))
    assert verify_por(response, sender.spi, secrets.ota).status == PorStatus.CNTR_LOW


def test_por_by_sms_submit_goes_to_the_originator() -> None:
    card, secrets = fresh_card()
    card.execute(bytes.fromhex("801000000101"))  # toolkit on (TERMINAL PROFILE)
    card.proactive.clear()
    sender = OtaSender(card, secrets.ota, SPI_SUBMIT)
    response, sw = sender.send_packet(sender.packet(TAR_ONECARD, b""))
    assert response == b"" and sw >> 8 == 0x91
    command = decode_proactive_command(card.execute(bytes((0x80, 0x12, 0, 0, sw & 0xFF)))[:-2])
    assert isinstance(command, SendShortMessage)
    submit = SmsSubmit.decode(command.tpdu)
    assert verify_por(submit.user_data, SPI_SUBMIT, secrets.ota).ok


def test_remote_file_management_reads_and_updates() -> None:
    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota)
    rfm = bytes.fromhex("b00010")
    por = sender.send(rfm, bytes.fromhex("00a40004022fe2" "00c000001a"))
    response = CompactResponse.decode(por.data)
    assert response.executed == 2 and response.last_sw == 0x9000
    assert bytes.fromhex("83022fe2") in response.last_data
    por = sender.send(rfm, bytes.fromhex("00a40000022f05" "00d6000002656e" "00b0000004"))
    assert CompactResponse.decode(por.data).last_data == b"enen"
    # A script stops at the first error.
    por = sender.send(rfm, bytes.fromhex("00a40000024f4f" "00b0000004"))
    assert CompactResponse.decode(por.data) == CompactResponse(1, 0x6A82, b"")
    por = sender.send(rfm, expanded_command([bytes.fromhex("00a40000022fe2"),
                                             bytes.fromhex("00b000000a")]))
    expanded = ExpandedResponse.decode(por.data)
    assert expanded.executed == 2 and expanded.responses[-1].sw == 0x9000
    por = sender.send(rfm, bytes.fromhex("00a4"))
    assert CompactResponse.decode(por.data) == CompactResponse(0, 0x6700, b"")


def test_counter_survives_restart() -> None:
    from sim_emulator.state import CardState

    card, secrets = fresh_card()
    sender = OtaSender(card, secrets.ota)
    sender.send(TAR_ONECARD, b"")
    restored = open_card(CardState.from_json(card.snapshot().to_json()))
    sender.card = restored
    response, _ = sender.send_packet(sender.packet(TAR_ONECARD, b"", counter=1))
    assert verify_por(response, SPI_STRONG, secrets.ota).status == PorStatus.CNTR_LOW
    assert sender.send(TAR_ONECARD, b"", counter=2).ok


def test_packet_too_short_for_its_header_gets_no_por() -> None:
    card, secrets = fresh_card()
    packet = build_command(SPI_STRONG, secrets.ota, TAR_ONECARD, 1, b"")
    for apdu in envelopes(packet[:8]):
        response = card.execute(apdu)
    assert card.last_internal_error is None
    assert response == b"\x90\x00"  # nothing can be addressed: no PoR (TS 102 225 5.2)


_FUZZ: list[SimCard] = []


def _fuzz_card() -> SimCard:
    if not _FUZZ:
        _FUZZ.append(fresh_card()[0])
    return _FUZZ[0]


@settings(max_examples=300)
@given(st.binary(max_size=200), st.booleans())
def test_random_packets_never_crash_the_card(body: bytes, concatenated: bool) -> None:
    """Any SMS-PP user data: an answer (status word or PoR), never an exception."""
    card = _fuzz_card()
    udh = bytes.fromhex("0700030a0201" + "7000") if concatenated else bytes.fromhex("027000")
    tpdu = SmsDeliver(Address.parse("10658888"), SCTS, 0x7F, 0xF6, Udh.decode(udh)[0],
                      body[:140 - len(udh)]).encode()
    response = card.execute(SmsPpDownload(tpdu=tpdu).to_apdu())
    assert card.last_internal_error is None and len(response) >= 2


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_random_envelopes_and_terminal_responses(data: bytes) -> None:
    card = _fuzz_card()
    for prefix in (b"\xd1", b"\xd3"):
        value = prefix + bytes((len(data) & 0x7F,)) + data[:0x7F]
        card.execute(bytes((0x80, 0xC2, 0, 0, len(value))) + value)
        assert card.last_internal_error is None
    if data:
        card.execute(bytes((0x80, 0x14, 0, 0, min(len(data), 255))) + data[:255])
        assert card.last_internal_error is None
