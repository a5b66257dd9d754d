"""Reconciliation: the balances PoRs and terminal uploads report, against the ledger; and the
ledger's batch hold and release the top-up path uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.domain import AccountKind, PostingKind
from gateway.errors import IdempotencyKeyReused, InsufficientFunds
from gateway.services import ledger
from gateway.settings import Settings
from tests.gateway.helpers import TerminalClient
from tests.gateway.ota_stack import OtaStack, stack_of


@pytest.fixture
async def stack(aiohttp_client: Any, sqlite_settings: Settings) -> AsyncIterator[OtaStack]:
    async for built in stack_of(aiohttp_client, sqlite_settings, phones=1):
        await built.issue(built.phones[0], ["purse"])
        yield built


async def test_terminal_balances_are_compared_with_the_ledger(stack: OtaStack) -> None:
    phone = stack.phones[0]
    topup = await stack.topup(phone, 1_000)
    assert (await stack.topup_done(topup["id"]))["state"] == "confirmed"
    row = await stack.ok("POST", "/terminals", 201, body={"code": "POS-1", "kind": "pos",
                                                          "name": "canteen"})
    pos = TerminalClient(stack.api, row["code"], row["secret"])
    agree = await pos.upload([pos.record("purchase", phone.iccid, amount_fen=300,
                                         card_balance_fen=700)])
    assert agree.status == 200, agree.body
    assert (await stack.ok("GET", "/ota/reconciliation"))["items"] == []
    short = await pos.upload([pos.record("purchase", phone.iccid, amount_fen=100,
                                         card_balance_fen=500)])
    assert short.status == 200, short.body
    (item,) = (await stack.ok("GET", "/ota/reconciliation"))["items"]
    assert (item["source"], item["reported_fen"], item["ledger_fen"], item["difference_fen"]) \
        == ("terminal", 500, 600, -100)
    assert "100 fen less than the ledger" in item["explanation"]
    every = await stack.ok("GET", "/ota/reconciliation?all=true")
    assert [i["iccid"] for i in every["items"]] == [phone.iccid]


async def test_ledger_batch_hold_and_release(stack: OtaStack) -> None:
    card = await stack.card(stack.phones[0])
    purse = ledger.purse_code(card["id"])
    cash = ledger.enterprise_code(AccountKind.CASH, stack.enterprise["id"])
    async with stack.deps.uow() as uow:
        await ledger.post(uow, ledger.transfer("t:1", PostingKind.TOPUP,
                                               stack.enterprise["id"], cash, purse, 500))
        await ledger.hold_many(uow, [("h:1", purse, 200), ("h:2", purse, 300),
                                     ("h:1", purse, 200)])  # the same reference twice: once
        await uow.commit()
    async with stack.deps.uow() as uow:
        await ledger.hold_many(uow, [("h:1", purse, 200)])  # again: nothing new
        with pytest.raises(IdempotencyKeyReused):
            await ledger.hold_many(uow, [("h:2", purse, 301)])
    async with stack.deps.uow() as uow:
        with pytest.raises(InsufficientFunds):
            await ledger.hold_many(uow, [("h:3", purse, 1)])
    async with stack.deps.uow() as uow:
        account = await ledger.account(uow, purse)
        assert (account.balance, account.held) == (500, 500)
        assert await ledger.release_many(uow, ["h:1", "h:2"]) == {account.id: 500}
        assert await ledger.release_many(uow, ["h:1"]) == {}  # released twice: nothing
        await uow.commit()
    async with stack.deps.uow(readonly=True) as uow:
        account = await ledger.account(uow, purse)
        assert (account.balance, account.held) == (500, 0)
