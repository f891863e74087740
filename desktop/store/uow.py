"""The unit of work: one transaction per user action, with its sync journal ops inside it.

Journaling is done by the session itself, in each flush: every new, changed or tombstoned
synced row gets a `sync_journal` op (create: all fields; update: only the changed ones) stamped
with the device's hybrid logical clock. A service cannot forget to journal, and the op commits or
rolls back with the change. Services may label an op with a domain action (`book`, `check_in`,
`call_token`...) through `UnitOfWork.label`.

The ops are rows, not ORM objects: made before the flush, written at its end with one
executemany (about a tenth of a booking's cost, as objects of the unit of work).

The rows the busiest actions create (an appointment, a queue token, a reminder, an audit event)
skip the ORM's flush: `UnitOfWork.insert` writes such a row at once with one INSERT and journals
it the same way. The ORM's unit-of-work machinery cost more than a third of a booking.

Every op names its actor (SYNC.md's journal): whoever the unit of work acts for, given once
when it is opened (`store.unit_of_work(actor=...)`): the signed-in clinician's id, `kiosk`, or
`system` (the device's own bookkeeping, and the default).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from desktop.domain.ids import new_id
from desktop.domain.roles import SYSTEM_ACTOR, wire_actor
from desktop.store.changes import Changes, Origin
from desktop.store.codec import data_fields, encode, snapshot
from desktop.store.models import JournalOp, Synced
from desktop.store.prepared import Prepared
from desktop.store.reference import REFERENCE_MODELS
from desktop.store.types import utcnow

if TYPE_CHECKING:
    from desktop.domain.clock import HybridLogicalClock

M = TypeVar("M", bound=Synced)

JOURNAL_KEY = "journal"  # session.info: a Journal, or absent when applying pulled changes
_INSERT_OP = Prepared(JournalOp.__table__.insert())  # type: ignore[attr-defined]


class Acting(Protocol):
    """Who acts: `desktop.services.common.Actor` (a role, and the clinician's id if signed in)."""

    @property
    def role(self) -> str: ...

    @property
    def user_id(self) -> str | None: ...


def actor_of(actor: Acting | None) -> str:
    """The actor an op names on the wire; `system` when no one is named."""
    return SYSTEM_ACTOR if actor is None else wire_actor(actor.role, actor.user_id)


class Journaled(NamedTuple):
    """A journal op a unit of work wrote (`UnitOfWork.ops`)."""

    entity: str
    entity_id: str
    action: str


class Journal:
    """Per-transaction journaling state kept in `session.info`."""

    def __init__(self, clock: HybridLogicalClock, actor: str):
        self.clock = clock
        self.actor = actor
        self.labels: dict[int, str] = {}
        self.ops: list[Journaled] = []
        self.unwritten: list[dict[str, Any]] = []  # `sync_journal` rows of the flush under way


class JournalingSession(Session):
    pass


@event.listens_for(JournalingSession, "before_flush")
def _journal_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    journal: Journal | None = session.info.get(JOURNAL_KEY)
    if journal is None:
        return
    for obj in list(session.new):
        if isinstance(obj, Synced):
            _record(journal, obj, journal.labels.pop(id(obj), "create"), snapshot(obj))
    for obj in list(session.dirty):
        if not isinstance(obj, Synced) or obj in session.new:
            continue
        changed = _changed_fields(obj)
        if not changed:
            continue
        default = "delete" if changed.get("deleted") is True else "update"
        _record(journal, obj, journal.labels.pop(id(obj), default), changed)
    for obj in session.deleted:
        if isinstance(obj, Synced):
            raise RuntimeError(f"{obj.__entity__} rows are never deleted: set deleted=True instead")


def _changed_fields(obj: Synced) -> dict[str, Any]:
    state = inspect(obj)
    fields = data_fields(type(obj))
    out: dict[str, Any] = {}
    for attr in state.attrs:
        if attr.key in fields and attr.history.has_changes():
            added = attr.history.added
            value = added[0] if added else None
            if attr.history.deleted and attr.history.deleted[0] == value:
                continue
            out[attr.key] = encode(value)
    return out


def _record(journal: Journal, obj: Synced, action: str, data: dict[str, Any]) -> None:
    stamp = journal.clock.now()
    obj.hlc = stamp
    journal.unwritten.append(
        {
            "op_id": new_id(),
            "entity": obj.__entity__,
            "entity_id": obj.id,
            "action": action,
            "base_version": obj.version or 0,
            "data": data,
            "hlc": stamp,
            "actor": journal.actor,
            "status": "pending",
        }
    )
    journal.ops.append(Journaled(obj.__entity__, obj.id, action))


@event.listens_for(JournalingSession, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    _write_journal(session)


def _write_journal(session: Session) -> None:
    """The ops go in with the rows they record: a flush that fails writes neither."""
    journal: Journal | None = session.info.get(JOURNAL_KEY)
    if journal is not None and journal.unwritten:
        _INSERT_OP.execute(session, journal.unwritten)
        journal.unwritten = []


@cache
def _insert_of(model: type[Synced]) -> tuple[Prepared, tuple[tuple[str, str], ...]]:
    """The INSERT of a model's table, built once, and its (attribute, column) names."""
    mapper = inspect(model)
    names = tuple((attr.key, attr.columns[0].key) for attr in mapper.column_attrs)
    return Prepared(mapper.local_table.insert()), names


class UnitOfWork:
    """`with store.unit_of_work(actor=...) as uow:` — commits on success, rolls back on any exception.
    `actor`: who this unit of work acts for, named by every op it journals (`actor_of`)."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        clock: HybridLogicalClock,
        *,
        now: Callable[[], datetime],
        device_id: str = "",
        on_commit: Callable[[Changes], None] | None = None,
        actor: str = SYSTEM_ACTOR,
    ):
        self._factory = session_factory
        self.actor = actor
        self._clock = clock
        self._now = now
        self.device_id = device_id
        self._on_commit = on_commit
        self.session: Session
        self._journal: Journal

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self._journal = Journal(self._clock, self.actor)
        self.session.info[JOURNAL_KEY] = self._journal
        self.session.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.flush()
                _write_journal(self.session)  # the ops of `insert`s no flush came after
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
        if exc_type is None and self._on_commit and self._journal.ops:
            self._on_commit(Changes.of(Origin.LOCAL, ((op.entity, op.entity_id) for op in self._journal.ops)))

    def now(self) -> datetime:
        return self._now()

    def add(self, obj: M, *, action: str = "create") -> M:
        """Add a new synced row (giving it a UUIDv7 if it has no id) and label its create op."""
        if not obj.id:
            obj.id = new_id()
        self._journal.labels[id(obj)] = action
        self.session.add(obj)
        return obj

    def insert(self, obj: M, *, action: str = "create", attach: bool = True) -> M:
        """Write a new synced row now, complete as given, with its create op: `add` without the
        ORM's flush.

        The object then belongs to the session as if loaded, so a later change to it is an
        update op. The rows it refers to must be in the database: changes still pending in the
        session are flushed first. A unique or foreign key violation raises IntegrityError here.
        Not for reference rows (see desktop/store/reference.py). `attach=False` leaves the
        object out of the session: for rows nothing changes later in the unit of work (an audit
        event, a reminder); a query still finds the row.
        """
        if isinstance(obj, REFERENCE_MODELS):
            raise TypeError(f"{type(obj).__name__} rows are reference data: use add()")
        session = self.session
        if session.new or session.dirty:
            session.flush()
        if not obj.id:
            obj.id = new_id()
        _record(self._journal, obj, action, snapshot(obj))
        obj.version = obj.version or 0
        obj.deleted = bool(obj.deleted)
        obj.updated_at = utcnow()
        statement, names = _insert_of(type(obj))
        statement.execute(session, {column: getattr(obj, attr) for attr, column in names})
        if attach:
            make_transient_to_detached(obj)
            session.add(obj)
        return obj

    def label(self, obj: Synced, action: str) -> None:
        """Name the domain action of `obj`'s next journal op (`check_in`, `call_token`, ...)."""
        self._journal.labels[id(obj)] = action

    def flush(self) -> None:
        self.session.flush()

    @property
    def ops(self) -> list[Journaled]:
        return list(self._journal.ops)
