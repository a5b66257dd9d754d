"""Uploads stored together (records.UploadQueue) on both backends: each upload's answer and
effects are those of storing it alone, one after the other; refusals and failures stay with
their own upload."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway import keys
from gateway.db.models import TerminalRecord
from gateway.db.uow import DuplicateRow, UnitOfWork
from gateway.domain import RecordKind, Role
from gateway.errors import Forbidden
from gateway.services import records
from gateway.services.base import Deps, Principal
from gateway.services.records import RecordIn, UploadQueue
from tests.gateway.helpers import Tenant, World
from tests.gateway.invariants import assert_ledger_balanced

Client = TestClient[web.Request, web.Application]
AT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def terminal(t: Tenant, kind: str) -> Principal:
    row = t.terminal_rows[kind]
    return Principal(role=Role.TERMINAL, actor=f"terminal:{row['code']}",
                     enterprise_id=t.id, terminal_id=int(row["id"]))


def recs(kind: RecordKind, iccid: str, seqs: Sequence[int], **kw: Any) -> list[RecordIn]:
    return [RecordIn(seq=s, kind=kind, iccid=iccid, at=AT, **kw) for s in seqs]


async def stored(deps: Deps) -> int:
    async with deps.uow(readonly=True) as uow:
        return int((await uow.session.execute(
            select(func.count()).select_from(TerminalRecord))).scalar_one())


async def test_uploads_of_many_terminals_share_a_transaction(any_world: World,
                                                             any_client: Client) -> None:
    deps: Deps = any_client.app[keys.DEPS]
    a, b = any_world.a, any_world.b
    await any_world.topup(a, a.iccid, 500)
    await any_world.topup(b, b.iccid, 100)
    queue = UploadQueue(deps)
    replies = await asyncio.gather(
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [1, 2, 5])),
        queue.submit(terminal(a, "attendance"), recs(RecordKind.ATTENDANCE, a.iccid, [1, 1])),
        # The same purse twice: the second is short, as it would be alone after the first.
        queue.submit(terminal(a, "pos"), recs(RecordKind.PURCHASE, a.iccid, [1, 2],
                                              amount_fen=300)),
        queue.submit(terminal(b, "pos"), recs(RecordKind.PURCHASE, b.iccid, [1],
                                              amount_fen=60)),
        queue.submit(terminal(b, "door"), recs(RecordKind.DOOR, a.iccid, [1])),
    )
    assert queue.largest == 5
    door, clock, pos_a, pos_b, foreign = replies
    assert (door["accepted"], door["gaps"], door["high_seq"]) == (3, [[3, 4]], 5)
    assert (clock["accepted"], clock["duplicates"]) == (1, [1])
    assert pos_a["flagged"] == [{"seq": 2, "flags": ["insufficient_funds"]}]
    assert pos_b["flagged"] == [] and pos_b["terminal"] == b.terminal_rows["pos"]["code"]
    assert foreign["flagged"] == [{"seq": 1, "flags": ["foreign_card"]}]
    assert await any_world.balance(a.iccid) == 200
    assert await any_world.balance(b.iccid) == 40
    assert await stored(deps) == 3 + 1 + 2 + 1 + 1 + 2  # and the two top-ups
    await assert_ledger_balanced(any_client.app)


async def test_a_terminal_twice_is_stored_in_turn(any_world: World, any_client: Client
                                                  ) -> None:
    queue = UploadQueue(any_client.app[keys.DEPS])
    a = any_world.a
    first, again = await asyncio.gather(
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [1, 2, 3])),
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [3, 4])))
    assert queue.largest == 1
    assert first["accepted"] == 3
    assert (again["accepted"], again["duplicates"], again["high_seq"]) == (1, [3], 4)


async def test_a_disabled_terminal_is_refused_alone(any_world: World, any_client: Client
                                                    ) -> None:
    a = any_world.a
    await any_world.api.ok("PATCH", f"/api/v1/terminals/{a.terminal_rows['door']['id']}",
                           token=a.token, body={"status": "disabled"})
    queue = UploadQueue(any_client.app[keys.DEPS])
    refused, clock = await asyncio.gather(
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [1])),
        queue.submit(terminal(a, "attendance"), recs(RecordKind.ATTENDANCE, a.iccid, [1])),
        return_exceptions=True)
    assert isinstance(refused, Forbidden)
    assert isinstance(clock, dict) and clock["accepted"] == 1
    assert await stored(any_client.app[keys.DEPS]) == 1


async def test_undo_uploads_are_stored_alone(any_world: World, any_client: Client) -> None:
    a = any_world.a
    await any_world.topup(a, a.iccid, 300)
    deps = any_client.app[keys.DEPS]
    await records.ingest(deps, terminal(a, "pos"),
                         recs(RecordKind.PURCHASE, a.iccid, [1], amount_fen=300))
    queue = UploadQueue(deps)
    undo, door = await asyncio.gather(
        queue.submit(terminal(a, "pos"), recs(RecordKind.UNDO, a.iccid, [2], undo_seq=1)),
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [1])))
    assert queue.largest == 1
    assert undo["flagged"] == [] and door["accepted"] == 1
    assert await any_world.balance(a.iccid) == 300
    await assert_ledger_balanced(any_client.app)


async def test_a_group_that_fails_is_stored_upload_by_upload(
        any_world: World, any_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    real = records.store
    groups: list[int] = []

    async def flaky(uow: UnitOfWork, uploads: Sequence[Any]) -> list[Any]:
        groups.append(len(uploads))
        if len(uploads) > 1:
            raise DuplicateRow("a concurrent change conflicts with this one; retry")
        return await real(uow, uploads)

    monkeypatch.setattr(records, "store", flaky)
    a = any_world.a
    queue = UploadQueue(any_client.app[keys.DEPS])
    door, clock = await asyncio.gather(
        queue.submit(terminal(a, "door"), recs(RecordKind.DOOR, a.iccid, [1, 2])),
        queue.submit(terminal(a, "attendance"), recs(RecordKind.ATTENDANCE, a.iccid, [1])))
    assert (door["accepted"], clock["accepted"]) == (2, 1)
    assert groups[-2:] == [1, 1] and 2 in groups
    assert await stored(any_client.app[keys.DEPS]) == 3
