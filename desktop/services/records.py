"""What services hand their callers: plain frozen values, never live ORM rows.

A record shows a row as the transaction holds it (one the unit of work has not flushed yet with
the column defaults the flush will give it), and can cross to any thread:
screens keep it, compare it, show it; to change a row, call a service with its id. Statuses are
the domain's enums (StrEnums: they compare equal to their stored strings). The fields of each
record are its entity's data fields (tests/test_service_records.py keeps them in step), never a
clinician's password hash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import inspect

from desktop.domain.appointments import AppointmentStatus, AppointmentType, Urgency
from desktop.domain.consultations import ConsultationStatus
from desktop.domain.prescriptions import PrescriptionStatus
from desktop.domain.queue import TokenStatus
from desktop.domain.reminders import Channel, MessageKind, ReminderStatus
from desktop.domain.roles import Role
from desktop.domain.waitlist import WaitlistStatus


@dataclass(frozen=True, slots=True)
class ClinicRecord:
    id: str
    name: str
    timezone: str
    region: str
    address: str
    phone: str | None
    min_notice_minutes: int
    holidays: tuple[str, ...]  # ISO dates
    reminder_channels: tuple[str, ...]  # for patients who chose none (desktop/domain/reminders.py)
    reminder_offsets: tuple[int, ...]  # lead times in minutes
    queue_notify_position: int  # "your turn is near" at this place in the queue (0: never)


@dataclass(frozen=True, slots=True)
class ClinicianRecord:
    id: str
    clinic_id: str
    name: str
    username: str
    role: Role
    specialty: str
    room: str
    active: bool


@dataclass(frozen=True, slots=True)
class AvailabilityRecord:
    id: str
    clinic_id: str
    clinician_id: str
    kind: str  # hours | break | leave
    weekday: int | None
    start_time: time | None
    end_time: time | None
    slot_minutes: int
    capacity: int
    buffer_minutes: int
    daily_cap: int | None
    valid_from: date | None
    valid_to: date | None
    note: str


@dataclass(frozen=True, slots=True)
class PatientRecord:
    id: str
    clinic_id: str
    code: str
    full_name: str
    name_key: str
    birth_date: date
    sex: str
    phone: str | None
    email: str | None
    address: str
    allergies: str
    preferred_language: str
    merged_into: str | None
    notify_consent: bool
    notify_channels: tuple[str, ...] | None  # None: the clinic's default
    notify_offsets: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    id: str
    clinic_id: str
    code: str
    clinician_id: str
    patient_id: str
    starts_at: datetime
    ends_at: datetime
    seat: int | None
    kind: AppointmentType
    urgency: Urgency
    emergency: bool
    status: AppointmentStatus
    reason: str
    status_note: str
    rescheduled_from: str | None
    series_id: str | None
    booked_by: str | None


@dataclass(frozen=True, slots=True)
class WaitlistEntryRecord:
    id: str
    clinic_id: str
    patient_id: str
    clinician_id: str
    earliest: date
    latest: date
    status: WaitlistStatus
    offered_start: datetime | None
    offer_expires_at: datetime | None
    appointment_id: str | None
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class QueueTokenRecord:
    id: str
    clinic_id: str
    day: date
    letter: str
    number: int
    code: str
    patient_id: str | None
    appointment_id: str | None
    clinician_id: str | None
    room: str
    status: TokenStatus
    urgency: Urgency
    age_years: int | None
    pregnant: bool
    issued_at: datetime
    called_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    called_by: str | None


@dataclass(frozen=True, slots=True)
class ConsultationRecord:
    id: str
    clinic_id: str
    patient_id: str
    clinician_id: str
    appointment_id: str | None
    token_id: str | None
    mode: str  # in_person | video
    status: ConsultationStatus
    started_at: datetime
    ended_at: datetime | None
    complaint: str
    notes: str
    diagnosis: str


@dataclass(frozen=True, slots=True)
class ChatMessageRecord:
    id: str
    clinic_id: str
    consultation_id: str
    sender_role: str
    sender_id: str | None
    body: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class PrescriptionRecord:
    id: str
    clinic_id: str
    code: str
    revision: int
    patient_id: str
    clinician_id: str
    consultation_id: str | None
    status: PrescriptionStatus
    diagnosis: str
    medicines: tuple[Mapping[str, Any], ...]
    advice: str
    follow_up_on: date | None
    issued_at: datetime | None
    supersedes: str | None
    correction_reason: str


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    id: str
    clinic_id: str
    appointment_id: str | None  # None: a queue notice (turn_near)
    patient_id: str
    channel: Channel
    due_at: datetime
    status: ReminderStatus
    sent_at: datetime | None
    kind: MessageKind
    offset_minutes: int | None  # a reminder's lead time
    queue_token_id: str | None  # turn_near: the waiting token
    attempts: int
    last_error: str
    next_attempt_at: datetime | None  # while retrying


R = TypeVar("R")


def _tuple_or_none(value: Any) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


_CONVERT: dict[type[Any], dict[str, Callable[[Any], Any]]] = {
    ClinicRecord: {"holidays": tuple, "reminder_channels": tuple, "reminder_offsets": tuple},
    PatientRecord: {"notify_channels": _tuple_or_none, "notify_offsets": _tuple_or_none},
    ClinicianRecord: {"role": Role},
    ReminderRecord: {"channel": Channel, "status": ReminderStatus, "kind": MessageKind},
    AppointmentRecord: {"kind": AppointmentType, "urgency": Urgency, "status": AppointmentStatus},
    WaitlistEntryRecord: {"status": WaitlistStatus},
    QueueTokenRecord: {"status": TokenStatus, "urgency": Urgency},
    ConsultationRecord: {"status": ConsultationStatus},
    PrescriptionRecord: {
        "status": PrescriptionStatus,
        "medicines": lambda ms: tuple(MappingProxyType(dict(m)) for m in ms),
    },
}


@cache
def _column_defaults(model: type[Any]) -> dict[str, Any]:
    return {c.key: c.default for c in inspect(model).columns if c.default is not None}


@cache
def _names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def record_of(cls: type[R], row: object) -> R:
    """The frozen record of an ORM row (or any object with the record's attributes). A row the
    unit of work has not written yet shows the column defaults the flush will give it."""
    values = {name: getattr(row, name) for name in _names(cls)}
    state = inspect(row, raiseerr=False)
    if state is not None and state.pending:
        for name, default in _column_defaults(type(row)).items():
            if values.get(name, False) is None:
                values[name] = default.arg if default.is_scalar else default.arg(None)
    for name, convert in _CONVERT.get(cls, {}).items():
        if values[name] is not None:
            values[name] = convert(values[name])
    return cls(**values)


def records_of(cls: type[R], rows: Any) -> list[R]:
    return [record_of(cls, row) for row in rows]
