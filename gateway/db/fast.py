"""Statements of the hot paths, compiled once and run on SQLite's own connection.

On this project's machines a short Core statement costs 100-400 µs of Python in SQLAlchemy
(building it, its cache key, the execution context, the async adaptation, the result rows)
and a few µs in SQLite. An OTA top-up runs some thirty of them in its two transactions, so
they, not the database, set how many top-ups a second one event loop carries.

A :class:`Query` wraps a Core statement built once (module level, ``bindparam`` for what
changes, ``expanding=True`` for ``IN`` lists). In a unit of work running inline on SQLite
(``UnitOfWork(inline=True)``: the write lock held, statements on the loop's thread; see
``gateway.db.engine.LoopConnection``), it runs
the statement's SQL text straight on the driver connection: parameters converted by the
column types' own bind processors, results by their result processors (what SQLAlchemy itself
would store and return), pending ORM changes flushed first as autoflush would. Anywhere else
(PostgreSQL, read units, units not inline) it is ``session.execute`` of the same statement.

Rows are named tuples: by position or by the statement's column keys, like SQLAlchemy's rows.
"""

from __future__ import annotations

import collections
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Executable, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from gateway.db.engine import inline_driver

Convert = Callable[[Any], Any] | None
_POSTCOMPILE = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True, slots=True)
class _Bind:
    name: str
    value: Any  # the statement's own value (a literal), used when no parameter is given
    expanding: bool
    convert: Convert


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str  # with one ``?`` per bind, "__[POSTCOMPILE_name]" for each expanding one
    binds: tuple[_Bind, ...]
    expanding: bool
    row: Any  # the named tuple class of result rows, None without result
    converts: tuple[Convert, ...]


class Query:
    """A statement run often: see the module docstring."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        if not isinstance(statement, Select | UpdateBase):
            raise TypeError("fast.Query runs a SELECT, INSERT, UPDATE or DELETE")
        self.statement = statement
        self._compiled: _Compiled | None = None

    async def rows(self, session: AsyncSession, params: Mapping[str, Any] | None = None
                   ) -> list[Any]:
        """The result rows (a SELECT, or a DML statement with RETURNING)."""
        return await self._execute(session, params or {}, True)

    async def run(self, session: AsyncSession, params: Mapping[str, Any] | None = None
                  ) -> None:
        """Execute a statement whose result nobody reads."""
        await self._execute(session, params or {}, False)

    async def run_many(self, session: AsyncSession, params: Sequence[Mapping[str, Any]]
                       ) -> int:
        """Execute the statement once per parameter set (an executemany; no ``IN`` lists).
        A Core statement on a ``Table``: on a mapped class SQLAlchemy would take a list of
        parameters for its ORM bulk update by primary key. Returns the rows changed, as the
        driver counts them (SQLite: every row inserted or updated; -1 where a driver cannot).

        Inline on SQLite, each parameter's values are converted column-wise, each distinct
        value once (a batch shares its timestamps and states), and go to the driver's own
        executemany; elsewhere it is ``session.execute`` with the list."""
        if not params:
            return 0
        driver = inline_driver(session)
        if driver is None:
            result = await session.execute(self.statement, list(params))
            return int(getattr(result, "rowcount", -1))
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _compile(self.statement, session.get_bind().dialect)
        if compiled.expanding:
            raise TypeError("run_many takes no IN lists")
        if session.new or session.dirty or session.deleted:
            await session.flush()
        columns = []
        for bind in compiled.binds:
            name, default = bind.name, bind.value
            values = [p.get(name, default) for p in params]
            columns.append(values if bind.convert is None else _convert(bind.convert, values))
        rows = list(zip(*columns, strict=True))
        try:
            cursor = driver.connection.executemany(compiled.sql, rows)
        except sqlite3.Error as exc:  # as SQLAlchemy raises it (the unit of work maps it)
            raise DBAPIError.instance(compiled.sql, rows, exc, sqlite3.Error) from exc
        changed: int = cursor.rowcount
        cursor.close()
        return changed

    async def _execute(self, session: AsyncSession, params: Mapping[str, Any],
                       rows: bool) -> list[Any]:
        driver = inline_driver(session)
        if driver is not None:
            compiled = self._compiled
            if compiled is None:
                compiled = self._compiled = _compile(self.statement, session.get_bind().dialect)
            bound = _bind(compiled, params)
            if bound is not None:  # None: an empty IN list, which SQLAlchemy renders
                if session.new or session.dirty or session.deleted:
                    await session.flush()  # as SQLAlchemy's autoflush before a statement
                found = _rows(driver.connection, compiled, *bound)
                return found if rows else []
        result = await session.execute(self.statement, params)
        return list(result.all()) if rows else []


def _rows(conn: sqlite3.Connection, compiled: _Compiled, sql: str, values: list[Any]
          ) -> list[Any]:
    try:
        cursor = conn.execute(sql, values)
        found = cursor.fetchall() if compiled.row is not None else []
        cursor.close()
    except sqlite3.Error as exc:  # as SQLAlchemy raises it (the unit of work maps it)
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
    if compiled.row is None:
        return []
    make, converts = compiled.row._make, compiled.converts
    if not any(converts):
        return [make(r) for r in found]
    return [make([v if c is None else c(v) for c, v in zip(converts, r, strict=True)])
            for r in found]


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    assert isinstance(statement, Select | UpdateBase)
    compiled = statement.compile(dialect=dialect)
    if compiled.positiontup is None:
        raise TypeError("fast.Query needs a positional dialect (SQLite)")
    binds = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append(_Bind(name, bind.value, bool(bind.expanding), convert))
    selected = (statement.selected_columns if isinstance(statement, Select)
                else statement.exported_columns)  # DML: its RETURNING
    columns = [(str(key), column) for key, column in selected.items()]
    row_type: Any = None
    converts: tuple[Convert, ...] = ()
    if columns:
        row_type = _row_class([k for k, _ in columns])
        converts = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                         for _, c in columns)
    return _Compiled(compiled.string, tuple(binds), any(b.expanding for b in binds), row_type,
                     converts)


def _convert(convert: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``convert`` applied to each value, each distinct one once (unhashable ones each time)."""
    try:
        done = {value: convert(value) for value in set(values)}
    except TypeError:
        return [convert(v) for v in values]
    return [done[v] for v in values]


def _row_class(keys: list[str]) -> Any:
    return collections.namedtuple("Row", keys, rename=True)


def _bind(compiled: _Compiled, params: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    """The SQL text and its parameters in order, converted; None for an empty IN list."""
    values: list[Any] = []
    lengths: dict[str, int] = {}
    for bind in compiled.binds:
        value = params.get(bind.name, bind.value)
        convert = bind.convert
        if bind.expanding:
            items = list(value)
            if not items:
                return None
            lengths[bind.name] = len(items)
            values.extend(items if convert is None else [convert(v) for v in items])
        else:
            values.append(value if convert is None else convert(value))
    if not compiled.expanding:
        return compiled.sql, values
    sql = _POSTCOMPILE.sub(lambda m: ", ".join("?" * lengths[m.group(1)]), compiled.sql)
    return sql, values
