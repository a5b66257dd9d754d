"""空中充值 under faults, over real sockets: PoRs lost, a handset that never answers, the SMSC
dropping every connection mid-flow. Nothing is credited twice, nothing stays paid but off the
card, and the reconciliation explains what the ledger and the card disagree about.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway import keys
from gateway.settings import Settings
from smpp.mo import MoMessage
from tests.gateway.invariants import assert_ledger_balanced
from tests.gateway.ota_stack import OtaStack, Phone, eventually, lose_pors, stack_of


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings, phones=3):
        for phone in built.phones:
            await built.issue(phone, ["purse"])
        yield built


async def test_a_lost_por_is_retried_without_crediting_twice(stack: OtaStack) -> None:
    phone = stack.phones[0]
    lost = lose_pors(phone, 1)
    topup = await stack.topup(phone, 2_500)
    done = await stack.topup_done(topup["id"])
    assert done["state"] == "confirmed", done
    assert len(lost.lost) == 1
    # The second attempt carried the same transaction id: the card answered what it recorded.
    assert (done["card_balance_fen"], done["load_counter"], done["replayed"]) == (2_500, 1,
                                                                                 True)
    assert done["attempts"] == 2
    attempts = await stack.attempts(done["job_id"])
    assert [a.por_at is not None for a in attempts] == [False, True]
    assert attempts[1].counter > attempts[0].counter
    assert phone.balance == 2_500
    assert (await stack.card(phone))["balance_fen"] == 2_500
    await assert_ledger_balanced(stack.client.app)


def switch_off(phone: Phone) -> list[MoMessage]:
    """The phone takes text SMS but no data download reaches its card."""
    missed: list[MoMessage] = []
    deliver = phone.handset.deliver

    async def only_texts(message: MoMessage) -> None:
        if message.protocol_id == 0x7F:
            missed.append(message)
            return
        await deliver(message)

    phone.handset.deliver = only_texts  # type: ignore[method-assign]
    return missed


async def test_a_top_up_the_card_never_gets_is_reversed(stack: OtaStack) -> None:
    phone = stack.phones[0]
    missed = switch_off(phone)
    topup = await stack.topup(phone, 3_000)
    done = await stack.topup_done(topup["id"])
    assert done["state"] == "reversed", done
    assert done["attempts"] == 3 and "no proof of receipt" in done["failure"]
    assert len(missed) == 3  # three packets, three counters, none reached the card
    card = await stack.card(phone)
    assert (card["balance_fen"], card["held_fen"]) == (0, 0)
    await eventually(lambda: any("未能写入卡片" in t and "30.00元" in t for t in phone.texts),
                     what="the reversal SMS")
    await assert_ledger_balanced(stack.client.app)


async def test_a_reversed_top_up_the_card_did_apply_is_explained(stack: OtaStack) -> None:
    phone = stack.phones[0]
    lost = lose_pors(phone, 3)  # the card credits, but every PoR is lost
    first = await stack.topup(phone, 1_000)
    assert (await stack.topup_done(first["id"]))["state"] == "reversed"
    assert phone.balance == 1_000 and len(lost.lost) == 3
    second = await stack.topup(phone, 500)
    done = await stack.topup_done(second["id"])
    assert (done["state"], done["card_balance_fen"]) == ("confirmed", 1_500)
    recon = await stack.ok("GET", "/ota/reconciliation")
    (item,) = recon["items"]
    assert (item["iccid"], item["reported_fen"], item["ledger_fen"], item["difference_fen"]) == (
        phone.iccid, 1_500, 500, 1_000)
    assert f"top-up #{first['id']} was reversed" in item["explanation"]
    assert "the card counts 2 loads, the ledger 1" in item["explanation"]


async def test_smsc_dropping_every_connection_mid_flow(stack: OtaStack) -> None:
    amounts = {p.iccid: 0 for p in stack.phones}
    ids = []
    for round_ in range(4):
        for phone in stack.phones:
            ids.append((await stack.topup(phone, 100 + round_))["id"])
            amounts[phone.iccid] += 100 + round_
        if round_ == 1:
            await eventually(lambda: _some_sent(stack), what="packets in flight")
            stack.smsc.drop_all()  # every bind at once: gateway and handsets
    done = await asyncio.gather(*(stack.topup_done(i, 30) for i in ids))
    assert [d["state"] for d in done] == ["confirmed"] * len(ids), done
    for phone in stack.phones:
        assert phone.balance == amounts[phone.iccid]
        assert (await stack.card(phone))["balance_fen"] == amounts[phone.iccid]
        assert phone.onecard.state.purse.load_counter == 4
    await assert_ledger_balanced(stack.client.app)
    assert stack.client.app[keys.SMSC_LINK].metrics.reconnects >= 1
    # Packets or PoRs sent again after the reconnect come back as repeats: refused, harmless.
    assert {a.kind for a in await stack.alerts()} <= {"replayed_counter"}


async def _some_sent(stack: OtaStack) -> bool:
    return bool(await stack.jobs(state="sent"))
