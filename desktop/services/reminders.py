"""Appointment reminders: one per booking, a day ahead, by SMS or e-mail; dispatched by the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.reminders import LEAD_TIME
from desktop.services.common import PatientBrief
from desktop.services.records import ReminderRecord, record_of, records_of
from desktop.store.models import Appointment, Reminder
from desktop.store.uow import UnitOfWork


def schedule(uow: UnitOfWork, *, appointment: Appointment, patient: PatientBrief) -> ReminderRecord | None:
    channel = "sms" if patient.phone else "email" if patient.email else None
    due = appointment.starts_at - LEAD_TIME
    if channel is None or due <= uow.now():
        return None
    reminder = uow.insert(
        Reminder(
            clinic_id=appointment.clinic_id,
            appointment_id=appointment.id,
            patient_id=patient.id,
            channel=channel,
            due_at=due,
            status="pending",
        ),
        attach=False,  # changed later only through a query (cancel_for)
    )
    return record_of(ReminderRecord, reminder)


def cancel_for(uow: UnitOfWork, *, appointment_id: str) -> None:
    for reminder in uow.session.scalars(
        select(Reminder).where(Reminder.appointment_id == appointment_id, Reminder.status == "pending")
    ):
        reminder.status = "cancelled"


def due(session: Session, *, now: datetime, limit: int = 100) -> list[ReminderRecord]:
    """The pending reminders to send now: only those of appointments that are confirmed. A booking
    the server found double (status `conflict`, SYNC.md) keeps its reminder pending and sends
    nothing; rebooked into a free slot, it is confirmed again and its reminder moves with it."""
    rows = list(
        session.scalars(
            select(Reminder)
            .join(Appointment, Appointment.id == Reminder.appointment_id)
            .where(
                Reminder.status == "pending",
                Reminder.due_at <= now,
                Reminder.deleted.is_(False),
                Appointment.status == AppointmentStatus.CONFIRMED.value,
                Appointment.deleted.is_(False),
            )
            .order_by(Reminder.due_at)
            .limit(limit)
        )
    )
    return records_of(ReminderRecord, rows)
