"""Many rows in one statement: terminal records, ledger postings, entries and balances.

SQLAlchemy's executemany passes every parameter of every row through its column type: a
timestamp through two functions, a JSON column through ``json.dumps``, an enum through a
lookup. For a batch of a hundred terminal records that costs more than SQLite's own work. On
SQLite these functions convert the rows here instead, each distinct value once per call (a
batch holds a few timestamps, one kind and mostly empty flags), with the column types' own
converters, so what is stored is byte for byte what SQLAlchemy would store; the tuples go
straight to the driver. On PostgreSQL the same rows go through a Core statement (asyncpg's
executemany is efficient, and its types are native).

Rows are tuples of Python values, in the order of the column ``names`` given with them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.engine import inline_driver

Row = Sequence[Any]
# SQLite (3.32+) binds up to 32,766 parameters a statement; multi-row VALUES stay well below.
_MAX_PARAMS = 30_000


def _dialect(session: AsyncSession) -> Dialect:
    return session.sync_session.get_bind().dialect


def _storage(table: Table, names: Sequence[str], rows: Sequence[Row], dialect: Dialect
             ) -> list[tuple[Any, ...]]:
    """The rows in the form SQLite stores them, converted column by column with the column
    types' own converters, each distinct value once."""
    converts = _converters(table, tuple(names), dialect)
    if len(rows) == 1:  # most batches at low rates: nothing to share between rows
        return [tuple(v if c is None else c(v) for c, v in zip(converts, rows[0], strict=True))]
    columns: list[Sequence[Any]] = []
    for i, convert in enumerate(converts):
        values = [row[i] for row in rows]
        columns.append(values if convert is None else _convert(convert, values))
    return list(zip(*columns, strict=True))


_CONVERTERS: dict[tuple[Table, tuple[str, ...], Dialect], tuple[Callable[[Any], Any] | None, ...]]
_CONVERTERS = {}


def _converters(table: Table, names: tuple[str, ...], dialect: Dialect
                ) -> tuple[Callable[[Any], Any] | None, ...]:
    key = (table, names, dialect)
    found = _CONVERTERS.get(key)
    if found is None:
        found = _CONVERTERS[key] = tuple(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    return found


def _convert(convert: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    try:
        distinct = {value: convert(value) for value in set(values)}
    except TypeError:  # JSON lists and dicts are not hashable; the empty ones repeat
        empty = {list: convert([]), dict: convert({})}
        return [empty[v.__class__] if not v and v.__class__ in empty else convert(v)
                for v in values]
    return [distinct[value] for value in values]


async def _run(session: AsyncSession, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``params``: a list of rows for executemany, or one row); rows back.

    In a unit of work running inline (``gateway.db.engine.LoopConnection``) the statement
    goes straight to SQLite's connection: through SQLAlchemy the call itself would cost more
    than the statement."""
    driver = inline_driver(session)
    if driver is not None:
        try:
            if isinstance(params, list):
                driver.connection.executemany(sql, params).close()
                return []
            cursor = driver.connection.execute(sql, params)
            rows = cursor.fetchall()
            cursor.close()
            return rows
        except sqlite3.Error as exc:  # as SQLAlchemy raises it (the unit of work maps it)
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
    conn = await session.connection()
    result = await conn.exec_driver_sql(sql, params)
    return [tuple(r) for r in result] if result.returns_rows else []


def _placeholders(count: int) -> str:
    return "(" + ", ".join("?" * count) + ")"


def _names(dialect: Dialect, names: Sequence[str]) -> str:
    return ", ".join(dialect.identifier_preparer.quote(name) for name in names)


async def insert_rows(session: AsyncSession, table: Table, names: Sequence[str],
                      rows: Sequence[Row], *, ignore: Sequence[str] = ()) -> None:
    """``INSERT`` the rows. ``ignore``: the columns of a unique index; a row whose values
    there are stored already is skipped (``ON CONFLICT DO NOTHING``).

    In a unit running inline, one executemany. Through SQLite's connection thread, as few
    statements of many rows each: SQLite then does the work beside the event loop, taking
    the GIL back once a statement (an executemany releases and retakes it once a row, and
    with the event loop busy each retake waits for it)."""
    if not rows:
        return
    dialect = _dialect(session)
    if dialect.name != "sqlite":
        stmt = (pg_insert(table).on_conflict_do_nothing(index_elements=list(ignore)) if ignore
                else insert(table))
        await session.execute(stmt, [dict(zip(names, r, strict=True)) for r in rows])
        return
    head = f"INSERT INTO {table.name} ({_names(dialect, names)}) VALUES "
    tail = f" ON CONFLICT ({_names(dialect, ignore)}) DO NOTHING" if ignore else ""
    values = _storage(table, names, rows, dialect)
    if inline_driver(session) is not None:
        await _run(session, head + _placeholders(len(names)) + tail, values)
        return
    step = max(1, _MAX_PARAMS // len(names))
    for start in range(0, len(values), step):
        chunk = values[start:start + step]
        sql = head + ", ".join([_placeholders(len(names))] * len(chunk)) + tail
        await _run(session, sql, tuple(v for row in chunk for v in row))


async def insert_returning(session: AsyncSession, table: Table, names: Sequence[str],
                           rows: Sequence[Row], returning: Sequence[str]
                           ) -> list[tuple[Any, ...]]:
    """``INSERT`` the rows and return the ``returning`` columns of each, in no set order."""
    if not rows:
        return []
    dialect = _dialect(session)
    cols = [table.c[name] for name in returning]
    if dialect.name != "sqlite":
        result = await session.execute(insert(table).returning(*cols),
                                       [dict(zip(names, r, strict=True)) for r in rows])
        return [tuple(r) for r in result]
    values = _storage(table, names, rows, dialect)
    out: list[tuple[Any, ...]] = []
    step = max(1, _MAX_PARAMS // len(names))
    for start in range(0, len(values), step):
        chunk = values[start:start + step]
        sql = (f"INSERT INTO {table.name} ({_names(dialect, names)}) VALUES "
               + ", ".join([_placeholders(len(names))] * len(chunk))
               + f" RETURNING {_names(dialect, returning)}")
        flat = tuple(v for row in chunk for v in row)
        out.extend(await _run(session, sql, flat))
    return out


async def update_rows(session: AsyncSession, table: Table, names: Sequence[str],
                      rows: Sequence[Row]) -> None:
    """``UPDATE`` one row per tuple: the last name is the key that finds the row, the others
    are the columns set."""
    if not rows:
        return
    dialect = _dialect(session)
    *columns, key = names
    if dialect.name != "sqlite":
        stmt = (update(table).where(table.c[key] == bindparam(f"k_{key}"))
                .values({name: bindparam(f"v_{name}") for name in columns}))
        keys = [f"v_{name}" for name in columns] + [f"k_{key}"]
        conn = await session.connection()
        await conn.execute(stmt, [dict(zip(keys, r, strict=True)) for r in rows])
        return
    quote = dialect.identifier_preparer.quote
    sql = (f"UPDATE {table.name} SET {', '.join(f'{quote(n)} = ?' for n in columns)} "
           f"WHERE {quote(key)} = ?")
    await _run(session, sql, _storage(table, names, rows, dialect))
