"""The push side of the journal: which ops go next, marking them sent, recording the answers.

Only the sync engine advances journal ops (SYNC.md): `pending` → `sent` (committed before the
request, so a crash mid-push leaves them `sent`, and they are simply sent again: the server
answers a repeat from its stored result) → `applied` / `merged` / `conflict` / `rejected`, with
the server's answer in `result`. Nothing here journals: it writes through plain Core
connections of the store's writer engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Text, bindparam, func, select, type_coerce, update

from desktop.domain.english import english
from desktop.domain.reasons import Reason
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, DeviceState, JournalOp
from desktop.sync.protocol import MAX_BODY_BYTES, MAX_OPS_PER_PUSH, Op, OpResult

UNANSWERED = ("pending", "sent")
OP_OVERHEAD_BYTES = 320  # the JSON of an op's other fields, generously
BODY_MARGIN_BYTES = 4096  # the request's own fields, and some slack

journal = JournalOp.__table__  # type: ignore[attr-defined]
_NEXT_OPS = (
    select(
        journal.c.seq,
        journal.c.op_id,
        journal.c.entity,
        journal.c.entity_id,
        journal.c.action,
        journal.c.base_version,
        type_coerce(journal.c.data, Text).label("data"),  # as stored: JSON text
        journal.c.hlc,
        journal.c.actor,
    )
    .where(
        journal.c.seq > bindparam("b_after"),
        journal.c.seq <= bindparam("b_upto"),
        journal.c.status.in_(UNANSWERED),
    )
    .order_by(journal.c.seq)
    .limit(bindparam("b_limit"))
)


@dataclass(frozen=True)
class Outgoing:
    seq: int
    op: Op
    size: int  # bytes of JSON, roughly


@dataclass(frozen=True)
class Chunk:
    ops: list[Outgoing]
    refused: list[Reason]  # ops that can never be sent, refused here: sync.not_sent.*
    last_seq: int | None  # the last journal seq looked at; None: nothing left

    def __bool__(self) -> bool:
        return self.last_seq is not None


@dataclass
class Answers:
    applied: int = 0
    merged: int = 0
    conflicts: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejections: list[Reason] | None = None
    tombstoned: list[tuple[str, str]] = field(default_factory=list)  # (entity, id) of refused creates


class Outbox:
    def __init__(self, store: LocalStore):
        self.store = store

    def last_seq(self) -> int:
        with self.store.db.reader.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(journal.c.seq), 0))).scalar_one()

    def unanswered(self, *, upto: int | None = None) -> int:
        query = select(func.count()).where(journal.c.status.in_(UNANSWERED))
        if upto is not None:
            query = query.where(journal.c.seq <= upto)
        with self.store.db.reader.connect() as conn:
            return conn.execute(query).scalar_one()

    def next_chunk(
        self,
        *,
        after: int,
        upto: int,
        max_ops: int = MAX_OPS_PER_PUSH,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> Chunk:
        """The next unanswered ops after `after` in `seq` order, as many as fit one push.

        An op that can never be sent (too large, or not valid on the wire) is refused here, so that
        it never blocks the ops behind it; its reason is in `refused`."""
        budget = max_bytes - BODY_MARGIN_BYTES
        chosen: list[Outgoing] = []
        refused: list[Reason] = []
        used = 0
        last: int | None = None
        with self.store.db.reader.connect() as conn:
            rows = conn.execute(_NEXT_OPS, {"b_after": after, "b_upto": upto, "b_limit": max_ops}).all()
        for row in rows:
            # The stored JSON text: its length is the op's size (escaped and spaced as json.dumps
            # writes it, so never less than what the push sends), and orjson reads it faster.
            size = len(row.data) + OP_OVERHEAD_BYTES
            problem: Reason | None = None
            if size > budget:
                problem = Reason.of(
                    "sync.not_sent.too_large", entity=row.entity, id=row.entity_id, kib=size // 1024
                )
            else:
                try:
                    op = Op(
                        op_id=row.op_id,
                        entity=row.entity,
                        entity_id=row.entity_id,
                        action=row.action,
                        base_version=row.base_version,
                        data=orjson.loads(row.data),
                        hlc=row.hlc,
                        actor=row.actor,
                    )
                except (ValidationError, orjson.JSONDecodeError) as exc:
                    problem = Reason.of(
                        "sync.not_sent.invalid", entity=row.entity, id=row.entity_id, problem=_reason(exc)
                    )
            if problem is not None:
                self._refuse(row.seq, english(problem))
                refused.append(problem)
                last = row.seq
                continue
            if chosen and used + size > budget:
                break
            chosen.append(Outgoing(row.seq, op, size))
            used += size
            last = row.seq
        return Chunk(chosen, refused, last)

    def mark_sent(self, chunk: Sequence[Outgoing]) -> None:
        with self.store.db.writer.begin() as conn:
            conn.execute(
                update(journal)
                .where(journal.c.seq.in_([o.seq for o in chunk]), journal.c.status == "pending")
                .values(status="sent")
            )

    def record(
        self, chunk: Sequence[Outgoing], results: Sequence[OpResult], *, skew_ms: int | None
    ) -> Answers:
        """In one transaction: every op's status and answer, local effects of the answers, the skew.

        Raises KeyError naming an op the server did not answer (it stays `sent`, and goes again)."""
        by_id = {r.op_id: r for r in results}
        answers = Answers(rejections=[])
        updates: list[dict[str, Any]] = []
        bumps: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
        with self.store.db.writer.begin() as conn:
            for out in chunk:
                result = by_id[out.op.op_id]
                stored = result.model_dump(exclude_none=True, exclude_defaults=True)
                stored.update(status=result.status, op_id=result.op_id)
                updates.append({"b_op_id": out.op.op_id, "b_status": result.status, "b_result": stored})
                self._count(answers, out.op, result)
                if result.status == "applied" and result.version == out.op.base_version + 1:
                    bumps[out.op.entity].append((result.version, out.op.entity_id, out.op.base_version))
                elif result.status == "rejected" and _is_create(conn, out):
                    _tombstone(conn, out.op)
                    answers.tombstoned.append((out.op.entity, out.op.entity_id))
            conn.execute(
                update(journal)
                .where(journal.c.op_id == bindparam("b_op_id"))
                .values(
                    status=bindparam("b_status"),
                    result=bindparam("b_result", type_=journal.c.result.type),
                ),
                updates,
            )
            for entity, rows in bumps.items():
                _bump_versions(conn, entity, rows)
            if skew_ms is not None:
                conn.execute(
                    update(DeviceState.__table__).where(DeviceState.id == 1).values(clock_skew_ms=skew_ms)
                )
        return answers

    @staticmethod
    def _count(answers: Answers, op: Op, result: OpResult) -> None:
        if result.duplicate:
            answers.duplicates += 1
        if result.status == "applied":
            answers.applied += 1
        elif result.status == "merged":
            answers.merged += 1
        elif result.status == "conflict":
            answers.conflicts += 1
        else:
            answers.rejected += 1
            assert answers.rejections is not None
            answers.rejections.append(
                Reason.of(
                    "sync.refused", entity=op.entity, id=op.entity_id, why=result.error, field=result.field
                )
            )

    def _refuse(self, seq: int, message: str) -> None:
        with self.store.db.writer.begin() as conn:
            conn.execute(
                update(journal)
                .where(journal.c.seq == seq)
                .values(status="rejected", result={"status": "rejected", "error": message, "local": True})
            )

    def set_aside(self, op_id: str, message: str, field: str | None) -> None:
        """The server refused the whole push for this op alone (a 4xx naming it): it is marked
        `rejected` with the reason, so that the ops behind it go on (desktop.sync.set_aside)."""
        result = {"status": "rejected", "error": message, "field": field}
        with self.store.db.writer.begin() as conn:
            conn.execute(
                update(journal)
                .where(journal.c.op_id == op_id, journal.c.status.in_(UNANSWERED))
                .values(status="rejected", result=result)
            )


def _reason(exc: ValidationError | orjson.JSONDecodeError) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"])
    return "its data is not readable"


def _is_create(conn: Connection, out: Outgoing) -> bool:
    return gives_birth(conn, seq=out.seq, entity_id=out.op.entity_id, base_version=out.op.base_version)


def gives_birth(conn: Connection, *, seq: int, entity_id: str, base_version: int) -> bool:
    """The op that gave birth to the row: its first journal op, on a row the server never had."""
    if base_version != 0:
        return False
    first = conn.execute(select(func.min(journal.c.seq)).where(journal.c.entity_id == entity_id)).scalar()
    return first == seq


def _tombstone(conn: Connection, op: Op) -> None:
    """The server refused the row (and kept its data in the conflict log): hide the local copy,
    unjournaled. Only a row the server never acknowledged (version 0) is touched."""
    table = ENTITY_MODELS[op.entity].__table__  # type: ignore[attr-defined]
    conn.execute(update(table).where(table.c.id == op.entity_id, table.c.version == 0).values(deleted=True))


def _bump_versions(conn: Connection, entity: str, rows: list[tuple[int, str, int]]) -> None:
    """Applied exactly on top of the version each was based on: the server's row now equals ours.
    `rows` are (new version, id, base version)."""
    table = ENTITY_MODELS[entity].__tablename__  # type: ignore[attr-defined]
    conn.exec_driver_sql(f'UPDATE "{table}" SET version = ? WHERE id = ? AND version = ?', rows)
