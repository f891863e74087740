"""Booking, rescheduling, cancelling; accepting requests; recurring follow-ups; the waitlist.

A slot has `capacity` seats; an active appointment claims one seat, and a partial unique index
on (doctor, start, seat) makes the database refuse a second claim of the same seat. The checks
before the insert give the friendly message; the index is what makes a double booking impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desktop.domain.appointments import (
    ACTIVE_STATUSES,
    AppointmentStatus,
    AppointmentType,
    Urgency,
    check_transition,
    initial_status,
)
from desktop.domain.errors import BookingConflict, InvalidInput
from desktop.domain.ids import new_id, normalise_code
from desktop.domain.reasons import Reason
from desktop.domain.roles import KIOSK_BOOKS, STATUS_PERMISSION, Role, require
from desktop.domain.scheduling import Slot, SlotList, day_bounds
from desktop.domain.waitlist import OPEN_WAITLIST, WaitlistStatus
from desktop.services import audit, reminders
from desktop.services.availability import find_free_slots
from desktop.services.common import (
    Actor,
    ClinicianInfo,
    ClinicInfo,
    PatientBrief,
    clinic_zone,
    clinician,
    current_clinic,
    get,
    local_day,
    local_time_text,
    patient_brief,
    unused_code,
)
from desktop.services.records import AppointmentRecord, WaitlistEntryRecord, record_of, records_of
from desktop.store.models import Appointment, WaitlistEntry
from desktop.store.prepared import Prepared
from desktop.store.uow import UnitOfWork

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
UNSLOTTED = (AppointmentType.WALK_IN, AppointmentType.EMERGENCY)
UNSLOTTED_MINUTES = 15
OFFER_HOLD = timedelta(hours=2)


def _doctor(session: Session, clinician_id: str) -> ClinicianInfo:
    doctor = clinician(session, clinician_id)
    if doctor.role != Role.DOCTOR or not doctor.active:
        raise InvalidInput(Reason.of("booking.not_bookable", doctor=doctor.name), field="clinician_id")
    return doctor


def _patient(session: Session, patient_id: str) -> PatientBrief:
    patient = patient_brief(session, patient_id)
    if patient.merged_into:
        return patient_brief(session, patient.merged_into)
    return patient


def _slot_at(uow: UnitOfWork, doctor: ClinicianInfo, starts_at: datetime) -> Slot:
    clinic = current_clinic(uow.session)
    day = local_day(clinic, starts_at)
    slots = find_free_slots(
        uow.session,
        first_day=day,
        last_day=day,
        clinician_ids=[doctor.id],
        now=uow.now(),
        include_full=True,
    ).get(doctor.id, SlotList(doctor.id))
    slot = slots.at(starts_at)
    if slot is not None and slot.free > 0:
        return slot
    nxt = next((s for s in slots if s.start > starts_at and s.free > 0), None)
    tz = clinic_zone(clinic)
    raise BookingConflict(
        Reason.of(
            "booking.slot_full" if slot is not None else "booking.no_slot",
            doctor=doctor.name,
            at=starts_at.astimezone(tz),
            next_free=nxt.start.astimezone(tz) if nxt else None,
        ),
        field="starts_at",
        details={"next_free": nxt.start.isoformat() if nxt else None},
    )


# Booking's own queries, built once (see store/slots.py _RULES for why), on table columns: the rows
# skip the ORM's loading. Such statements do not autoflush: `book` flushes before its checks.
_a = Appointment.__table__.c
_PATIENT_CLASH = Prepared(
    select(_a.starts_at, _a.code)
    .where(
        _a.patient_id == bindparam("patient"),
        _a.status.in_(_ACTIVE),
        _a.deleted.is_(False),
        _a.starts_at < bindparam("end"),
        _a.ends_at > bindparam("start"),
    )
    .limit(1)
)
_SEATS_TAKEN = select(_a.seat).where(
    _a.clinician_id == bindparam("doctor"),
    _a.starts_at == bindparam("start"),
    _a.status.in_(_ACTIVE),
    _a.deleted.is_(False),
    _a.seat.is_not(None),
)


def _check_patient_free(
    session: Session, patient: PatientBrief, start: datetime, end: datetime, clinic: ClinicInfo
) -> None:
    clash = _PATIENT_CLASH.first(session, {"patient": patient.id, "start": start, "end": end})
    if clash is not None:
        starts_at, code = clash
        raise BookingConflict(
            Reason.of(
                "booking.patient_busy",
                patient=patient.full_name,
                at=starts_at.astimezone(clinic_zone(clinic)),
                appointment=code,
            ),
            field="starts_at",
        )


def _free_seat(session: Session, doctor_id: str, slot: Slot) -> int:
    if slot.taken == 0:  # nothing overlaps the slot, so no appointment starting with it holds a seat
        return 1
    taken = set(session.scalars(_SEATS_TAKEN, {"doctor": doctor_id, "start": slot.start}))
    capacity = slot.capacity
    return next(seat for seat in range(1, capacity + len(taken) + 2) if seat not in taken)


def _insert_claiming_seat(uow: UnitOfWork, appointment: Appointment, doctor: ClinicianInfo) -> Appointment:
    """Write the booking now: a seat another writer took first (the unique index) is a
    BookingConflict. No savepoint: the error ends the unit of work, which rolls back whole."""
    try:
        return uow.insert(appointment, action="book")
    except IntegrityError:
        raise BookingConflict(
            Reason.of("booking.seat_taken", doctor=doctor.name), field="starts_at"
        ) from None


def book(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: str,
    clinician_id: str,
    starts_at: datetime | None = None,
    kind: AppointmentType = AppointmentType.KIOSK,
    urgency: Urgency = Urgency.ROUTINE,
    reason: str = "",
    series_id: str | None = None,
    rescheduled_from: str | None = None,
    status: AppointmentStatus | None = None,
) -> AppointmentRecord:
    """Book a slot (or, for walk-ins and emergencies, an unslotted visit now)."""
    require(actor.role, "appointment.book")
    kind, urgency = AppointmentType(kind), Urgency(urgency)
    if actor.role is Role.KIOSK and kind not in KIOSK_BOOKS:
        raise InvalidInput(Reason.of("booking.kiosk_kinds_only"), field="kind")
    if len(reason) > 300:
        raise InvalidInput(Reason.of("booking.reason_too_long"), field="reason")
    session = uow.session
    session.flush()  # what this unit of work changed so far counts in the checks
    clinic = current_clinic(session)
    doctor = _doctor(session, clinician_id)
    patient = _patient(session, patient_id)
    seat: int | None
    if kind in UNSLOTTED:
        start = starts_at or uow.now()
        end = start + timedelta(minutes=UNSLOTTED_MINUTES)
        seat = None
    else:
        if starts_at is None:
            raise InvalidInput(Reason.of("booking.time_missing"), field="starts_at")
        if starts_at.tzinfo is None:
            raise InvalidInput(Reason.of("booking.time_without_zone"), field="starts_at")
        # Slots are in UTC; a clinic-zone time in the repeated hour of a DST change never
        # compares equal to another zone's, so compare in UTC.
        slot = _slot_at(uow, doctor, starts_at.astimezone(UTC))
        start, end = slot.start, slot.end
        seat = _free_seat(session, doctor.id, slot)
    _check_patient_free(session, patient, start, end, clinic)
    emergency = kind is AppointmentType.EMERGENCY or urgency is Urgency.EMERGENCY
    appointment = _insert_claiming_seat(
        uow,
        Appointment(
            clinic_id=clinic.id,
            code=unused_code(uow.session, Appointment, "APT"),
            clinician_id=doctor.id,
            patient_id=patient.id,
            starts_at=start,
            ends_at=end,
            seat=seat,
            kind=kind.value,
            urgency=Urgency.EMERGENCY.value if emergency else urgency.value,
            emergency=emergency,
            status=(status or initial_status(kind)).value,
            reason=reason.strip(),
            series_id=series_id,
            rescheduled_from=rescheduled_from,
            booked_by=uow.device_id or None,
        ),
        doctor,
    )
    reminders.schedule(uow, appointment=appointment, patient_id=patient.id)
    audit.record(
        uow,
        actor=actor,
        clinic_id=clinic.id,
        action="book",
        entity="appointment",
        entity_id=appointment.id,
        patient_id=patient.id,
        detail=f"{appointment.code} with {doctor.name} at {local_time_text(clinic, start)}",
    )
    return record_of(AppointmentRecord, appointment)


def transition(
    uow: UnitOfWork, *, actor: Actor, appointment_id: str, to: AppointmentStatus, note: str = ""
) -> AppointmentRecord:
    """Move an appointment along its state machine; illegal moves raise InvalidTransition."""
    to = AppointmentStatus(to)
    require(actor.role, STATUS_PERMISSION.get(to, "appointment.manage"))
    appointment = get(uow.session, Appointment, appointment_id)
    check_transition(appointment.status, to)
    appointment.status = to.value
    if note:
        appointment.status_note = note[:300]
    uow.label(appointment, "transition")
    audit.record(
        uow,
        actor=actor,
        clinic_id=appointment.clinic_id,
        action=f"appointment_{to.value}",
        entity="appointment",
        entity_id=appointment.id,
        patient_id=appointment.patient_id,
        detail=note,
    )
    if to in (AppointmentStatus.CANCELLED, AppointmentStatus.REJECTED, AppointmentStatus.RESCHEDULED):
        notify = to is AppointmentStatus.CANCELLED
        reminders.cancel_for(uow, appointment_id=appointment.id, notify=notify)
    elif to is AppointmentStatus.CONFIRMED:  # an online request accepted, a conflict resolved
        uow.flush()
        if not reminders.status_of(uow.session, appointment_id=appointment.id):
            reminders.schedule(uow, appointment=appointment, patient_id=appointment.patient_id)
    if to in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW, AppointmentStatus.REJECTED):
        uow.flush()
        _offer_if_freed(uow, appointment)
    return record_of(AppointmentRecord, appointment)


def accept(uow: UnitOfWork, *, actor: Actor, appointment_id: str) -> AppointmentRecord:
    return transition(uow, actor=actor, appointment_id=appointment_id, to=AppointmentStatus.CONFIRMED)


def reject(uow: UnitOfWork, *, actor: Actor, appointment_id: str, reason: str) -> AppointmentRecord:
    if not reason.strip():
        raise InvalidInput(Reason.of("booking.rejection_needs_reason"), field="reason")
    return transition(
        uow, actor=actor, appointment_id=appointment_id, to=AppointmentStatus.REJECTED, note=reason
    )


def cancel(uow: UnitOfWork, *, actor: Actor, appointment_id: str, reason: str = "") -> AppointmentRecord:
    return transition(
        uow, actor=actor, appointment_id=appointment_id, to=AppointmentStatus.CANCELLED, note=reason
    )


def reschedule(
    uow: UnitOfWork,
    *,
    actor: Actor,
    appointment_id: str,
    starts_at: datetime,
    clinician_id: str | None = None,
) -> AppointmentRecord:
    """Move to a new slot: the old appointment becomes `rescheduled`, a new one points back to it."""
    require(actor.role, "appointment.manage")
    old = get(uow.session, Appointment, appointment_id)
    check_transition(old.status, AppointmentStatus.RESCHEDULED)
    old.status = AppointmentStatus.RESCHEDULED.value
    uow.label(old, "transition")
    uow.flush()  # the old seat is free before the new claim
    new = book(
        uow,
        actor=actor,
        patient_id=old.patient_id,
        clinician_id=clinician_id or old.clinician_id,
        starts_at=starts_at,
        kind=AppointmentType(old.kind),
        urgency=Urgency(old.urgency),
        reason=old.reason,
        series_id=old.series_id,
        rescheduled_from=old.id,
        # Only confirmed appointments can be moved, so the new one is confirmed too.
        status=AppointmentStatus.CONFIRMED,
    )
    reminders.cancel_for(uow, appointment_id=old.id)
    _offer_if_freed(uow, old)
    return new


@dataclass(frozen=True, slots=True)
class SeriesResult:
    appointments: tuple[AppointmentRecord, ...]
    moved: tuple[Reason, ...]  # booking.follow_up_moved: occurrences not at the asked time


def book_follow_ups(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: str,
    clinician_id: str,
    first_start: datetime,
    every_weeks: int,
    count: int,
    reason: str = "Follow-up",
) -> SeriesResult:
    """Book `count` follow-ups every `every_weeks` weeks at the same local time: all or nothing.

    An occurrence whose exact slot is taken moves to the nearest free slot on the same day;
    a day with nothing free fails the whole series with the date named.
    """
    require(actor.role, "appointment.manage")
    if not 1 <= every_weeks <= 52:
        raise InvalidInput(Reason.of("booking.bad_repeat_weeks"), field="every_weeks")
    if not 1 <= count <= 26:
        raise InvalidInput(Reason.of("booking.bad_follow_up_count"), field="count")
    clinic = current_clinic(uow.session)
    tz = clinic_zone(clinic)
    local_first = first_start.astimezone(tz)
    series_id = new_id()
    booked: list[AppointmentRecord] = []
    moved: list[Reason] = []
    for n in range(count):
        wanted_local = local_first + timedelta(weeks=every_weeks * n)
        # Same wall-clock time each week, even across a daylight-saving change.
        wanted = datetime.combine(wanted_local.date(), local_first.timetz().replace(tzinfo=None), tzinfo=tz)
        start = _nearest_free(uow, clinician_id, wanted)
        if start is None:
            raise BookingConflict(
                Reason.of("booking.follow_up_impossible", n=n + 1, day=wanted.date()), field="first_start"
            )
        # Compare in UTC: Python never finds a time in the repeated hour of a DST change equal
        # to a time in another zone, so a local `wanted` would always look moved there.
        if start != wanted.astimezone(UTC):
            moved.append(Reason.of("booking.follow_up_moved", n=n + 1, at=start.astimezone(tz)))
        booked.append(
            book(
                uow,
                actor=actor,
                patient_id=patient_id,
                clinician_id=clinician_id,
                starts_at=start,
                kind=AppointmentType.FOLLOW_UP,
                reason=reason,
                series_id=series_id,
            )
        )
        uow.flush()
    return SeriesResult(tuple(booked), tuple(moved))


def _nearest_free(uow: UnitOfWork, clinician_id: str, wanted: datetime) -> datetime | None:
    day = wanted.date()
    slots = find_free_slots(
        uow.session, first_day=day, last_day=day, clinician_ids=[clinician_id], now=uow.now()
    ).get(clinician_id, [])
    if not slots:
        return None
    return min(slots, key=lambda s: (abs((s.start - wanted).total_seconds()), s.start)).start


def agenda(session: Session, *, clinician_id: str, day: date) -> list[AppointmentRecord]:
    """A doctor's appointments on one local day, in time order (every status but tombstones)."""
    clinic = current_clinic(session)
    start_ts, end_ts = day_bounds(day, clinic_zone(clinic))
    start = datetime.fromtimestamp(start_ts).astimezone()
    end = datetime.fromtimestamp(end_ts).astimezone()
    return records_of(
        AppointmentRecord,
        session.scalars(
            select(Appointment)
            .where(
                Appointment.clinician_id == clinician_id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                Appointment.deleted.is_(False),
            )
            .order_by(Appointment.starts_at, Appointment.seat)
        ),
    )


