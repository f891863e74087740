"""Applying a device's pushed ops (SYNC.md, "Push: how the server applies one op").

The pushes of a clinic that wait together are applied in one transaction (pushes.py), and every
op is applied whole or not at all (`push_together`: one savepoint for a pass that refuses
nothing, else one per op); each answer is built only from what the transaction will commit.
Validation uses the same domain rules as the device (desktop.domain), never a copy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, bindparam, inspect, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desktop.domain import appointments as appt
from desktop.domain import queue as q
from desktop.domain.clock import HybridLogicalClock, StampAhead
from desktop.domain.errors import ClinicError
from desktop.domain.ids import human_code, new_id
from desktop.domain.patients import check_birth_date, clean_name, name_key
from desktop.domain.prescriptions import PrescriptionStatus, validate_medicines
from desktop.domain.reminders import STATUS_PRECEDENCE as REMINDER_PRECEDENCE
from desktop.store.codec import data_fields, encode
from desktop.store.models import (
    APPEND_ONLY,
    ENTITY_MODELS,
    Appointment,
    Availability,
    Clinic,
    Patient,
    Prescription,
    Synced,
)
from desktop.store.slots import free_slots_of, read_calendars
from desktop.sync.protocol import Op, OpResult, PushRequest, PushResponse
from server_stub.authorise import authorise, read_ahead
from server_stub.db import COPY_MIN_ROWS, insert_rows, one_of, pipelined
from server_stub.fields import check_data, clock_ahead, loggable
from server_stub.models import AppliedOp
from server_stub.rows import CODED, Existing, RowWriter, existing_rows, lock_clinic

# Fields of a conflict record a device may change: the resolution, nothing of the record itself.
CONFLICT_RESOLUTION_FIELDS = frozenset({"resolution", "resolved_by", "resolved_at", "choice", "note"})
# Per-field policies for concurrent changes; every other field: the later clock wins.
STATUS_PRECEDENCE: dict[str, dict[str, int]] = {
    "appointment": {s.value: p for s, p in appt.PRECEDENCE.items()},
    "queue_token": {s.value: p for s, p in q.TOKEN_PRECEDENCE.items()},
    "reminder": dict(REMINDER_PRECEDENCE),
}
VISIT_HAPPENED = frozenset({"checked_in", "in_consultation", "completed"})
# Walk-ins and emergencies are seen without a slot: they never claim a seat.
UNSLOTTED_KINDS = frozenset({appt.AppointmentType.WALK_IN.value, appt.AppointmentType.EMERGENCY.value})
SUGGESTION_DAYS = 14


class Rejected(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class PushContext:
    clinic_id: str
    device_id: str
    device_kind: str
    now: datetime
    clock: HybridLogicalClock


@cache
def _answered(dialect: str) -> Select[Any]:
    return select(AppliedOp.op_id, AppliedOp.result).where(
        AppliedOp.clinic_id == bindparam("b_clinic"), one_of(AppliedOp.op_id, "b_ids", dialect)
    )


class _OneByOne(Exception):
    """An op of the first, optimistic pass was refused: the pushes are applied again, op by op."""


Pushes = Sequence[tuple[PushContext, PushRequest]]


def push_together(conn: Connection, pushes: Pushes) -> list[PushResponse]:
    """Apply pushes to one clinic, in order, inside the caller's transaction (see pushes.py).

    Each op is atomic. Usually every op is accepted, so the pushes are first applied in one
    savepoint, with no savepoint per op and the new rows written a table at a time; if an op is
    refused, that pass is rolled back whole and the pushes are applied again with a savepoint per
    op, so a refused op leaves nothing behind. Both passes start from the same state, so the answers
    are the same as if every op had had its own savepoint."""
    first = pushes[0][0]
    assert all(ctx.clinic_id == first.clinic_id for ctx, _ in pushes), "one clinic at a time"
    # The clinic's writers wait here, before anything is read: an op answered by a push that is
    # still committing must be seen as answered (a device that retries a push it gave up on).
    lock_clinic(conn, first.clinic_id)
    ops = [op for _, request in pushes for op in request.ops]
    rows: dict[type[Synced], list[str]] = {}
    codes: dict[type[Synced], list[str]] = {}
    for op in ops:
        model = ENTITY_MODELS[op.entity]
        rows.setdefault(model, []).append(op.entity_id)
        # A code with a NUL or longer than its column is refused by the field checks; PostgreSQL
        # would fail the lookup (the codes are asked as an array of the column's type).
        code = op.data.get("code")
        if (
            model in CODED
            and op.base_version == 0
            and isinstance(code, str)
            and "\x00" not in code
            and len(code) <= model.__table__.c.code.type.length
        ):
            codes.setdefault(model, []).append(code)
    existing = existing_rows(conn, rows, [op.op_id for op in ops], codes, clinic_id=first.clinic_id)
    seen: dict[str, dict[str, Any]] = {}
    if existing.answered:  # a push sent again
        query = _answered(conn.dialect.name)
        seen = {
            op_id: result
            for op_id, result in conn.execute(
                query, {"b_clinic": first.clinic_id, "b_ids": sorted(existing.answered)}
            )
        }
    try:
        return _apply_all(conn, pushes, dict(seen), existing, one_by_one=False)
    except _OneByOne:
        return _apply_all(conn, pushes, seen, existing, one_by_one=True)


def _apply_all(
    conn: Connection,
    pushes: Pushes,
    seen: dict[str, dict[str, Any]],
    existing: Existing,
    *,
    one_by_one: bool,
) -> list[PushResponse]:
    first = pushes[0][0]
    writer = RowWriter(
        conn,
        clinic_id=first.clinic_id,
        clock=first.clock,
        now=first.now,
        deferred=True,
        batched=not one_by_one,
        locked=True,
        # Plain SAVEPOINT statements here and for each op: `begin_nested()` compiles its clause anew
        # every time. No op opens a savepoint of its own.
        savepoint=None if one_by_one else "push_all",
    )
    fresh = [op for _, request in pushes for op in request.ops if op.op_id not in seen]
    wanted: dict[type[Synced], list[str]] = {}
    for op in fresh:
        wanted.setdefault(ENTITY_MODELS[op.entity], []).append(op.entity_id)
    writer.prefetch(wanted, existing.rows)
    read_ahead(writer, fresh)  # the actors and the rows the ops refer to: whose they are
    if writer.codes is not None:
        writer.codes.learn(existing.codes_asked, existing.codes)
    if not one_by_one:
        _read_ahead(writer, fresh)
    answers: list[PushResponse] = []
    answered: list[dict[str, Any]] = []  # stored in one statement at the end, in the same transaction
    try:
        for ctx, request in pushes:
            answers.append(_apply_ops(writer, ctx, request, seen, answered, one_by_one=one_by_one))
        # What is left to write: for a few ops, in one round trip; for many, a COPY per table.
        with pipelined(conn) if len(answered) < COPY_MIN_ROWS else nullcontext():
            writer.flush()
            if answered:
                writer.writing()
                insert_rows(conn, AppliedOp.__table__, answered)
            if writer.savepoint_open:
                conn.exec_driver_sql("RELEASE SAVEPOINT push_all")
    except (_OneByOne, IntegrityError) as exc:  # an op refused, or a batched row as it was written
        if one_by_one:
            raise
        if writer.savepoint_open:
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT push_all")
            conn.exec_driver_sql("RELEASE SAVEPOINT push_all")
        raise _OneByOne from exc
    return answers


def _apply_ops(
    writer: RowWriter,
    ctx: PushContext,
    request: PushRequest,
    seen: dict[str, dict[str, Any]],
    answered: list[dict[str, Any]],
    *,
    one_by_one: bool,
) -> PushResponse:
    results: list[OpResult] = []
    for op in request.ops:
        if op.op_id in seen:
            results.append(OpResult(**seen[op.op_id], duplicate=True))
            continue
        if one_by_one:
            result = _apply_in_savepoint(writer, ctx, op)
        else:
            try:
                result = apply_op(writer, ctx, op)
            except (Rejected, ClinicError, IntegrityError) as exc:
                raise _OneByOne from exc
        stored = result.model_dump(exclude={"duplicate"})
        answered.append(
            {
                "op_id": op.op_id,
                "clinic_id": ctx.clinic_id,
                "device_id": ctx.device_id,
                "result": stored,
                "applied_at": ctx.now,
            }
        )
        seen[op.op_id] = stored
        results.append(result)
    return PushResponse(results=results, server_time=ctx.now)


_SLOT_FIELDS = ("clinician_id", "starts_at", "ends_at")


def _read_ahead(writer: RowWriter, ops: list[Op]) -> None:
    """Read the seat holders, their doctors' hours and the look-alike patients the ops will ask
    about: a query for each."""
    slots: list[tuple[str, datetime, datetime]] = []
    people: list[tuple[str, str | None]] = []
    for op in ops:
        if op.entity == "appointment" and (op.data.keys() & {*_SLOT_FIELDS, "status"}):
            current = writer.get(Appointment, op.entity_id)
            slot = _slot_asked(op.data, current)
            if slot is not None:
                slots.append(slot)
        elif op.entity == "patient" and writer.get(Patient, op.entity_id) is None:
            try:
                given = check_data(Patient, {k: op.data[k] for k in ("full_name", "phone") if k in op.data})
                key = name_key(clean_name(given["full_name"]))
            except (KeyError, ClinicError):
                continue  # refused when it is applied
            people.append((key, given.get("phone") or None))
    if slots and writer.seats is not None:
        writer.seats.read(writer.conn, slots)
        doctors = {doctor for doctor, _, _ in slots}
        for doctor, hours in _read_hours(writer, writer.clinic_id, doctors).items():
            writer.remember(("hours", writer.clinic_id, doctor), HOURS_READ_WITH, hours)
    if people and writer.look_alikes is not None:
        writer.look_alikes.read(writer.conn, people)


def _slot_asked(data: dict[str, Any], current: RowMapping | None) -> tuple[str, datetime, datetime] | None:
    try:
        given = check_data(Appointment, {k: data[k] for k in _SLOT_FIELDS if k in data})
    except ClinicError:
        return None
    slot = {**{k: current[k] for k in _SLOT_FIELDS}, **given} if current is not None else given
    if len(slot) < len(_SLOT_FIELDS) or not isinstance(slot["clinician_id"], str):
        return None
    return slot["clinician_id"], slot["starts_at"], slot["ends_at"]


def _apply_in_savepoint(writer: RowWriter, ctx: PushContext, op: Op) -> OpResult:
    conn = writer.conn
    conn.exec_driver_sql("SAVEPOINT push_op")
    queued = writer.mark()
    try:
        result = apply_op(writer, ctx, op)
        conn.exec_driver_sql("RELEASE SAVEPOINT push_op")
        return result
    except (Rejected, ClinicError, IntegrityError) as exc:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT push_op")
        conn.exec_driver_sql("RELEASE SAVEPOINT push_op")
        writer.discard(queued)
        message, field = _reason(exc)
    # The refused change is kept in the conflict log, so nothing a device committed is lost,
    # and the row is re-announced so the device replaces its copy with the server's.
    conflict_id = writer.log_conflict(
        entity=op.entity,
        entity_id=op.entity_id,
        resolution="needs_review",
        field=field,
        ours=loggable(op.data),
        detail=f"Refused: {message}",
    )
    model = ENTITY_MODELS[op.entity]
    current = writer.get(model, op.entity_id)
    # Only a row of this clinic: another clinic's row would move into this clinic's feed.
    if current is not None and _clinic_of(model, current) == ctx.clinic_id:
        writer.touch(model, op.entity_id)
    return OpResult(op_id=op.op_id, status="rejected", error=message, field=field, conflict_id=conflict_id)


def _reason(exc: Exception) -> tuple[str, str | None]:
    if isinstance(exc, Rejected):
        return exc.message, exc.field
    if isinstance(exc, ClinicError):
        return exc.message, exc.field
    text = str(getattr(exc, "orig", exc)).lower()
    if "foreign key" in text:
        return "It refers to a record the server does not have.", None
    if "unique" in text or "duplicate key" in text:
        return "It clashes with an existing record.", None
    if "not null" in text or "null value" in text:
        return "A required field is missing.", None
    return "The server could not store this change.", None


def apply_op(writer: RowWriter, ctx: PushContext, op: Op) -> OpResult:
    model = ENTITY_MODELS[op.entity]
    current = writer.get(model, op.entity_id)
    authorise(writer, ctx, op, current)  # who may: before anything of the op is read further
    _observe(ctx.clock, op.hlc)  # an unauthorised op's stamp never moves the server's clock
    data = _decode(model, op.data)
    if current is None:
        return _create(writer, ctx, op, model, data)
    return _update(writer, ctx, op, model, current, data)


def _observe(clock: HybridLogicalClock, hlc: str) -> None:
    """Order the server's next stamps after the op's; a stamp too far ahead is refused, unabsorbed."""
    try:
        clock.observe(hlc)
    except StampAhead as exc:
        raise Rejected(clock_ahead(hlc, exc.ahead_ms), "hlc") from None


def _decode(model: type[Synced], data: dict[str, Any]) -> dict[str, Any]:
    try:
        return check_data(model, data)
    except ClinicError as exc:
        raise Rejected(exc.message, exc.field) from None


def _clinic_of(model: type[Synced], row: dict[str, Any] | RowMapping) -> str | None:
    return row.get("id") if model is Clinic else row.get("clinic_id")


@cache
def _required(model: type[Synced]) -> tuple[str, ...]:
    """Data fields without a default that may not be null."""
    return tuple(
        column.key
        for column in inspect(model).columns
        if not column.nullable
        and column.default is None
        and column.server_default is None
        and column.key in data_fields(model)
    )


def _required_missing(model: type[Synced], row: dict[str, Any]) -> str | None:
    return next((key for key in _required(model) if row.get(key) is None), None)


def _create(
    writer: RowWriter, ctx: PushContext, op: Op, model: type[Synced], data: dict[str, Any]
) -> OpResult:
    if op.base_version != 0:
        raise Rejected("The server has no record of this row.", "entity_id")
    if model.__entity__ == "sync_conflict":
        raise Rejected("Conflict records are made by the server only.", "entity")
    row = {**data, "id": op.entity_id}
    if _clinic_of(model, row) != ctx.clinic_id:
        raise Rejected("This record belongs to another clinic.", "data.clinic_id")
    missing = _required_missing(model, row)
    if missing:
        raise Rejected(f"The field '{missing}' is required.", f"data.{missing}")
    _validate(model, row, None, ctx)
    recoded = _new_code_if_taken(writer, model, row)
    conflict_id = None
    status = "applied"
    if model is Appointment:
        status, conflict_id = _place_appointment(writer, ctx, row)
    version = writer.insert(model, row, device_id=ctx.device_id, hlc=op.hlc)
    if model is Patient:
        conflict_id = _flag_duplicate_patient(writer, row)
    return OpResult(op_id=op.op_id, status=status, version=version, conflict_id=conflict_id or recoded)  # type: ignore[arg-type]


def _new_code_if_taken(writer: RowWriter, model: type[Synced], row: dict[str, Any]) -> str | None:
    """Two devices offline may draw the same human code: the later one gets a new code, logged."""
    if model not in CODED or not writer.code_taken(model, row["code"]):
        return None
    ours = row["code"]
    # The device's prefix (PAT, APT, RX), cut so that the new code fits its column whatever was sent.
    prefix = ours.partition("-")[0][: model.__table__.c.code.type.length - 6]
    while writer.code_taken(model, row["code"]):
        row["code"] = human_code(prefix)
    return writer.log_conflict(
        entity=model.__entity__,
        entity_id=row["id"],
        resolution="server_won",
        field="code",
        ours=ours,
        theirs=row["code"],
        detail=f"Another record had the code {ours} already: this one is {row['code']} now.",
    )


def _update(
    writer: RowWriter,
    ctx: PushContext,
    op: Op,
    model: type[Synced],
    current: RowMapping,
    data: dict[str, Any],
) -> OpResult:
    entity = model.__entity__
    if _clinic_of(model, current) != ctx.clinic_id:
        raise Rejected("This record belongs to another clinic.", "entity_id")
    if "clinic_id" in data and data["clinic_id"] != current["clinic_id"]:
        raise Rejected("A record cannot move to another clinic.", "data.clinic_id")
    if entity in APPEND_ONLY:
        raise Rejected(f"{entity.replace('_', ' ').capitalize()} records cannot be changed.", "entity")
    if entity == "sync_conflict" and set(data) - CONFLICT_RESOLUTION_FIELDS:
        raise Rejected("Only the resolution of a conflict can be changed.", "data")
    if op.base_version > current["version"]:
        raise Rejected("The device claims a newer version than the server's.", "base_version")
    changes = dict(data)
    conflict_ids: list[str] = []
    decided_by_policy: set[str] = set()
    # Merged only when another device changed the row since the op's base: a device's own
    # successive edits (several made before its first sync all sit on version 0) are applied.
    others = (
        writer.fields_changed_since(current["id"], op.base_version, not_by=ctx.device_id)
        if op.base_version < current["version"]
        else {}
    )
    merged = bool(others)
    if merged:
        contested = {f for f in changes if f in others and changes[f] != current[f]}
        if contested and model is Prescription:
            return _keep_both_prescriptions(writer, ctx, op, current, changes)
        for field in sorted(contested):
            ours, theirs = changes[field], current[field]
            # A stamp kept before the server refused stamps ahead of its clock loses to any other.
            their_hlc = "" if ctx.clock.too_far_ahead(others[field]) else others[field]
            device_wins = _device_wins(entity, field, ours, theirs, op.hlc, their_hlc)
            decided_by_policy.add(field)
            if not device_wins:
                del changes[field]
            conflict_ids.append(
                writer.log_conflict(
                    entity=entity,
                    entity_id=current["id"],
                    resolution="client_won" if device_wins else "server_won",
                    field=field,
                    ours=encode(ours),
                    theirs=encode(theirs),
                    detail=_policy_text(entity, field),
                )
            )
    row = {**current, **changes}
    _validate(model, row, current, ctx, changed=set(changes) - decided_by_policy)
    # Validation may normalise values (a patient's name key): write what differs from the row.
    changes = {k: row[k] for k in data_fields(model) if k in changes or row[k] != current[k]}
    status = "merged" if merged else "applied"
    if model is Appointment and _needs_placement(current, changes):
        placed, conflict_id = _place_appointment(writer, ctx, row)
        changes.update({k: row[k] for k in ("status", "seat")})
        status = "conflict" if placed == "conflict" else status
        if conflict_id:
            conflict_ids.append(conflict_id)
    if changes:
        version = writer.update(model, current, changes, device_id=ctx.device_id, hlc=op.hlc)
    else:
        # Every field this op set lost to another device's change: nothing is written, so the
        # row is re-announced, or a device that rebased its edit on top would keep it forever.
        version = current["version"]
        writer.touch(model, current["id"])
    return OpResult(
        op_id=op.op_id,
        status=status,  # type: ignore[arg-type]
        version=version,
        conflict_id=conflict_ids[0] if conflict_ids else None,
    )


def _device_wins(entity: str, field: str, ours: Any, theirs: Any, our_hlc: str, their_hlc: str) -> bool:
    precedence = STATUS_PRECEDENCE.get(entity)
    if precedence is not None and field == "status":
        ours_rank, theirs_rank = precedence.get(ours, -1), precedence.get(theirs, -1)
        if ours_rank != theirs_rank:
            return ours_rank > theirs_rank
    return our_hlc > their_hlc


def _policy_text(entity: str, field: str) -> str:
    if field == "status" and entity in STATUS_PRECEDENCE:
        return "Changed on two devices: the status further along was kept."
    return f"'{field}' was changed on two devices: the later change was kept."


def _keep_both_prescriptions(
    writer: RowWriter, ctx: PushContext, op: Op, current: RowMapping, changes: dict[str, Any]
) -> OpResult:
    """Prescriptions are never merged: the device's version is kept as a separate draft, flagged."""
    copy = {k: current[k] for k in data_fields(Prescription)}
    copy.update(changes)
    copy.update(id=new_id(), status=PrescriptionStatus.DRAFT.value, issued_at=None, supersedes=None)
    writer.insert(Prescription, copy, device_id=ctx.device_id, hlc=op.hlc)
    conflict_id = writer.log_conflict(
        entity="prescription",
        entity_id=current["id"],
        other_id=copy["id"],
        resolution="needs_review",
        detail="Prescription edited on two devices: both versions kept for the doctor to choose.",
    )
    writer.touch(Prescription, current["id"])
    return OpResult(op_id=op.op_id, status="conflict", version=current["version"], conflict_id=conflict_id)


