"""Pull: pages of the clinic's changes feed, scoped by what the device kind may see."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

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


def pull_page(conn: Connection, *, clinic_id: str, kind: str, since: int, limit: int) -> dict[str, Any]:
    """`{"changes": [...], "next": seq, "more": bool}` as plain JSON-ready dicts (the hot path)."""
    entries = conn.execute(
        select(ChangeLog.seq, ChangeLog.entity, ChangeLog.entity_id)
        .where(ChangeLog.clinic_id == clinic_id, ChangeLog.seq > since)
        .order_by(ChangeLog.seq)
        .limit(limit + 1)
    ).all()
    more = len(entries) > limit
    entries = entries[:limit]
    hidden = HIDDEN[kind]
    wanted: dict[str, list[str]] = defaultdict(list)
    for _, entity, entity_id in entries:
        if entity not in hidden:
            wanted[entity].append(entity_id)
    rows: dict[tuple[str, str], Any] = {}
    for entity, ids in wanted.items():
        table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
        # The feed is the clinic's; the row filter is a second lock on the same door.
        own = (table.c.id if entity == "clinic" else table.c.clinic_id) == clinic_id
        for row in conn.execute(select(table).where(table.c.id.in_(ids), own)).mappings():
            rows[(entity, row["id"])] = row
    changes = []
    for seq, entity, entity_id in entries:
        row = rows.get((entity, entity_id))
        if row is None:
            continue
        fields = data_fields(ENTITY_MODELS[entity])
        if kind != "desk":
            fields = fields - DESK_ONLY_FIELDS.get(entity, frozenset())
        changes.append(
            {
                "seq": seq,
                "entity": entity,
                "id": entity_id,
                "version": row["version"],
                "hlc": row["hlc"],
                "deleted": bool(row["deleted"]),
                "data": {k: encode(row[k]) for k in fields},
            }
        )
    return {"changes": changes, "next": entries[-1].seq if entries else since, "more": more}
