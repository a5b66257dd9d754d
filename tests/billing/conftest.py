"""Fixtures of the billing tests that need the gateway: a real gateway (SQLite, and
PostgreSQL where marked) whose clock the test moves, a world of two tenants built through the
API, and billing configured through the API too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import keys
from gateway.app import create_app
from gateway.services.base import Deps
from gateway.settings import Settings
from tests.gateway.conftest import (  # noqa: F401  (fixtures, re-exported for pytest)
    pg_settings,
    settings,
    sqlite_settings,
    sqlite_template,
)
from tests.gateway.helpers import Api, World

CST = timezone(timedelta(hours=8))
V1 = "/api/v1/billing"


class Clock:
    """The gateway's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, month: int, day: int, hour: int = 10, minute: int = 0) -> None:
        self.now = datetime(2026, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 10, 5, 10, tzinfo=CST))


@pytest.fixture
async def bclient(
    aiohttp_client: Any,
    settings: Settings,  # noqa: F811  (the gateway's fixture, imported above)
    clock: Clock,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A gateway on each backend, with the test's clock."""
    yield await aiohttp_client(create_app(settings, clock=clock))


@pytest.fixture
def bapi(bclient: TestClient[web.Request, web.Application]) -> Api:
    return Api(bclient)


@pytest.fixture
def deps(bclient: TestClient[web.Request, web.Application]) -> Deps:
    return bclient.app[keys.DEPS]


STANDARD = {
    "name": "标准资费",
    "tariffs": [
        {
            "effective_from": "2026-01",
            "service_fee": "500",
            "sms_bill": "4.5",
            "ota": "10",
            "topup_percent": "0.5",
        }
    ],
}
CAMPUS = {
    "name": "校园包月",
    "tariffs": [{"effective_from": "2026-01", "service_fee": 400, "proration": "full_month"}],
}


async def configure(api: Api, world: World) -> None:
    await api.ok("PUT", f"{V1}/carriers/CMCC-GD", body={"name": "广东移动", "node_id": "GW01"})
    await api.ok("PUT", f"{V1}/plans/STD", body=STANDARD)
    await api.ok("PUT", f"{V1}/plans/CAMPUS", body=CAMPUS)
    await api.ok(
        "PUT",
        f"{V1}/accounts/{world.a.id}",
        body={"carrier": "CMCC-GD", "plan": "STD", "group_account": "2000123"},
    )
    await api.ok(
        "PUT", f"{V1}/accounts/{world.b.id}", body={"carrier": "CMCC-GD", "plan": "CAMPUS"}
    )


@pytest.fixture
async def bworld(bapi: Api, clock: Clock) -> World:
    """Two tenants whose first two members got their cards on 5 October; billing set up."""
    world = await World.build(bapi)
    await configure(bapi, world)
    return world


@pytest.fixture
def out(tmp_path: Any) -> Any:
    """Where a test's export files go (the data directory holds the database)."""
    return tmp_path / "out"
