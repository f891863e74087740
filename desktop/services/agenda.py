"""The agenda's day view: every doctor's appointments on one local day, with the patient's name,
and whether the doctor works that day — what the desk's agenda screen and `clinic agenda` show."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.errors import NotFound
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role
from desktop.domain.scheduling import day_bounds
from desktop.services.common import clinic_zone, current_clinic
from desktop.services.records import AppointmentRecord, ClinicianRecord, record_of, records_of
from desktop.store.models import Appointment, Availability, Clinician, Patient


class DoctorDay(StrEnum):
    WORKING = "working"  # has working hours that weekday
    ON_LEAVE = "on_leave"
    NOT_WORKING = "not_working"  # no hours that weekday


@dataclass(frozen=True, slots=True)
class AgendaEntry:
    appointment: AppointmentRecord
    patient_name: str


@dataclass(frozen=True, slots=True)
class DoctorAgenda:
    doctor: ClinicianRecord
    day: DoctorDay
    entries: tuple[AgendaEntry, ...]  # in time order


@dataclass(frozen=True, slots=True)
class DayAgenda:
    clinic_name: str
    timezone: str
    day: date
    holiday: bool
    doctors: tuple[DoctorAgenda, ...]  # by specialty, then name


def doctors(session: Session, username: str | None = None) -> list[ClinicianRecord]:
    """The active doctors, by specialty and name; or the one with `username` (NotFound if none)."""
    query = select(Clinician).where(
        Clinician.role == Role.DOCTOR.value, Clinician.active.is_(True), Clinician.deleted.is_(False)
    )
    if username:
        found = records_of(
            ClinicianRecord, session.scalars(query.where(Clinician.username == username.strip().lower()))
        )
        if not found:
            raise NotFound(Reason.of("agenda.no_such_doctor", username=username), field="doctor")
        return found
    return records_of(ClinicianRecord, session.scalars(query.order_by(Clinician.specialty, Clinician.name)))


def day_view(session: Session, *, day: date, doctor: str | None = None) -> DayAgenda:
    """The agenda of `day` (the clinic's local day) for every active doctor, or the doctor whose
    username is `doctor`: one query for all their appointments."""
    clinic = current_clinic(session)
    chosen = doctors(session, doctor)
    start_ts, end_ts = day_bounds(day, clinic_zone(clinic))
    rows = session.execute(
        select(Appointment, Patient.full_name)
        .outerjoin(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.clinician_id.in_([d.id for d in chosen]),
            Appointment.starts_at >= datetime.fromtimestamp(start_ts).astimezone(),
            Appointment.starts_at < datetime.fromtimestamp(end_ts).astimezone(),
            Appointment.deleted.is_(False),
        )
        .order_by(Appointment.starts_at, Appointment.seat)
    )
    entries: dict[str, list[AgendaEntry]] = defaultdict(list)
    for appointment, name in rows:
        entries[appointment.clinician_id].append(
            AgendaEntry(record_of(AppointmentRecord, appointment), name or "?")
        )
    away, working = _on_leave(session, day), _working_on(session, day)
    return DayAgenda(
        clinic.name,
        clinic.timezone,
        day,
        day.isoformat() in clinic.holidays,
        tuple(
            DoctorAgenda(
                d,
                DoctorDay.ON_LEAVE
                if d.id in away
                else DoctorDay.WORKING
                if d.id in working
                else DoctorDay.NOT_WORKING,
                tuple(entries[d.id]),
            )
            for d in chosen
        ),
    )


def _on_leave(session: Session, day: date) -> set[str]:
    """Ids of the doctors whose leave covers `day`."""
    return set(
        session.scalars(
            select(Availability.clinician_id).where(
                Availability.kind == "leave",
                Availability.deleted.is_(False),
                Availability.valid_from <= day,
                Availability.valid_to >= day,
            )
        )
    )


def _working_on(session: Session, day: date) -> set[str]:
    """Ids of the doctors with working hours on `day`'s weekday (leave and holidays aside)."""
    return set(
        session.scalars(
            select(Availability.clinician_id).where(
                Availability.kind == "hours",
                Availability.deleted.is_(False),
                Availability.weekday == day.weekday(),
                (Availability.valid_from.is_(None)) | (Availability.valid_from <= day),
                (Availability.valid_to.is_(None)) | (Availability.valid_to >= day),
            )
        )
    )