# -- domain validation ------------------------------------------------------------------------


def _validate(
    model: type[Synced],
    row: dict[str, Any],
    current: RowMapping | None,
    ctx: PushContext,
    changed: set[str] | None = None,
) -> None:
    entity = model.__entity__
    touched = changed if changed is not None else set(row)
    if entity == "patient":
        if "full_name" in touched:
            row["full_name"] = clean_name(row["full_name"])
            row["name_key"] = name_key(row["full_name"])
        if "birth_date" in touched:
            check_birth_date(row["birth_date"], ctx.now.date() + timedelta(days=1))
    elif entity == "appointment":
        if row["ends_at"] <= row["starts_at"]:
            raise Rejected("An appointment must end after it starts.", "data.ends_at")
        moved = current is not None and "status" in touched and row["status"] != current["status"]
        if moved and current is not None and not _legal_status_change(current["status"], row["status"]):
            raise Rejected(
                f"An appointment that is {current['status']} cannot become {row['status']}.", "data.status"
            )
    elif entity == "prescription":
        if current is not None and current["status"] != PrescriptionStatus.DRAFT.value:
            allowed = touched <= {"status"} and row["status"] == PrescriptionStatus.SUPERSEDED.value
            if not allowed:
                raise Rejected("An issued prescription cannot be changed; issue a correction.", "data")
        if "medicines" in touched:
            row["medicines"] = validate_medicines(row["medicines"])
    elif (
        entity == "availability"
        and row.get("start_time") is not None
        and row.get("end_time") is not None
        and row["end_time"] <= row["start_time"]
    ):
        # Hours and breaks as the desk checks them; each number's range is its column's (fields.py).
        raise Rejected("The end must be after the start.", "data.end_time")


