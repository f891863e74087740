"""Pull: pages of the clinic's changes feed, scoped by what the device kind may see."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, select

from desktop.store.codec import data_fields, encode
from desktop.store.models import ENTITY_MODELS
from server_stub.db import one_of
from server_stub.models import ChangeLog

# What a device kind never receives (SYNC.md: a kiosk gets no chat, prescriptions or histories).
HIDDEN: dict[str, frozenset[str]] = {
    "desk": frozenset(),
    "kiosk": frozenset({"chat_message", "prescription", "consultation", "audit_event", "sync_conflict"}),
    "board": frozenset(set(ENTITY_MODELS) - {"clinic", "clinician", "queue_token"}),
}
# Fields only desks receive: clinicians' password hashes, for offline sign-in.
DESK_ONLY_FIELDS = {"clinician": frozenset({"password_hash"})}
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
    version, hlc, deleted, the owning clinic, then only the data fields sent), and the data fields
    with their place in a row: those sent as they are, and those encoded first (dates, times, any
    other type)."""

    query: Select[Any]
    plain: tuple[tuple[str, int], ...]
    encoded: tuple[tuple[str, int], ...]


@cache
def _layout(entity: str, kind: str, dialect: str) -> _Layout:
    model = ENTITY_MODELS[entity]
    table: Table = model.__table__  # type: ignore[attr-defined]
    fields = data_fields(model)
    if kind != "desk":
        fields = fields - DESK_ONLY_FIELDS.get(entity, frozenset())
    sent = [column for column in table.columns if column.key in fields]
    plain, encoded = [], []
    for at, column in enumerate(sent, start=DATA_AT):
        try:
            as_is = column.type.python_type in JSON_NATIVE
        except NotImplementedError:
            as_is = False
        (plain if as_is else encoded).append((column.key, at))
    own = table.c.id if entity == "clinic" else table.c.clinic_id
    # By primary key only: with `clinic_id = ?` in the WHERE clause SQLite prefers an index that
    # starts with clinic_id and reads every row of the clinic for each page. The clinic is checked
    # on each row instead (pull_page).
    query = select(table.c.id, table.c.version, table.c.hlc, table.c.deleted, own, *sent).where(
        one_of(table.c.id, "b_ids", dialect)
    )
    return _Layout(query, tuple(plain), tuple(encoded))


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
        data = {key: row[at] for key, at in layout.plain}
        for key, at in layout.encoded:
            data[key] = encode(row[at])
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
