"""The ledger on both backends: balanced postings, idempotent references, holds, reversals."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import keys
from gateway.domain import AccountKind, HoldState, PostingKind
from gateway.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidState,
    NotFound,
    ValidationError,
)
from gateway.services import ledger
from gateway.services.ledger import Leg, PostingSpec
from tests.gateway.helpers import World
from tests.gateway.invariants import assert_ledger_balanced

Client = TestClient[web.Request, web.Application]


def codes(world: World) -> tuple[str, str, str]:
    ent = world.a.id
    purse = ledger.purse_code(int(world.a.cards[0]["id"]))
    return (purse, ledger.enterprise_code(AccountKind.CASH, ent),
            ledger.enterprise_code(AccountKind.REVENUE, ent))


def topup_spec(world: World, ref: str, amount: int) -> PostingSpec:
    purse, cash, _ = codes(world)
    return ledger.transfer(ref, PostingKind.TOPUP, world.a.id, cash, purse, amount)


async def test_postings_balance_and_are_idempotent(any_world: World, any_client: Client) -> None:
    async with any_client.app[keys.DEPS].uow() as uow:
        first = await ledger.post(uow, topup_spec(any_world, "t-1", 500))
        again = await ledger.post(uow, topup_spec(any_world, "t-1", 500))
        assert first.id == again.id
        with pytest.raises(IdempotencyKeyReused):
            await ledger.post(uow, topup_spec(any_world, "t-1", 501))
        await uow.commit()
    async with any_client.app[keys.DEPS].uow() as uow:
        replay = await ledger.post(uow, topup_spec(any_world, "t-1", 500))
        assert replay.id == first.id
        purse = await ledger.account(uow, codes(any_world)[0])
        assert purse.balance == 500
    await assert_ledger_balanced(any_client.app)


async def test_a_purse_cannot_go_negative(any_world: World, any_client: Client) -> None:
    purse, _, revenue = codes(any_world)
    async with any_client.app[keys.DEPS].uow() as uow:
        await ledger.post(uow, topup_spec(any_world, "t-2", 100))
        buy = ledger.transfer("p-1", PostingKind.PURCHASE, any_world.a.id, purse, revenue, 101)
        with pytest.raises(InsufficientFunds) as info:
            await ledger.post(uow, buy)
        assert info.value.extra["available_fen"] == 100
        outcomes = await ledger.post_many(uow, [
            ledger.transfer("p-2", PostingKind.PURCHASE, any_world.a.id, purse, revenue, 60),
            ledger.transfer("p-3", PostingKind.PURCHASE, any_world.a.id, purse, revenue, 60),
            ledger.transfer("p-4", PostingKind.PURCHASE, any_world.a.id, purse, revenue, 40),
        ])
        assert [type(o).__name__ for o in outcomes] == ["Posted", "InsufficientFunds",
                                                         "Posted"]
        await uow.commit()
    await assert_ledger_balanced(any_client.app)


@pytest.mark.parametrize("legs", [
    (Leg("a", 1),),
    (Leg("a", 1), Leg("b", 1)),
    (Leg("a", 0), Leg("b", 0)),
    (Leg("a", 1), Leg("a", -1)),
])
def test_malformed_postings_are_refused(legs: tuple[Leg, ...]) -> None:
    with pytest.raises(ValidationError):
        PostingSpec("x", PostingKind.ADJUSTMENT, 1, legs).check()


async def test_holds_reserve_capture_and_release(any_world: World, any_client: Client) -> None:
    purse, _, revenue = codes(any_world)
    deps = any_client.app[keys.DEPS]
    async with deps.uow() as uow:
        await ledger.post(uow, topup_spec(any_world, "t-3", 1_000))
        hold = await ledger.hold(uow, "h-1", purse, 700)
        assert (await ledger.hold(uow, "h-1", purse, 700)).id == hold.id
        with pytest.raises(InsufficientFunds):
            await ledger.hold(uow, "h-2", purse, 301)
        with pytest.raises(InsufficientFunds):
            await ledger.post(uow, ledger.transfer("p-5", PostingKind.PURCHASE, any_world.a.id,
                                                   purse, revenue, 301))
        spec = ledger.transfer("cap-1", PostingKind.PURCHASE, any_world.a.id, purse, revenue,
                               700)
        captured = await ledger.capture(uow, "h-1", spec)
        assert (await ledger.capture(uow, "h-1", spec)).id == captured.id
        with pytest.raises(InvalidState):
            await ledger.release(uow, "h-1")
        await ledger.hold(uow, "h-3", purse, 300)
        released = await ledger.release(uow, "h-3")
        assert released.state is HoldState.RELEASED
        await ledger.release(uow, "h-3")  # twice is fine
        with pytest.raises(NotFound):
            await ledger.release(uow, "h-404")
        account = await ledger.account(uow, purse)
        assert (account.balance, account.held) == (300, 0)
        await uow.commit()
    await assert_ledger_balanced(any_client.app)


async def test_reversal_undoes_a_posting_once(any_world: World, any_client: Client) -> None:
    purse, *_ = codes(any_world)
    async with any_client.app[keys.DEPS].uow() as uow:
        original = await ledger.post(uow, topup_spec(any_world, "t-4", 250))
        reversal = await ledger.reverse(uow, "t-4", "rev-t-4", "mistyped amount")
        assert reversal.reverses_id == original.id and reversal.kind is PostingKind.REVERSAL
        assert (await ledger.reverse(uow, "t-4", "rev-t-4", None)).id == reversal.id
        assert (await ledger.account(uow, purse)).balance == 0
        await uow.commit()
    await assert_ledger_balanced(any_client.app)
