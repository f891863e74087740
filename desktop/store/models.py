"""Typed models of every synced entity (SYNC.md), the sync journal and the device's own state.

Every synced row carries `id` (UUIDv7), `version` (the server's revision, 0 = never seen by the
server), `hlc` (clock of its last change) and `deleted` (tombstone). Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from desktop.domain.appointments import ACTIVE_STATUSES, AppointmentStatus, AppointmentType, Urgency
from desktop.domain.consultations import ConsultationStatus
from desktop.domain.patients import SEXES
from desktop.domain.prescriptions import PrescriptionStatus
from desktop.domain.queue import TokenStatus
from desktop.domain.waitlist import WaitlistStatus
from desktop.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)


# What a column may hold beyond its type, in its `info`; the server checks every pushed value
# against its column (server_stub/fields.py).
def choices(values: Iterable[str]) -> dict[str, Any]:
    return {"choices": frozenset(str(v) for v in values)}


def between(low: int, high: int) -> dict[str, Any]:
    return {"range": (low, high)}


TIMEZONE = {"format": "timezone"}
ISO_DATES = {"format": "dates"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """The database refuses a value of `column` outside the domain's enum (named `ck_<table>_<column>`)."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Synced:
    """Columns every synced entity carries. `__entity__` is its name on the wire."""

    __entity__: ClassVar[str]

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hlc: Mapped[str] = mapped_column(String(64), default="", server_default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Clinic(Synced, Base):
    __tablename__ = "clinic"
    __entity__ = "clinic"

    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", info=TIMEZONE)
    region: Mapped[str] = mapped_column(String(2), default="IN")  # default for phone numbers
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0, info=between(0, 60 * 24 * 365))
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list, info=ISO_DATES)  # ISO dates
    # Reminders for patients who chose nothing themselves (desktop/domain/reminders.py).
    reminder_channels: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["sms"], server_default='["sms"]'
    )
    reminder_offsets: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1440], server_default="[1440]")
    queue_notify_position: Mapped[int] = mapped_column(Integer, default=3, server_default="3")  # 0: off


class Clinician(Synced, Base):
    """Staff member. Read-only on devices once the server exists; desks keep the hash for offline sign-in."""

    __tablename__ = "clinician"
    __entity__ = "clinician"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    username: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    specialty: Mapped[str] = mapped_column(String(60), default="")
    room: Mapped[str] = mapped_column(String(30), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Availability(Synced, Base):
    """One rule of a doctor's calendar: weekly `hours`, a weekly `break`, or a `leave` period."""

    __tablename__ = "availability"
    __entity__ = "availability"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinician.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), info=choices(("hours", "break", "leave")))
    weekday: Mapped[int | None] = mapped_column(Integer, info=between(0, 6))
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=15, info=between(5, 240))
    capacity: Mapped[int] = mapped_column(Integer, default=1, info=between(1, 50))
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0, info=between(0, 120))
    daily_cap: Mapped[int | None] = mapped_column(Integer, info=between(1, 10_000))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")


class Patient(Synced, Base):
    __tablename__ = "patient"
    __entity__ = "patient"
    __table_args__ = (
        Index("ix_patient_name_key_birth", "clinic_id", "name_key", "birth_date"),
        Index("ix_patient_phone_birth", "clinic_id", "phone", "birth_date"),
    )

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10), default="unknown", info=choices(SEXES))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    allergies: Mapped[str] = mapped_column(String(500), default="")
    preferred_language: Mapped[str] = mapped_column(String(10), default="en")
    merged_into: Mapped[str | None] = mapped_column(ID)
    # Messages: consent (False = opted out: nothing is sent), the channels and lead times the
    # patient chose (None: the clinic's defaults). See desktop/domain/reminders.py.
    notify_consent: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    notify_channels: Mapped[list[str] | None] = mapped_column(JSON)
    notify_offsets: Mapped[list[int] | None] = mapped_column(JSON)


_ACTIVE = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATUSES))


