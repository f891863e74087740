"""Who may push what: every op is checked against its actor before it is applied.

An op names its actor (a clinician's id, `kiosk` or `system`, desktop.domain.roles.wire_actor).
The server takes that claim only as far as the device may make it: a board changes nothing, a
kiosk acts as the kiosk whatever it names, and a desk's clinician must be an active member of the
device's clinic. The actor's role must then hold every permission the op needs, named by the one
permission table (desktop.domain.roles.op_permission) from what the op does to its row. Staff
accounts and clinics are never created or changed by an op. Every id the op refers to must be a
row of the op's clinic (clinics are sealed from each other). See docs/server.md, "Security model".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.engine import RowMapping

from desktop.domain.appointments import AppointmentType, initial_status
from desktop.domain.errors import NotAllowed
from desktop.domain.roles import KIOSK_ACTOR, KIOSK_BOOKS, SYSTEM_ACTOR, Role, describe, may, op_permission
from desktop.store.models import ENTITY_MODELS, Synced
from desktop.sync.protocol import ID_PATTERN, Op
from server_stub.db import one_of
from server_stub.rows import RowWriter

if TYPE_CHECKING:
    from server_stub.apply import PushContext

# Ids without a foreign key that still name a row (a foreign key names its table itself).
_REFERENCES_WITHOUT_KEY: dict[str, dict[str, str]] = {
    "patient": {"merged_into": "patient"},
    "appointment": {"rescheduled_from": "appointment"},
    "waitlist_entry": {"appointment_id": "appointment"},
    "queue_token": {"called_by": "clinician"},
    "prescription": {"supersedes": "prescription"},
    "audit_event": {"actor_id": "clinician", "patient_id": "patient"},
    "sync_conflict": {"resolved_by": "clinician"},
}
# What no op may do, whoever makes it, and why.
_NEVER = {
    "clinician": "Staff accounts, roles and passwords are changed only by an administrator on the "
    "server, never by a synced change.",
    "clinic": "Clinics are set up by the server's administrator.",
    "sync_conflict": "Conflict records are made by the server only.",
}
_KIOSK_KINDS = [kind.value for kind in KIOSK_BOOKS]  # a list: `in` takes any value, hashable or not
_BY_WHOM = {Role.KIOSK.value: "The kiosk", Role.SYSTEM.value: "This device on its own (system)"}


@dataclass(frozen=True)
class Owner:
    """Which clinic a row belongs to; for a clinician, also what they may do."""

    clinic_id: str
    role: str | None = None
    active: bool = True


def authorise(writer: RowWriter, ctx: PushContext, op: Op, current: RowMapping | None) -> None:
    """Raise NotAllowed (naming the field) unless the op's actor may make this change."""
    model = ENTITY_MODELS[op.entity]
    if current is not None and _clinic_of(model, current) != ctx.clinic_id:
        raise NotAllowed("This record belongs to another clinic.", field="entity_id")
    role = _role(writer, ctx, op.actor)
    status = op.data.get("status")
    status = status if isinstance(status, str) else None
    needed = op_permission(
        op.entity,
        creating=current is None,
        fields=op.data.keys(),
        status=status,
        initial_status=_initial_status(op.data) if op.entity == "appointment" else None,
    )
    if needed is None:
        entity = op.entity.replace("_", " ")
        raise NotAllowed(
            _NEVER.get(op.entity, f"{entity.capitalize()} records cannot be changed."), field="entity"
        )
    if role == Role.KIOSK and op.entity == "appointment" and op.data.get("kind", "kiosk") not in _KIOSK_KINDS:
        raise NotAllowed("The kiosk books kiosk and walk-in visits only.", field="data.kind")
    for permission in needed:
        if not may(role, permission):
            who = _BY_WHOM.get(role, f"The {role} role")
            raise NotAllowed(f"{who} may not {describe(permission)}.", field="actor")
    if op.entity == "chat_message" and op.data.get("sender_role") == "doctor" and role != Role.DOCTOR:
        raise NotAllowed("Only the doctor can send as the doctor.", field="data.sender_role")
    _sealed(writer, ctx, model, op.data)


def read_ahead(writer: RowWriter, ops: Iterable[Op]) -> None:
    """Learn, a query per table, which clinic owns the rows the ops name as actor or refer to."""
    wanted: dict[str, set[str]] = {}
    for op in ops:
        if op.actor not in (KIOSK_ACTOR, SYSTEM_ACTOR):
            wanted.setdefault("clinician", set()).add(op.actor)
        for _, entity, row_id in _references(ENTITY_MODELS[op.entity], op.data):
            wanted.setdefault(entity, set()).add(row_id)
    _learn(writer, wanted)


