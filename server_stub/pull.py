"""Pull: pages of the clinic's changes feed, scoped by what the device kind may see."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, inspect, select

from desktop.store.codec import data_fields, encode
from desktop.store.models import ENTITY_MODELS
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

ENTRIES = (
    select(ChangeLog.seq, ChangeLog.entity, ChangeLog.entity_id)
    .where(ChangeLog.clinic_id == bindparam("b_clinic"), ChangeLog.seq > bindparam("b_since"))
    .order_by(ChangeLog.seq)
    .limit(bindparam("b_limit"))
)


@cache
def _rows_of(entity: str) -> Select[Any]:
    """The clinic's rows among some ids. The feed is the clinic's; the row filter is a second lock
    on the same door."""
    table: Table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
    own = table.c.id if entity == "clinic" else table.c.clinic_id
    return select(table).where(
        table.c.id.in_(bindparam("b_ids", expanding=True)), own == bindparam("b_clinic")
    )


@cache
def _layout(
    entity: str, kind: str
) -> tuple[dict[str, int], tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """Where each column is in a row of `_rows_of(entity)`, and the data fields a device of `kind`
    receives: those sent as they are, and those encoded (dates, times, any type not known)."""
    model = ENTITY_MODELS[entity]
    table: Table = model.__table__  # type: ignore[attr-defined]
    position = {column.key: n for n, column in enumerate(table.columns)}
    fields = data_fields(model)
    if kind != "desk":
        fields = fields - DESK_ONLY_FIELDS.get(entity, frozenset())
    plain, encoded = [], []
    for column in inspect(model).columns:
        if column.key not in fields:
            continue
        try:
            as_is = column.type.python_type in JSON_NATIVE
        except NotImplementedError:
            as_is = False
        (plain if as_is else encoded).append((column.key, position[column.key]))
    return position, tuple(plain), tuple(encoded)


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
    for entity, ids in wanted.items():
        at_id = _layout(entity, kind)[0]["id"]
        for row in conn.execute(_rows_of(entity), {"b_ids": ids, "b_clinic": clinic_id}).all():
            rows[(entity, row[at_id])] = row
    changes = []
    for seq, entity, entity_id in entries:
        row = rows.get((entity, entity_id))
        if row is None:
            continue
        position, plain, encoded = _layout(entity, kind)
        data = {key: row[at] for key, at in plain}
        for key, at in encoded:
            data[key] = encode(row[at])
        changes.append(
            {
                "seq": seq,
                "entity": entity,
                "id": entity_id,
                "version": row[position["version"]],
                "hlc": row[position["hlc"]],
                "deleted": bool(row[position["deleted"]]),
                "data": data,
            }
        )
    return {"changes": changes, "next": entries[-1].seq if entries else since, "more": more}
