"""The opt-out list over the API and the MO keyword handler on a real gateway (SQLite and
PostgreSQL): recording a refusal, idempotency, taking it back, the members API's own flag,
tenant scoping; keywords from numbers that are nobody's are left to other handlers.
(The handsets' own TD / R / DY replies travel through the SMSC in ``test_bills_e2e``.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.bills.optouts import CONFIRM_OUT, KeywordHandler
from gateway.db.models_outbox import OutboxMessage, SmsKind
from gateway.settings import Settings
from smpp.mo import MoMessage
from tests.gateway.bills_support import V1, deps_of
from tests.gateway.helpers import Api, World, idem


@pytest.fixture
async def any_world(settings: Settings, aiohttp_client: Any) -> World:
    """Two tenants on each backend; ``settings`` first, so that the gateway (and its bill
    worker) stops before a PostgreSQL test schema is dropped."""
    return await World.build(Api(await aiohttp_client(create_app(settings))))


def mo(source: str, text: str | None, coding: int = 8) -> MoMessage:
    payload = (text or "").encode("utf-16-be")
    return MoMessage(source, "10658888", coding, 0, 0, None, payload, text, 1)


async def test_add_list_remove(any_world: World) -> None:
    api, a = any_world.api, any_world.a
    m0, m1 = a.members[0], a.members[1]
    added = await api.call("POST", f"{V1}/opt-outs", token=a.token, key=idem(),
                           body={"msisdn": "+" + m0["msisdn"]})
    assert added.status == 201 and added.body["member_id"] == m0["id"]
    again = await api.call("POST", f"{V1}/opt-outs", token=a.token, key=idem(),
                           body={"member_id": m0["id"]})
    assert again.status == 200 and again.body["new"] is False
    # The members API's own flag counts too (it is what sending obeys).
    await api.ok("PATCH", f"{V1}/members/{m1['id']}", token=a.token, key=idem(),
                 body={"sms_opt_out": True})
    listing = await api.ok("GET", f"{V1}/opt-outs", token=a.token)
    assert [(o["member_id"], o["source"]) for o in listing["items"]] == [
        (m0["id"], "api"), (m1["id"], "member")]
    member = await api.ok("GET", f"{V1}/members/{m0['id']}", token=a.token)
    assert member["sms_opt_out"] is True
    await api.ok("DELETE", f"{V1}/opt-outs/{m1['id']}", token=a.token, key=idem())
    await api.ok("DELETE", f"{V1}/opt-outs/{m0['id']}", token=a.token, key=idem())
    assert (await api.ok("GET", f"{V1}/opt-outs", token=a.token))["items"] == []
    gone = await api.call("DELETE", f"{V1}/opt-outs/{m0['id']}", token=a.token, key=idem())
    assert gone.status == 404


async def test_tenancy_and_bad_input(any_world: World) -> None:
    api, a, b = any_world.api, any_world.a, any_world.b
    foreign = await api.call("POST", f"{V1}/opt-outs", token=b.token, key=idem(),
                             body={"member_id": a.members[0]["id"]})
    assert foreign.status == 404
    nothing = await api.call("POST", f"{V1}/opt-outs", token=a.token, key=idem(), body={})
    assert nothing.status == 422 and nothing.body["field"] == "member_id"
    await api.ok("POST", f"{V1}/opt-outs", token=a.token, key=idem(),
                 body={"member_id": a.members[0]["id"]}, status=201)
    assert (await api.ok("GET", f"{V1}/opt-outs", token=b.token))["items"] == []
    operator = await api.ok("GET", f"{V1}/opt-outs", params={"enterprise_id": a.id})
    assert [o["member_id"] for o in operator["items"]] == [a.members[0]["id"]]


async def test_keyword_handler(any_world: World) -> None:
    api, a = any_world.api, any_world.a
    deps = deps_of(api)
    woken: list[int] = []
    handler = KeywordHandler(deps, lambda: woken.append(1))
    member = a.members[2]
    assert await handler(mo(member["msisdn"], "你好")) is False  # not a keyword
    assert await handler(mo(member["msisdn"], None, 0xF6)) is False  # binary
    assert await handler(mo("8613999999999", "TD")) is False  # nobody's number
    assert await handler(mo("not a number", "TD")) is False
    assert await handler(mo(member["msisdn"][2:], "退订")) is True  # national form
    assert await handler(mo(member["msisdn"], "TD")) is True  # twice: still one opt-out
    assert woken == [1, 1]
    listing = await api.ok("GET", f"{V1}/opt-outs", token=a.token)
    assert [(o["member_id"], o["source"], o["keyword"]) for o in listing["items"]] == [
        (member["id"], "mo", "退订")]
    async with deps.uow(readonly=True) as uow:
        rows = list(await uow.session.scalars(select(OutboxMessage).where(
            OutboxMessage.member_id == member["id"])))
    assert [(r.kind, r.text) for r in rows] == [
        (SmsKind.SERVICE, "【一卡通】" + CONFIRM_OUT.format(name="ENT-A Ltd"))] * 2
    audit = await api.ok("GET", f"{V1}/audit", token=a.token,
                         params={"action": "bills.opt_out"})
    assert len(audit["items"]) == 1 and audit["items"][0]["actor"] == f"member:{member['id']}"