def requests(session: Session) -> list[AppointmentRecord]:
    """Online requests waiting for a clinician's decision, oldest first."""
    return records_of(
        AppointmentRecord,
        session.scalars(
            select(Appointment)
            .where(Appointment.status == AppointmentStatus.REQUESTED.value, Appointment.deleted.is_(False))
            .order_by(Appointment.starts_at)
        ),
    )


def find_by_code(session: Session, code: str) -> AppointmentRecord | None:
    found = session.scalars(select(Appointment).where(Appointment.code == normalise_code(code))).first()
    return record_of(AppointmentRecord, found) if found is not None else None


# -- waitlist ---------------------------------------------------------------------------------


def join_waitlist(
    uow: UnitOfWork, *, actor: Actor, patient_id: str, clinician_id: str, earliest: date, latest: date
) -> WaitlistEntryRecord:
    require(actor.role, "appointment.book")
    if latest < earliest:
        raise InvalidInput(Reason.of("waitlist.bad_day_range"), field="latest")
    patient = _patient(uow.session, patient_id)
    doctor = _doctor(uow.session, clinician_id)
    already = uow.session.scalar(
        select(
            exists().where(
                WaitlistEntry.patient_id == patient.id,
                WaitlistEntry.clinician_id == doctor.id,
                WaitlistEntry.status.in_(OPEN_WAITLIST),
                WaitlistEntry.deleted.is_(False),
            )
        )
    )
    if already:
        raise InvalidInput(
            Reason.of("waitlist.already_waiting", patient=patient.full_name, doctor=doctor.name),
            field="patient_id",
        )
    entry = uow.add(
        WaitlistEntry(
            clinic_id=doctor.clinic_id,
            patient_id=patient.id,
            clinician_id=doctor.id,
            earliest=earliest,
            latest=latest,
            status=WaitlistStatus.WAITING.value,
            joined_at=uow.now(),
        )
    )
    return record_of(WaitlistEntryRecord, entry)


