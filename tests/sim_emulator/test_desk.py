"""The issuing desk protocol (洗卡) over an in-process transport: keys, settings, sub-apps."""

from __future__ import annotations

import pytest

from ota.keys import derive_card_keyset
from ota.onecard_apdu import LifeCycle, SubApp
from sim_emulator import issuing
from sim_emulator.cardkeys import derive_enterprise_keys
from sim_emulator.desk import PersonalisationPlan, SubAppPlan, open_session, personalise
from sim_emulator.errors import ReaderError
from sim_emulator.onecard import OneCardApplet
from sim_emulator.ota_applet import OtaApplet
from sim_emulator.sw import Sw
from sim_emulator.transport import InMemoryTransport
from tests.sim_emulator.helpers import fresh_card, run

SAM_MASTER = bytes(range(16))
OTA_MASTER = bytes(range(16, 32))


def test_personalise_writes_keys_settings_and_sub_apps() -> None:
    card, secrets = fresh_card()
    plan = PersonalisationPlan(
        enterprise_id=42, sam_master=SAM_MASTER, transport_key=secrets.transport_key,
        ota_master=OTA_MASTER, per_purchase_limit=3000, daily_limit=9000,
        app_info=b"ACME canteen",
        sub_apps=(SubAppPlan(SubApp.PURSE, "1001", b"cred", 50_000),
                  SubAppPlan(SubApp.DOOR, "1001", b"door-key")))
    result = personalise(InMemoryTransport(card), plan)
    assert result.iccid == secrets.identity.iccid
    onecard = card.applet_named("onecard")
    ota = card.applet_named("ota")
    assert isinstance(onecard, OneCardApplet) and isinstance(ota, OtaApplet)
    keys = onecard.state.keys[42]
    assert keys == derive_enterprise_keys(SAM_MASTER, result.iccid, 42)
    assert onecard.state.purse.per_purchase_limit == 3000
    assert onecard.state.purse.daily_limit == 9000
    assert onecard.state.purse.limit == 50_000
    assert {s.app: s.life_cycle for s in onecard.state.sub_apps.values()} == {
        SubApp.PURSE: LifeCycle.PERSONALISED, SubApp.DOOR: LifeCycle.PERSONALISED}
    derived = derive_card_keyset(OTA_MASTER, result.iccid)
    assert ota.state.keysets[0].keyset == derived and ota.state.keysets[0].counter == 0
    assert result.ota_keyset == derived


def test_wrong_transport_key_counts_down_and_blocks() -> None:
    card, _ = fresh_card()
    transport = InMemoryTransport(card)
    for left in range(issuing.MAX_TRANSPORT_TRIES - 1, 0, -1):
        with pytest.raises(ReaderError) as info:
            open_session(transport, bytes(16))
        assert info.value.status_word == 0x63C0 | min(left, 15)
    with pytest.raises(ReaderError) as info:
        open_session(transport, bytes(16))
    assert info.value.status_word == Sw.AUTH_BLOCKED


def test_secured_commands_need_a_session_and_a_good_mac() -> None:
    card, secrets = fresh_card()
    transport = InMemoryTransport(card)
    session = open_session(transport, secrets.transport_key)
    keys = derive_enterprise_keys(SAM_MASTER, secrets.identity.iccid, 1)
    apdu = bytearray(session.wrap(issuing.INS_PUT_KEY, 0, 0, issuing.put_key_data(keys)))
    apdu[-1] ^= 1  # a flipped MAC bit
    assert card.execute(bytes(apdu))[-2:] == b"\x69\x82"
    # The bad MAC closed the session: even a good command is refused now.
    good = session.wrap(issuing.INS_PUT_KEY, 0, 0, issuing.put_key_data(keys))
    assert card.execute(good)[-2:] == b"\x69\x82"
    assert run(card, "80820000100102030405060708090a0b0c0d0e0f10")[1] == Sw.CONDITIONS_NOT_SATISFIED


def test_replayed_secured_command_is_refused() -> None:
    card, secrets = fresh_card()
    transport = InMemoryTransport(card)
    session = open_session(transport, secrets.transport_key)
    data = issuing.put_data(per_purchase_limit=100)
    first = session.wrap(issuing.INS_PUT_DATA, 0, 0, data)
    assert card.execute(first)[-2:] == b"\x90\x00"
    assert card.execute(first)[-2:] == b"\x69\x82"  # the counter moved on


def test_malformed_put_key_answers_wrong_data() -> None:
    card, secrets = fresh_card()
    session = open_session(InMemoryTransport(card), secrets.transport_key)
    apdu = session.wrap(issuing.INS_PUT_KEY, 0, 0, bytes.fromhex("c90400000001"))
    assert card.execute(apdu)[-2:] == b"\x6a\x80"
    apdu = session.wrap(issuing.INS_PUT_KEY, 0, 0, bytes.fromhex("c905"))
    assert card.execute(apdu)[-2:] == b"\x6a\x80"


def test_new_ota_keys_restart_the_counter_same_keys_keep_it() -> None:
    from tests.sim_emulator.helpers import OtaSender

    card, secrets = fresh_card()
    ota = card.applet_named("ota")
    assert isinstance(ota, OtaApplet)
    OtaSender(card, secrets.ota).send(bytes.fromhex("4f4e45"), b"")
    assert ota.state.keysets[0].counter == 1
    ota.state.install(secrets.ota)
    assert ota.state.keysets[0].counter == 1
    derived = derive_card_keyset(OTA_MASTER, secrets.identity.iccid)
    ota.state.install(derived)
    assert ota.state.keysets[0].keyset == derived and ota.state.keysets[0].counter == 0