def _legal_status_change(current: str, target: str) -> bool:
    """Reachable in the state machine; and a lost double booking may still be seen (the visit happened)."""
    if current == appt.AppointmentStatus.CONFLICT.value and target in VISIT_HAPPENED:
        return True
    return appt.reachable(appt.TRANSITIONS, appt.AppointmentStatus(current), appt.AppointmentStatus(target))


# -- double bookings --------------------------------------------------------------------------


_appointments = Appointment.__table__
_availability = Availability.__table__
_clinics = Clinic.__table__
HOURS_READ_WITH = ("clinic", "availability")  # what a doctor's hours are read from


class _Hours(NamedTuple):
    zone: str
    rules: tuple[tuple[int, time, time, int], ...]  # weekday, start, end, seats


@cache
def _zone_and_hours(dialect: str) -> Select[Any]:
    """The clinic's zone with the weekly hours of some doctors (one row of NULL hours if none)."""
    return (
        select(
            _clinics.c.timezone,
            _availability.c.clinician_id,
            _availability.c.weekday,
            _availability.c.start_time,
            _availability.c.end_time,
            _availability.c.capacity,
        )
        .select_from(
            _clinics.outerjoin(
                _availability,
                one_of(_availability.c.clinician_id, "b_doctors", dialect)
                & (_availability.c.kind == "hours")
                & _availability.c.deleted.is_(False),
            )
        )
        .where(_clinics.c.id == bindparam("b_clinic"))
    )