def _offer_if_freed(uow: UnitOfWork, appointment: Appointment) -> WaitlistEntryRecord | None:
    if appointment.seat is None:
        return None
    return offer_freed_slot(
        uow,
        clinician_id=appointment.clinician_id,
        starts_at=appointment.starts_at,
        skip_patient_id=appointment.patient_id,
    )


def offer_freed_slot(
    uow: UnitOfWork, *, clinician_id: str, starts_at: datetime, skip_patient_id: str | None = None
) -> WaitlistEntryRecord | None:
    """Offer a just-freed future slot to the first patient waiting for that doctor on that day."""
    if starts_at <= uow.now():
        return None
    clinic = current_clinic(uow.session)
    day = local_day(clinic, starts_at)
    # An offer that lapsed unanswered leaves the patient in line, in their old place.
    lapsed = and_(
        WaitlistEntry.status == WaitlistStatus.OFFERED.value, WaitlistEntry.offer_expires_at < uow.now()
    )
    entry = uow.session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.clinician_id == clinician_id,
            or_(WaitlistEntry.status == WaitlistStatus.WAITING.value, lapsed),
            WaitlistEntry.deleted.is_(False),
            WaitlistEntry.earliest <= day,
            WaitlistEntry.latest >= day,
            WaitlistEntry.patient_id != (skip_patient_id or ""),
        )
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    ).first()
    if entry is None:
        return None
    entry.status = WaitlistStatus.OFFERED.value
    entry.offered_start = starts_at
    entry.offer_expires_at = min(uow.now() + OFFER_HOLD, starts_at)
    uow.label(entry, "offer_slot")
    return record_of(WaitlistEntryRecord, entry)


