"""Enterprise notices over the API, end to end: a piece-rate CSV (GBK, as Excel writes it) is
uploaded, every bad row is reported with its row and column and nothing is sent; the admin
sends the valid rows (or all, once the file is clean) and the employees' handsets receive
their wage slips through the SMSC simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.settings import Settings
from smpp.simulator import Smsc
from tests.gateway.bills_support import V1, wait_for
from tests.gateway.helpers import World, idem, tenant
from tests.gateway.outbox_helpers import Stack, fleet_for, smsc_config, start_gateway, with_smsc


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[Stack]:
    async with Smsc(smsc_config()) as smsc:
        client = await start_gateway(aiohttp_client, with_smsc(sqlite_settings, smsc.port))
        stack = Stack(smsc, client)
        yield stack
        if stack.fleet is not None:
            await stack.fleet.stop()


@pytest.fixture
async def world(stack: Stack) -> World:
    api = stack.api
    built = World(api, await tenant(api, "ENT-A"), await tenant(api, "ENT-B"))
    for t in (built.a, built.b):
        for i, member in enumerate(t.members):
            member.update(await api.ok("PATCH", f"{V1}/members/{member['id']}", token=t.token,
                                       body={"employee_no": f"E00{i + 1}"}, key=idem()))
    stack.fleet = fleet_for([m["msisdn"] for m in built.a.members], stack.smsc.port)
    await stack.fleet.start()
    return built


def piece_rate(*rows: str) -> bytes:
    return ("工号,姓名,项目,数量,单价,金额\n" + "".join(r + "\n" for r in rows)).encode("gbk")


async def upload(world: World, data: bytes, template: str = "piece_rate",
                 **query: Any) -> Any:
    return await world.api.call("POST", f"{V1}/notices", token=world.a.token, data=data,
                                params={"template": template, "title": "10月", **query},
                                headers={"Content-Type": "text/csv"}, key=idem())


async def test_a_clean_file_is_sent_and_read_on_the_handsets(stack: Stack,
                                                             world: World) -> None:
    api, a = world.api, world.a
    reply = await upload(world, piece_rate("E001,成员0,装配,1200,0.85,1020.00",
                                           "E001,成员0,包装,350.5,0.40,",
                                           "E002,成员1,装配,800,0.85,680.00"))
    assert reply.status == 201, reply.body
    notice = reply.body
    assert notice["encoding"] == "gbk" and notice["error_count"] == 0
    assert notice["rows"] == {"total": 3, "valid": 3, "invalid": 0}
    assert notice["recipients"] == 2 and notice["state"] == "validated"
    assert notice["sendable"] == {"all": True, "valid": True}
    expected = ("【一卡通】成员0（工号E001）10月计件工资：装配1200件×0.85元=1020.00元；"
                "包装350.5件×0.40元=140.20元；合计1160.20元。回TD退订")
    assert notice["preview"][0]["text"] == expected and notice["preview"][0]["segments"] == 2
    assert stack.inbox(a.members[0]["msisdn"]) == []  # nothing sent yet
    sent = await api.ok("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                        body={"mode": "all"}, key=idem())
    assert sent["state"] == "sent" and sent["queued"] == 2
    await wait_for(lambda: stack.inbox(a.members[1]["msisdn"]), what="second wage slip")
    await wait_for(lambda: stack.inbox(a.members[0]["msisdn"]), what="first wage slip")
    assert stack.inbox(a.members[0]["msisdn"]) == [expected]
    assert "成员1（工号E002）10月计件工资：装配800件×0.85元=680.00元；合计680.00元" in (
        stack.inbox(a.members[1]["msisdn"])[0])

    async def delivered() -> bool:
        view = await api.ok("GET", f"{V1}/notices/{notice['id']}", token=a.token)
        return bool(view["sms"]["delivered"] == 2)

    await wait_for(delivered, what="receipts")
    again = await api.call("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                           body={"mode": "all"}, key=idem())
    assert again.status == 409 and again["error"] == "invalid_state"


async def test_bad_rows_are_reported_and_only_valid_employees_sent(stack: Stack,
                                                                   world: World) -> None:
    api, a = world.api, world.a
    reply = await upload(world, piece_rate(
        "E001,成员0,装配,10,1.00,",      # row 2: fine, but row 4 is E001's too
        "E002,成员1,装配,10,1.00,",      # row 3: fine
        "E001,成员0,包装,ten,0.40,",     # row 4: not a number
        "E009,无名,装配,1,1.00,",        # row 5: no such employee
        "E003,张三,装配,1,1.00,"))       # row 6: E003 is 成员2, not 张三
    notice = reply.body
    assert reply.status == 201 and notice["state"] == "validated"
    assert [(e["row"], e["column"], e["code"]) for e in notice["errors"]] == [
        (2, "工号", "employee_incomplete"), (4, "数量", "invalid_number"),
        (5, "工号", "unknown_employee"), (6, "姓名", "name_mismatch")]
    assert notice["recipients"] == 1 and notice["sendable"] == {"all": False, "valid": True}
    refused = await api.call("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                             body={"mode": "all"}, key=idem())
    assert refused.status == 409 and refused.body["errors"] == 4
    assert all(stack.inbox(m["msisdn"]) == [] for m in a.members)
    sent = await api.ok("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                        body={"mode": "valid"}, key=idem())
    assert sent["queued"] == 1 and sent["send_mode"] == "valid"
    await wait_for(lambda: stack.inbox(a.members[1]["msisdn"]), what="the valid slip")
    assert stack.inbox(a.members[0]["msisdn"]) == []
    items = await api.ok("GET", f"{V1}/notices/{notice['id']}/items", token=a.token)
    assert [(i["member_id"], i["rows"]) for i in items["items"]] == [(a.members[1]["id"], [3])]


async def test_wages_and_general_notices_and_opted_out_members(stack: Stack,
                                                              world: World) -> None:
    api, a = world.api, world.a
    await api.ok("POST", f"{V1}/opt-outs", token=a.token, key=idem(),
                 body={"member_id": a.members[2]["id"]}, status=201)
    wages = "工号,应发,扣款,备注\nE001,8650.00,1234.50,含高温补贴\nE003,5000,0,\n".encode()
    notice = (await upload(world, wages, "wages")).body
    assert notice["recipients"] == 2 and notice["error_count"] == 0
    sent = await api.ok("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                        body={"mode": "all"}, key=idem())
    assert sent["queued"] == 1  # E003 refused bills and notices
    await wait_for(lambda: stack.inbox(a.members[0]["msisdn"]), what="wage slip")
    assert stack.inbox(a.members[0]["msisdn"]) == [
        "【一卡通】成员0（工号E001）10月工资：应发8650.00元，扣款1234.50元，实发7415.50元。"
        "含高温补贴。回TD退订"]
    general = "工号,内容\nE002,周六上午9点安全生产会议，请准时参加\n".encode("utf-8-sig")
    notice = (await upload(world, general, "general", urgent="true")).body
    await api.ok("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                 body={"mode": "all"}, key=idem())
    await wait_for(lambda: stack.inbox(a.members[1]["msisdn"]), what="general notice")
    assert stack.inbox(a.members[1]["msisdn"]) == [
        "【一卡通】周六上午9点安全生产会议，请准时参加。回TD退订"]


async def test_a_text_over_the_limit_is_a_row_error(stack: Stack, world: World) -> None:
    api, a = world.api, world.a
    await api.ok("PUT", f"{V1}/bill-settings", token=a.token, key=idem(),
                 body={"max_segments": 1})
    notice = (await upload(world, piece_rate("E001,成员0,装配,1200,0.85,",
                                             "E001,成员0,包装,350,0.40,"))).body
    assert notice["recipients"] == 0
    assert [(e["row"], e["code"]) for e in notice["errors"]] == [(2, "too_long"), (3, "too_long")]
    assert "2 SMS segments" in notice["errors"][0]["detail"]


async def test_bad_files_discard_and_tenancy(stack: Stack, world: World) -> None:
    api, a, b = world.api, world.a, world.b
    bad = await upload(world, "工号,数量\nE001,1\n".encode())
    assert bad.status == 422 and bad["error"] == "notice_invalid" and "项目" in bad["detail"]
    notice = (await upload(world, piece_rate("E001,成员0,装配,1,1.00,"))).body
    assert (await api.call("GET", f"{V1}/notices/{notice['id']}", token=b.token)).status == 404
    assert (await api.ok("GET", f"{V1}/notices", token=b.token))["items"] == []
    listing = await api.ok("GET", f"{V1}/notices", token=a.token)
    assert [n["id"] for n in listing["items"]] == [notice["id"]]
    discarded = await api.ok("POST", f"{V1}/notices/{notice['id']}/discard", token=a.token,
                             key=idem())
    assert discarded["state"] == "discarded"
    refused = await api.call("POST", f"{V1}/notices/{notice['id']}/send", token=a.token,
                             body={"mode": "valid"}, key=idem())
    assert refused.status == 409