def _read_hours(writer: RowWriter, clinic_id: str, doctors: Collection[str]) -> dict[str, _Hours | None]:
    """Each doctor's weekly hours in the clinic's zone; None for all if there is no such clinic."""
    conn = writer.conn
    params = {"b_clinic": clinic_id, "b_doctors": list(doctors)}
    rows = conn.execute(_zone_and_hours(conn.dialect.name), params).all()
    if not rows:
        return dict.fromkeys(doctors)
    rules: dict[str, list[tuple[int, time, time, int]]] = {doctor: [] for doctor in doctors}
    for _, doctor, weekday, start, end, seats in rows:
        if doctor is not None:
            rules[doctor].append((weekday, start, end, seats))
    return {doctor: _Hours(rows[0].timezone, tuple(r)) for doctor, r in rules.items()}


def _hours_of(writer: RowWriter, clinic_id: str, doctor: str) -> _Hours | None:
    # Read once per push (or ahead for all of its doctors), until it changes the clinic or hours.
    return writer.cached(
        ("hours", clinic_id, doctor),
        HOURS_READ_WITH,
        lambda: _read_hours(writer, clinic_id, [doctor])[doctor],
    )


def _needs_placement(current: RowMapping, changes: dict[str, Any]) -> bool:
    """Re-check the slot when an appointment moves, or comes back to life."""
    if {"starts_at", "ends_at", "clinician_id"} & changes.keys():
        return True
    revived = changes.get("status") in {s.value for s in appt.ACTIVE_STATUSES}
    return revived and current["status"] not in {s.value for s in appt.ACTIVE_STATUSES}


