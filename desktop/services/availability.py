"""A doctor's calendar: weekly hours, breaks, leave; and turning it into free slots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from desktop.domain.appointments import ACTIVE_STATUSES
from desktop.domain.errors import InvalidInput
from desktop.domain.roles import Role, require
from desktop.domain.scheduling import (
    Break,
    ClinicCalendar,
    DoctorSchedule,
    Leave,
    SlotList,
    WorkingHours,
    day_bounds,
    free_slots,
    validate_window,
)
from desktop.services.common import Actor, ClinicInfo, current_clinic, get
from desktop.store.models import Appointment, Availability, Clinic, Clinician
from desktop.store.prepared import Prepared
from desktop.store.reference import cached
from desktop.store.types import epoch_seconds, int_list
from desktop.store.uow import UnitOfWork

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
LONGEST_APPOINTMENT = timedelta(hours=12)


def _doctor(uow: UnitOfWork, clinician_id: str) -> Clinician:
    doctor = get(uow.session, Clinician, clinician_id)
    if doctor.role != Role.DOCTOR:
        raise InvalidInput(f"{doctor.name} is not a doctor.", field="clinician_id")
    return doctor


def _check_weekday(weekday: int) -> None:
    if not 0 <= weekday <= 6:
        raise InvalidInput("The weekday must be 0 (Monday) to 6 (Sunday).", field="weekday")


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
) -> Availability:
    """Add a weekly working window. Overlapping windows on the same weekday are refused."""
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    _check_weekday(weekday)
    validate_window(start, end, slot_minutes=slot_minutes, capacity=capacity, buffer_minutes=buffer_minutes)
    if daily_cap is not None and daily_cap < 1:
        raise InvalidInput("The daily cap must be at least 1.", field="daily_cap")
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidInput("'Valid to' is before 'valid from'.", field="valid_to")
    for rule in _rules(uow.session, clinician_id, "hours"):
        same_time = rule.weekday == weekday and rule.start_time < end and start < rule.end_time
        if same_time and _periods_overlap(rule.valid_from, rule.valid_to, valid_from, valid_to):
            raise InvalidInput(
                f"These hours overlap {rule.start_time:%H:%M}–{rule.end_time:%H:%M} on the same day.",
                field="start",
            )
    return uow.add(
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


def add_break(
    uow: UnitOfWork, *, actor: Actor, clinician_id: str, weekday: int, start: time, end: time, note: str = ""
) -> Availability:
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    _check_weekday(weekday)
    if end <= start:
        raise InvalidInput("The break must end after it starts.", field="end")
    return uow.add(
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


def add_leave(
    uow: UnitOfWork, *, actor: Actor, clinician_id: str, first_day: date, last_day: date, note: str = ""
) -> Availability:
    """Days off. Existing appointments in the period stay; `booking.affected_by_leave` lists them."""
    require(actor.role, "availability.edit")
    doctor = _doctor(uow, clinician_id)
    if last_day < first_day:
        raise InvalidInput("The leave must end on or after its first day.", field="last_day")
    return uow.add(
        Availability(
            clinic_id=doctor.clinic_id,
            clinician_id=doctor.id,
            kind="leave",
            valid_from=first_day,
            valid_to=last_day,
            note=note,
        )
    )


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


class Rule(Protocol):
    """What `build_schedules` reads of a rule: an `Availability` row, ORM object or plain row."""

    @property
    def clinician_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def weekday(self) -> int | None: ...
    @property
    def start_time(self) -> time | None: ...
    @property
    def end_time(self) -> time | None: ...
    @property
    def slot_minutes(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def buffer_minutes(self) -> int: ...
    @property
    def daily_cap(self) -> int | None: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_to(self) -> date | None: ...


class RuleRow(NamedTuple):
    clinician_id: str
    kind: str
    weekday: int | None
    start_time: time | None
    end_time: time | None
    slot_minutes: int
    capacity: int
    buffer_minutes: int
    daily_cap: int | None
    valid_from: date | None
    valid_to: date | None


# The queries of find_free_slots, built once: a statement object used again skips SQLAlchemy's
# construction and cache-key work, most of a small query's cost (~180 µs → ~60 µs here).
# A clinic has hundreds of rules: only the columns a schedule needs, as plain tuples (an attribute
# of a result row costs ~0.5 µs, of a named tuple a tenth of that).
_r = Availability.__table__.c
_RULES = select(*(_r[name] for name in RuleRow._fields)).where(_r.deleted.is_(False))
# Thousands of appointments for a month of a clinic, so: epoch seconds computed by the database,
# no datetime per value; table columns, so the rows skip the ORM's loading; and one row per doctor
# with their starts and ends as two lists (in the same row order, so they pair up).
_a = Appointment.__table__.c
_IN_RANGE = (
    _a.starts_at < bindparam("end"),
    _a.starts_at >= bindparam("since"),  # keeps the index range short
    _a.ends_at > bindparam("start"),
    _a.status.in_(_ACTIVE),
    _a.deleted.is_(False),
)
_BOOKED_COLUMNS = (
    _a.clinician_id,
    int_list(epoch_seconds(_a.starts_at)),
    int_list(epoch_seconds(_a.ends_at)),
)
_BOOKED = (
    select(*_BOOKED_COLUMNS)
    .where(_a.clinician_id.in_(bindparam("ids", expanding=True)), *_IN_RANGE)
    .group_by(_a.clinician_id)
)
# One doctor's, as every booking checks its slot: prepared (desktop/store/prepared.py).
_BOOKED_ONE = select(*_BOOKED_COLUMNS).where(_a.clinician_id == bindparam("doctor"), *_IN_RANGE)
_BOOKED_OF = Prepared(_BOOKED_ONE.group_by(_a.clinician_id))
_BOOKED_OF_EXCLUDING = Prepared(_BOOKED_ONE.where(_a.id != bindparam("exclude")).group_by(_a.clinician_id))


def build_schedules(rules: Iterable[Rule]) -> dict[str, DoctorSchedule]:
    hours: dict[str, list[WorkingHours]] = defaultdict(list)
    breaks: dict[str, list[Break]] = defaultdict(list)
    leave: dict[str, list[Leave]] = defaultdict(list)
    for r in rules:
        if r.kind == "hours" and r.weekday is not None and r.start_time and r.end_time:
            hours[r.clinician_id].append(
                WorkingHours(
                    r.weekday,
                    r.start_time,
                    r.end_time,
                    r.slot_minutes,
                    r.capacity,
                    r.buffer_minutes,
                    r.daily_cap,
                    r.valid_from,
                    r.valid_to,
                )
            )
        elif r.kind == "break" and r.weekday is not None and r.start_time and r.end_time:
            breaks[r.clinician_id].append(Break(r.weekday, r.start_time, r.end_time))
        elif r.kind == "leave" and r.valid_from and r.valid_to:
            leave[r.clinician_id].append(Leave(r.valid_from, r.valid_to))
    ids = hours.keys() | breaks.keys() | leave.keys()
    return {cid: DoctorSchedule(cid, tuple(hours[cid]), tuple(breaks[cid]), tuple(leave[cid])) for cid in ids}


def calendar_of(clinic: Clinic | ClinicInfo) -> ClinicCalendar:
    return ClinicCalendar(
        ZoneInfo(clinic.timezone),
        frozenset(date.fromisoformat(d) for d in clinic.holidays or ()),
        timedelta(minutes=clinic.min_notice_minutes),
    )


@dataclass(frozen=True, slots=True)
class Calendars:
    """The clinic's calendar and every doctor's schedule: what free slots are computed from."""

    clinic: ClinicCalendar
    doctors: Mapping[str, DoctorSchedule]


def _load_calendars(session: Session) -> Calendars:
    schedules = build_schedules([RuleRow._make(row) for row in session.execute(_RULES)])
    return Calendars(calendar_of(current_clinic(session)), MappingProxyType(schedules))


def booked_intervals(
    session: Session, clinician_ids: list[str], start: datetime, end: datetime, *, exclude: str | None = None
) -> dict[str, list[tuple[int, int]]]:
    """Each doctor's active appointments in [start, end) as sorted (start, end) epoch seconds."""
    params = {"start": start, "end": end, "since": start - LONGEST_APPOINTMENT}
    rows: Iterable[tuple[str, list[int], list[int]]]
    if exclude is not None:
        if len(clinician_ids) != 1:
            raise ValueError("an excluded appointment is one doctor's")
        rows = _BOOKED_OF_EXCLUDING.rows(session, {**params, "doctor": clinician_ids[0], "exclude": exclude})
    elif len(clinician_ids) == 1:
        rows = _BOOKED_OF.rows(session, {**params, "doctor": clinician_ids[0]})
    else:
        rows = session.execute(_BOOKED, {**params, "ids": clinician_ids}).all()
    # Sorted here: an aggregate's order is not defined by SQL (it is the index order in practice,
    # which makes the sort a single pass).
    return {cid: sorted(zip(starts, ends, strict=True)) for cid, starts, ends in rows}


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
    calendars = cached(session, _load_calendars)
    calendar = calendars.clinic
    schedules = (
        calendars.doctors
        if clinician_ids is None
        else {cid: calendars.doctors[cid] for cid in clinician_ids if cid in calendars.doctors}
    )
    if not schedules:
        return {}
    start = datetime.fromtimestamp(day_bounds(first_day, calendar.tz)[0]).astimezone()
    end = datetime.fromtimestamp(day_bounds(last_day, calendar.tz)[1]).astimezone()
    booked = booked_intervals(session, list(schedules), start, end)
    return {
        cid: free_slots(
            schedule, calendar, first_day, last_day, booked.get(cid, ()), now=now, include_full=include_full
        )
        for cid, schedule in schedules.items()
    }
