"""The one-card applet over the air: sub-application life cycle and exactly-once credits."""

from __future__ import annotations

import datetime

import pytest

from ota.onecard_apdu import (
    TAR_CARD_MANAGER,
    BalanceResult,
    Credit,
    CreditResult,
    Delete,
    GetStatus,
    Install,
    LifeCycle,
    Personalise,
    ReadBalance,
    SetStatus,
    SubApp,
    decode_status,
    script,
)
from sim_emulator.factory import open_card
from sim_emulator.onecard import OneCardApplet
from sim_emulator.state import CardState
from sim_emulator.sw import Sw
from tests.sim_emulator.helpers import OtaSender, fresh_card, run

TXN = bytes(range(16))


@pytest.fixture
def sender() -> OtaSender:
    card, secrets = fresh_card()
    return OtaSender(card, secrets.ota)


def issue_purse(sender: OtaSender, limit: int = 100_000) -> None:
    response = sender.onecard(Install(SubApp.PURSE, 7),
                              Personalise(SubApp.PURSE, "1001", b"cred", limit))
    assert (response.executed, response.last_sw) == (2, 0x9000)


def credit(sender: OtaSender, amount: int, txn: bytes = TXN) -> CreditResult:
    response = sender.onecard(Credit(amount, txn))
    assert response.last_sw == 0x9000, hex(response.last_sw)
    return CreditResult.decode(response.last_data)


def test_credit_is_exactly_once(sender: OtaSender) -> None:
    issue_purse(sender)
    assert credit(sender, 500) == CreditResult(500, 1, replayed=False)
    # The PoR was lost; the gateway retries with a new packet (new counter), same txn id.
    assert credit(sender, 500) == CreditResult(500, 1, replayed=True)
    assert credit(sender, 250, bytes(16)) == CreditResult(750, 2, replayed=False)
    response = sender.onecard(ReadBalance())
    assert BalanceResult.decode(response.last_data) == BalanceResult(750, 2)


def test_credit_survives_restart_and_stays_exactly_once(sender: OtaSender) -> None:
    issue_purse(sender)
    credit(sender, 500)
    sender.card = open_card(CardState.from_json(sender.card.snapshot().to_json()))
    assert credit(sender, 500) == CreditResult(500, 1, replayed=True)


def test_credit_refusals(sender: OtaSender) -> None:
    assert sender.onecard(Credit(100, TXN)).last_sw == 0x6A88  # not installed
    sender.onecard(Install(SubApp.PURSE, 7))
    assert sender.onecard(Credit(100, TXN)).last_sw == Sw.CONDITIONS_NOT_SATISFIED
    sender.onecard(Personalise(SubApp.PURSE, "1001", b"cred", 1000))
    assert sender.onecard(Credit(1001, TXN)).last_sw == 0x9402  # over the purse limit
    sender.onecard(SetStatus(SubApp.PURSE, locked=True))
    assert sender.onecard(Credit(100, TXN)).last_sw == Sw.CONDITIONS_NOT_SATISFIED
    sender.onecard(SetStatus(SubApp.PURSE, locked=False))
    assert credit(sender, 1000).balance_fen == 1000


def test_a_script_stops_at_the_first_error(sender: OtaSender) -> None:
    response = sender.onecard(Credit(100, TXN), Install(SubApp.DOOR, 7))
    assert (response.executed, response.last_sw) == (1, 0x6A88)
    assert SubApp.DOOR not in _applet(sender).state.sub_apps