def _place_appointment(writer: RowWriter, ctx: PushContext, row: dict[str, Any]) -> tuple[str, str | None]:
    """Give a slotted active appointment a free seat, or make it lose to the one that came first."""
    active = {s.value for s in appt.ACTIVE_STATUSES}
    if row["kind"] in UNSLOTTED_KINDS or row["status"] not in active or row.get("deleted"):
        return "applied", None
    overlapping = writer.seat_holders(row["clinician_id"], row["id"], row["starts_at"], row["ends_at"])
    same_slot = [o for o in overlapping if o.starts_at == row["starts_at"] and o.ends_at == row["ends_at"]]
    capacity = _slot_capacity(writer, row)
    if len(same_slot) == len(overlapping) and len(same_slot) < capacity:
        taken = {o.seat for o in same_slot}
        row["seat"] = next(seat for seat in range(1, capacity + 1) if seat not in taken)
        return "applied", None
    winner = overlapping[0].id
    if row["status"] in VISIT_HAPPENED:
        # The visit happened: keep it as it is, without a seat, and flag the overlap for review.
        row["seat"] = None
        return "applied", writer.log_conflict(
            entity="appointment",
            entity_id=row["id"],
            other_id=winner,
            resolution="needs_review",
            field="starts_at",
            ours=encode(row["starts_at"]),
            theirs=encode(overlapping[0].starts_at),
            detail="Double booking found after the patient was already seen.",
        )
    row["status"], row["seat"] = appt.AppointmentStatus.CONFLICT.value, None
    suggestion = _next_free_slot(writer.conn, row, ctx.now)
    return "conflict", writer.log_conflict(
        entity="appointment",
        entity_id=row["id"],
        other_id=winner,
        resolution="server_won",
        field="starts_at",
        ours=encode(row["starts_at"]),
        theirs=encode(overlapping[0].starts_at),
        detail="The same slot was booked on another device first.",
        suggestion={"starts_at": suggestion.isoformat()} if suggestion else None,
    )


