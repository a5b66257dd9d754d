"""Bills end to end over real sockets: gateway (aiohttp test server) → ESME → SMSC simulator
(TCP) → emulated handsets, and back (receipts; the members' TD / R / DY replies).

The members' handset inboxes hold the Chinese bills as the run rendered them, segmented as
``smpp.text`` says and reassembled whole; opted-out members get nothing but the confirmation;
non-urgent bills wait out the enterprise's quiet hours; an enterprise's send rate paces its
bills.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from gateway import keys
from gateway.app import create_app
from gateway.db.models_outbox import InboundMessage, OutboxMessage, OutboxPart
from gateway.settings import Settings
from gateway.workers.bills import BILL_POLICY
from sim_emulator.handset import Fleet
from smpp.simulator import Smsc
from smpp.simulator.config import Route
from smpp.text import split_text
from tests.gateway.bills_support import (
    V1,
    JumpClock,
    Records,
    cn,
    deps_of,
    on,
    run_done,
    wait_for,
    workdays,
)
from tests.gateway.helpers import Api, World, idem, tenant
from tests.gateway.outbox_helpers import (
    GATEWAY,
    SERVICE_NUMBER,
    fleet_for,
    smsc_config,
    with_smsc,
)

OCTOBER = workdays(2026, 10)


@dataclass
class Bills:
    smsc: Smsc
    api: Api
    world: World
    fleet: Fleet
    clock: JumpClock

    def inbox(self, member: dict[str, Any]) -> list[str]:
        return [m.text for m in self.fleet[member["msisdn"]].inbox]

    async def reply(self, member: dict[str, Any], text: str) -> None:
        """The member types ``text`` and sends it to the service number."""
        await self.fleet.esme.submit(SERVICE_NUMBER, text, source=member["msisdn"])

    async def run(self, **body: Any) -> dict[str, Any]:
        a = self.world.a
        run: dict[str, Any] = await self.api.ok("POST", f"{V1}/bill-runs", token=a.token,
                                                key=idem(), body={"period": "2026-10", **body})
        return await run_done(self.api, run["id"], a.token)

    async def report(self, run_id: int) -> dict[str, Any]:
        return dict(await self.api.ok("GET", f"{V1}/bill-runs/{run_id}/report",
                                      token=self.world.a.token))

    async def settled(self, run_id: int, expected: int) -> dict[str, Any]:
        async def final() -> dict[str, Any] | None:
            report = await self.report(run_id)
            s = report["summary"]
            return report if s["pending"] == 0 and s["billed"] == expected else None

        found: dict[str, Any] = await wait_for(final, 20, f"run {run_id} delivered")
        return found


@pytest.fixture
async def bills(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[Bills]:
    clock = JumpClock(cn(2026, 9, 30, 12, 0))
    route = Route(re.compile(f"^\\+?{SERVICE_NUMBER}"), GATEWAY.system_id)
    async with Smsc(smsc_config(routes=(route,))) as smsc:
        settings = with_smsc(sqlite_settings, smsc.port)
        client = await aiohttp_client(create_app(settings, clock=clock))
        await client.app[keys.SMSC_LINK].wait_bound(10)
        api = Api(client)
        world = World(api, await tenant(api, "ENT-A"), await tenant(api, "ENT-B"))
        fleet = fleet_for([m["msisdn"] for t in (world.a, world.b) for m in t.members],
                          smsc.port)
        await fleet.start()
        recs = Records(api, world.a)
        first = world.a.cards[0]["iccid"]
        await recs.punches(first, [on(d, 8, 50) for d in OCTOBER] +
                           [on(d, 18, 5) for d in OCTOBER])
        await recs.topup(first, cn(2026, 10, 1, 8, 0), 20000)
        await recs.purchases(first, [(on(d, 12, 0), 1250) for d in OCTOBER[:4]])
        clock.jump(cn(2026, 11, 2, 10, 0))
        try:
            yield Bills(smsc, api, world, fleet, clock)
        finally:
            await fleet.stop()


async def outbox_rows(api: Api, batch_id: str) -> list[OutboxMessage]:
    async with deps_of(api).uow(readonly=True) as uow:
        return list(await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.batch_id == batch_id)
            .order_by(OutboxMessage.id)))


async def test_bills_reach_the_handsets_whole_and_are_receipted(bills: Bills) -> None:
    a = bills.world.a
    run = await bills.run()
    report = await bills.settled(run["id"], 6)
    assert report["summary"]["delivered"] == 6 and report["summary"]["sent"] == 6
    rows = await outbox_rows(bills.api, run["batch_id"])
    for member in a.members:
        expected = [r.text for r in rows if r.member_id == member["id"]]
        assert len(expected) == 2
        assert sorted(bills.inbox(member)) == sorted(expected)
    consumption = next(r for r in rows if r.member_id == a.members[0]["id"] and "消费" in r.text)
    assert consumption.text == ("【一卡通】成员0您好，2026年10月您在ENT-A Ltd消费4笔，共50.00元，"
                                "充值1笔，共200.00元，当前余额150.00元。回TD退订")
    assert consumption.segments == 2 == len(split_text(consumption.text, reference=1))
    async with deps_of(bills.api).uow(readonly=True) as uow:
        parts = list(await uow.session.scalars(select(OutboxPart).where(
            OutboxPart.message_id == consumption.id)))
    assert [(p.seq, p.state.value) for p in sorted(parts, key=lambda p: p.seq)] == [
        (1, "delivered"), (2, "delivered")]
    at_smsc = [m for m in bills.smsc.messages if m.destination == a.members[0]["msisdn"]
               and m.text == consumption.text]
    assert len(at_smsc) == 1 and at_smsc[0].parts == 2 and at_smsc[0].data_coding == 8


async def test_td_and_r_opt_out_dy_opts_back_in(bills: Bills) -> None:
    api, a = bills.api, bills.world.a
    member, other = a.members[1], a.members[2]
    await bills.reply(member, "ＴＤ")  # full-width, as Chinese input methods type it
    confirm = "【一卡通】您已退订ENT-A Ltd的账单和通知短信，回复DY可恢复接收。"
    await wait_for(lambda: bills.inbox(member) == [confirm], what="opt-out confirmation")
    await bills.reply(other, "r")
    await wait_for(lambda: len(bills.inbox(other)) == 1, what="R confirmation")
    listing = await api.ok("GET", f"{V1}/opt-outs", token=a.token)
    assert [(o["member_id"], o["source"], o["keyword"]) for o in listing["items"]] == [
        (member["id"], "mo", "TD"), (other["id"], "mo", "R")]
    run = await bills.run()
    report = await bills.settled(run["id"], 2)
    assert report["summary"]["opted_out"] == 4 and report["summary"]["delivered"] == 2
    assert bills.inbox(member) == [confirm]  # no bill
    await bills.reply(member, "dy")
    await wait_for(lambda: len(bills.inbox(member)) == 2, what="opt-in confirmation")
    assert bills.inbox(member)[1] == ("【一卡通】您已恢复接收ENT-A Ltd的账单和通知短信，"
                                      "回复TD可退订。")
    listing = await api.ok("GET", f"{V1}/opt-outs", token=a.token)
    assert [o["member_id"] for o in listing["items"]] == [other["id"]]


async def test_other_mo_is_left_to_the_other_handlers(bills: Bills) -> None:
    member = bills.world.a.members[0]
    await bills.reply(member, "你好，请问余额多少")
    deps = deps_of(bills.api)

    async def kept() -> bool:
        async with deps.uow(readonly=True) as uow:
            rows = list(await uow.session.scalars(select(InboundMessage)))
        return any(r.source.endswith(member["msisdn"][-11:]) for r in rows)

    await wait_for(kept, what="MO kept in inbound_messages")
    assert bills.inbox(member) == []


async def test_bills_wait_out_the_quiet_hours_urgent_ones_do_not(bills: Bills) -> None:
    api, a = bills.api, bills.world.a
    await api.ok("PUT", f"{V1}/bill-settings", token=a.token, key=idem(),
                 body={"quiet_hours": "22:00-08:00"})
    bills.clock.jump(cn(2026, 11, 2, 23, 0))
    run = await bills.run(kinds=["attendance"])
    rows = await outbox_rows(api, run["batch_id"])
    assert {r.not_before for r in rows} == {cn(2026, 11, 3, 8, 0)}
    await asyncio.sleep(0.5)  # the dispatcher polls every 50 ms: it had ten chances
    assert all(bills.inbox(m) == [] for m in a.members)
    # Meanwhile a member refuses: the dispatcher closes that bill instead of sending it.
    await api.ok("POST", f"{V1}/opt-outs", token=a.token, key=idem(),
                 body={"msisdn": a.members[2]["msisdn"]}, status=201)
    urgent = await bills.run(kinds=["consumption"], urgent=True)
    await bills.settled(urgent["id"], 2)  # in the quiet hours, at once (one opted out)
    assert all(len(bills.inbox(m)) == 1 for m in a.members[:2])
    bills.clock.jump(cn(2026, 11, 3, 8, 0))
    report = await bills.settled(run["id"], 3)
    assert report["summary"]["delivered"] == 2 and report["summary"]["opted_out"] == 1
    assert [len(bills.inbox(m)) for m in a.members] == [2, 2, 0]


async def test_an_enterprise_rate_paces_its_bills(bills: Bills) -> None:
    api, a = bills.api, bills.world.a
    await api.ok("PUT", f"{V1}/bill-settings", token=a.token, key=idem(),
                 body={"rate_per_s": 4})
    policy = bills.api.client.app[BILL_POLICY]
    policy.refresh_s = 0.0
    run = await bills.run()
    report = await bills.settled(run["id"], 6)
    assert report["summary"]["delivered"] == 6
    assert policy.deferred > 0
    rows = await outbox_rows(api, run["batch_id"])
    assert sum(r.segments for r in rows) > 4  # more than the bucket holds at once
