"""Parallel purchases and lifecycle changes on one card: no lost update, no double effect.

Run on SQLite (one writer at a time, BEGIN IMMEDIATE) and on PostgreSQL (row locks).
"""

from __future__ import annotations

import asyncio

from tests.gateway.helpers import Api, TerminalClient, World, idem, new_iccid
from tests.gateway.invariants import assert_ledger_balanced, count_audit

V1 = "/api/v1"


async def pos_terminals(world: World, n: int) -> list[TerminalClient]:
    out = []
    for i in range(n):
        row = await world.api.ok("POST", f"{V1}/terminals", token=world.a.token, body={
            "code": f"POS-X{i}", "kind": "pos", "name": f"till {i}"})
        out.append(TerminalClient(world.api, row["code"], row["secret"]))
    return out


async def test_parallel_purchases_on_one_card(any_world: World) -> None:
    world, a = any_world, any_world.a
    await world.topup(a, a.iccid, 1_500)
    tills = await pos_terminals(world, 5)

    async def buy(till: TerminalClient) -> list[dict[str, object]]:
        flagged = []
        for _ in range(4):
            reply = await till.upload([till.record("purchase", a.iccid, amount_fen=100)])
            assert reply.status == 200, reply.body
            flagged += reply["flagged"]
        return flagged

    results = await asyncio.gather(*(buy(t) for t in tills))
    refused = [f for batch in results for f in batch]
    assert len(refused) == 5 and all(f["flags"] == ["insufficient_funds"] for f in refused)
    assert await world.balance(a.iccid) == 0
    await assert_ledger_balanced(world.api.client.app)


async def test_parallel_loss_reports_take_effect_once(any_world: World) -> None:
    world, a = any_world, any_world.a
    replies = await asyncio.gather(*(
        world.api.call("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token, body={},
                       key=idem()) for _ in range(6)))
    assert sorted(r.status for r in replies) == [200] + [409] * 5
    ent = await world.api.ok("GET", f"{V1}/enterprises/{a.id}", token=a.token)
    assert ent["blacklist_version"] == 1
    assert await count_audit(world.api.client.app, "card.report_loss") == 1


async def test_lifecycle_races_purchases_without_losing_money(any_world: World) -> None:
    world, a = any_world, any_world.a
    api = world.api
    await world.topup(a, a.iccid, 10_000)
    tills = await pos_terminals(world, 3)
    new = new_iccid()

    async def shop(till: TerminalClient) -> None:
        for _ in range(5):
            reply = await till.upload([till.record("purchase", a.iccid, amount_fen=100)])
            assert reply.status == 200, reply.body

    async def churn() -> list[int]:
        statuses = []
        for op, body in (("loss", {}), ("unfreeze", {}), ("replace", {"new_iccid": new}),
                         ("deregister", {})):
            reply = await api.call("POST", f"{V1}/cards/{a.iccid}/{op}", token=a.token,
                                   body=body, key=idem())
            statuses.append(reply.status)
        return statuses

    *_, statuses = await asyncio.gather(*(shop(t) for t in tills), churn())
    assert statuses == [200, 200, 200, 409]  # a replaced card cannot be deregistered
    old = await api.ok("GET", f"{V1}/cards/{a.iccid}", token=a.token)
    fresh = await api.ok("GET", f"{V1}/cards/{new}", token=a.token)
    rows = (await api.ok("GET", f"{V1}/records", token=a.token,
                         params={"type": "purchase", "limit": 100}))["items"]
    posted = sum(r["amount_fen"] for r in rows if r["posting_id"])
    assert old["balance_fen"] == 0 and old["state"] == "replaced"
    # Whatever was bought before the replacement is gone; the rest moved to the new card.
    assert fresh["balance_fen"] == 10_000 - posted
    await assert_ledger_balanced(api.client.app)


async def test_same_idempotency_key_in_parallel_runs_once(any_world: World) -> None:
    world, a = any_world, any_world.a
    key = idem()
    replies = await asyncio.gather(*(
        world.api.call("POST", f"{V1}/cards/{a.iccid}/loss", token=a.token,
                       body={"reason": "stolen"}, key=key) for _ in range(5)))
    assert [r.status for r in replies] == [200] * 5
    assert all(r.body == replies[0].body for r in replies)
    assert await count_audit(world.api.client.app, "card.report_loss") == 1


async def test_one_number_one_card_under_a_race(any_world: World) -> None:
    world = any_world
    msisdn = "8613912345678"

    async def enrol(token: str) -> int:
        reply = await world.api.call("POST", f"{V1}/members", token=token,
                                     body={"msisdn": msisdn, "name": "x"})
        return reply.status

    statuses = await asyncio.gather(*(enrol(t.token) for t in (world.a, world.b) * 3))
    assert sorted(statuses) == [201] + [409] * 5


async def test_parallel_uploads_of_one_terminal_store_each_record_once(any_world: World) -> None:
    world, a = any_world, any_world.a
    door = a.terminals["door"]
    batch = [door.record("door", a.iccid) for _ in range(20)]
    replies = await asyncio.gather(*(door.upload(batch) for _ in range(4)))
    assert sorted(r["accepted"] for r in replies) == [0, 0, 0, 20]
    rows = await world.api.ok("GET", f"{V1}/records", token=a.token, params={"limit": 100})
    assert len(rows["items"]) == 20


async def registered(api: Api, token: str) -> int:
    return len((await api.ok("GET", f"{V1}/cards", token=token))["items"])
