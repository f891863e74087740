"""Writing a synced row on the server: version bump, merge base (`row_change`) and the changes feed.

Pushes, conflict resolutions and admin tools all write through `RowWriter`, so every change a
device must see gets exactly one new, strictly increasing seq in the clinic's change log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from itertools import groupby
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Delete,
    MetaData,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import new_id
from desktop.store.models import Appointment, Patient, SyncConflict, Synced
from server_stub.db import insert_rows, one_of
from server_stub.lookups import LookAlikes, SeatHolder, SeatHolders, TakenCodes, same_person_key
from server_stub.models import AppliedOp, ChangeLog, ClinicLock, RowChange

# The statements of the hot path, built once and executed with parameters: building a statement
# costs more than running it on SQLite (SQLAlchemy derives a cache key from every value in it).
T = TypeVar("T")
ROW_ID = "b_row_id"  # bind names no column has
ROW_IDS = "b_row_ids"
PREFETCH_CHUNK = 500  # ids per IN (...)


@cache
def _select_by_id(table: Table) -> Select[Any]:
    return select(table).where(table.c.id == bindparam(ROW_ID))


@cache
def _select_by_ids(table: Table, dialect: str) -> Select[Any]:
    return select(table).where(one_of(table.c.id, ROW_IDS, dialect))


@cache
def _select_code(table: Table) -> Select[Any]:
    return select(table.c.id).where(table.c.code == bindparam("b_code")).limit(1)


@cache
def _update_by_id(table: Table) -> Update:
    return update(table).where(table.c.id == bindparam(ROW_ID))


# Rows with a unique human code (`PAT-7K3Q9`, `APT-…`) that two devices may draw alike offline.
CODED: tuple[type[Synced], ...] = (Patient, Appointment)

UNLOG: Delete = delete(ChangeLog).where(
    ChangeLog.entity == bindparam("b_entity"), ChangeLog.entity_id == bindparam("b_entity_id")
)


@cache
def _table_order(metadata: MetaData) -> dict[Table, int]:
    return {table: at for at, table in enumerate(metadata.sorted_tables)}


_LOCK = select(ClinicLock.clinic_id).where(ClinicLock.clinic_id == bindparam("b_clinic")).with_for_update()


def lock_clinic(conn: Connection, clinic_id: str) -> None:
    """Serialise the clinic's writers until commit (PostgreSQL; SQLite writers are already serial).
    One statement once the clinic's lock row exists; the clinic's first writer makes it."""
    if conn.dialect.name != "postgresql":
        return
    if conn.execute(_LOCK, {"b_clinic": clinic_id}).first() is None:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(ClinicLock).values(clinic_id=clinic_id).on_conflict_do_nothing())
        conn.execute(_LOCK, {"b_clinic": clinic_id})


@dataclass(frozen=True)
class Existing:
    """What of a push is on the server already (`existing_rows`)."""

    rows: set[tuple[str, str]]  # (entity, id)
    answered: set[str]  # op ids
    codes_asked: set[tuple[str, str]]  # (entity, human code) looked for
    codes: set[tuple[str, str]]  # of those, the taken ones


def existing_rows(
    conn: Connection,
    ids: Mapping[type[Synced], Iterable[str]],
    op_ids: Iterable[str] = (),
    codes: Mapping[type[Synced], Iterable[str]] | None = None,
    *,
    clinic_id: str,
) -> Existing:
    """Which of these rows exist, which of `op_ids` were answered already for `clinic_id` (op ids
    are answered per clinic, never across) and which of these human codes are taken, in one plain
    statement (a push holds at most 1000 ids; SQLAlchemy would build a new statement for every mix
    of tables and counts).

    On PostgreSQL each list is one array parameter (`= ANY(%s)`): the statement's text then depends
    only on which tables are asked about, so psycopg converts it once and PostgreSQL plans a short
    statement, instead of thousands of placeholders every push (~10% of a push's time)."""
    postgres = conn.dialect.name == "postgresql"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    asked = [("row", m.__entity__, m.__tablename__, "id", list(v)) for m, v in ids.items()]  # type: ignore[attr-defined]
    asked.append(("op", "", AppliedOp.__tablename__, "op_id", list(op_ids)))
    asked += [("code", m.__entity__, m.__tablename__, "code", list(v)) for m, v in (codes or {}).items()]  # type: ignore[attr-defined]
    parts: list[str] = []
    params: list[Any] = []
    for kind, entity, table, column, values in asked:
        if values:
            select_ = f"SELECT '{kind}', '{entity}', {column} FROM {quote(table)}"
            if postgres:
                where = f"{column} = ANY({mark})"
                params.append(values)
            else:
                where = f"{column} IN ({', '.join(mark for _ in values)})"
                params += values
            if kind == "op":
                where += f" AND clinic_id = {mark}"
                params.append(clinic_id)
            parts.append(f"{select_} WHERE {where}")
    codes_asked = {(m.__entity__, code) for m, values in (codes or {}).items() for code in values}
    found = Existing(set(), set(), codes_asked, set())
    if parts:
        for kind, entity, value in conn.exec_driver_sql(" UNION ALL ".join(parts), tuple(params)):
            if kind == "op":
                found.answered.add(value)
            else:
                (found.rows if kind == "row" else found.codes).add((entity, value))
    return found


class RowWriter:
    """Writes synced rows with their merge base and change-log entry.

    `deferred=True` (pushes) keeps the merge-base and change-log writes in memory until `flush()`,
    which writes them in two or three statements instead of three per change; the caller must
    flush before the transaction commits. `mark()` / `discard(mark)` drop what an op that was
    rolled back to its savepoint had queued. Nothing reads the change log inside a push, and
    `fields_changed_since` sees the queued merge bases too, so every answer is the same.

    `batched=True` (with `deferred`) also keeps new rows in memory, and writes them a statement per
    table (parents first) when anything else is about to use the connection: `conn`, an update,
    a read, `flush()`. Every read therefore sees them, but a refused insert (a unique or foreign
    key error) surfaces later than the op that made it, so only a pass that is rolled back whole
    on any error may batch (the first pass of apply.push_together).
    """

    def __init__(
        self,
        conn: Connection,
        *,
        clinic_id: str,
        clock: HybridLogicalClock,
        now: datetime,
        deferred: bool = False,
        batched: bool = False,
        locked: bool = False,
        savepoint: str | None = None,
    ):
        assert deferred or not batched, "batched rows need deferred change-log writes"
        self._conn = conn
        self.clinic_id = clinic_id
        self.clock = clock
        self.now = now
        self.deferred = deferred
        self.batched = batched
        self.savepoint = savepoint  # opened before the writer's first write (`writing`)
        self.savepoint_open = False
        self._rows: list[tuple[Table, dict[str, Any]]] = []  # inserts not written yet (batched)
        # What the writes of a batched pass read, kept current as it writes (lookups.py).
        self.seats = SeatHolders() if batched else None
        self.look_alikes = LookAlikes(clinic_id) if batched else None
        self.codes = TakenCodes() if batched else None
        self._known: dict[tuple[str, str], RowMapping | None] = {}  # prefetched rows, untouched since
        self._writes: Counter[str] = Counter()  # rows written per entity; "*": rollbacks
        self._memo: dict[Hashable, tuple[tuple[int, ...], Any]] = {}
        self.owners: dict[tuple[str, str], Any] = {}  # (entity, id) -> its clinic (authorise.py)
        self._changes: list[dict[str, Any]] = []  # row_change rows not written yet
        self._logged: list[tuple[str, str]] = []  # (entity, id) to (re)announce, in order
        self._created: list[tuple[str, str]] = []  # rows this writer inserted: none has a log entry yet
        # Taken before the first write and held to commit, whoever writes: pushes, conflict
        # resolutions and admin tools alike (`locked`: the caller has taken it already).
        if not locked:
            lock_clinic(conn, clinic_id)

    @property
    def conn(self) -> Connection:
        """The transaction's connection, with every row queued so far written."""
        self._write_rows()
        return self._conn

    def writing(self) -> None:
        """Open the writer's savepoint, if it has one, before its first write: a pass that only
        reads and then writes at the end sends the savepoint with its writes (db.pipelined)."""
        if self.savepoint and not self.savepoint_open:
            self._conn.exec_driver_sql(f"SAVEPOINT {self.savepoint}")
            self.savepoint_open = True

    def mark(self) -> tuple[int, int, int]:
        assert not self.batched, "a batched pass is rolled back whole, never op by op"
        return len(self._changes), len(self._logged), len(self._created)

    def discard(self, mark: tuple[int, int, int]) -> None:
        """Forget what was queued since `mark`: the op was rolled back to its savepoint."""
        del self._changes[mark[0] :]
        del self._logged[mark[1] :]
        del self._created[mark[2] :]
        self._writes["*"] += 1

    def cached(self, key: Hashable, entities: tuple[str, ...], read: Callable[[], T]) -> T:
        """`read()`, remembered until this writer writes a row of one of `entities` (or an op is
        rolled back): for reference data many ops of a push consult, such as a doctor's hours."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == self._stamp(entities):
            return cast(T, hit[1])
        value = read()
        self.remember(key, entities, value)
        return value

    def remember(self, key: Hashable, entities: tuple[str, ...], value: Any) -> None:
        """What `cached(key, entities, ...)` answers until the writer writes a row of `entities`."""
        self._memo[key] = (self._stamp(entities), value)

    def _stamp(self, entities: tuple[str, ...]) -> tuple[int, ...]:
        return (*(self._writes[e] for e in entities), self._writes["*"])

    def flush(self) -> None:
        """Write the queued merge bases, then the change-log entries: one per row, in the order of
        each row's last change, so seqs come out as if each change had been logged at once."""
        conn = self.conn  # the rows first
        if self._changes or self._logged:
            self.writing()
        if self._changes:
            insert_rows(conn, RowChange.__table__, self._changes)
            self._changes = []
        if self._logged:
            last: dict[tuple[str, str], None] = {}
            for key in self._logged:
                last.pop(key, None)
                last[key] = None
            created = set(self._created)  # new rows: nothing to unlog (one DELETE less per row)
            self._write_log(list(last), stale=[key for key in last if key not in created])
            self._logged = []
            self._created = []

    def _write_rows(self) -> None:
        """Write the queued rows: a statement per table and set of columns, parents first (the order
        of the schema's foreign keys), each table's rows in the order they were made."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        self.writing()
        order = _table_order(rows[0][0].metadata)
        rows.sort(key=lambda r: order[r[0]])  # stable
        for (table, _), run in groupby(rows, key=lambda r: (r[0], tuple(r[1]))):
            insert_rows(self._conn, table, [values for _, values in run])

    def prefetch(self, wanted: Mapping[type[Synced], Iterable[str]], existing: set[tuple[str, str]]) -> None:
        """Read these rows, of which `existing` (`existing_rows`) says which exist, a statement per
        table (a push mostly creates rows). `get` answers from what was read until this writer
        changes the row. Only for rows no one else can change meanwhile: the clinic's own, whose
        writers are serialised (`lock_clinic`)."""
        for model, row_ids in wanted.items():
            table = model.__table__  # type: ignore[attr-defined]
            row_ids = list(dict.fromkeys(row_ids))
            there = [row_id for row_id in row_ids if (model.__entity__, row_id) in existing]
            found: dict[str, RowMapping] = {}
            query = _select_by_ids(table, self.conn.dialect.name)
            for start in range(0, len(there), PREFETCH_CHUNK):
                chunk = there[start : start + PREFETCH_CHUNK]
                for row in self.conn.execute(query, {ROW_IDS: chunk}).mappings():
                    found[row["id"]] = row
            for row_id in row_ids:
                self._known[(model.__entity__, row_id)] = found.get(row_id)

    def seat_holders(self, doctor: str, row_id: str, start: datetime, end: datetime) -> list[SeatHolder]:
        """The other appointments holding a seat that overlaps [start, end), earliest first."""
        seats = self.seats if self.seats is not None else SeatHolders()
        if not seats.covers(doctor, start, end):
            seats.read(self.conn, [(doctor, start, end)])
        return seats.overlapping(doctor, row_id, start, end)

    def first_look_alike(self, row: Mapping[str, Any]) -> str | None:
        """Another live patient of the clinic who is probably the same person as `row`."""
        look_alikes = self.look_alikes if self.look_alikes is not None else LookAlikes(self.clinic_id)
        if not look_alikes.knows(row):
            look_alikes.read(self.conn, [same_person_key(row)])
        return look_alikes.first_match(row)

    def code_taken(self, model: type[Synced], code: str) -> bool:
        """Whether another row of `model` has this human code."""
        codes = self.codes if self.codes is not None else TakenCodes()
        entity = model.__entity__
        if not codes.knows(entity, code):
            table = model.__table__  # type: ignore[attr-defined]
            found = self.conn.execute(_select_code(table), {"b_code": code}).first()
            codes.learn([(entity, code)], [(entity, code)] if found else [])
        return codes.taken(entity, code)

    def get(self, model: type[Synced], row_id: str) -> RowMapping | None:
        key = (model.__entity__, row_id)
        if key in self._known:
            return self._known[key]
        table = model.__table__  # type: ignore[attr-defined]
        return self.conn.execute(_select_by_id(table), {ROW_ID: row_id}).mappings().first()

    def insert(self, model: type[Synced], row: dict[str, Any], *, device_id: str | None, hlc: str) -> int:
        self._known.pop((model.__entity__, row["id"]), None)
        if self.deferred:
            self._created.append((model.__entity__, row["id"]))
        self._writes[model.__entity__] += 1
        values = {**row, "version": 1, "hlc": hlc, "updated_at": self.now}
        values.setdefault("deleted", False)
        table: Table = model.__table__  # type: ignore[attr-defined]
        if self.batched:
            self._rows.append((table, values))
        else:
            insert_rows(self._conn, table, [values])
        self._record(model, row["id"], 1, device_id, hlc, row.keys())
        self._keep_current(model, values)
        return 1

    def update(
        self,
        model: type[Synced],
        current: RowMapping,
        changes: dict[str, Any],
        *,
        device_id: str | None,
        hlc: str,
    ) -> int:
        self._known.pop((model.__entity__, current["id"]), None)
        self._writes[model.__entity__] += 1
        table = model.__table__  # type: ignore[attr-defined]
        version = current["version"] + 1
        stamp = max(current["hlc"] or "", hlc)
        values = {**changes, "version": version, "hlc": stamp, "updated_at": self.now, ROW_ID: current["id"]}
        conn = self.conn
        self.writing()
        conn.execute(_update_by_id(table), values)
        self._record(model, current["id"], version, device_id, hlc, changes.keys())
        self._keep_current(model, {**current, **changes})
        return version

    def _keep_current(self, model: type[Synced], row: Mapping[str, Any]) -> None:
        if self.codes is not None and row.get("code") and model in CODED:
            self.codes.written(model.__entity__, row["code"])
        if model is Appointment and self.seats is not None:
            self.seats.written(row)
        elif model is Patient and self.look_alikes is not None:
            self.look_alikes.written(row)

    def fields_changed_since(self, row_id: str, base_version: int, *, not_by: str) -> dict[str, str]:
        """Fields other devices changed after `base_version`, each with its latest clock."""
        out: dict[str, str] = {}
        rows = self._conn.execute(  # merge bases are never among the batched rows
            select(RowChange.device_id, RowChange.hlc, RowChange.fields).where(
                RowChange.entity_id == row_id, RowChange.version > base_version
            )
        )
        queued = [
            (c["device_id"], c["hlc"], c["fields"])
            for c in self._changes
            if c["entity_id"] == row_id and c["version"] > base_version
        ]
        for device_id, hlc, fields in [*rows, *queued]:
            if device_id == not_by:
                continue
            for field in fields:
                out[field] = max(out.get(field, ""), hlc)
        return out

    def touch(self, model: type[Synced], row_id: str) -> None:
        """Re-announce a row unchanged, so a device that holds a wrong copy pulls the right one."""
        self._log(model.__entity__, row_id)

    def log_conflict(
        self,
        *,
        entity: str,
        entity_id: str,
        resolution: str,
        field: str | None = None,
        ours: Any = None,
        theirs: Any = None,
        other_id: str | None = None,
        detail: str = "",
        suggestion: dict[str, Any] | None = None,
    ) -> str:
        conflict_id = new_id()
        self.insert(
            SyncConflict,
            {
                "id": conflict_id,
                "clinic_id": self.clinic_id,
                "entity": entity,
                "entity_id": entity_id,
                "other_id": other_id,
                "field": field,
                "ours": ours,
                "theirs": theirs,
                "resolution": resolution,
                "detail": detail[:300],
                "suggestion": suggestion,
                "created_at": self.now,
                "note": "",
            },
            device_id=None,
            hlc=self.clock.now(),
        )
        return conflict_id

    def _record(
        self,
        model: type[Synced],
        row_id: str,
        version: int,
        device_id: str | None,
        hlc: str,
        fields: Iterable[str],
    ) -> None:
        change = {
            "entity_id": row_id,
            "version": version,
            "device_id": device_id,
            "hlc": hlc,
            "fields": sorted(fields),
        }
        if self.deferred:
            self._changes.append(change)
        else:
            insert_rows(self.conn, RowChange.__table__, [change])
        self._log(model.__entity__, row_id)

    def _log(self, entity: str, row_id: str) -> None:
        if self.deferred:
            self._logged.append((entity, row_id))
            return
        self._write_log([(entity, row_id)], stale=[(entity, row_id)])

    def _write_log(self, rows: list[tuple[str, str]], *, stale: list[tuple[str, str]]) -> None:
        """New change-log entries for these (entity, id), in order, after deleting the `stale` ones."""
        conn = self.conn
        if stale:
            conn.execute(UNLOG, [{"b_entity": e, "b_entity_id": i} for e, i in stale])
        entries = [{"clinic_id": self.clinic_id, "entity": e, "entity_id": i} for e, i in rows]
        insert_rows(conn, ChangeLog.__table__, entries)
