"""A doctor's calendar: weekly hours, breaks, leave; and turning it into free slots."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.errors import InvalidInput
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role, require
from desktop.domain.scheduling import SlotList, validate_window
from desktop.services.common import Actor, current_clinic, get
from desktop.services.records import AvailabilityRecord, record_of
from desktop.store.models import Availability, Clinician
from desktop.store.reference import cached
from desktop.store.slots import Calendars, free_slots_of, read_calendars
from desktop.store.uow import UnitOfWork


def _doctor(uow: UnitOfWork, clinician_id: str) -> Clinician:
    doctor = get(uow.session, Clinician, clinician_id)
    if doctor.role != Role.DOCTOR:
        raise InvalidInput(Reason.of("availability.not_a_doctor", name=doctor.name), field="clinician_id")
    return doctor


def _check_weekday(weekday: int) -> None:
    if not 0 <= weekday <= 6:
        raise InvalidInput(Reason.of("availability.bad_weekday"), field="weekday")


def set_hours(
    uow: UnitOfWork,
    *,
    actor: Actor,
    clinician_id: str,
    weekday: int,
    start: time,
    end: time,
    slot_minutes: int = 15,
    capacity: int = 1,
    buffer_minutes: int = 0,
    daily_cap: int | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> AvailabilityRecord:
    """Add a weekly working window. Overlapping windows on the same weekday are refused."""
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    _check_weekday(weekday)
    validate_window(start, end, slot_minutes=slot_minutes, capacity=capacity, buffer_minutes=buffer_minutes)
    if daily_cap is not None and daily_cap < 1:
        raise InvalidInput(Reason.of("availability.bad_daily_cap"), field="daily_cap")
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidInput(Reason.of("availability.valid_to_before_from"), field="valid_to")
    for rule in _rules(uow.session, clinician_id, "hours"):
        same_time = rule.weekday == weekday and rule.start_time < end and start < rule.end_time
        if same_time and _periods_overlap(rule.valid_from, rule.valid_to, valid_from, valid_to):
            raise InvalidInput(
                Reason.of("availability.hours_overlap", start=rule.start_time, end=rule.end_time),
                field="start",
            )
    row = uow.add(
        Availability(
            clinic_id=doctor.clinic_id,
            clinician_id=doctor.id,
            kind="hours",
            weekday=weekday,
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
            buffer_minutes=buffer_minutes,
            daily_cap=daily_cap,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    )
    return record_of(AvailabilityRecord, row)


def add_break(
    uow: UnitOfWork, *, actor: Actor, clinician_id: str, weekday: int, start: time, end: time, note: str = ""
) -> AvailabilityRecord:
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    _check_weekday(weekday)
    if end <= start:
        raise InvalidInput(Reason.of("availability.break_ends_first"), field="end")
    row = uow.add(
        Availability(
            clinic_id=doctor.clinic_id,
            clinician_id=doctor.id,
            kind="break",
            weekday=weekday,
            start_time=start,
            end_time=end,
            note=note,
        )
    )
    return record_of(AvailabilityRecord, row)


def add_leave(
    uow: UnitOfWork, *, actor: Actor, clinician_id: str, first_day: date, last_day: date, note: str = ""
) -> AvailabilityRecord:
    """Days off. Existing appointments in the period stay; `booking.affected_by_leave` lists them."""
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    if last_day < first_day:
        raise InvalidInput(Reason.of("availability.leave_ends_first"), field="last_day")
    row = uow.add(
        Availability(
            clinic_id=doctor.clinic_id,
            clinician_id=doctor.id,
            kind="leave",
            valid_from=first_day,
            valid_to=last_day,
            note=note,
        )
    )
    return record_of(AvailabilityRecord, row)


def remove_rule(uow: UnitOfWork, *, actor: Actor, rule_id: str) -> None:
    require(actor.role, "availability.edit")
    get(uow.session, Availability, rule_id).deleted = True


def _periods_overlap(a0: date | None, a1: date | None, b0: date | None, b1: date | None) -> bool:
    return (a0 or date.min) <= (b1 or date.max) and (b0 or date.min) <= (a1 or date.max)


def _rules(session: Session, clinician_id: str | None, kind: str | None = None) -> list[Availability]:
    query = select(Availability).where(Availability.deleted.is_(False))
    if clinician_id:
        query = query.where(Availability.clinician_id == clinician_id)
    if kind:
        query = query.where(Availability.kind == kind)
    return list(session.scalars(query))


def _load_calendars(session: Session) -> Calendars:
    return read_calendars(session, current_clinic(session))


def find_free_slots(
    session: Session,
    *,
    first_day: date,
    last_day: date,
    clinician_ids: list[str] | None = None,
    now: datetime,
    include_full: bool = False,
) -> dict[str, SlotList]:
    """Free slots per doctor between two local days (inclusive), in the clinic's zone."""
    return free_slots_of(
        session,
        cached(session, _load_calendars),
        first_day=first_day,
        last_day=last_day,
        now=now,
        clinician_ids=clinician_ids,
        include_full=include_full,
    )