def _role(writer: RowWriter, ctx: PushContext, actor: str) -> str:
    if ctx.device_kind == "board":
        raise NotAllowed("A waiting-room board only displays; it cannot change records.", field="entity")
    if ctx.device_kind == "kiosk":
        if actor not in (KIOSK_ACTOR, SYSTEM_ACTOR):
            raise NotAllowed("A kiosk acts for patients, never as a member of staff.", field="actor")
        return Role.KIOSK.value  # the kiosk's bookkeeping may do no more than the kiosk
    if actor in (KIOSK_ACTOR, SYSTEM_ACTOR):
        return actor
    owner = _owner(writer, "clinician", actor)
    if owner is None or owner.clinic_id != ctx.clinic_id or owner.role is None:
        raise NotAllowed("The change names as its author someone not on this clinic's staff.", field="actor")
    if not owner.active:
        raise NotAllowed("The change was made by a staff account that is no longer active.", field="actor")
    return owner.role


def _sealed(writer: RowWriter, ctx: PushContext, model: type[Synced], data: dict[str, Any]) -> None:
    """Every row the op refers to is the clinic's own (or not on the server yet: a row the same push
    creates is the clinic's, a row that exists nowhere fails its foreign key)."""
    for field, entity, row_id in _references(model, data):
        owner = _owner(writer, entity, row_id)
        if owner is not None and owner.clinic_id != ctx.clinic_id:
            what = entity.replace("_", " ")
            raise NotAllowed(
                f"The {what} named in '{field}' belongs to another clinic.", field=f"data.{field}"
            )


def _initial_status(data: dict[str, Any]) -> str | None:
    try:
        return initial_status(AppointmentType(data.get("kind"))).value
    except ValueError:
        return None  # an unknown kind is refused by validation


_ID = re.compile(ID_PATTERN)


@cache
def _reference_fields(model: type[Synced]) -> tuple[tuple[str, str], ...]:
    """(field, entity it names) for every id of `model` that names another row, clinic_id aside
    (the row's own clinic, checked when it is applied)."""
    tables = {m.__tablename__: entity for entity, m in ENTITY_MODELS.items()}  # type: ignore[attr-defined]
    keyed = [
        (column.key, tables[fk.column.table.name])
        for column in inspect(model).columns
        for fk in column.foreign_keys
        if column.key != "clinic_id"
    ]
    return (*keyed, *_REFERENCES_WITHOUT_KEY.get(model.__entity__, {}).items())


def _references(model: type[Synced], data: dict[str, Any]) -> list[tuple[str, str, str]]:
    fields = list(_reference_fields(model))
    named = data.get("entity")  # an audit event's record, of the entity it names
    if model.__entity__ == "audit_event" and isinstance(named, str) and named in ENTITY_MODELS:
        fields.append(("entity_id", named))
    if model.__entity__ == "chat_message":  # the doctor who wrote, or the patient
        fields.append(("sender_id", "clinician" if data.get("sender_role") == "doctor" else "patient"))
    # Only ids in their exact shape are looked up: anything else names no row and is refused by
    # the field checks (PostgreSQL would fail the whole push on a NUL in a looked-up text).
    return [
        (field, entity, value)
        for field, entity in fields
        if isinstance(value := data.get(field), str) and _ID.match(value)
    ]


def _owner(writer: RowWriter, entity: str, row_id: str) -> Owner | None:
    if (entity, row_id) not in writer.owners:
        _learn(writer, {entity: {row_id}})
    owner: Owner | None = writer.owners[(entity, row_id)]
    return owner


@cache
def _owners_query(entity: str, dialect: str) -> Select[Any]:
    table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
    clinic = table.c.id if entity == "clinic" else table.c.clinic_id
    columns = [table.c.id, clinic.label("clinic_id")]
    if entity == "clinician":
        columns += [table.c.role, table.c.active, table.c.deleted]
    return select(*columns).where(one_of(table.c.id, "b_ids", dialect))


def _learn(writer: RowWriter, wanted: dict[str, set[str]]) -> None:
    """Rows' owners as they are now. The owner of a row never changes (no op moves a row to another
    clinic, and staff accounts change only outside pushes); an id not found stays unknown."""
    for entity, ids in wanted.items():
        asked = sorted(row_id for row_id in ids if (entity, row_id) not in writer.owners)
        if not asked:
            continue
        conn = writer.conn
        found: dict[str, Owner] = {}
        for row in conn.execute(_owners_query(entity, conn.dialect.name), {"b_ids": asked}).mappings():
            if entity == "clinician":
                active = bool(row["active"]) and not row["deleted"]
                found[row["id"]] = Owner(row["clinic_id"], row["role"], active)
            else:
                found[row["id"]] = Owner(row["clinic_id"])
        for row_id in asked:
            writer.owners[(entity, row_id)] = found.get(row_id)


def _clinic_of(model: type[Synced], row: RowMapping) -> str | None:
    return row.get("id") if model.__entity__ == "clinic" else row.get("clinic_id")
