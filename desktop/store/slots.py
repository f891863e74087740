"""The free-slot query, one for the device and the server: a clinic's calendars and bookings read
from the database, turned into free slots by the domain (`desktop.domain.scheduling`).

The device keeps the calendars in its reference cache (`services.availability.find_free_slots`);
the server reads one doctor's when it suggests or checks a slot (server_stub/apply.py, conflicts.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from desktop.domain.appointments import ACTIVE_STATUSES
from desktop.domain.scheduling import (
    ClinicCalendar,
    ClinicSettings,
    DoctorSchedule,
    SlotList,
    build_schedules,
    calendar_of,
    day_bounds,
    free_slots,
)
from desktop.store.models import Appointment, Availability
from desktop.store.prepared import Prepared
from desktop.store.types import epoch_seconds, int_list

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
LONGEST_APPOINTMENT = timedelta(hours=12)


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


# The queries of free slots, built once: a statement object used again skips SQLAlchemy's
# construction and cache-key work, most of a small query's cost (~180 µs → ~60 µs here).
# A clinic has hundreds of rules: only the columns a schedule needs, as plain tuples (an attribute
# of a result row costs ~0.5 µs, of a named tuple a tenth of that).
_r = Availability.__table__.c  # type: ignore[attr-defined]
_RULES = select(*(_r[name] for name in RuleRow._fields)).where(_r.deleted.is_(False))
_RULES_OF = _RULES.where(_r.clinician_id.in_(bindparam("ids", expanding=True)))
# Thousands of appointments for a month of a clinic, so: epoch seconds computed by the database,
# no datetime per value; table columns, so the rows skip the ORM's loading; and one row per doctor
# with their starts and ends as two lists (in the same row order, so they pair up).
_a = Appointment.__table__.c  # type: ignore[attr-defined]
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


@dataclass(frozen=True, slots=True)
class Calendars:
    """The clinic's calendar and doctors' schedules: what free slots are computed from."""

    clinic: ClinicCalendar
    doctors: Mapping[str, DoctorSchedule]


def read_calendars(
    session: Session, clinic: ClinicSettings, clinician_ids: Iterable[str] | None = None
) -> Calendars:
    """The clinic's calendar and the schedules of `clinician_ids` (every doctor's when None)."""
    query = _RULES if clinician_ids is None else _RULES_OF
    params = {} if clinician_ids is None else {"ids": list(clinician_ids)}
    schedules = build_schedules([RuleRow._make(row) for row in session.execute(query, params)])
    return Calendars(calendar_of(clinic), MappingProxyType(schedules))


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


def free_slots_of(
    session: Session,
    calendars: Calendars,
    *,
    first_day: date,
    last_day: date,
    now: datetime,
    clinician_ids: list[str] | None = None,
    include_full: bool = False,
    exclude: str | None = None,
) -> dict[str, SlotList]:
    """Free slots per doctor between two local days (inclusive), in the clinic's zone; `exclude`
    (one doctor's) leaves an appointment's own booking out, as when it moves."""
    schedules = (
        calendars.doctors
        if clinician_ids is None
        else {cid: calendars.doctors[cid] for cid in clinician_ids if cid in calendars.doctors}
    )
    if not schedules:
        return {}
    calendar = calendars.clinic
    start = datetime.fromtimestamp(day_bounds(first_day, calendar.tz)[0]).astimezone()
    end = datetime.fromtimestamp(day_bounds(last_day, calendar.tz)[1]).astimezone()
    booked = booked_intervals(session, list(schedules), start, end, exclude=exclude)
    return {
        cid: free_slots(
            schedule, calendar, first_day, last_day, booked.get(cid, ()), now=now, include_full=include_full
        )
        for cid, schedule in schedules.items()
    }
