"""The busiest statements of a device, run on the DB-API connection, compiled once.

Through SQLAlchemy, a small statement costs ~100 µs on top of SQLite's own work on this
project's machine (its cache key, an execution context, a result object), and a booking runs
about ten. A `Prepared` statement is compiled once to its SQL and parameter order, with the bind
and result conversions of its columns' types (SQLAlchemy's own), and then runs on the
transaction's DB-API connection: the same SQL with the same values, for ~10 µs of Python.

Only on SQLite; elsewhere (the server on PostgreSQL) a `Prepared` runs through SQLAlchemy like
any statement. Like any table-column statement, it does not autoflush. The server writes the rows
of a push with it too (server_stub/rows.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Column, Connection, Insert, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

_DRIVER = "driver_connection"  # session.info: (transaction, its DB-API connection)

Processor = Callable[[Any], Any] | None


class _Asked(NamedTuple):
    """A placeholder the caller fills: its place, its name, its type's conversion and, for an
    INSERT's column, its default (for a row that leaves it out)."""

    at: int
    name: str
    process: Processor
    default: Callable[[], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    template: tuple[Any, ...]  # per placeholder: a value fixed in the statement, converted; or None
    asked: tuple[_Asked, ...]
    results: tuple[Processor, ...]


class Prepared:
    """A SELECT or INSERT with named `bindparam`s, compiled for SQLite on first use."""

    __slots__ = ("_compiled", "columns", "statement")

    def __init__(self, statement: Select[Any] | Insert, *, columns: Sequence[str] | None = None):
        """`columns`: for an INSERT, the columns its rows give (by default, every column)."""
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._compiled: _Compiled | None = None

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        connection = _driver_connection(session)
        if connection is None:
            return [tuple(row) for row in session.execute(self.statement, params)]
        compiled = self._compile(session)
        with _as_sqlalchemy_errors(compiled.sql):
            rows = connection.execute(compiled.sql, _values(compiled, params)).fetchall()
        if not any(compiled.results):
            return rows
        return [
            tuple(v if p is None else p(v) for v, p in zip(row, compiled.results, strict=True))
            for row in rows
        ]

    def first(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def scalar(self, session: Session, params: Mapping[str, Any]) -> Any:
        row = self.first(session, params)
        return None if row is None else row[0]

    def execute(
        self, on: Session | Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Run an INSERT for one row (a mapping) or many (a list of them), in a session's
        transaction or on a connection."""
        connection = _driver_connection(on) if isinstance(on, Session) else _driver_of(on)
        if connection is None:
            (on.connection() if isinstance(on, Session) else on).execute(self.statement, params)
            return
        compiled = self._compile(on)
        with _as_sqlalchemy_errors(compiled.sql):
            if isinstance(params, Mapping):
                connection.execute(compiled.sql, _values(compiled, params))
            else:
                connection.executemany(compiled.sql, [_values(compiled, p) for p in params])

    def _compile(self, on: Session | Connection) -> _Compiled:
        if self._compiled is None:
            dialect = on.get_bind().dialect if isinstance(on, Session) else on.dialect
            self._compiled = _compile(self.statement, dialect, self.columns)
        return self._compiled


@contextmanager
def _as_sqlalchemy_errors(sql: str) -> Iterator[None]:
    """SQLite's errors as SQLAlchemy raises them (a unique index: `sqlalchemy.exc.IntegrityError`),
    so callers catch the same exceptions whichever way a statement ran."""
    try:
        yield
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from error


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    out = list(compiled.template)
    for at, name, process, default in compiled.asked:
        if name in params:
            value = params[name]
        elif default is not None:
            value = default()
        elif compiled.results:
            raise KeyError(name)  # a SELECT's parameter not given
        else:
            continue  # an INSERT's column the row leaves out, with no default: NULL
        # A None given is converted too, as SQLAlchemy does: a JSON column stores the text `null`.
        out[at] = value if process is None else process(value)
    return out


def _compile(statement: Select[Any] | Insert, dialect: Dialect, columns: list[str] | None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=columns)
    asked = {
        bind.key: bind
        for bind in compiled.binds.values()
        if bind.required or (isinstance(statement, Insert) and bind.value is None)
    }
    if any(bind.expanding for bind in asked.values()):
        raise TypeError("a Prepared statement takes no expanding (IN list) parameter from its caller")
    # The expanded state renders each IN list of constants as one placeholder per value.
    expanded = compiled.construct_expanded_state(dict.fromkeys(asked))
    template: list[Any] = []
    placeholders: list[_Asked] = []
    for at, name in enumerate(expanded.positiontup or ()):
        if name in asked:
            process = asked[name].type.dialect_impl(dialect).bind_processor(dialect)
            placeholders.append(_Asked(at, name, process, _default_of(statement, name)))
            template.append(None)
        else:
            value = expanded.parameters[name]
            process = _type_of(compiled, name).dialect_impl(dialect).bind_processor(dialect)
            template.append(value if process is None else process(value))
    results: Iterable[Processor] = (
        (
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        if isinstance(statement, Select)
        else ()
    )
    return _Compiled(expanded.statement, tuple(template), tuple(placeholders), tuple(results))


def _default_of(statement: Select[Any] | Insert, name: str) -> Callable[[], Any] | None:
    if not isinstance(statement, Insert):
        return None
    return python_default(statement.table.c[name])


def python_default(column: Column[Any]) -> Callable[[], Any] | None:
    """A column's Python-side default, as a function of nothing (SQLAlchemy applies it only in its
    own INSERTs); None if it has none."""
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        return None
    if default.is_scalar:
        return lambda: default.arg
    return lambda: default.arg(None)


def _type_of(compiled: Any, name: str) -> Any:
    """The type of a placeholder: an expanded IN list's `status_1_2` has the type of `status_1`."""
    by_name = {compiled.bind_names[bind]: bind for bind in compiled.bind_names}
    bind = by_name[name] if name in by_name else by_name[name.rsplit("_", 1)[0]]
    return bind.type


def _driver_connection(session: Session) -> Any:
    """The DB-API connection of the session's transaction, if it is SQLite's, else None."""
    transaction = session.get_transaction()
    memo = session.info.get(_DRIVER)
    if transaction is not None and memo is not None and memo[0] is transaction:
        return memo[1]
    driver = _driver_of(session.connection())  # ~40 µs: once per transaction
    session.info[_DRIVER] = (session.get_transaction(), driver)
    return driver


def _driver_of(connection: Connection) -> Any:
    return connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
