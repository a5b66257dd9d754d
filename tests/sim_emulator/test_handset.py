"""Handsets and fleets over real TCP SMPP: SMSC simulator, gateway-side ESME, emulated cards."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator

import pytest

from ota.keys import derive_card_keyset
from ota.mo_request import RequestType, open_request
from ota.onecard_apdu import (
    TAR_ONECARD,
    Credit,
    CreditResult,
    Install,
    OneCardCommand,
    Personalise,
    SubApp,
    script,
)
from ota.packet import build_command
from ota.por import verify_por
from ota.remote import CompactResponse
from ota.smspp import command_segments
from sim_emulator.handset import Fleet, address_range, handsets_for, load_fleet_cards
from sim_emulator.onecard import OneCardApplet
from smpp.client import Esme
from smpp.esmeconf import EsmeConfig
from smpp.mo import MoMessage
from smpp.simulator import Smsc, SmscConfig
from tests.sim_emulator.helpers import SPI_STRONG

MASTER = bytes(range(32, 48))
SERVICE = "10658888"


class Gateway:
    """The gateway's side, reduced to an ESME and a queue of what comes back."""

    def __init__(self, port: int) -> None:
        self.inbound: asyncio.Queue[MoMessage] = asyncio.Queue()
        self.esme = Esme(EsmeConfig(port=port, system_id="gateway", source_addr=SERVICE,
                                    address_range=f"^{SERVICE}$", window=50),
                         on_mo=self.inbound.put)
        self.counters: dict[str, int] = {}

    async def ota(self, msisdn: str, iccid: str, *commands: OneCardCommand) -> CompactResponse:
        keyset = derive_card_keyset(MASTER, iccid)
        self.counters[iccid] = counter = self.counters.get(iccid, 0) + 1
        packet = build_command(SPI_STRONG, keyset, TAR_ONECARD, counter, script(*commands))
        await self.esme.submit_binary(msisdn, command_segments(packet), source=SERVICE)
        message = await asyncio.wait_for(self.inbound.get(), 10)
        assert message.source == msisdn and message.udh is not None
        por = verify_por(message.udh.encode() + message.payload, SPI_STRONG, keyset)
        assert por.ok
        return CompactResponse.decode(por.data)


@pytest.fixture
async def network(tmp_path: pathlib.Path) -> AsyncIterator[tuple[Fleet, Gateway]]:
    async with Smsc(SmscConfig(port=0)) as smsc:
        cards = load_fleet_cards(tmp_path, 3, ota_master=MASTER)
        fleet = Fleet(handsets_for(cards), "127.0.0.1", smsc.port, system_id="handsets")
        gateway = Gateway(smsc.port)
        async with fleet:
            await gateway.esme.start(timeout=10)
            try:
                yield fleet, gateway
            finally:
                await gateway.esme.stop()


async def test_ota_top_up_end_to_end(network: tuple[Fleet, Gateway]) -> None:
    fleet, gateway = network
    handset = next(iter(fleet.handsets.values()))
    iccid = handset.card.state.iccid
    response = await gateway.ota(handset.msisdn, iccid, Install(SubApp.PURSE, 1),
                                 Personalise(SubApp.PURSE, "1", b"abcd", 10**6))
    assert response.executed == 2
    txn = bytes(range(16))
    first = await gateway.ota(handset.msisdn, iccid, Credit(1_000, txn))
    again = await gateway.ota(handset.msisdn, iccid, Credit(1_000, txn))
    assert CreditResult.decode(first.last_data) == CreditResult(1_000, 1, False)
    assert CreditResult.decode(again.last_data) == CreditResult(1_000, 1, True)


async def test_concurrent_top_ups_across_the_fleet(network: tuple[Fleet, Gateway]) -> None:
    fleet, gateway = network
    handsets = list(fleet.handsets.values())
    for h in handsets:
        await gateway.ota(h.msisdn, h.card.state.iccid, Install(SubApp.PURSE, 1),
                          Personalise(SubApp.PURSE, "1", b"abcd", 10**6))
    for round_ in range(3):
        for h in handsets:
            keyset = derive_card_keyset(MASTER, h.card.state.iccid)
            gateway.counters[h.card.state.iccid] += 1
            packet = build_command(SPI_STRONG, keyset, TAR_ONECARD,
                                   gateway.counters[h.card.state.iccid],
                                   script(Credit(100, bytes([round_]) * 16)))
            await gateway.esme.submit_binary(h.msisdn, command_segments(packet), source=SERVICE)
    for _ in range(3 * len(handsets)):
        await asyncio.wait_for(gateway.inbound.get(), 10)
    for h in handsets:
        onecard = h.card.applet_named("onecard")
        assert isinstance(onecard, OneCardApplet) and onecard.state.purse.balance == 300


async def test_menu_request_reaches_the_service_number(network: tuple[Fleet, Gateway]) -> None:
    fleet, gateway = network
    handset = next(iter(fleet.handsets.values()))
    iccid = handset.card.state.iccid
    await gateway.ota(handset.msisdn, iccid, Install(SubApp.DOOR, 1))
    await handset.press_menu("应用删除")
    await handset.select_item("门禁")
    await handset.type_input("135790")
    message = await asyncio.wait_for(gateway.inbound.get(), 10)
    assert (message.source, message.destination) == (handset.msisdn, SERVICE)
    request, _ = open_request(message.payload, derive_card_keyset(MASTER, iccid), 0)
    assert (request.kind, request.app, request.password) == (RequestType.APP_DELETE,
                                                             SubApp.DOOR, "135790")


async def test_text_messages_and_unknown_numbers(network: tuple[Fleet, Gateway]) -> None:
    fleet, gateway = network
    handset = next(iter(fleet.handsets.values()))
    await gateway.esme.submit(handset.msisdn, "【一卡通】您本月消费 12.00 元")
    for _ in range(100):
        if handset.inbox:
            break
        await asyncio.sleep(0.02)
    assert handset.inbox[0].text == "【一卡通】您本月消费 12.00 元"
    assert fleet[handset.msisdn] is handset


def test_address_range() -> None:
    assert address_range(["8613800000001"]) == "^\\+?8613800000001$"
    assert address_range(["8613800000001", "8613800000099"]) == "^\\+?86138000000\\d{2}$"
    assert address_range(["+861", "8622"]) == "^\\+?(861|8622)$"


async def test_run_fleet_makes_cards_and_stops(tmp_path: pathlib.Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from sim_emulator.handset import run_fleet

    async with Smsc(SmscConfig(port=0)) as smsc:
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_fleet("127.0.0.1", smsc.port, 4, tmp_path,
                                               system_id="fleet", password="", stop=stop))
        for _ in range(200):
            if "bound" in capsys.readouterr().out or any(b.system_id == "fleet"
                                                         for b in smsc.binds):
                break
            await asyncio.sleep(0.02)
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    assert len(list(tmp_path.glob("*.json"))) == 4
