"""The conflict log as staff see it: listing a clinic's conflicts, and resolving one.

Resolving is a synced change like any other: the conflict record and every row the choice
touches (a cancelled or moved appointment, a merged patient's records) are written through
`RowWriter`, so each desk and kiosk receives them on its next pull. Changes to entity rows go
through `apply.apply_op`, the same validation and seat placement a device's op gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desktop.domain import appointments as appt
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import BookingConflict, ClinicError, InvalidInput, NotAllowed, NotFound
from desktop.domain.ids import new_id
from desktop.domain.reminders import OPEN_STATUSES, ReminderStatus
from desktop.domain.roles import require
from desktop.store.codec import data_fields, encode
from desktop.store.models import (
    ENTITY_MODELS,
    PATIENT_RECORDS,
    Appointment,
    AuditEvent,
    Clinic,
    Patient,
    Reminder,
    SyncConflict,
    Synced,
)
from desktop.store.slots import free_slots_of, read_calendars
from desktop.sync.protocol import Op, OpResult, ResolveRequest
from server_stub import apply
from server_stub.access import Caller
from server_stub.models import ChangeLog
from server_stub.rows import RowWriter

Status = Literal["open", "resolved", "all"]
RESOLUTION_OF_CHOICE = {"keep_server": "server_won", "keep_device": "client_won", "merge": "merged"}
CONTACT_FIELDS = ("phone", "email", "address", "allergies")


class AlreadyResolved(ClinicError):
    code = "already_resolved"


class Refused(ClinicError):
    """The domain rules refuse what the choice would do (e.g. cancelling a completed visit)."""

    code = "refused"


def _as_json(seq: int, row: Any) -> dict[str, Any]:
    out = {"seq": seq, "id": row["id"], "version": row["version"], "hlc": row["hlc"]}
    out.update({k: encode(row[k]) for k in data_fields(SyncConflict)})
    return out


def list_conflicts(
    conn: Connection, *, clinic_id: str, since: int, status: Status, limit: int
) -> dict[str, Any]:
    """`{"conflicts": [...], "next": seq, "more": bool}`: the clinic's conflicts changed after `since`."""
    log, table = ChangeLog.__table__, SyncConflict.__table__
    query = (
        select(log.c.seq, table)
        .join(table, (log.c.entity == "sync_conflict") & (log.c.entity_id == table.c.id))
        .where(log.c.clinic_id == clinic_id, log.c.seq > since)
        .order_by(log.c.seq)
        .limit(limit + 1)
    )
    if status == "open":
        query = query.where(table.c.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(table.c.resolved_at.is_not(None))
    rows = conn.execute(query).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "conflicts": [_as_json(r["seq"], r) for r in rows],
        "next": rows[-1]["seq"] if rows else since,
        "more": more,
    }


@dataclass
class Resolution:
    """One clinician resolving one conflict, inside the request's transaction."""

    writer: RowWriter
    caller: Caller
    conflict: Any
    request: ResolveRequest

    def hlc(self) -> str:
        return self.writer.clock.now()

    def apply(self, model: type[Synced], row_id: str, data: dict[str, Any]) -> OpResult:
        """Change a row as a desk op would be applied: the same validation and seat placement."""
        current = self.writer.get(model, row_id)
        if current is None:
            raise NotFound(f"The {model.__entity__.replace('_', ' ')} of this conflict is gone.")
        op = Op.model_construct(
            op_id=new_id(),
            entity=model.__entity__,
            entity_id=row_id,
            action="resolve_conflict",
            base_version=current["version"],
            data=data,
            hlc=self.hlc(),
            actor=self.caller.user_id,
        )
        ctx = apply.PushContext(
            clinic_id=self.caller.clinic_id,
            device_id=self.caller.device_id,
            device_kind=self.caller.kind,
            now=self.writer.now,
            clock=self.writer.clock,
        )
        try:
            return apply.apply_op(self.writer, ctx, op)
        except apply.Rejected as exc:
            raise Refused(exc.message, field=exc.field) from None
        except IntegrityError:
            raise Refused("The change clashes with another record; reload and try again.") from None

    def update(self, model: type[Synced], row: Any, changes: dict[str, Any]) -> None:
        self.writer.update(model, row, changes, device_id=self.caller.device_id, hlc=self.hlc())

    def rows_of(self, model: type[Synced], *where: Any) -> list[Any]:
        table = model.__table__  # type: ignore[attr-defined]
        return list(self.writer.conn.execute(select(table).where(*where)).mappings())