def accept_offer(uow: UnitOfWork, *, actor: Actor, entry_id: str) -> AppointmentRecord:
    entry = get(uow.session, WaitlistEntry, entry_id)
    if entry.status != WaitlistStatus.OFFERED or entry.offered_start is None:
        raise InvalidInput(Reason.of("waitlist.no_open_offer"), field="entry_id")
    if entry.offer_expires_at and entry.offer_expires_at < uow.now():
        # Nothing is written (the unit of work rolls back): a lapsed offer already counts as
        # waiting when the next slot is freed (see offer_freed_slot).
        raise BookingConflict(Reason.of("waitlist.offer_expired"))
    appointment = book(
        uow,
        actor=actor,
        patient_id=entry.patient_id,
        clinician_id=entry.clinician_id,
        starts_at=entry.offered_start,
        kind=AppointmentType.KIOSK if actor.role is Role.KIOSK else AppointmentType.FOLLOW_UP,
        reason="From the waiting list",
    )
    entry.status = WaitlistStatus.BOOKED.value
    entry.appointment_id = appointment.id
    return appointment


def decline_offer(uow: UnitOfWork, *, actor: Actor, entry_id: str) -> WaitlistEntryRecord | None:
    """The patient declines: they stay waiting, and the slot goes to the next in line."""
    require(actor.role, "appointment.book")
    entry = get(uow.session, WaitlistEntry, entry_id)
    if entry.status != WaitlistStatus.OFFERED or entry.offered_start is None:
        raise InvalidInput(Reason.of("waitlist.no_open_offer"), field="entry_id")
    start = entry.offered_start
    entry.status, entry.offered_start, entry.offer_expires_at = WaitlistStatus.WAITING.value, None, None
    entry.joined_at = uow.now()  # back of the line
    uow.flush()
    return offer_freed_slot(
        uow, clinician_id=entry.clinician_id, starts_at=start, skip_patient_id=entry.patient_id
    )
