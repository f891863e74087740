"""Applying one pulled page of changes to the local store (SYNC.md, "Pull").

One page, one local write transaction, no journaling (plain SQL on the writer engine, values
converted by desktop.sync.rowcodec):

1. every change is decoded and upserted by id — all its data fields plus `version`, `hlc` and
   `deleted` — with SQLite's `INSERT ... ON CONFLICT(id) DO UPDATE`, one executemany per entity
   (and per set of fields: a kiosk gets clinicians without their password hash);
2. **rebase**: a row that still has `pending` or `sent` journal ops keeps the server's row with
   those ops' fields re-applied on top, in journal order; the ops will be pushed and merged by
   the server, and the row's next pulled change will be the merged result;
3. the page's `next` becomes the pull cursor in the same transaction, so a crash never skips or
   repeats a page.

Two things the changes feed makes necessary:

- **Foreign keys are off while a page is applied.** The feed keeps only each row's latest
  change, so an appointment can arrive before the patient it refers to (whose entry moved later
  in the feed). `PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched on the
  raw connection before `BEGIN` and back on after the commit; a connection that cannot be
  restored is thrown away rather than returned to the pool. The server enforces references.
- **Unique values move between rows.** The server holds the same unique rules as the device,
  and the page holds the server's current rows, so a local row that holds a value a pulled row
  now has is either stale (its own newer change follows in the feed) or local-only (and the
  server will refuse it). Seats (the partial index `uq_appointment_slot_seat`) are cleared
  before the write: the server assigns seats. Other unique values (codes, usernames, token
  numbers) are rarer: on a unique violation the page falls back to row-by-row writes and the
  other local holder of the value is dropped (it comes back with its own change); a rebased
  row yields its seat to the server's rows instead of taking one.

The pulled rows never touch `device_state` but for the cursor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, Table, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError

from desktop.domain.appointments import ACTIVE_STATUSES
from desktop.domain.reasons import Reason
from desktop.store.models import ENTITY_MODELS, Appointment, JournalOp, Synced
from desktop.sync.errors import ServerError
from desktop.sync.protocol import Change
from desktop.sync.rowcodec import stored_now, to_storage

UNANSWERED = ("pending", "sent")
IN_CHUNK = 500  # ids per IN (...) list
ACTIVE = frozenset(s.value for s in ACTIVE_STATUSES)
ACTIVE_SQL = ", ".join(f"'{s}'" for s in sorted(ACTIVE))
# The rows of the partial unique index uq_appointment_slot_seat, other than the one being written.
SEAT_HOLDERS = (
    "clinician_id = ? AND starts_at = ? AND seat = ? AND id != ? "
    f"AND seat IS NOT NULL AND deleted = 0 AND status IN ({ACTIVE_SQL})"
)
FREE_SEAT = f"UPDATE appointment SET seat = NULL WHERE {SEAT_HOLDERS}"
SEAT_TAKEN = f"SELECT 1 FROM appointment WHERE {SEAT_HOLDERS} LIMIT 1"

journal = JournalOp.__table__  # type: ignore[attr-defined]

Row = dict[str, Any]  # column -> the value SQLite stores


class CursorMoved(Exception):
    """Another sync of this data dir applied the page first; start again from the stored cursor."""


@contextmanager
def foreign_keys_off(engine: Engine) -> Iterator[Connection]:
    """A connection of `engine` with SQLite foreign-key enforcement off, restored afterwards."""
    conn = engine.connect()
    raw = conn.connection.dbapi_connection
    assert raw is not None
    restored = False
    try:
        raw.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, or it is ignored
        yield conn
    finally:
        try:
            if conn.in_transaction():
                conn.rollback()
            raw.execute("PRAGMA foreign_keys=ON")
            restored = raw.execute("PRAGMA foreign_keys").fetchone() == (1,)
        finally:
            if not restored:
                conn.invalidate()  # never hand a connection without foreign keys to anyone else
            conn.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@cache
def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(_quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns if c != "id")
    return f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}"


@cache
def _unique_column_sets(model: type[Synced]) -> tuple[tuple[str, ...], ...]:
    table: Table = model.__table__  # type: ignore[attr-defined]
    out = [tuple(c.key for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)]
    out += [(c.key,) for c in table.columns if c.unique and (c.key,) not in out]
    return tuple(out)


class PageWriter:
    """Writes one page inside the caller's transaction on a foreign-keys-off connection."""

    def __init__(self, conn: Connection, *, now: datetime):
        self.conn = conn
        self.now = stored_now(now)
        self.rebased = 0

    def apply(self, changes: Sequence[Change], *, since: int, next_cursor: int) -> None:
        stored = self.conn.exec_driver_sql("SELECT pull_cursor FROM device_state WHERE id = 1").scalar()
        if stored != since:
            raise CursorMoved(stored)
        by_entity: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_entity[change.entity].append(change)
        pending = self._pending_ops([c.id for c in changes])
        for entity, group in by_entity.items():
            model = ENTITY_MODELS.get(entity)
            if model is None:
                continue  # an entity this version of the app does not keep
            plain: list[Row] = []
            rebased: list[Row] = []
            for change in group:
                row = self._row(model, change)
                ops = pending.get(change.id)
                if ops:
                    self._rebase(model, row, ops)
                    rebased.append(row)
                else:
                    plain.append(row)
            if model is Appointment:
                self._free_seats(plain)
            self._write(model, plain)
            for row in rebased:
                if model is Appointment:
                    self._yield_seat(row)
                self._write(model, [row])
            self.rebased += len(rebased)
        self.conn.exec_driver_sql("UPDATE device_state SET pull_cursor = ? WHERE id = 1", (next_cursor,))

    def _row(self, model: type[Synced], change: Change) -> Row:
        try:
            row = to_storage(model, change.data)
        except (TypeError, ValueError) as exc:
            raise ServerError(
                Reason.of("sync.unreadable_row", entity=change.entity, problem=str(exc))
            ) from None
        row.update(
            id=change.id,
            version=change.version,
            hlc=change.hlc,
            deleted=1 if change.deleted else 0,
            updated_at=self.now,
        )
        return row

    def _pending_ops(self, ids: list[str]) -> dict[str, list[tuple[dict[str, Any], str]]]:
        """Unanswered journal ops of the page's rows, by row id, in journal order."""
        out: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
        anything = self.conn.execute(
            select(journal.c.seq).where(journal.c.status.in_(UNANSWERED)).limit(1)
        ).first()
        if anything is None:
            return out
        for start in range(0, len(ids), IN_CHUNK):
            rows = self.conn.execute(
                select(journal.c.entity_id, journal.c.data, journal.c.hlc)
                .where(
                    journal.c.status.in_(UNANSWERED), journal.c.entity_id.in_(ids[start : start + IN_CHUNK])
                )
                .order_by(journal.c.seq)
            )
            for entity_id, data, hlc in rows:
                out[entity_id].append((data, hlc))
        return out

    @staticmethod
    def _rebase(model: type[Synced], row: Row, ops: Iterable[tuple[dict[str, Any], str]]) -> None:
        """The server's row with this device's unanswered changes on top, in the order they were made."""
        for data, hlc in ops:
            row.update(to_storage(model, data))
            row["hlc"] = max(row["hlc"] or "", hlc)

    def _free_seats(self, rows: Sequence[Row]) -> None:
        """Clear the seat of any other local active appointment holding a pulled row's seat."""
        params = [(r["clinician_id"], r["starts_at"], r["seat"], r["id"]) for r in rows if _holds_seat(r)]
        if params:
            self.conn.exec_driver_sql(FREE_SEAT, params)

    def _yield_seat(self, row: Row) -> None:
        """A rebased (still local) appointment gives up its seat if a server row holds it."""
        if _holds_seat(row):
            params = (row["clinician_id"], row["starts_at"], row["seat"], row["id"])
            if self.conn.exec_driver_sql(SEAT_TAKEN, params).first() is not None:
                row["seat"] = None

    def _write(self, model: type[Synced], rows: Sequence[Row]) -> None:
        by_columns: dict[tuple[str, ...], list[Row]] = defaultdict(list)
        for row in rows:
            by_columns[tuple(row)].append(row)  # same-shaped changes keep one key order
        for columns, group in by_columns.items():
            sql = _upsert_sql(model.__tablename__, columns)  # type: ignore[attr-defined]
            params = list(map(itemgetter(*columns), group))
            try:
                with self.conn.begin_nested():
                    self.conn.exec_driver_sql(sql, params)
            except IntegrityError:
                for row, values in zip(group, params, strict=True):
                    self._write_one(model, sql, row, values)

    def _write_one(self, model: type[Synced], sql: str, row: Row, values: tuple[Any, ...]) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.exec_driver_sql(sql, values)
            return
        except IntegrityError:
            pass
        table = _quote(model.__tablename__)  # type: ignore[attr-defined]
        for columns in _unique_column_sets(model):
            if all(row.get(k) is not None for k in columns):
                match = " AND ".join(f"{_quote(k)} = ?" for k in columns)
                self.conn.exec_driver_sql(
                    f"DELETE FROM {table} WHERE {match} AND id != ?", (*(row[k] for k in columns), row["id"])
                )
        self.conn.exec_driver_sql(
            sql, values
        )  # a violation left now is a real bug: let it roll the page back


def _holds_seat(row: Row) -> bool:
    return row.get("seat") is not None and not row.get("deleted") and row.get("status") in ACTIVE