def resolve(
    conn: Connection,
    caller: Caller,
    conflict_id: str,
    request: ResolveRequest,
    *,
    now: datetime,
    clock: HybridLogicalClock,
) -> dict[str, Any]:
    if caller.role is None:
        raise NotAllowed("Sign in as a doctor, nurse or admin to resolve conflicts.")
    require(caller.role, "conflict.resolve")
    writer = RowWriter(conn, clinic_id=caller.clinic_id, clock=clock, now=now)
    conflict = writer.get(SyncConflict, conflict_id)
    if conflict is None or conflict["clinic_id"] != caller.clinic_id:
        raise NotFound("No such conflict.", field="conflict_id")
    if conflict["resolved_at"] is not None:
        if conflict["choice"] == request.choice and conflict["resolved_by"] == caller.user_id:
            return _current(conn, conflict_id)  # a retry of this very resolution
        raise AlreadyResolved("This conflict was already resolved on another desk.", field="conflict_id")
    resolution = Resolution(writer, caller, conflict, request)
    CHOICES[request.choice](resolution)
    writer.update(
        SyncConflict,
        conflict,
        {
            "resolution": RESOLUTION_OF_CHOICE.get(request.choice, conflict["resolution"]),
            "resolved_by": caller.user_id,
            "resolved_at": now,
            "choice": request.choice,
            "note": request.note.strip(),
        },
        device_id=caller.device_id,
        hlc=clock.now(),
    )
    return _current(conn, conflict_id)


def _current(conn: Connection, conflict_id: str) -> dict[str, Any]:
    log, table = ChangeLog.__table__, SyncConflict.__table__
    row = (
        conn.execute(
            select(log.c.seq, table)
            .join(table, (log.c.entity == "sync_conflict") & (log.c.entity_id == table.c.id))
            .where(table.c.id == conflict_id)
        )
        .mappings()
        .one()
    )
    return _as_json(row["seq"], row)


# -- the choices ------------------------------------------------------------------------------


def _nothing(_: Resolution) -> None:
    """`keep_server` and `dismiss`: the server's rows stay as they are; the record is closed."""


def _keep_device(r: Resolution) -> None:
    """Write the device's value of the contested field after all, if the rules allow it now."""
    field, model = r.conflict["field"], ENTITY_MODELS.get(r.conflict["entity"])
    if model is None or not field or field not in data_fields(model) or r.conflict["ours"] is None:
        raise InvalidInput("This conflict has no device value to restore.", field="choice")
    r.apply(model, r.conflict["entity_id"], {field: r.conflict["ours"]})


def _double_booking(r: Resolution) -> Any:
    # A double booking is logged on the appointment's start; a new code (field `code`) is not one.
    if r.conflict["entity"] != "appointment" or r.conflict["field"] != "starts_at":
        raise InvalidInput(f"'{r.request.choice}' applies to double bookings only.", field="choice")
    loser = r.writer.get(Appointment, r.conflict["entity_id"])
    if loser is None:
        raise NotFound("The appointment of this conflict is gone.")
    return loser


def _cancel(r: Resolution) -> None:
    """Cancel the appointment that lost the slot, and its reminders."""
    loser = _double_booking(r)
    note = r.request.note.strip() or "Double booking: cancelled from the conflict log."
    r.apply(Appointment, loser["id"], {"status": appt.AppointmentStatus.CANCELLED.value, "status_note": note})
    for reminder in r.rows_of(
        Reminder, Reminder.appointment_id == loser["id"], Reminder.status.in_(OPEN_STATUSES)
    ):
        r.update(Reminder, reminder, {"status": ReminderStatus.CANCELLED.value})


