"""The STK menu applet through the handset model (in-process, no SMSC)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ota.errors import CounterTooLow
from ota.mo_request import MENU_FILE_FID, BillKind, MenuFile, RequestType, open_request
from ota.onecard_apdu import Credit, Install, Personalise, SubApp
from ota.por import PorStatus, verify_por
from sim_emulator.errors import HandsetError
from sim_emulator.handset import Handset
from sim_emulator.stk_applet import TEXT_BILL_SENT, TEXT_NO_APPS, TEXT_NO_PURSE, TEXT_SENT
from smpp.mo import MoMessage
from smpp.udh import Iei, InformationElement, Udh
from tests.sim_emulator.helpers import OtaSender, fresh_card


@dataclass
class Outbox:
    sent: list[tuple[str, str, bytes, int, int]] = field(default_factory=list)
    fail: bool = False

    async def send_binary(self, source: str, destination: str, tp_ud: bytes, pid: int,
                          dcs: int) -> None:
        if self.fail:
            raise OSError("no network")
        self.sent.append((source, destination, tp_ud, pid, dcs))


async def phone() -> tuple[Handset, OtaSender, Outbox]:
    card, secrets = fresh_card()
    outbox = Outbox()
    handset = Handset(card, card.state.msisdn, outbox)
    await handset.power_on()
    return handset, OtaSender(card, secrets.ota), outbox


async def test_menu_appears_after_power_on() -> None:
    handset, _, _ = await phone()
    assert handset.menu_items == ["余额查询", "应用删除", "账单查询"]
    assert handset.screen.menu is not None and handset.screen.menu.alpha.text == "一卡通"


async def test_balance_query_shows_the_purse() -> None:
    handset, ota, _ = await phone()
    await handset.press_menu("余额查询")
    assert handset.last_text() == TEXT_NO_PURSE
    ota.onecard(Install(SubApp.PURSE, 1), Personalise(SubApp.PURSE, "1", b"abcd", 10**6),
                Credit(12_345, bytes(16)))
    await handset.press_menu("余额查询")
    assert handset.last_text() == "一卡通余额：123.45元"


async def test_app_deletion_sends_a_ciphered_request() -> None:
    handset, ota, outbox = await phone()
    await handset.press_menu("应用删除")
    assert handset.last_text() == TEXT_NO_APPS
    ota.onecard(Install(SubApp.DOOR, 1), Install(SubApp.PURSE, 1))
    await handset.press_menu("应用删除")
    await handset.select_item("门禁")
    with pytest.raises(HandsetError):
        await handset.select_item("门禁")  # now GET INPUT waits, not SELECT ITEM
    await handset.type_input("246810")
    assert handset.last_text() == TEXT_SENT
    (source, destination, tp_ud, pid, dcs), = outbox.sent
    assert (source, destination, pid, dcs) == (handset.msisdn, "10658888", 0x7F, 0xF6)
    assert b"246810" not in tp_ud  # never in clear
    _, packet = Udh.decode(tp_ud)
    request, counter = open_request(packet, ota.keyset, 0)
    assert (request.kind, request.app, request.password, counter) == (
        RequestType.APP_DELETE, SubApp.DOOR, "246810", 1)
    assert request.iccid == handset.card.state.iccid
    with pytest.raises(CounterTooLow) as info:
        open_request(packet, ota.keyset, counter)  # a replayed request
    assert info.value.por_status == PorStatus.CNTR_LOW


async def test_bill_query_and_cancel() -> None:
    handset, ota, outbox = await phone()
    await handset.press_menu("账单查询")
    await handset.cancel()
    assert outbox.sent == [] and handset.screen.waiting is None
    await handset.press_menu("账单查询")
    await handset.select_item("消费账单")
    assert handset.last_text() == TEXT_BILL_SENT
    request, _ = open_request(Udh.decode(outbox.sent[0][2])[1], ota.keyset, 0)
    assert (request.kind, request.bill) == (RequestType.BILL, BillKind.CONSUMPTION)


async def test_network_failure_is_shown() -> None:
    handset, ota, outbox = await phone()
    ota.onecard(Install(SubApp.PURSE, 1))
    outbox.fail = True
    await handset.press_menu("应用删除")
    await handset.select_item("消费")
    await handset.type_input("1234")
    assert handset.last_text() == "请求发送失败，请稍后再试"


async def test_menu_updated_over_the_air() -> None:
    handset, ota, outbox = await phone()
    menu = MenuFile("校园卡", ("余额查询", "应用删除", "账单查询", "帮助"), "10650001")
    data = menu.encode()
    script = (bytes.fromhex("00a4000002") + MENU_FILE_FID.to_bytes(2, "big")
              + b"".join(bytes((0x00, 0xD6, 0, off, 128)) + data[off:off + 128]
                         for off in (0, 128)))
    packet = ota.packet(bytes.fromhex("b00010"), script)
    await handset.deliver(MoMessage("10658888", handset.msisdn, 0xF6, 0x7F, 0x40,
                                    Udh((InformationElement(Iei.CPI),)), packet, None, 2))
    (_, destination, tp_ud, _, _), = outbox.sent
    assert destination == "10658888" and verify_por(tp_ud, ota.spi, ota.keyset).ok
    assert handset.menu_items == list(menu.items)
    await handset.press_menu("帮助")
    assert handset.last_text() == "帮助"


async def test_text_sms_lands_in_the_inbox() -> None:
    handset, _, _ = await phone()
    await handset.deliver(MoMessage("10658888", handset.msisdn, 8, 0, 0, None,
                                    "您的账单".encode("utf-16-be"), "您的账单", 1))
    assert [m.text for m in handset.inbox] == ["您的账单"]


async def test_unknown_menu_item() -> None:
    handset, _, _ = await phone()
    with pytest.raises(HandsetError):
        await handset.press_menu("不存在")
    with pytest.raises(HandsetError):
        await handset.type_input("1")


async def test_console_commands() -> None:
    from sim_emulator.console import handle

    handset, ota, outbox = await phone()
    ota.onecard(Install(SubApp.DOOR, 1))
    said: list[str] = []
    assert await handle(handset, "press 2", said.append)
    assert any(line.startswith("choose:") for line in said)
    assert await handle(handset, "select 门禁", said.append)
    assert any(line.startswith("input wanted:") for line in said)
    assert await handle(handset, "input 8888", said.append)
    assert any(TEXT_SENT in line for line in said) and len(outbox.sent) == 1
    said.clear()
    assert await handle(handset, "press 9", said.append)
    assert said[0].startswith("! no menu item") and said[1].startswith("menu:")
    assert await handle(handset, "bogus", said.append) and said[-1].startswith("menu |")
    assert not await handle(handset, "quit", said.append)
