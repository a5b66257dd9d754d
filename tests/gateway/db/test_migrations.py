"""Alembic migrations on both backends: they build exactly the models' schema, they are
idempotent, and they go down and up again."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gateway.db.engine import Database
from gateway.db.migrate import alembic_config, current_revision, head_revision
from gateway.db.models import Base
from gateway.settings import Settings


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_the_models_schema(settings: Settings) -> None:
    database = Database(settings)
    try:
        await database.migrate()
        await database.migrate()  # a second start finds nothing to do
        async with database.engine.connect() as conn:
            assert await conn.run_sync(current_revision) == head_revision()
            assert await conn.run_sync(_diff) == []
    finally:
        await database.dispose()


async def test_downgrade_and_upgrade_again(settings: Settings) -> None:
    database = Database(settings)
    try:
        await database.migrate()
        async with database.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        async with database.engine.connect() as conn:
            assert await conn.run_sync(current_revision) is None
        await database.migrate()
        async with database.engine.connect() as conn:
            rows = await conn.execute(text("SELECT count(*) FROM cards"))
            assert rows.scalar_one() == 0
    finally:
        await database.dispose()


async def test_ping_reports_an_unreachable_database(tmp_path: Any) -> None:
    settings = Settings.for_database(
        tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    database = Database(settings)
    try:
        assert await database.ping() is False
    finally:
        await database.dispose()
