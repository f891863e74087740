"""Changes the server (or this device, before sending) refused for good: set aside, never lost.

A refused op stays in the journal as `rejected`, with the reason in its `result`; the ops behind it
go on. Staff see these on the device (`refused_changes`, for the desk's conflicts screen and
`clinic sync`), and decide: `retry` (after fixing the cause, e.g. the computer's clock) sends the
change again as a new op; `discard` drops it, and the server's copy of the row stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from desktop.domain.errors import NotFound
from desktop.domain.ids import new_id
from desktop.domain.reasons import Reason
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, JournalOp
from desktop.sync.outbox import gives_birth

REFUSED = "rejected"
DISCARDED = "discarded"

journal = JournalOp.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RefusedChange:
    op_id: str
    entity: str
    entity_id: str
    action: str
    reason: str
    field: str | None  # the part of the change at fault, e.g. `data.phone` or `hlc`
    conflict_id: str | None  # the server's conflict-log record of it, if it got that far
    local: bool  # refused by this device before it was sent
    made_at: datetime


def refused_changes(store: LocalStore) -> list[RefusedChange]:
    """Every change set aside and not yet retried or discarded, oldest first."""
    query = select(JournalOp).where(JournalOp.status == REFUSED).order_by(JournalOp.seq)
    with store.reading() as session:
        return [_refused(op) for op in session.scalars(query)]


def retry(store: LocalStore, op_id: str) -> str:
    """Send a refused change again, stamped now, as a new op (the server answers an op id once);
    a refused new record shows again meanwhile. Returns the new op id."""
    fresh = new_id()
    with store.db.writer.begin() as conn:
        op = _refused_op(conn, op_id)
        conn.execute(
            update(journal)
            .where(journal.c.seq == op.seq)
            .values(op_id=fresh, hlc=store.clock.now(), status="pending", result={"retry_of": op_id})
        )
        if gives_birth(conn, seq=op.seq, entity_id=op.entity_id, base_version=op.base_version):
            table = ENTITY_MODELS[op.entity].__table__  # type: ignore[attr-defined]
            conn.execute(
                update(table).where(table.c.id == op.entity_id, table.c.version == 0).values(deleted=False)
            )
    return fresh


def discard(store: LocalStore, op_id: str) -> None:
    """Give up a refused change: it stays in the journal, marked discarded; the server's row stands."""
    with store.db.writer.begin() as conn:
        op = _refused_op(conn, op_id)
        result = {**(op.result or {}), "discarded": True}
        conn.execute(update(journal).where(journal.c.seq == op.seq).values(status=DISCARDED, result=result))


def _refused_op(conn: Connection, op_id: str) -> Any:
    op = conn.execute(select(journal).where(journal.c.op_id == op_id, journal.c.status == REFUSED)).first()
    if op is None:
        raise NotFound(Reason.of("sync.no_set_aside"))
    return op


def _refused(op: JournalOp) -> RefusedChange:
    result = op.result or {}
    return RefusedChange(
        op_id=op.op_id,
        entity=op.entity,
        entity_id=op.entity_id,
        action=op.action,
        reason=str(result.get("error") or "The server refused this change."),
        field=result.get("field"),
        conflict_id=result.get("conflict_id"),
        local=bool(result.get("local")),
        made_at=op.created_at,
    )
