"""Fixtures of the gateway tests: settings on SQLite (or PostgreSQL), a real aiohttp server with
a client, tokens, and ``World``, which builds tenants through the API itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.db.engine import Database
from gateway.settings import Settings
from tests.gateway.helpers import OPERATOR_TOKEN, Api, World
from tests.support import need

PG_URL = os.environ.get(
    "ONECARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pg_reachable() -> bool:
    parts = urlsplit(PG_URL.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def base_settings(data_dir: Path, url: str | None = None, **kw: object) -> Settings:
    defaults: dict[str, object] = {
        "operator_token": OPERATOR_TOKEN,
        "rate_limit_per_second": 10_000.0,
        "rate_limit_burst": 10_000,
    }
    defaults.update(kw)
    return Settings.for_database(data_dir, url, **defaults)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once is enough."""
    path = tmp_path_factory.mktemp("template") / "onecard.sqlite"
    settings = base_settings(path.parent)

    async def migrate() -> None:
        database = Database(settings)
        await database.migrate()
        await database.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    shutil.copy(sqlite_template, tmp_path / "onecard.sqlite")
    return base_settings(tmp_path)


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """A fresh PostgreSQL schema per test, dropped afterwards."""
    need(pg_reachable(), f"PostgreSQL not reachable at {PG_URL} (set ONECARD_TEST_PG_URL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield base_settings(tmp_path, PG_URL, database_schema=schema)
    drop_schema(schema)


def drop_schema(schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

    asyncio.run(drop())


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest) -> Settings:
    """Settings on each backend: tests using this run on SQLite and on PostgreSQL."""
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    value: Settings = request.getfixturevalue(name)
    return value


@pytest.fixture
async def client(
    aiohttp_client: object, sqlite_settings: Settings
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A real gateway on SQLite, behind a real socket."""
    yield await aiohttp_client(create_app(sqlite_settings))  # type: ignore[operator]


@pytest.fixture
async def any_client(
    settings: Settings, aiohttp_client: object
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A real gateway on each backend (SQLite, PostgreSQL). ``settings`` comes first so that
    the gateway stops before a PostgreSQL schema is dropped: the drop runs on its own event
    loop, and a background worker caught inside a transaction would block it for good."""
    yield await aiohttp_client(create_app(settings))  # type: ignore[operator]


@pytest.fixture
def api(client: TestClient[web.Request, web.Application]) -> Api:
    return Api(client)


@pytest.fixture
async def world(api: Api) -> World:
    """Two enterprises (A and B), each with an admin, members, cards and terminals."""
    return await World.build(api)


@pytest.fixture
async def any_world(any_client: TestClient[web.Request, web.Application]) -> World:
    return await World.build(Api(any_client))
