"""Pull: pages of the clinic's changes feed, scoped by what the device kind may see."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Date, Select, String, Table, bindparam, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from desktop.store.codec import data_fields, encode
from desktop.store.models import ENTITY_MODELS
from desktop.store.types import UTCDateTime
from desktop.sync.protocol import DESK_ONLY_FIELDS, HIDDEN
from server_stub.db import one_of
from server_stub.models import ChangeLog

JSON_NATIVE = (str, int, float, bool, dict, list)  # values of these column types are sent as they are
OWNER_AT = 4  # the place of a row's clinic in its layout's query; the data fields follow
DATA_AT = 5

ENTRIES = (
    select(ChangeLog.seq, ChangeLog.entity, ChangeLog.entity_id)
    .where(ChangeLog.clinic_id == bindparam("b_clinic"), ChangeLog.seq > bindparam("b_since"))
    .order_by(ChangeLog.seq)
    .limit(bindparam("b_limit"))
)


@dataclass(frozen=True)
class _Layout:
    """How a device of one kind receives one entity: the query for the rows of some ids (id,
    version, hlc, deleted, the owning clinic, then only the data fields sent), the names of those
    fields in the query's order, and the converters of those not sent as they come."""

    query: Select[Any]
    fields: tuple[str, ...]
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]


@cache
def _layout(entity: str, kind: str, dialect: str) -> _Layout:
    model = ENTITY_MODELS[entity]
    table: Table = model.__table__  # type: ignore[attr-defined]
    fields = data_fields(model)
    if kind != "desk":
        fields = fields - DESK_ONLY_FIELDS.get(entity, frozenset())
    sent: list[ColumnElement[Any]] = []
    names: list[str] = []
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for column in table.columns:
        if column.key not in fields:
            continue
        names.append(column.key)
        if dialect == "sqlite" and isinstance(column.type, UTCDateTime | Date):
            # SQLite keeps these as ISO text: read as it is, no datetime made and formatted again.
            sent.append(type_coerce(column, String))
            if isinstance(column.type, UTCDateTime):
                converters.append((column.key, utc_iso_from_sqlite))
            continue
        sent.append(column)
        try:
            as_is = column.type.python_type in JSON_NATIVE
        except NotImplementedError:
            as_is = False
        if not as_is:
            converters.append((column.key, encode))
    own = table.c.id if entity == "clinic" else table.c.clinic_id
    # By primary key only: with `clinic_id = ?` in the WHERE clause SQLite prefers an index that
    # starts with clinic_id and reads every row of the clinic for each page. The clinic is checked
    # on each row instead (pull_page).
    query = select(table.c.id, table.c.version, table.c.hlc, table.c.deleted, own, *sent).where(
        one_of(table.c.id, "b_ids", dialect)
    )
    return _Layout(query, tuple(names), tuple(converters))


def utc_iso_from_sqlite(stored: str) -> str:
    """SQLite's text of a `UTCDateTime` (`2026-03-02 08:00:00.000000`, naive UTC) as `encode`
    writes that moment on the wire (`2026-03-02T08:00:00+00:00`), by slicing the text."""
    if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
        micro = stored[20:]
        return f"{stored[:10]}T{stored[11:19]}{'' if micro == '000000' else '.' + micro}+00:00"
    return str(encode(datetime.fromisoformat(stored).replace(tzinfo=UTC)))  # any other form


def pull_page(conn: Connection, *, clinic_id: str, kind: str, since: int, limit: int) -> dict[str, Any]:
    """`{"changes": [...], "next": seq, "more": bool}` as plain JSON-ready dicts (the hot path)."""
    entries = conn.execute(ENTRIES, {"b_clinic": clinic_id, "b_since": since, "b_limit": limit + 1}).all()
    more = len(entries) > limit
    entries = entries[:limit]
    hidden = HIDDEN[kind]
    wanted: dict[str, list[str]] = defaultdict(list)
    for _, entity, entity_id in entries:
        if entity not in hidden:
            wanted[entity].append(entity_id)
    rows: dict[tuple[str, str], Any] = {}
    dialect = conn.dialect.name
    for entity, ids in wanted.items():
        for row in conn.execute(_layout(entity, kind, dialect).query, {"b_ids": ids}).all():
            # The feed is the clinic's; this is a second lock on the same door.
            if row[OWNER_AT] == clinic_id:
                rows[(entity, row[0])] = row
    changes = []
    for seq, entity, entity_id in entries:
        row = rows.get((entity, entity_id))
        if row is None:
            continue
        layout = _layout(entity, kind, dialect)
        data = dict(zip(layout.fields, row[DATA_AT:], strict=True))
        for key, convert in layout.converters:
            value = data[key]
            if value is not None:
                data[key] = convert(value)
        changes.append(
            {
                "seq": seq,
                "entity": entity,
                "id": entity_id,
                "version": row[1],
                "hlc": row[2],
                "deleted": bool(row[3]),
                "data": data,
            }
        )
    return {"changes": changes, "next": entries[-1].seq if entries else since, "more": more}
