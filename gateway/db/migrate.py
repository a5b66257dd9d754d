"""Alembic, driven from code: the migrations ship inside the package, so an installed wheel can
migrate its database on start (``Database.migrate``) without an ``alembic.ini`` on disk.

Developers create a revision with::

    python -m gateway.db.migrate revision -m "what changed"
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _main(argv: list[str]) -> int:
    """``revision -m MSG [--url URL]``: autogenerate a revision against a migrated database."""
    import argparse
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    parser = argparse.ArgumentParser(prog="python -m gateway.db.migrate")
    parser.add_argument("action", choices=["revision"])
    parser.add_argument("-m", "--message", required=True)
    parser.add_argument("--url", default="sqlite+aiosqlite:///migrate-scratch.sqlite")
    args = parser.parse_args(argv)

    async def go() -> None:
        engine = create_async_engine(args.url)
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to_head)
            await conn.run_sync(
                lambda c: command.revision(
                    alembic_config(c), message=args.message, autogenerate=True
                )
            )
        await engine.dispose()

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
