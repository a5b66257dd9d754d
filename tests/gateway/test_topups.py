"""空中充值 end to end over real sockets: REST → ledger hold → OTA CREDIT as SMS-PP → SMSC
simulator (TCP) → handset → emulated card → PoR back as MO → ledger confirmed → member SMS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.services import topups
from gateway.settings import Settings
from tests.gateway.helpers import idem
from tests.gateway.invariants import assert_ledger_balanced
from tests.gateway.ota_stack import OtaStack, eventually, lose_pors, stack_of


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings):
        for phone in built.phones:
            await built.issue(phone, ["door", "purse"], purse_limit_fen=100_000)
        yield built


async def test_topup_reaches_the_card_and_the_ledger(stack: OtaStack) -> None:
    phone = stack.phones[0]
    lost = lose_pors(phone, 1)  # the first PoR goes missing: the ledger waits, holding
    topup = await stack.topup(phone, 5_000)
    assert topup["state"] == "pending" and topup["amount_fen"] == 5_000
    await eventually(lambda: lost.lost, what="the first PoR")
    held = await stack.card(phone)
    assert (held["balance_fen"], held["held_fen"]) == (5_000, 5_000)  # promised, not spendable
    done = await stack.topup_done(topup["id"])
    assert done["state"] == "confirmed", done
    assert (done["card_balance_fen"], done["load_counter"], done["replayed"]) == (5_000, 1,
                                                                                 True)
    assert phone.balance == 5_000
    card = await stack.card(phone)
    assert (card["balance_fen"], card["held_fen"]) == (5_000, 0)
    await eventually(lambda: any("空中充值50.00元成功" in t for t in phone.texts),
                     what="the top-up SMS")
    assert any("卡内余额50.00元" in t and t.startswith("【一卡通】") for t in phone.texts)
    await assert_ledger_balanced(stack.client.app)
    recon = await stack.ok("GET", "/ota/reconciliation")
    assert recon["items"] == []  # the card agrees with the ledger


async def test_a_retried_request_tops_up_once(stack: OtaStack) -> None:
    phone = stack.phones[0]
    key = idem()
    first = await stack.topup(phone, 1_000, key)
    again = await stack.topup(phone, 1_000, key)
    assert again["id"] == first["id"]
    assert (await stack.topup_done(first["id"]))["state"] == "confirmed"
    assert phone.balance == 1_000
    assert (await stack.card(phone))["balance_fen"] == 1_000
    reused = await stack.call("POST", f"/cards/{phone.iccid}/topups",
                              body={"amount_fen": 2_000}, key=key)
    assert reused.status == 409 and reused["error"] == "idempotency_key_reused"


async def test_several_top_ups_of_one_card_all_land_in_order(stack: OtaStack) -> None:
    phone = stack.phones[0]
    amounts = [100, 200, 300, 400, 500]
    ids = [(await stack.topup(phone, a))["id"] for a in amounts]
    done = [await stack.topup_done(i) for i in ids]
    assert [d["state"] for d in done] == ["confirmed"] * 5
    assert [d["card_balance_fen"] for d in done] == [100, 300, 600, 1000, 1500]
    assert [d["load_counter"] for d in done] == [1, 2, 3, 4, 5]
    assert phone.balance == 1_500
    jobs = await stack.jobs(kind="topup")
    counters = [j.counter or 0 for j in jobs]
    assert counters == sorted(counters) and len(set(counters)) == 5


async def test_requests_the_card_cannot_take_are_refused(stack: OtaStack) -> None:
    phone, other = stack.phones
    bad = await stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 0},
                           key=idem())
    assert bad.status == 422 and bad["error"] == "validation_failed"
    over = await stack.call("POST", f"/cards/{phone.iccid}/topups",
                            body={"amount_fen": 100_001}, key=idem())
    assert over.status == 409 and over["state"] == "purse_limit"
    no_key = await stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 1})
    assert no_key.status == 400 and no_key["error"] == "idempotency_key_required"
    await stack.ok("DELETE", f"/cards/{other.iccid}/apps/purse", 202, key=idem())
    await eventually(lambda: "purse" not in other.apps(), what="purse deleted")
    await eventually(lambda: _purse_removed(stack, other.iccid), what="purse removed in DB")
    no_purse = await stack.call("POST", f"/cards/{other.iccid}/topups", body={"amount_fen": 1},
                                key=idem())
    assert no_purse.status == 409 and no_purse["state"] == "no_purse"
    unknown = await stack.call("GET", "/topups/999999")
    assert unknown.status == 404
    await stack.ok("POST", f"/cards/{phone.iccid}/loss", body={}, key=idem())
    lost = await stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 1},
                            key=idem())
    assert lost.status == 409 and lost["state"] == "lost"  # 挂失 blocks the card


async def _purse_removed(stack: OtaStack, iccid: str) -> bool:
    card = await stack.ok("GET", f"/cards/{iccid}")
    return any(a["app"] == "purse" and a["state"] == "removed" for a in card["apps"])


async def test_card_refusal_reverses_the_top_up(stack: OtaStack) -> None:
    phone = stack.phones[0]
    phone.onecard.state.purse.limit = 500  # the card's own limit is lower than the gateway's
    topup = await stack.topup(phone, 1_000)
    done = await stack.topup_done(topup["id"])
    assert done["state"] == "reversed" and "PURSE_LIMIT_EXCEEDED" in done["failure"]
    card = await stack.card(phone)
    assert (card["balance_fen"], card["held_fen"]) == (0, 0)
    assert phone.balance == 0
    await eventually(lambda: any("未能写入卡片" in t for t in phone.texts),
                     what="the reversal SMS")
    await assert_ledger_balanced(stack.client.app)
    statement = await stack.ok("GET", f"/cards/{phone.iccid}/statement")
    assert [line["amount_fen"] for line in statement["items"]] == [1_000, -1_000]


async def test_concurrent_requests_are_answered_one_by_one(stack: OtaStack) -> None:
    """Requests arriving together are committed together; each keeps its own answer."""
    phone, other = stack.phones
    other.onecard.state.purse.limit = 100_000
    await stack.ok("PUT", f"/cards/{other.iccid}/menu", 202, key=idem(),
                   body={"items": ["余额查询"]})  # unrelated job, same time
    key = idem()
    calls = [stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 100 + i},
                        key=idem()) for i in range(20)]
    calls += [stack.call("POST", f"/cards/{other.iccid}/topups", body={"amount_fen": 60_000},
                         key=idem()) for _ in range(2)]  # together over the 100,000 limit
    calls += [stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 7},
                         key=key) for _ in range(3)]  # one key, three times
    calls.append(stack.call("POST", "/cards/89860000000000000999/topups",
                            body={"amount_fen": 1}, key=idem()))
    replies = await asyncio.gather(*calls)
    assert [r.status for r in replies[:20]] == [202] * 20
    assert sorted(r.status for r in replies[20:22]) == [202, 409]
    assert {r["id"] for r in replies[22:25]} == {replies[22]["id"]}
    assert replies[25].status == 404
    batcher = topups.batcher_of(stack.deps)
    assert batcher is not None and batcher.largest > 1  # they did share transactions
    ids = [r["id"] for r in replies if r.status == 202]
    done = await asyncio.gather(*(stack.topup_done(i) for i in set(ids)))
    assert {d["state"] for d in done} == {"confirmed"}
    assert phone.balance == sum(100 + i for i in range(20)) + 7
    assert other.balance == 60_000
    await assert_ledger_balanced(stack.client.app)
    replay = await stack.call("POST", f"/cards/{phone.iccid}/topups", body={"amount_fen": 7},
                              key=key)
    assert replay["id"] == replies[22]["id"]
