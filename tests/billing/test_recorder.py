"""The recorder: gateway events become records in the same transaction, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from billing import recorder
from billing.cdr import Cdr, CdrKind, OneOffItem, SmsKind, TopupChannel
from billing.errors import CdrError
from billing.models import CdrRow
from billing.period import Period
from gateway.services.base import Deps
from tests.billing.conftest import Clock
from tests.gateway.helpers import Api, World, idem, new_iccid

V1 = "/api/v1"


async def stored(deps: Deps, kind: CdrKind | None = None) -> list[CdrRow]:
    async with deps.uow(readonly=True) as uow:
        stmt = select(CdrRow).order_by(CdrRow.occurred_at, CdrRow.cdr_id)
        if kind is not None:
            stmt = stmt.where(CdrRow.kind == int(kind))
        return list(await uow.session.scalars(stmt))


async def test_card_registration_opens_service(bworld: World, deps: Deps) -> None:
    starts = await stored(deps, CdrKind.SERVICE_START)
    iccids = {c["iccid"] for t in (bworld.a, bworld.b) for c in t.cards}
    assert {r.iccid for r in starts} == iccids
    first = next(r for r in starts if r.iccid == bworld.a.cards[0]["iccid"])
    assert (first.enterprise_id, first.member_id) == (bworld.a.id, str(bworld.a.members[0]["id"]))
    assert first.period == "2026-10"


async def test_replacement_and_deregistration(
    bapi: Api, bworld: World, deps: Deps, clock: Clock
) -> None:
    a = bworld.a
    new = new_iccid()
    clock.at(10, 9)
    await bapi.ok(
        "POST", f"{V1}/cards/{a.iccid}/replace", token=a.token, key=idem(), body={"new_iccid": new}
    )
    clock.at(10, 10)
    await bapi.ok("POST", f"{V1}/cards/{new}/deregister", token=a.token, key=idem(), body={})
    (swap,) = await stored(deps, CdrKind.CARD_REPLACED)
    (end,) = await stored(deps, CdrKind.SERVICE_END)
    member = str(a.members[0]["id"])
    assert (swap.iccid, swap.member_id) == (new, member)
    assert (end.iccid, end.member_id, end.occurred_at.day) == (new, member, 10)


async def test_a_failed_change_records_nothing(bapi: Api, bworld: World, deps: Deps) -> None:
    a = bworld.a
    before = len(await stored(deps))
    # Replacing with an ICCID already registered fails: the transaction, records included,
    # is rolled back.
    reply = await bapi.call(
        "POST",
        f"{V1}/cards/{a.iccid}/replace",
        token=a.token,
        key=idem(),
        body={"new_iccid": a.cards[1]["iccid"]},
    )
    assert reply.status == 409
    assert len(await stored(deps)) == before


async def test_terminal_topups_are_recorded_at_posting_time(
    bapi: Api, bworld: World, deps: Deps, clock: Clock
) -> None:
    pos = bworld.a.terminals["topup"]
    path = f"{V1}/terminal/records"
    records = [
        pos.record("topup", bworld.a.iccid, amount_fen=500),
        pos.record("topup", "89860099999999999999", amount_fen=700),
    ]  # unknown card
    raw = json.dumps({"records": records}).encode()
    for _ in range(2):  # the second upload repeats the first: duplicates, nothing new
        headers = {
            **pos.headers("POST", path, raw, int(clock.now.timestamp())),
            "Content-Type": "application/json",
        }
        reply = await bapi.call("POST", path, token=None, data=raw, headers=headers)
        assert reply.status == 200, reply.body
    (topup,) = await stored(deps, CdrKind.TOPUP)
    assert (topup.amount_fen, topup.detail, topup.occurred_at) == (500, "TERMINAL", clock.now)


async def test_direct_records_are_validated_and_idempotent(deps: Deps, bworld: World) -> None:
    at = datetime(2026, 10, 9, tzinfo=UTC)
    sms = recorder.sms_segments(bworld.a.id, None, "13800000001", SmsKind.NOTICE, 2, "ob-7", at)
    async with deps.uow() as uow:
        assert await recorder.record(uow.session, sms, now=at) == 1
        assert await recorder.record(uow.session, sms, now=at) == 0
        with pytest.raises(CdrError):
            await recorder.record(uow.session, sms._replace(quantity=-1), now=at)
        await uow.commit()
    assert [r.detail for r in await stored(deps, CdrKind.SMS)] == ["NOTICE"]


def test_instalments_sum_to_the_amount_and_spread_over_months() -> None:
    parts = recorder.one_off(7, OneOffItem.INTEGRATION, 100_000, "o-1", Period(2026, 11), 3)
    assert [p.amount_fen for p in parts] == [33_334, 33_333, 33_333]
    assert [str(Period.of(p.occurred_at)) for p in parts] == ["2026-11", "2026-12", "2027-01"]
    assert [p.reference for p in parts] == ["1/3", "2/3", "3/3"]
    assert len({p.cdr_id for p in parts}) == 3
    with pytest.raises(CdrError):
        recorder.one_off(7, OneOffItem.DEVICE, 1, "o-2", Period(2026, 11), 0)


def test_record_builders_make_stable_ids() -> None:
    at = datetime(2026, 10, 9, tzinfo=UTC)
    a = recorder.topup(1, 2, "8986", 100, TopupChannel.OTA, "txn-1", at)
    b = recorder.topup(1, 2, "8986", 100, TopupChannel.OTA, "txn-1", at.replace(hour=5))
    c = recorder.topup(1, 2, "8986", 100, TopupChannel.TERMINAL, "txn-1", at)
    assert a.cdr_id == b.cdr_id != c.cdr_id
    assert isinstance(a, Cdr)


async def test_records_stored_inline_as_through_sqlalchemy(deps: Deps, bworld: World) -> None:
    """A unit of work running inline on SQLite (the outbox writer) stores what any other
    stores, and counts only the new records."""
    at = datetime(2026, 10, 9, 8, 30, tzinfo=UTC)
    one, two = (recorder.sms_segments(bworld.a.id, 7, "13800000001", SmsKind.BILL, 2,
                                      f"ob-{n}", at) for n in (1, 2))
    async with deps.uow(inline=True) as uow:
        assert await recorder.record(uow.session, one, now=at) == 1
        assert await recorder.record(uow.session, one, two, now=at) == 1
        await uow.commit()
    async with deps.uow() as uow:
        other = one._replace(cdr_id="x" * 32)
        assert await recorder.record(uow.session, other, now=at) == 1
        await uow.commit()
    rows = {r.cdr_id: r for r in await stored(deps, CdrKind.SMS)}
    columns = [c.name for c in CdrRow.__table__.columns if c.name != "cdr_id"]
    assert [getattr(rows[one.cdr_id], c) for c in columns] == [
        getattr(rows["x" * 32], c) for c in columns]
    assert two.cdr_id in rows and rows[one.cdr_id].period == "2026-10"
