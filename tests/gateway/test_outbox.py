"""The SMS outbox end to end over real sockets: gateway → ESME → SMSC simulator (TCP) → handsets.

A lifecycle change queues the member's SMS in its own transaction; the dispatcher sends it;
the handset's inbox shows the Chinese text with the enterprise's signature; the receipt makes
the row ``delivered``. Long texts travel in segments and arrive whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from gateway import keys
from gateway.db.models_outbox import SmsKind
from gateway.notices import TEMPLATES, Notice, fields_of, render, yuan
from gateway.services import outbox
from gateway.settings import Settings
from smpp.simulator import Smsc, Unrouted
from tests.gateway.helpers import World, idem, tenant
from tests.gateway.outbox_helpers import (
    Stack,
    eventually,
    fleet_for,
    smsc_config,
    start_gateway,
    with_smsc,
)

V1 = "/api/v1"


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[Stack]:
    async with Smsc(smsc_config()) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        yield Stack(smsc, client)


async def with_fleet(stack: Stack, msisdns: list[str]) -> Stack:
    stack.fleet = fleet_for(msisdns, stack.smsc.port)
    await stack.fleet.start()
    return stack


@pytest.fixture
async def world(stack: Stack) -> AsyncIterator[World]:
    api = stack.api
    built = World(api, await tenant(api, "ENT-A"), await tenant(api, "ENT-B"))
    await with_fleet(stack, [m["msisdn"] for t in (built.a, built.b) for m in t.members])
    yield built
    assert stack.fleet is not None
    await stack.fleet.stop()


async def enqueue(stack: Stack, **kw: Any) -> int:
    deps = stack.app[keys.DEPS]
    async with deps.uow() as uow:
        sms_id = await outbox.enqueue(uow, **kw)
        await uow.commit()
    stack.outbox.wake()
    return sms_id


async def test_loss_report_reaches_the_handset_and_is_delivered(stack: Stack,
                                                                world: World) -> None:
    a, api = world.a, world.api
    card, member = a.cards[0], a.members[0]
    await api.ok("POST", f"{V1}/cards/{card['iccid']}/loss", token=a.token, body={}, key=idem())
    await eventually(lambda: stack.inbox(member["msisdn"]), what="SMS in the inbox")
    (text,) = stack.inbox(member["msisdn"])
    assert text.startswith("【一卡通】您尾号" + card["iccid"][-4:] + "的一卡通已于")
    assert "挂失" in text
    listing = await api.ok("GET", f"{V1}/sms", token=a.token, params={"member_id": member["id"]})
    (row,) = listing["items"]
    assert row["kind"] == "service" and row["text"] == text  # opt-outs do not stop it

    async def delivered() -> bool:
        view = await api.ok("GET", f"{V1}/sms/{row['id']}", token=a.token)
        return bool(view["state"] == "delivered")

    await eventually(delivered, what="delivered state")
    view = await api.ok("GET", f"{V1}/sms/{row['id']}", token=a.token)
    assert [p["state"] for p in view["parts"]] == ["delivered"]
    assert view["submitted_at"] and view["done_at"]


async def test_every_lifecycle_change_sends_its_text(stack: Stack, world: World) -> None:
    a, api = world.a, world.api
    iccid, msisdn = a.cards[1]["iccid"], a.members[1]["msisdn"]
    await world.topup(a, iccid, 1234)
    new = "8986000000000009999"
    for op, body in (("loss", {}), ("unfreeze", {}), ("replace", {"new_iccid": new})):
        await api.ok("POST", f"{V1}/cards/{iccid}/{op}", token=a.token, body=body, key=idem())
    await api.ok("POST", f"{V1}/cards/{new}/deregister", token=a.token, body={},
                 key=idem())
    await eventually(lambda: len(stack.inbox(msisdn)) == 4, what="four SMS")
    texts = stack.inbox(msisdn)
    assert "挂失" in texts[0] and "解除挂失" in texts[1]
    assert "补换新卡（尾号9999）" in texts[2] and "余额12.34元已转入新卡" in texts[2]
    assert "注销" in texts[3] and "12.34元" in texts[3]
    assert all(t.startswith("【一卡通】") for t in texts)


async def test_a_long_text_is_segmented_and_arrives_whole(stack: Stack, world: World) -> None:
    msisdn = world.a.members[2]["msisdn"]
    body = "一卡通账单：" + "本月考勤正常，消费合计一百二十三元四角五分。" * 12
    sms_id = await enqueue(stack, msisdn=msisdn, text=body, kind=SmsKind.BILL,
                           enterprise_id=world.a.id, batch_id="2026-11")
    await eventually(lambda: stack.inbox(msisdn), what="the whole message")
    assert stack.inbox(msisdn) == ["【一卡通】" + body]
    await eventually(lambda: _state(stack, sms_id, "delivered"), what="delivered")
    parts = [p for p in await stack.parts() if p.message_id == sms_id]
    assert len(parts) == (len(body) + 5 + 66) // 67 and {p.state.value for p in parts} == {
        "delivered"}
    (sent,) = [m for m in stack.smsc.messages if m.destination == msisdn]
    assert sent.parts == len(parts) and sent.source == "10658888"


async def _state(stack: Stack, sms_id: int, state: str) -> bool:
    rows = {r.id: r for r in await stack.rows()}
    return rows[sms_id].state.value == state


async def test_enqueue_is_idempotent_and_signs_once(stack: Stack, world: World) -> None:
    msisdn = world.a.members[0]["msisdn"]
    first = await enqueue(stack, msisdn=msisdn, text="【一卡通】已签名的通知", kind=SmsKind.NOTICE,
                          enterprise_id=world.a.id, dedupe_key="k1")
    again = await enqueue(stack, msisdn=msisdn, text="whatever", kind=SmsKind.NOTICE,
                          enterprise_id=world.a.id, dedupe_key="k1")
    other = await enqueue(stack, msisdn=msisdn, text="B 的同一个键", kind=SmsKind.NOTICE,
                          enterprise_id=world.b.id, dedupe_key="k1")
    assert first == again != other
    await eventually(lambda: len(stack.inbox(msisdn)) == 2, what="two SMS")
    expected = ["【一卡通】已签名的通知", "【一卡通】B 的同一个键"]
    assert sorted(stack.inbox(msisdn)) == sorted(expected)


async def test_opted_out_members_get_service_sms_only(stack: Stack, world: World) -> None:
    a, api = world.a, world.api
    member = a.members[2]
    await api.ok("PATCH", f"{V1}/members/{member['id']}", token=a.token,
                 body={"sms_opt_out": True})
    bill = await enqueue(stack, msisdn=member["msisdn"], text="账单", kind=SmsKind.BILL,
                         enterprise_id=a.id, member_id=member["id"])
    answer = await enqueue(stack, msisdn=member["msisdn"], text="余额 12.00 元",
                           kind=SmsKind.SERVICE, enterprise_id=a.id, member_id=member["id"])
    await eventually(lambda: _state(stack, answer, "delivered"), what="service SMS delivered")
    assert await _state(stack, bill, "opted_out")
    assert stack.inbox(member["msisdn"]) == ["【一卡通】余额 12.00 元"]


async def test_expired_before_sending(stack: Stack, world: World) -> None:
    sms_id = await enqueue(stack, msisdn=world.a.members[0]["msisdn"], text="过期",
                           kind=SmsKind.NOTICE, enterprise_id=world.a.id,
                           valid_for=timedelta(0))
    await eventually(lambda: _state(stack, sms_id, "expired"), what="expired")
    assert stack.inbox(world.a.members[0]["msisdn"]) == []


async def test_the_api_lists_only_the_callers_enterprise(stack: Stack, world: World) -> None:
    a, b, api = world.a, world.b, world.api
    await api.ok("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={}, key=idem())
    await api.ok("POST", f"{V1}/cards/{b.iccid}/loss", token=b.token, body={}, key=idem())
    await eventually(lambda: _count(stack, 2), what="two rows")
    mine = await api.ok("GET", f"{V1}/sms", token=a.token)
    assert [r["enterprise_id"] for r in mine["items"]] == [a.id]
    theirs = (await api.ok("GET", f"{V1}/sms", token=b.token))["items"][0]["id"]
    assert (await api.call("GET", f"{V1}/sms/{theirs}", token=a.token)).status == 404
    assert (await api.call("GET", f"{V1}/sms", token=a.token,
                           params={"enterprise_id": b.id})).status == 403
    everything = await api.ok("GET", f"{V1}/sms", params={"kind": "service", "limit": 1})
    assert len(everything["items"]) == 1 and everything["next"] is not None
    bad = await api.call("GET", f"{V1}/sms", params={"state": "lost"})
    assert bad.status == 422 and bad.body["error"] == "validation_failed"


async def _count(stack: Stack, n: int) -> bool:
    return len(await stack.rows()) >= n


async def test_metrics_show_the_outbox(stack: Stack, world: World) -> None:
    await world.api.ok("POST", f"{V1}/cards/{world.a.iccid}/loss", token=world.a.token, body={},
                       key=idem())
    await eventually(lambda: _state(stack, 1, "delivered"), what="delivered")
    await stack.outbox.count()
    text = (await world.api.call("GET", "/metrics", token=None)).body
    assert 'onecard_sms_outbox_messages{state="delivered"} 1' in text
    assert 'onecard_sms_transitions_total{state="submitted"} 1' in text
    assert "onecard_sms_submit_seconds_count 1" in text
    assert "onecard_smpp_bound 1" in text
    assert re.search(r"onecard_smpp_accepted [1-9]", text)


async def test_a_permanent_refusal_fails_the_message(aiohttp_client: Any,
                                                     sqlite_settings: Settings) -> None:
    async with Smsc(smsc_config(unrouted=Unrouted.REJECT)) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        stack = Stack(smsc, client)
        ent = await tenant(stack.api, "ENT-A")
        sms_id = await enqueue(stack, msisdn="8613700000001", text="无人接收",
                               kind=SmsKind.SERVICE, enterprise_id=ent.id)
        await eventually(lambda: _state(stack, sms_id, "failed"), what="failed")
        (row,) = [r for r in await stack.rows() if r.id == sms_id]
        assert row.error == "ESME_RINVDSTADR" and row.attempts == 0


async def test_an_undeliverable_receipt_fails_the_message(aiohttp_client: Any,
                                                          sqlite_settings: Settings) -> None:
    async with Smsc(smsc_config(undeliverable=re.compile(r"^86137"))) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        stack = Stack(smsc, client)
        ent = await tenant(stack.api, "ENT-A")
        sms_id = await enqueue(stack, msisdn="8613700000002", text="送不到",
                               kind=SmsKind.NOTICE, enterprise_id=ent.id)
        await eventually(lambda: _state(stack, sms_id, "failed"), what="failed")
        (row,) = [r for r in await stack.rows() if r.id == sms_id]
        assert row.error == "receipt:failed"
        assert [p.state.value for p in await stack.parts()] == ["failed"]


def test_every_notice_has_a_template_that_renders() -> None:
    assert set(TEMPLATES) == set(Notice)
    for notice in Notice:
        text = render(notice, **{name: "X" for name in fields_of(notice)})
        assert "{" not in text and "X" in text
    with pytest.raises(ValueError):
        render(Notice.CARD_LOST, card="1234")
    assert yuan(12345) == "123.45" and yuan(5) == "0.05" and yuan(-250) == "-2.50"


def test_signature_is_added_once() -> None:
    assert outbox.signed("你好", "一卡通") == "【一卡通】你好"
    assert outbox.signed("【一卡通】你好", "一卡通") == "【一卡通】你好"
    assert outbox.signed("你好【一卡通】", "一卡通") == "你好【一卡通】"
    assert outbox.signed("你好", None) == "你好"
