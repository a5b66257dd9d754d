"""空中充值 on PostgreSQL: parallel top-ups of one card, and two gateway nodes sharing one
database and one SMSC. Counters stay unique and increasing per card (allocated under the card's
row lock and committed before the SMS leaves), each card gets one packet at a time, and every
top-up is credited exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.db.models_ota import OtaAttempt
from gateway.settings import Settings
from smpp.simulator import Smsc
from tests.gateway.helpers import Api
from tests.gateway.invariants import assert_ledger_balanced
from tests.gateway.ota_stack import OtaStack, build, close, ota_settings, ota_smsc
from tests.gateway.outbox_helpers import start_gateway

pytestmark = pytest.mark.postgres


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    async with Smsc(ota_smsc()) as server:
        yield server


@pytest.fixture
async def stack(aiohttp_client: Any, pg_settings: Settings, smsc: Smsc
                ) -> AsyncIterator[OtaStack]:
    built = await build(aiohttp_client, pg_settings, smsc, phones=3)
    for phone in built.phones:
        await built.issue(phone, ["purse"])
    yield built
    await close(built)


async def attempts(stack: OtaStack) -> list[OtaAttempt]:
    async with stack.deps.uow(readonly=True) as uow:
        return list(await uow.session.scalars(select(OtaAttempt).order_by(OtaAttempt.id)))


async def test_parallel_top_ups_of_one_card(stack: OtaStack) -> None:
    phone = stack.phones[0]
    amounts = [100 * (i + 1) for i in range(12)]
    created = await asyncio.gather(*(stack.topup(phone, a) for a in amounts))
    done = await asyncio.gather(*(stack.topup_done(t["id"], 30) for t in created))
    assert [d["state"] for d in done] == ["confirmed"] * len(amounts), done
    assert phone.balance == sum(amounts)
    assert sorted(d["load_counter"] for d in done) == list(range(1, len(amounts) + 1))
    assert (await stack.card(phone))["balance_fen"] == sum(amounts)
    card_id = (await stack.card(phone))["id"]
    mine = [a for a in await attempts(stack) if a.card_id == card_id]
    counters = [a.counter for a in mine]
    assert counters == sorted(counters) and len(set(counters)) == len(counters)
    await assert_ledger_balanced(stack.client.app)


async def test_two_gateway_nodes_share_the_work(aiohttp_client: Any, stack: OtaStack,
                                                pg_settings: Settings, smsc: Smsc) -> None:
    other = await start_gateway(aiohttp_client, ota_settings(pg_settings, smsc.port))
    try:
        await _share(stack, Api(other))
    finally:
        await other.close()  # this node stops before the SMSC and the schema go


async def _share(stack: OtaStack, second: Api) -> None:
    nodes = [stack.api, second]
    amounts: dict[str, int] = {p.iccid: 0 for p in stack.phones}
    created = []
    for i in range(30):
        phone = stack.phones[i % len(stack.phones)]
        amounts[phone.iccid] += 10 + i
        reply = await nodes[i % 2].call("POST", f"/api/v1/cards/{phone.iccid}/topups",
                                        token=stack.token, body={"amount_fen": 10 + i},
                                        key=f"k{i}")
        assert reply.status == 202, reply.body
        created.append(reply.body)
    done = await asyncio.gather(*(stack.topup_done(t["id"], 30) for t in created))
    assert [d["state"] for d in done] == ["confirmed"] * 30, done
    for phone in stack.phones:
        assert phone.balance == amounts[phone.iccid]
        assert phone.onecard.state.purse.load_counter == 10
    rows = await attempts(stack)
    per_card: dict[int, list[int]] = {}
    for row in rows:
        per_card.setdefault(row.card_id, []).append(row.counter)
    assert all(len(set(c)) == len(c) for c in per_card.values())
    await assert_ledger_balanced(stack.client.app)
