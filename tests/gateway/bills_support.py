"""Support for the bill and notice tests: a gateway whose clock can jump (members enrolled in
September, billed for October in November), and terminal records written through the records
service (the signed upload path has its own tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import keys
from gateway.app import create_app
from gateway.domain import RecordKind, Role
from gateway.notices import CHINA
from gateway.services import records
from gateway.services.base import Deps, Principal
from gateway.settings import Settings
from tests.gateway.helpers import Api, Tenant

Client = TestClient[web.Request, web.Application]
V1 = "/api/v1"


def cn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


class JumpClock:
    """Real time passing from a chosen start; ``jump`` moves the start."""

    def __init__(self, start: datetime) -> None:
        self.jump(start)

    def jump(self, to: datetime) -> None:
        self._base, self._mono = to, time.monotonic()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._mono)


def quick(settings: Settings) -> Settings:
    """Bill workers that look for new runs every 0.1 s (runs created outside a request)."""
    return settings.replace(extra={**settings.extra, "bills": {"poll_s": 0.1}})


async def client_with_clock(aiohttp_client: Any, settings: Settings,
                            clock: JumpClock) -> Client:
    client: Client = await aiohttp_client(create_app(quick(settings), clock=clock))
    return client


def deps_of(api: Api) -> Deps:
    return api.client.app[keys.DEPS]


def terminal_principal(t: Tenant, kind: str) -> Principal:
    row = t.terminal_rows[kind]
    return Principal(role=Role.TERMINAL, actor=f"terminal:{row['code']}",
                     enterprise_id=t.id, terminal_id=row["id"])


class Records:
    """Writes terminal records for one tenant with increasing sequence numbers per terminal."""

    def __init__(self, api: Api, tenant: Tenant) -> None:
        self.deps = deps_of(api)
        self.tenant = tenant
        self.seq: dict[str, int] = {}

    async def add(self, kind: str, rows: Iterable[tuple[str, datetime, int | None]],
                  record: RecordKind, **extra: Any) -> dict[str, Any]:
        batch = []
        for iccid, at, amount in rows:
            self.seq[kind] = self.seq.get(kind, 0) + 1
            batch.append(records.RecordIn(seq=self.seq[kind], kind=record, iccid=iccid, at=at,
                                          amount_fen=amount, **extra))
        return await records.ingest(self.deps, terminal_principal(self.tenant, kind), batch)

    async def punches(self, iccid: str, times: Iterable[datetime]) -> None:
        await self.add("attendance", [(iccid, t, None) for t in times], RecordKind.ATTENDANCE)

    async def topup(self, iccid: str, at: datetime, fen: int) -> None:
        await self.add("topup", [(iccid, at, fen)], RecordKind.TOPUP)

    async def purchases(self, iccid: str, rows: Iterable[tuple[datetime, int]]) -> None:
        await self.add("pos", [(iccid, at, fen) for at, fen in rows], RecordKind.PURCHASE)


def workdays(year: int, month: int) -> list[date]:
    day, out = date(year, month, 1), []
    while day.month == month:
        if day.isoweekday() <= 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA)


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0,
                   what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)


async def run_done(api: Api, run_id: int, token: str | None = None,
                   timeout: float = 20.0) -> dict[str, Any]:
    kw: dict[str, Any] = {} if token is None else {"token": token}

    async def done() -> dict[str, Any] | None:
        run: dict[str, Any] = await api.ok("GET", f"{V1}/bill-runs/{run_id}", **kw)
        return run if run["state"] in ("done", "failed", "cancelled") else None

    result: dict[str, Any] = await wait_for(done, timeout, f"bill run {run_id} finished")
    return result