def _rebook(r: Resolution) -> None:
    """Move the appointment that lost the slot to `starts_at`, if that slot is free."""
    loser = _double_booking(r)
    starts_at = r.request.starts_at
    if starts_at is None or starts_at.tzinfo is None:
        raise InvalidInput("Choose the new time, with its time zone.", field="starts_at")
    slot = _free_slot(r.writer.conn, loser, starts_at.astimezone(UTC), r.writer.now)
    if slot is None:
        raise BookingConflict(
            "That time is not free for this doctor: choose another slot.", field="starts_at"
        )
    status = appt.initial_status(appt.AppointmentType(loser["kind"])).value
    result = r.apply(
        Appointment,
        loser["id"],
        {"starts_at": encode(slot[0]), "ends_at": encode(slot[1]), "status": status},
    )
    if result.status == "conflict":  # taken by an overlapping visit the slot grid does not show
        raise BookingConflict(
            "That time is not free for this doctor: choose another slot.", field="starts_at"
        )
    # Its reminders follow it (the dispatcher sends none whose time has passed).
    for reminder in r.rows_of(
        Reminder, Reminder.appointment_id == loser["id"], Reminder.status.in_(OPEN_STATUSES)
    ):
        if reminder["offset_minutes"] is not None:
            r.update(Reminder, reminder, {"due_at": slot[0] - timedelta(minutes=reminder["offset_minutes"])})


def _free_slot(
    conn: Connection, row: Any, starts_at: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """The doctor's free slot that starts at `starts_at` (in hours, not past, not full), if any."""
    with Session(bind=conn) as session:
        clinic = session.get(Clinic, row["clinic_id"])
        if clinic is None:
            return None
        doctor = row["clinician_id"]
        calendars = read_calendars(session, clinic, [doctor])
        day = starts_at.astimezone(calendars.clinic.tz).date()
        slots = free_slots_of(
            session, calendars, first_day=day, last_day=day, now=now, exclude=row["id"]
        ).get(doctor, ())
    return next(((s.start, s.end) for s in slots if s.start == starts_at), None)


def _merge(r: Resolution) -> None:
    """Fold the duplicate registration into the survivor; the duplicate stays, pointing at it."""
    if r.conflict["entity"] != "patient":
        raise InvalidInput("'merge' applies to probable duplicate patients only.", field="choice")
    assert r.caller.role is not None  # checked in resolve()
    require(r.caller.role, "patient.merge")
    suggestion = r.conflict["suggestion"] or {}
    survivor_id = suggestion.get("survivor_id") or r.conflict["other_id"]
    duplicate_id = suggestion.get("duplicate_id") or r.conflict["entity_id"]
    survivor, duplicate = r.writer.get(Patient, survivor_id), r.writer.get(Patient, duplicate_id)
    for patient in (survivor, duplicate):
        if patient is None or patient["deleted"] or patient["clinic_id"] != r.caller.clinic_id:
            raise NotFound("One of the two patient records is gone.", field="conflict_id")
        if patient["merged_into"]:
            raise InvalidInput(f"Patient {patient['code']} was already merged.", field="choice")
    for model in PATIENT_RECORDS:
        owner = model.__table__.c.patient_id  # type: ignore[attr-defined]
        for row in r.rows_of(model, owner == duplicate_id):
            r.update(model, row, {"patient_id": survivor_id})
    filled = {f: duplicate[f] for f in CONTACT_FIELDS if not survivor[f] and duplicate[f]}
    if filled:
        r.update(Patient, survivor, filled)
    r.update(Patient, duplicate, {"merged_into": survivor_id})
    r.writer.insert(
        AuditEvent,
        {
            "id": new_id(),
            "clinic_id": r.caller.clinic_id,
            "at": r.writer.now,
            "actor_id": r.caller.user_id,
            "actor_role": r.caller.role,
            "device_id": r.caller.device_id,
            "patient_id": survivor_id,
            "action": "merge",
            "entity": "patient",
            "entity_id": survivor_id,
            "detail": f"merged {duplicate['code']} into {survivor['code']}",
        },
        device_id=r.caller.device_id,
        hlc=r.hlc(),
    )


CHOICES = {
    "keep_server": _nothing,
    "dismiss": _nothing,
    "keep_device": _keep_device,
    "cancel": _cancel,
    "rebook": _rebook,
    "merge": _merge,
}
