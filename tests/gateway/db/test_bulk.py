"""gateway.db.bulk on both backends: rows stored as SQLAlchemy stores them, ids returned by
key, updates by key; on SQLite the stored bytes are compared with a Core insert's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import Table, insert, select, text

from gateway import keys
from gateway.db import bulk
from gateway.db.models import Account, Posting, TerminalRecord
from gateway.db.repositories import RECORD_COLUMNS
from gateway.domain import PostingKind, RecordKind
from tests.gateway.helpers import World

Client = TestClient[web.Request, web.Application]
RECORDS = cast(Table, TerminalRecord.__table__)
POSTINGS = cast(Table, Posting.__table__)
ACCOUNTS = cast(Table, Account.__table__)
CST = timezone(timedelta(hours=8))


def _records(world: World, first_seq: int) -> list[tuple[Any, ...]]:
    terminal = int(world.a.terminal_rows["door"]["id"])
    card = world.a.cards[0]
    at = datetime(2026, 11, 25, 8, 0, 1, 250, tzinfo=CST)
    now = datetime(2026, 11, 25, 0, 0, 2, tzinfo=UTC)
    extras: list[dict[str, Any]] = [{}, {"result": "granted", "direction": "in"}, {}]
    flags: list[list[str]] = [[], ["blacklisted"], []]
    return [(terminal, first_seq + i, world.a.id, RecordKind.DOOR, card["iccid"],
             int(card["id"]) if i != 2 else None, int(card["member_id"]) if i != 2 else None,
             at + timedelta(seconds=i % 2), now, None if i else 7, None, None, flags[i],
             bool(flags[i]), None, extras[i]) for i in range(3)]


async def test_inserted_rows_read_back_as_a_core_insert_writes_them(
        any_world: World, any_client: Client) -> None:
    deps = any_client.app[keys.DEPS]
    async with deps.uow() as uow:
        core = _records(any_world, 1)
        await uow.session.execute(insert(RECORDS), [dict(zip(RECORD_COLUMNS, r, strict=True))
                                                    for r in core])
        await bulk.insert_rows(uow.session, RECORDS, RECORD_COLUMNS, _records(any_world, 11))
        await uow.commit()
    async with deps.uow(readonly=True) as uow:
        rows = {r.seq: r for r in await uow.session.scalars(select(TerminalRecord))}
        for seq in (1, 2, 3):
            a, b = rows[seq], rows[seq + 10]
            for name in RECORD_COLUMNS:
                if name != "seq":
                    assert getattr(a, name) == getattr(b, name), name
        assert rows[12].extra == {"result": "granted", "direction": "in"}
        assert rows[12].occurred_at == datetime(2026, 11, 25, 0, 0, 2, 250, tzinfo=UTC)
        if deps.database.is_sqlite:  # the stored text itself, byte for byte
            columns = ", ".join(f"quote({c})" for c in RECORD_COLUMNS if c != "seq")
            stored = [tuple(r) for r in await uow.session.execute(text(
                f"SELECT {columns} FROM terminal_records ORDER BY seq"))]
            assert stored[:3] == stored[3:]


async def test_returning_gives_each_row_its_id_across_chunks(
        any_world: World, any_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_MAX_PARAMS", 12)  # two rows a statement on SQLite
    now = datetime.now(UTC)
    rows = [(f"bulk-{i}", PostingKind.ADJUSTMENT, any_world.a.id, None, None, now)
            for i in range(5)]
    async with any_client.app[keys.DEPS].uow() as uow:
        got = await bulk.insert_returning(
            uow.session, POSTINGS,
            ("reference", "kind", "enterprise_id", "memo", "reverses_id", "created_at"), rows,
            ("id", "reference"))
        stored = dict((await uow.session.execute(
            select(Posting.reference, Posting.id).where(Posting.reference.like("bulk-%")))).all())
        await uow.commit()
    assert sorted((ref, pid) for pid, ref in got) == sorted(stored.items())
    assert len(stored) == 5


async def test_updates_find_rows_by_key(any_world: World, any_client: Client) -> None:
    async with any_client.app[keys.DEPS].uow() as uow:
        accounts = list(await uow.session.scalars(
            select(Account).where(Account.enterprise_id == any_world.a.id).order_by(Account.id)))
        when = datetime(2027, 1, 1, tzinfo=UTC)
        await bulk.update_rows(uow.session, ACCOUNTS, ("held", "updated_at", "id"),
                               [(i + 1, when, a.id) for i, a in enumerate(accounts[:2])])
        await uow.commit()
    async with any_client.app[keys.DEPS].uow(readonly=True) as uow:
        after = list(await uow.session.scalars(
            select(Account).where(Account.enterprise_id == any_world.a.id).order_by(Account.id)))
    assert [(a.held, a.updated_at) for a in after[:2]] == [(1, when), (2, when)]
    assert all(a.held == 0 and a.updated_at != when for a in after[2:])


@pytest.mark.parametrize("inline", [False, True])
async def test_rows_already_stored_under_a_unique_key_are_skipped(
        any_world: World, any_client: Client, monkeypatch: pytest.MonkeyPatch,
        inline: bool) -> None:
    monkeypatch.setattr(bulk, "_MAX_PARAMS", 12)  # two rows a statement through the thread
    deps = any_client.app[keys.DEPS]
    now = datetime.now(UTC)
    names = ("reference", "kind", "enterprise_id", "memo", "reverses_id", "created_at")

    def rows(refs: range, memo: str) -> list[tuple[Any, ...]]:
        return [(f"skip-{i}", PostingKind.ADJUSTMENT, any_world.a.id, memo, None, now)
                for i in refs]

    async with deps.uow(inline=inline) as uow:
        await bulk.insert_rows(uow.session, POSTINGS, names, rows(range(0, 3), "first"))
        await uow.commit()
    async with deps.uow(inline=inline) as uow:
        await bulk.insert_rows(uow.session, POSTINGS, names, rows(range(1, 6), "second"),
                               ignore=("reference",))
        await uow.commit()
    async with deps.uow(readonly=True) as uow:
        stored = {ref: memo for ref, memo in await uow.session.execute(
            select(Posting.reference, Posting.memo).where(Posting.reference.like("skip-%")))}
    assert stored == {f"skip-{i}": "first" if i < 3 else "second" for i in range(6)}