class Appointment(Synced, Base):
    __tablename__ = "appointment"
    __entity__ = "appointment"
    __table_args__ = (
        # The database itself refuses a double booking: a slot has `capacity` seats and each
        # active appointment claims one. Two writers picking the same seat: one insert fails.
        Index(
            "uq_appointment_slot_seat",
            "clinician_id",
            "starts_at",
            "seat",
            unique=True,
            sqlite_where=text(f"seat IS NOT NULL AND deleted = 0 AND status IN ({_ACTIVE})"),
            postgresql_where=text(f"seat IS NOT NULL AND NOT deleted AND status IN ({_ACTIVE})"),
        ),
        # Covers the free-slot query (store/slots.py booked_intervals): a month of a clinic's bookings
        # is read from the index alone, without a lookup into the table per appointment.
        Index("ix_appointment_doctor_slots", "clinician_id", "starts_at", "ends_at", "status", "deleted"),
        Index("ix_appointment_patient_start", "patient_id", "starts_at"),
    )

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinician.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seat: Mapped[int | None] = mapped_column(Integer)  # None for walk-ins and emergencies
    kind: Mapped[str] = mapped_column(String(12), info=choices(AppointmentType))
    urgency: Mapped[str] = mapped_column(String(10), default="routine", info=choices(Urgency))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), info=choices(AppointmentStatus))
    reason: Mapped[str] = mapped_column(String(300), default="")
    status_note: Mapped[str] = mapped_column(String(300), default="")
    rescheduled_from: Mapped[str | None] = mapped_column(ID)
    series_id: Mapped[str | None] = mapped_column(ID)  # recurring follow-ups share one
    booked_by: Mapped[str | None] = mapped_column(ID)  # device id


class WaitlistEntry(Synced, Base):
    """A patient waiting for a sooner slot; a freed slot is offered to the first one in line."""

    __tablename__ = "waitlist_entry"
    __entity__ = "waitlist_entry"
    __table_args__ = (one_of("status", WaitlistStatus),)

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"))
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinician.id"), index=True)
    earliest: Mapped[date] = mapped_column(Date)
    latest: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=WaitlistStatus.WAITING.value)
    offered_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appointment_id: Mapped[str | None] = mapped_column(ID)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueToken(Synced, Base):
    __tablename__ = "queue_token"
    __entity__ = "queue_token"
    __table_args__ = (
        UniqueConstraint("clinic_id", "day", "letter", "number"),
        Index("ix_queue_token_day_status", "clinic_id", "day", "status"),
    )

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    day: Mapped[date] = mapped_column(Date)  # the clinic's local day
    letter: Mapped[str] = mapped_column(String(1))
    number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patient.id"))
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointment.id"))
    clinician_id: Mapped[str | None] = mapped_column(ForeignKey("clinician.id"))
    room: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting", info=choices(TokenStatus))
    urgency: Mapped[str] = mapped_column(String(10), default="routine", info=choices(Urgency))
    age_years: Mapped[int | None] = mapped_column(Integer, info=between(0, 150))
    pregnant: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_by: Mapped[str | None] = mapped_column(ID)


