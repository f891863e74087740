"""The server's database: SQLite (one clinic) or PostgreSQL (`DATABASE_URL`), same schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    create_engine,
    insert,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import String

from desktop.store.engine import sqlite_engine
from desktop.store.prepared import Prepared, python_default
from desktop.store.private import private_file

Processor = Callable[[Any], Any] | None

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def normalise_url(url: str) -> str:
    """`postgresql://` URLs use psycopg 3 (the `postgres` extra), not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_server_engine(url: str, *, read_only: bool = False) -> Engine:
    """The engine for request transactions; `read_only` for pulls and listings.

    On SQLite every writing transaction takes the write lock up front: writers are serial, so
    change-log seqs commit in order (SYNC.md point 7) with no further locking, and readers
    (plain `BEGIN`, WAL) never wait for them. On PostgreSQL one engine serves both.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database, "a SQLite server database needs a file"
        return sqlite_engine(Path(parsed.database), begin="BEGIN" if read_only else "BEGIN IMMEDIATE")
    # No ping before each use of a pooled connection: it is a round trip for every request. After
    # PostgreSQL restarts, the first request on a dead connection fails with a 503 (nothing
    # written; devices retry it) and SQLAlchemy replaces the pool's connections.
    return create_engine(url, pool_size=10, max_overflow=40)


def migrate(url: str, revision: str = "head") -> None:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        private_file(Path(parsed.database))  # before SQLite makes it with the umask's mode
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`column IN (...)` for the list of strings bound as `name`. On PostgreSQL `column = ANY(:name)`:
    one array parameter instead of one per value, which PostgreSQL parses and plans in about a
    third of the time for a page of 1,000 ids (measured: 17–23 ms → 6–13 ms a query)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


# From this many rows on, a table's rows go by COPY (`insert_rows`); a push of fewer ops sends all
# its writes in one pipeline (apply.py), which cannot hold a COPY. A COPY costs two round trips, a
# pipeline one for everything; per row COPY costs ~3 µs of the server's Python against ~9 for an
# INSERT, so it is quicker from ~20 rows on even on an idle machine, and a busy server waits
# longer for each round trip.
COPY_MIN_ROWS = 100


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, send the block's statements without waiting for each one's answer: one round
    trip for all of them (psycopg's pipeline mode). Only for statements whose results nobody reads
    (inserts, updates): a query's rows are not there until the block ends. An error is raised by a
    later statement of the block or at its end, as SQLAlchemy's error either way. `insert_rows`
    does not COPY in the block."""
    if conn.dialect.name != "postgresql":
        yield
        return
    # An error may be raised by the pipeline's end, not through SQLAlchemy.
    with _driver_errors(None), conn.connection.driver_connection.pipeline():
        yield


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows that all give the same columns; the table's other columns take their defaults.

    On PostgreSQL, `COPY_MIN_ROWS` or more go by `COPY ... FROM STDIN` (outside a pipeline):
    psycopg's `executemany` sends each row as a statement of its own, and a push of 1,000 ops writes
    ~4,000 rows (its rows, merge bases, change-log entries and answers). COPY takes the same values,
    converted by the same SQLAlchemy column types. A refused row (a unique or foreign key) fails the
    COPY, as SQLAlchemy's IntegrityError. Else, and on SQLite, `Prepared`'s executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    driver = conn.connection.driver_connection if conn.dialect.name == "postgresql" else None
    if driver is None or len(rows) < COPY_MIN_ROWS or driver.pgconn.pipeline_status:
        _prepared_insert(table, columns).execute(conn, rows)
        return
    plan = _copy_plan(table, columns, conn.dialect)
    with _driver_errors(plan.sql), driver.cursor() as cursor, cursor.copy(plan.sql) as copy:
        for row in rows:
            copy.write_row(plan.values(row))


@cache
def _prepared_insert(table: Table, columns: tuple[str, ...]) -> Prepared:
    # `inline()`: no RETURNING of a generated key (a change-log seq) that nobody reads. In a
    # pipeline, reading it would wait for the answers of everything sent before.
    return Prepared(insert(table).inline(), columns=columns)


@dataclass(frozen=True)
class _CopyPlan:
    """The COPY of rows giving some columns: each given value, then each default of a column they
    leave out, converted by its column type's bind processor (as SQLAlchemy's INSERT would)."""

    sql: str
    given: tuple[tuple[str, Processor], ...]
    defaults: tuple[tuple[Callable[[], Any], Processor], ...]

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        out = [row[key] if process is None else process(row[key]) for key, process in self.given]
        out += [default() if process is None else process(default()) for default, process in self.defaults]
        return out


@cache
def _copy_plan(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _CopyPlan:
    def processor(column: Column[Any]) -> Processor:
        return column.type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]

    given = tuple((key, processor(table.c[key])) for key in columns)
    defaults: list[tuple[Callable[[], Any], Processor]] = []
    names = list(columns)
    for column in table.columns:
        default = python_default(column) if column.key not in columns else None
        if default is not None:
            defaults.append((default, processor(column)))
            names.append(column.key)
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(table.c[n].name) for n in names)}) FROM STDIN"
    return _CopyPlan(sql, given, tuple(defaults))


@contextmanager
def _driver_errors(statement: str | None) -> Iterator[None]:
    """psycopg's errors, from calls made on its connection directly, as SQLAlchemy raises them (a
    unique violation: `sqlalchemy.exc.IntegrityError`)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
