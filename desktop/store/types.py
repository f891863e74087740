"""Column types: aware UTC datetimes on every backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns an aware UTC datetime; refuses naive input (a bug, not data)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970 of a `UTCDateTime` column, computed by the database.

    For reads of thousands of rows where only the instant matters (the booked intervals behind
    free slots): no datetime object is built per value, which is most of the cost in Python.
    """

    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"

    def __init__(self, column: ColumnElement[datetime]):
        super().__init__(column)


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as naive UTC text ('2026-03-02 08:00:00.000000'); unixepoch() needs SQLite 3.38.
    arg = compiler.process(element.clauses, **kw)
    if compiler.dialect.dbapi is not None and compiler.dialect.dbapi.sqlite_version_info >= (3, 38):
        return f"unixepoch({arg})"
    return f"CAST(strftime('%s', {arg}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class IntList(TypeDecorator[list[int]]):
    """The result of `int_list`: a list of integers, whichever form the database sends it in."""

    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[int]:
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else list(value)


class int_list(FunctionElement[list[int]]):
    """An aggregate: the integers of a group, as one list (in the order the rows are read).

    Tens of thousands of result rows cost ~1 µs each in the driver alone; one row per group
    with its values in a JSON array (SQLite) or an array (PostgreSQL) costs a tenth of that.
    """

    type = IntList()
    inherit_cache = True
    name = "int_list"

    def __init__(self, expression: ColumnElement[int]):
        super().__init__(expression)


@compiles(int_list, "sqlite")
def _int_list_sqlite(element: int_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(int_list, "postgresql")
def _int_list_postgresql(element: int_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"array_agg({compiler.process(element.clauses, **kw)})"