class Consultation(Synced, Base):
    __tablename__ = "consultation"
    __entity__ = "consultation"
    __table_args__ = (one_of("status", ConsultationStatus),)

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"), index=True)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinician.id"))
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointment.id"))
    token_id: Mapped[str | None] = mapped_column(ForeignKey("queue_token.id"))
    mode: Mapped[str] = mapped_column(String(10), default="in_person")  # in_person | video
    status: Mapped[str] = mapped_column(String(10), default=ConsultationStatus.OPEN.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complaint: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    diagnosis: Mapped[str] = mapped_column(String(300), default="")


class ChatMessage(Synced, Base):
    __tablename__ = "chat_message"
    __entity__ = "chat_message"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultation.id"), index=True)
    sender_role: Mapped[str] = mapped_column(String(10))  # doctor | patient
    sender_id: Mapped[str | None] = mapped_column(ID)
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Prescription(Synced, Base):
    __tablename__ = "prescription"
    __entity__ = "prescription"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    code: Mapped[str] = mapped_column(String(12))  # shared by every version of one prescription
    revision: Mapped[int] = mapped_column(Integer, default=1)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"), index=True)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinician.id"))
    consultation_id: Mapped[str | None] = mapped_column(ForeignKey("consultation.id"))
    status: Mapped[str] = mapped_column(String(12), default="draft", info=choices(PrescriptionStatus))
    diagnosis: Mapped[str] = mapped_column(String(300))
    medicines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    advice: Mapped[str] = mapped_column(Text, default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supersedes: Mapped[str | None] = mapped_column(ID)
    correction_reason: Mapped[str] = mapped_column(String(300), default="")


class Reminder(Synced, Base):
    __tablename__ = "reminder"
    __entity__ = "reminder"

    """A message to a patient, made by a device (offline too) and sent by the server's dispatcher,
    which writes back each attempt's outcome (docs/reminders.md)."""

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"))
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # pending | retrying | sent | failed | cancelled (desktop.domain.reminders.ReminderStatus)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # confirmation | reminder | cancellation | turn_near (desktop.domain.reminders.MessageKind)
    kind: Mapped[str] = mapped_column(String(14), default="reminder", server_default="reminder")
    offset_minutes: Mapped[int | None] = mapped_column(Integer)  # a reminder's lead time
    queue_token_id: Mapped[str | None] = mapped_column(ID)  # turn_near: the waiting token
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(String(300), default="", server_default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # while retrying


class AuditEvent(Synced, Base):
    """Who read or changed a patient's record, when, from which device. Append-only."""

    __tablename__ = "audit_event"
    __entity__ = "audit_event"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str | None] = mapped_column(ID)
    actor_role: Mapped[str] = mapped_column(String(12))
    device_id: Mapped[str | None] = mapped_column(ID)
    patient_id: Mapped[str | None] = mapped_column(ID, index=True)
    action: Mapped[str] = mapped_column(String(40))  # e.g. read_history, update, issue_prescription
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(ID)
    detail: Mapped[str] = mapped_column(String(300), default="")


class SyncConflict(Synced, Base):
    """A decision the server made between two devices' changes, kept for staff to review."""

    __tablename__ = "sync_conflict"
    __entity__ = "sync_conflict"

    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(ID, index=True)
    other_id: Mapped[str | None] = mapped_column(ID)
    field: Mapped[str | None] = mapped_column(String(40))
    ours: Mapped[Any] = mapped_column(JSON)
    theirs: Mapped[Any] = mapped_column(JSON)
    resolution: Mapped[str] = mapped_column(String(14))  # server_won|client_won|merged|needs_review
    detail: Mapped[str] = mapped_column(String(300), default="")
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(ID)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    choice: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300), default="")


SYNCED_MODELS: tuple[type[Synced], ...] = (
    Clinic,
    Clinician,
    Availability,
    Patient,
    Appointment,
    WaitlistEntry,
    QueueToken,
    Consultation,
    ChatMessage,
    Prescription,
    Reminder,
    AuditEvent,
    SyncConflict,
)
ENTITY_MODELS: dict[str, type[Synced]] = {m.__entity__: m for m in SYNCED_MODELS}
APPEND_ONLY = frozenset({"chat_message", "audit_event"})
# A patient's records: they follow the patient when a duplicate registration is merged into it
# (on the device and when the server resolves a conflict by merging).
PATIENT_RECORDS: tuple[type[Synced], ...] = (
    Appointment,
    QueueToken,
    Consultation,
    Prescription,
    Reminder,
    WaitlistEntry,
)


class JournalOp(Base):
    """One local change waiting to reach (or already answered by) the server. See SYNC.md."""

    __tablename__ = "sync_journal"
    __table_args__ = (
        Index("ix_sync_journal_status_seq", "status", "seq"),
        Index("ix_sync_journal_entity", "entity", "entity_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(ID, unique=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(20))
    base_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    hlc: Mapped[str] = mapped_column(String(64))
    # Who made the change: a clinician's id, `kiosk` or `system` (desktop.domain.roles.wire_actor).
    actor: Mapped[str] = mapped_column(String(36), default="system", server_default="system")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceState(Base):
    """This device's identity and sync cursor: exactly one row (id = 1)."""

    __tablename__ = "device_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ID)
    kind: Mapped[str] = mapped_column(String(10), default="desk")  # kiosk | desk | board
    letter: Mapped[str] = mapped_column(String(1), default="A")
    clinic_id: Mapped[str | None] = mapped_column(ID)
    server_url: Mapped[str | None] = mapped_column(String(300))
    pull_cursor: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_skew_ms: Mapped[int | None] = mapped_column(Integer)