def _slot_capacity(writer: RowWriter, row: dict[str, Any]) -> int:
    hours = _hours_of(writer, row["clinic_id"], row["clinician_id"])
    if hours is None:  # no such clinic
        return 1
    local = row["starts_at"].astimezone(ZoneInfo(hours.zone))
    for weekday, start, end, seats in hours.rules:
        if weekday == local.weekday() and start <= local.time() < end:
            return max(1, seats)
    return 1


def _next_free_slot(conn: Connection, row: dict[str, Any], now: datetime) -> datetime | None:
    with Session(bind=conn) as session:
        clinic = session.get(Clinic, row["clinic_id"])
        if clinic is None:
            return None
        doctor = row["clinician_id"]
        calendars = read_calendars(session, clinic, [doctor])
        first: date = row["starts_at"].astimezone(calendars.clinic.tz).date()
        last = first + timedelta(days=SUGGESTION_DAYS)
        slots = free_slots_of(session, calendars, first_day=first, last_day=last, now=now).get(doctor, ())
    after = max(row["starts_at"], now)
    return next((s.start for s in slots if s.start >= after), None)


# -- probable duplicate patients --------------------------------------------------------------


def _flag_duplicate_patient(writer: RowWriter, row: dict[str, Any]) -> str | None:
    other = writer.first_look_alike(row)
    if other is None:
        return None
    return writer.log_conflict(
        entity="patient",
        entity_id=row["id"],
        other_id=other,
        resolution="needs_review",
        detail="Probably the same person registered twice: review and merge.",
        suggestion={"action": "merge", "survivor_id": other, "duplicate_id": row["id"]},
    )