def test_life_cycle_install_lock_unlock_delete(sender: OtaSender) -> None:
    sender.onecard(Install(SubApp.DOOR, 7), Install(SubApp.ATTENDANCE, 7))
    assert sender.onecard(Install(SubApp.DOOR, 7)).last_sw == Sw.CONDITIONS_NOT_SATISFIED
    sender.onecard(Personalise(SubApp.DOOR, "1001", b"door-key",
                               valid_until=datetime.date(2030, 1, 1)))
    sender.onecard(SetStatus(SubApp.DOOR, locked=True))
    sender.onecard(SetStatus(SubApp.DOOR, locked=True))  # idempotent
    assert sender.onecard(Personalise(SubApp.DOOR, "1", b"abcd")).last_sw == 0x6985
    entries = {e.app: e.life_cycle for e in decode_status(sender.onecard(GetStatus()).last_data)}
    assert entries == {SubApp.DOOR: LifeCycle.LOCKED, SubApp.ATTENDANCE: LifeCycle.SELECTABLE}
    sender.onecard(SetStatus(SubApp.DOOR, locked=False))
    entries = {e.app: e.life_cycle for e in decode_status(sender.onecard(GetStatus()).last_data)}
    assert entries[SubApp.DOOR] is LifeCycle.PERSONALISED
    assert sender.onecard(Delete(SubApp.DOOR)).last_sw == 0x9000
    assert sender.onecard(Delete(SubApp.DOOR)).last_sw == 0x6A88
    assert sender.onecard(SetStatus(SubApp.DOOR, locked=True)).last_sw == 0x6A88


def test_card_manager_tar_serves_the_same_commands(sender: OtaSender) -> None:
    por = sender.send(TAR_CARD_MANAGER, script(Install(SubApp.PURSE, 9)))
    assert por.ok and SubApp.PURSE in _applet(sender).state.sub_apps


def test_deleting_the_purse_keeps_credit_ids(sender: OtaSender) -> None:
    issue_purse(sender)
    credit(sender, 500)
    sender.onecard(Delete(SubApp.PURSE))
    issue_purse(sender)
    assert credit(sender, 500) == CreditResult(500, 1, replayed=True)
    assert _applet(sender).state.purse.balance == 0


def test_malformed_applet_commands_answer_status_words(sender: OtaSender) -> None:
    from ota.onecard_apdu import TAR_ONECARD
    from ota.remote import CompactResponse

    cases = {
        "80520000030102030000": 0x6700,  # CREDIT with a short data field
        "80e60c00020101": 0x6700,  # INSTALL with a malformed data field
        "80e4000003aabbcc": 0x6700,  # DELETE without an AID TLV
    }
    for apdu, sw in cases.items():
        por = sender.send(TAR_ONECARD, bytes.fromhex(apdu))
        response = CompactResponse.decode(por.data)
        assert response.executed in (0, 1)
        assert response.last_sw in (sw, 0x6A80, 0x6B00), apdu
    por = sender.send(TAR_ONECARD, bytes.fromhex("80"))
    assert CompactResponse.decode(por.data) == CompactResponse(0, 0x6700)


def test_credit_is_refused_outside_the_secured_channel(sender: OtaSender) -> None:
    issue_purse(sender)
    card = sender.card
    assert run(card, "00a4040009" + SubApp.PURSE.aid.hex())[1] == Sw.OK
    apdu = Credit(100, TXN).apdu().encode().hex()
    assert run(card, apdu)[1] == Sw.SECURITY_NOT_SATISFIED
    data, sw = run(card, "805c000200")
    assert sw == Sw.OK and BalanceResult.decode(data).balance_fen == 0


def test_locked_sub_application_selects_with_warning(sender: OtaSender) -> None:
    issue_purse(sender)
    sender.onecard(SetStatus(SubApp.PURSE, locked=True))
    data, sw = run(sender.card, "00a4040009" + SubApp.PURSE.aid.hex())
    assert sw == Sw.FILE_INVALIDATED and data[0] == 0x6F
    assert run(sender.card, "00a4040009" + SubApp.DOOR.aid.hex())[1] == Sw.FILE_NOT_FOUND


def _applet(sender: OtaSender) -> OneCardApplet:
    applet = sender.card.applet_named("onecard")
    assert isinstance(applet, OneCardApplet)
    return applet
