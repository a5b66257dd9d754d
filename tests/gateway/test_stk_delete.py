"""STK 应用删除 and 余额查询 end to end: the member works the handset menu, the card sends its
ciphered request through the SMSC, the gateway checks the service password and the card, and
deletes the sub-application over the air; every outcome reaches the member by SMS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from billing.models import CdrRow
from gateway.db.models_ota import StkRequest
from gateway.settings import Settings
from ota.keys import derive_card_keyset
from ota.mo_request import MoRequest, RequestType, build_request
from ota.smspp import command_segments
from sim_emulator.stk_applet import TEXT_SENT
from tests.gateway.helpers import idem
from tests.gateway.ota_stack import (
    PASSWORD,
    SERVICE_NUMBER,
    OtaStack,
    Phone,
    eventually,
    stack_of,
)


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings, phones=1):
        await built.issue(built.phones[0], ["door", "attendance", "purse"])
        yield built


async def delete_from_menu(phone: Phone, app: str, password: str) -> None:
    handset = phone.handset
    await handset.press_menu("应用删除")
    await handset.select_item(app)
    await handset.type_input(password)
    assert handset.last_text() == TEXT_SENT


async def requests(stack: OtaStack) -> list[StkRequest]:
    async with stack.deps.uow(readonly=True) as uow:
        return list(await uow.session.scalars(select(StkRequest).order_by(StkRequest.id)))


async def sms_with(phone: Phone, fragment: str, count: int = 1) -> None:
    await eventually(lambda: sum(fragment in t for t in phone.texts) >= count,
                     what=f"an SMS with {fragment!r}")


async def test_member_deletes_an_app_from_the_menu(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await delete_from_menu(phone, "门禁", PASSWORD)
    await eventually(lambda: "door" not in phone.apps(), what="door deleted on the card")
    await sms_with(phone, "门禁应用已于")
    card = await stack.card(phone)
    assert {a["app"]: a["state"] for a in card["apps"]} == {
        "door": "removed", "attendance": "active", "purse": "active"}
    (request,) = await requests(stack)
    assert (request.kind, request.app, request.state) == ("app_delete", "door", "done")
    blacklist = await stack.ok("GET", f"/blacklist?enterprise_id={stack.enterprise['id']}")
    assert [(e["iccid"], e["app"], e["reason"]) for e in blacklist["entries"]] == [
        (phone.iccid, "door", "app_deleted")]
    audit = await stack.ok("GET", "/audit?action=card.stk_delete_app")
    assert audit["items"][0]["actor"] == f"member:{phone.msisdn}"
    async with stack.deps.uow(readonly=True) as uow:
        cdrs = list(await uow.session.scalars(select(CdrRow.detail).where(
            CdrRow.iccid == phone.iccid)))
    assert "DELETE" in cdrs


async def test_a_deleted_purse_has_its_balance_settled(stack: OtaStack) -> None:
    phone = stack.phones[0]
    topup = await stack.topup(phone, 1_200)
    assert (await stack.topup_done(topup["id"]))["state"] == "confirmed"
    await delete_from_menu(phone, "消费", PASSWORD)
    await sms_with(phone, "卡内余额12.00元已结清退还")
    assert "purse" not in phone.apps()
    card = await stack.card(phone)
    assert card["balance_fen"] == 0
    statement = await stack.ok("GET", f"/cards/{phone.iccid}/statement")
    assert [(s["kind"], s["amount_fen"]) for s in statement["items"]] == [
        ("topup", 1_200), ("refund", -1_200)]


async def test_wrong_passwords_are_counted_then_locked(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await delete_from_menu(phone, "门禁", "000000")
    await sms_with(phone, "服务密码错误")
    assert "您还可尝试4次" in phone.texts[-1]
    for _ in range(4):
        await delete_from_menu(phone, "门禁", "000000")
    await sms_with(phone, "已暂停使用30分钟")
    await delete_from_menu(phone, "门禁", PASSWORD)  # right, but locked out for now
    await sms_with(phone, "已暂停使用30分钟", 2)
    assert "door" in phone.apps()
    assert [r.state for r in await requests(stack)] == ["refused"] * 6
    assert await stack.jobs(kind="delete") == []
    member = await stack.ok("GET", f"/members/{phone.member['id']}")
    assert member["service_password_locked_until"] is not None


async def test_a_card_reported_lost_cannot_delete(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await stack.ok("POST", f"/cards/{phone.iccid}/loss", body={}, key=idem())
    (lock,) = await stack.jobs(kind="lock")
    assert (await stack.job(lock.id))["state"] == "confirmed"
    assert set(phone.apps().values()) == {"locked"}
    await delete_from_menu(phone, "门禁", PASSWORD)
    await sms_with(phone, "已挂失或停用，门禁应用未删除")
    assert await stack.jobs(kind="delete") == []
    member = await stack.ok("GET", f"/members/{phone.member['id']}")
    assert member["service_password_locked_until"] is None


async def test_a_replayed_request_is_refused(stack: OtaStack) -> None:
    phone = stack.phones[0]
    sent: list[bytes] = []
    inner = phone.handset.sender
    assert inner is not None

    class Tap:
        async def send_binary(self, source: str, destination: str, tp_ud: bytes, pid: int,
                              dcs: int) -> None:
            sent.append(tp_ud)
            assert inner is not None
            await inner.send_binary(source, destination, tp_ud, pid, dcs)

    phone.handset.sender = Tap()
    await delete_from_menu(phone, "考勤", PASSWORD)
    await sms_with(phone, "考勤应用已于")
    assert stack.fleet is not None
    await stack.fleet.esme.submit_binary(SERVICE_NUMBER, [sent[0]], pid=0x7F, dcs=0xF6,
                                         source=phone.msisdn, registered_delivery=0)
    await eventually(lambda: _alerts(stack, "mo_replayed"), what="the replay alert")
    assert len(await stack.jobs(kind="delete")) == 1


async def _alerts(stack: OtaStack, kind: str) -> bool:
    return kind in [a.kind for a in await stack.alerts()]


async def test_balance_on_the_card_and_by_sms(stack: OtaStack) -> None:
    phone = stack.phones[0]
    topup = await stack.topup(phone, 2_345)
    assert (await stack.topup_done(topup["id"]))["state"] == "confirmed"
    await phone.handset.press_menu("余额查询")
    assert phone.handset.last_text() == "一卡通余额：23.45元"  # read on the card itself
    assert stack.fleet is not None
    await stack.fleet.esme.submit(SERVICE_NUMBER, "YE", source=phone.msisdn)
    await sms_with(phone, "余额为23.45元")
    # The applet's BALANCE request (ciphered MO) gets the same answer.
    keyset = derive_card_keyset(stack.master, phone.iccid)
    request = MoRequest(RequestType.BALANCE, 77, phone.iccid)
    packet = build_request(request, keyset, 1_000)
    await stack.fleet.esme.submit_binary(SERVICE_NUMBER, command_segments(packet), pid=0x7F,
                                         dcs=0xF6, source=phone.msisdn, registered_delivery=0)
    await sms_with(phone, "余额为23.45元", 2)


async def test_bill_from_the_menu(stack: OtaStack) -> None:
    phone = stack.phones[0]
    await phone.handset.press_menu("账单查询")
    await phone.handset.select_item("消费账单")
    assert phone.handset.last_text() == "账单将以短信发送"
    await eventually(lambda: len(phone.texts) >= 2, what="the bill SMS")
    bill = phone.texts[-1]
    assert bill.startswith("【一卡通】") and "消费" in bill, bill
    (request,) = await requests(stack)
    assert (request.kind, request.state) == ("bill", "done")
    assert request.outcome == "bill sent", phone.texts


async def test_balance_keyword_in_any_form(stack: OtaStack) -> None:
    phone = stack.phones[0]
    assert stack.fleet is not None
    await stack.fleet.esme.submit(SERVICE_NUMBER, " ｙｅ。", source=phone.msisdn)
    await sms_with(phone, "余额为0.00元")
