"""gateway.db.fast and gateway.db.bulk in units of work running inline on SQLite: what they
read and store is what SQLAlchemy reads and stores, and failures surface as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import Table, and_, bindparam, insert, select, text, update

from gateway import keys
from gateway.db import bulk, fast
from gateway.db.fast import Query
from gateway.db.models import Account, Card, CardApp, Posting, TerminalRecord
from gateway.db.repositories import RECORD_COLUMNS
from gateway.db.uow import DuplicateRow
from gateway.domain import AccountKind, AppKind, PostingKind
from tests.gateway.db.test_bulk import _records
from tests.gateway.helpers import World

Client = TestClient[web.Request, web.Application]
RECORDS = cast(Table, TerminalRecord.__table__)
POSTINGS = cast(Table, Posting.__table__)

CARDS = (select(Card.id, Card.iccid, Card.state, Card.keys_sealed, Card.created_at,
                CardApp.app, CardApp.data.label("app_data"), Account.balance)
         .outerjoin(CardApp, CardApp.card_id == Card.id)
         .outerjoin(Account, and_(Account.card_id == Card.id,
                                  Account.kind == AccountKind.PURSE))
         .where(Card.iccid.in_(bindparam("iccids", expanding=True)))
         .order_by(Card.id, CardApp.id))
HELD = (update(Account).where(Account.id.in_(bindparam("ids", expanding=True)))
        .values(held=Account.held + bindparam("fen"), updated_at=bindparam("at"))
        .returning(Account.id, Account.held, Account.updated_at)
        .execution_options(synchronize_session=False))


async def test_a_query_reads_what_sqlalchemy_reads(world: World, client: Client,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    deps = client.app[keys.DEPS]
    direct: list[str] = []  # statements that went straight to SQLite's connection
    run = fast._rows
    monkeypatch.setattr(fast, "_rows", lambda conn, compiled, sql, values: (
        direct.append(sql), run(conn, compiled, sql, values))[1])
    iccids = [c["iccid"] for c in world.a.cards + world.b.cards]
    async with deps.uow(readonly=True) as uow:
        expected = [tuple(r) for r in await uow.session.execute(CARDS, {"iccids": iccids})]
    query = Query(CARDS)
    async with deps.uow(inline=True) as uow:
        got = await query.rows(uow.session, {"iccids": iccids})
    assert [tuple(r) for r in got] == expected and len(got) >= len(iccids)
    assert len(direct) == 1 and direct[0].count("?") == len(iccids) + 1
    first = got[0]
    assert isinstance(first.created_at, datetime) and first.created_at.tzinfo is UTC
    assert first.iccid == iccids[0] and isinstance(first.keys_sealed, bytes)
    assert all(r.app is None or isinstance(r.app, AppKind) for r in got)
    async with deps.uow(inline=True) as uow:  # an empty IN list: SQLAlchemy's own path
        assert await query.rows(uow.session, {"iccids": []}) == []


async def test_returning_and_the_statement_s_own_values(world: World, client: Client) -> None:
    deps = client.app[keys.DEPS]
    at = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    async with deps.uow(readonly=True) as uow:
        ids = list(await uow.session.scalars(select(Account.id).where(
            Account.enterprise_id == world.a.id).order_by(Account.id).limit(2)))
    async with deps.uow(inline=True) as uow:
        rows = await Query(HELD).rows(uow.session, {"ids": ids, "fen": 5, "at": at})
        await uow.commit()
    assert sorted((r.id, r.held, r.updated_at) for r in rows) == [(i, 5, at) for i in ids]
    async with deps.uow(readonly=True) as uow:
        stored = (await uow.session.execute(text(
            "SELECT updated_at FROM ledger_accounts WHERE id = :id"), {"id": ids[0]})).scalar()
    assert stored == "2027-03-01 08:30:00.000000"  # as SQLAlchemy stores it on SQLite


async def test_pending_orm_changes_are_flushed_before_a_query(world: World,
                                                              client: Client) -> None:
    deps = client.app[keys.DEPS]
    query = Query(select(Account.held).where(Account.id == bindparam("id")))
    async with deps.uow(inline=True) as uow:
        account = (await uow.session.scalars(select(Account).where(
            Account.enterprise_id == world.a.id).limit(1))).one()
        account.held = 42
        assert [tuple(r) for r in await query.rows(uow.session, {"id": account.id})] == [(42,)]


async def test_a_refused_statement_fails_as_through_sqlalchemy(world: World,
                                                               client: Client) -> None:
    deps = client.app[keys.DEPS]
    now = datetime.now(UTC)
    add = Query(insert(Posting).values(reference=bindparam("ref"), kind=PostingKind.ADJUSTMENT,
                                       enterprise_id=world.a.id, created_at=now))
    with pytest.raises(DuplicateRow):
        async with deps.uow(inline=True) as uow:
            await add.run(uow.session, {"ref": "fast-twice"})
            await add.run(uow.session, {"ref": "fast-twice"})


async def test_bulk_rows_stored_inline_as_a_core_insert_stores_them(world: World,
                                                                   client: Client) -> None:
    deps = client.app[keys.DEPS]
    async with deps.uow() as uow:
        await uow.session.execute(insert(RECORDS), [dict(zip(RECORD_COLUMNS, r, strict=True))
                                                    for r in _records(world, 1)])
        await uow.commit()
    async with deps.uow(inline=True) as uow:
        await bulk.insert_rows(uow.session, RECORDS, RECORD_COLUMNS, _records(world, 11))
        got = await bulk.insert_returning(
            uow.session, POSTINGS, ("reference", "kind", "enterprise_id", "memo",
                                    "reverses_id", "created_at"),
            [("fast-1", PostingKind.ADJUSTMENT, world.a.id, None, None, datetime.now(UTC))],
            ("id", "reference"))
        await uow.commit()
    assert [ref for _, ref in got] == ["fast-1"]
    columns = ", ".join(f"quote({c})" for c in RECORD_COLUMNS if c != "seq")
    async with deps.uow(readonly=True) as uow:
        stored: list[Any] = [tuple(r) for r in await uow.session.execute(text(
            f"SELECT {columns} FROM terminal_records ORDER BY seq"))]
    assert stored[:3] == stored[3:]


async def test_run_many_stores_what_an_executemany_through_sqlalchemy_stores(
        world: World, client: Client) -> None:
    deps = client.app[keys.DEPS]
    accounts = cast(Table, Account.__table__)
    set_held = Query(update(accounts).where(accounts.c.id == bindparam("b_id"))
                     .values(held=bindparam("b_held"), updated_at=bindparam("at")))
    at = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    async with deps.uow(readonly=True) as uow:
        ids = list(await uow.session.scalars(select(Account.id).order_by(Account.id).limit(4)))
    stored = "SELECT id, held, quote(updated_at) FROM ledger_accounts WHERE id IN ({})".format(
        ", ".join(str(i) for i in ids))
    results = []
    for inline in (True, False):  # straight to SQLite, and SQLAlchemy's own executemany
        async with deps.uow(inline=inline) as uow:
            changed = await set_held.run_many(uow.session, [
                {"b_id": i, "b_held": n + (10 if inline else 20), "at": at}
                for n, i in enumerate(ids)])
            assert changed == len(ids)
            assert await set_held.run_many(uow.session, []) == 0
            await uow.commit()
        async with deps.uow(readonly=True) as uow:
            results.append(sorted(tuple(r) for r in await uow.session.execute(text(stored))))
    inline_rows, core_rows = results
    assert [h for _, h, _ in inline_rows] == [n + 10 for n in range(len(ids))]
    assert [(i, h + 10, u) for i, h, u in inline_rows] == core_rows
    assert inline_rows[0][2] == "'2027-03-01 08:30:00.000000'"
    with pytest.raises(TypeError):
        async with deps.uow(inline=True) as uow:
            await Query(select(Account.id).where(Account.id.in_(
                bindparam("ids", expanding=True)))).run_many(uow.session, [{"ids": ids}])
