"""Card files: JSON round trip, atomic saves, malformed files, several cards per process."""

from __future__ import annotations

import json
import pathlib

import pytest

from ota.onecard_apdu import Credit, Install, Personalise, SubApp
from sim_emulator.errors import StateFileError
from sim_emulator.factory import describe_card, identity_for, luhn_digit, new_card_state, open_card
from sim_emulator.state import CardState
from sim_emulator.storage import CardFile, load_state, save_state
from tests.sim_emulator.helpers import OtaSender


def test_state_round_trip_is_exact() -> None:
    state, _ = new_card_state()
    text = state.to_json()
    assert CardState.from_json(text).to_json() == text


def test_card_file_keeps_purse_counters_and_pins(tmp_path: pathlib.Path) -> None:
    state, secrets = new_card_state(pin1="2468")
    path = tmp_path / "card.json"
    save_state(path, state)
    card_file = CardFile(path, open_card(load_state(path)))
    card = card_file.card
    sender = OtaSender(card, secrets.ota)
    sender.onecard(Install(SubApp.PURSE, 3), Personalise(SubApp.PURSE, "9", b"abcd", 10**6),
                   Credit(4_200, bytes(16)))
    card.execute(bytes.fromhex("0020000108") + b"0000".ljust(8, b"\xff"))  # one wrong PIN
    assert card.dirty
    card_file.save_if_dirty()
    assert not card.dirty and oct(path.stat().st_mode & 0o777) == "0o600"
    again = open_card(load_state(path))
    summary = describe_card(again)
    assert summary["purse"]["balance_fen"] == 4_200 and summary["ota_counters"] == {"1": 1}
    assert again.execute(bytes.fromhex("0020000100"))[-2:] == b"\x63\xc2"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_read_only_commands_leave_the_card_clean() -> None:
    state, _ = new_card_state()
    card = open_card(state)
    card.dirty = False
    for apdu in ("00a40004023f00", "00a4000c022fe2", "00b000000a", "80f20000"):
        card.execute(bytes.fromhex(apdu))
    assert not card.dirty


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"format": "other"}',
                                  '{"format": "onecard-sim/1", "iccid": "1"}'])
def test_malformed_state_files(tmp_path: pathlib.Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(StateFileError):
        load_state(path)
    with pytest.raises(StateFileError):
        load_state(tmp_path / "missing.json")


def test_fleet_identities_are_stable_and_valid() -> None:
    first = identity_for(0)
    assert identity_for(0) == first and identity_for(1) != first
    assert len(first.iccid) == 20 and luhn_digit(first.iccid[:-1]) == first.iccid[-1]
    assert luhn_digit("7992739871") == "3"  # the textbook example
    assert first.msisdn.startswith("86138") and len(first.msisdn) == 13


def test_two_cards_one_process() -> None:
    a, sa = new_card_state()
    b, sb = new_card_state()
    card_a, card_b = open_card(a), open_card(b)
    OtaSender(card_a, sa.ota).onecard(Install(SubApp.DOOR, 1))
    assert "door" in describe_card(card_a)["sub_apps"]
    assert describe_card(card_b)["sub_apps"] == {}
    assert json.loads(a.to_json())["iccid"] != json.loads(b.to_json())["iccid"]
    assert sb.ota != sa.ota


def test_compact_text_follows_every_change() -> None:
    """The compact save reuses the JSON of unchanged files; it must equal a fresh encoding."""
    state, secrets = new_card_state(pin1="1234")
    card = open_card(state)

    def fresh() -> str:
        return json.dumps(card.snapshot().to_dict(), ensure_ascii=False, separators=(",", ":"))

    assert card.snapshot().to_json(pretty=False) == fresh()
    sender = OtaSender(card, secrets.ota)
    sender.onecard(Install(SubApp.PURSE, 3), Personalise(SubApp.PURSE, "9", b"abcd", 10**6),
                   Credit(1, bytes(16)))  # the credit writes EF.LOG
    card.execute(bytes.fromhex("0020000108") + b"1234".ljust(8, b"\xff"))
    card.execute(bytes.fromhex("00a4080c047f106f3a"))
    card.execute(bytes.fromhex("00dc01041c") + b"A" * 28)
    card.execute(bytes.fromhex("00a4000c022f05"))
    card.execute(bytes.fromhex("00d6000002") + b"fr")
    compact = card.snapshot().to_json(pretty=False)
    assert compact == fresh()
    assert CardState.from_json(compact).to_json() == card.snapshot().to_json()
