"""Appointment reminders: one per booking, a day ahead, by SMS or e-mail; dispatched by the server."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services.common import PatientBrief
from desktop.store.models import Appointment, Reminder
from desktop.store.uow import UnitOfWork

LEAD_TIME = timedelta(hours=24)


def schedule(uow: UnitOfWork, *, appointment: Appointment, patient: PatientBrief) -> Reminder | None:
    channel = "sms" if patient.phone else "email" if patient.email else None
    due = appointment.starts_at - LEAD_TIME
    if channel is None or due <= uow.now():
        return None
    return uow.insert(
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


def cancel_for(uow: UnitOfWork, *, appointment_id: str) -> None:
    for reminder in uow.session.scalars(
        select(Reminder).where(Reminder.appointment_id == appointment_id, Reminder.status == "pending")
    ):
        reminder.status = "cancelled"


def due(session: Session, *, now: datetime, limit: int = 100) -> list[Reminder]:
    return list(
        session.scalars(
            select(Reminder)
            .where(Reminder.status == "pending", Reminder.due_at <= now, Reminder.deleted.is_(False))
            .order_by(Reminder.due_at)
            .limit(limit)
        )
    )
