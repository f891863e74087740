"""Consultations: start from the queue or an appointment, notes, completion, in-call chat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.consultations import ConsultationStatus
from desktop.domain.errors import ImmutableRecord, InvalidInput, NotAllowed
from desktop.domain.queue import TokenStatus
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role, require
from desktop.services import audit, booking, queue
from desktop.services.common import Actor, get
from desktop.services.records import ChatMessageRecord, ConsultationRecord, record_of, records_of
from desktop.store.models import Appointment, ChatMessage, Consultation, Patient, QueueToken
from desktop.store.uow import UnitOfWork

MAX_CHAT = 4000


def start(
    uow: UnitOfWork,
    *,
    actor: Actor,
    clinician_id: str,
    patient_id: str | None = None,
    appointment_id: str | None = None,
    token_id: str | None = None,
    mode: str = "in_person",
) -> ConsultationRecord:
    """Open a consultation; the appointment and the token move to `in_consultation` with it."""
    require(actor.role, "consultation.write")
    if mode not in ("in_person", "video"):
        raise InvalidInput(Reason.of("consultation.bad_mode"), field="mode")
    session = uow.session
    token = get(session, QueueToken, token_id) if token_id else None
    appointment_id = appointment_id or (token.appointment_id if token else None)
    appointment = get(session, Appointment, appointment_id) if appointment_id else None
    patient_id = patient_id or (appointment.patient_id if appointment else None)
    patient_id = patient_id or (token.patient_id if token else None)
    patient = get(session, Patient, patient_id)
    if appointment is not None:
        if appointment.status == AppointmentStatus.CONFIRMED.value:
            # Video visits and patients brought straight in never pass the kiosk.
            booking.transition(
                uow, actor=actor, appointment_id=appointment.id, to=AppointmentStatus.CHECKED_IN
            )
        booking.transition(
            uow, actor=actor, appointment_id=appointment.id, to=AppointmentStatus.IN_CONSULTATION
        )
    if token is not None:
        if token.status == TokenStatus.WAITING.value:
            queue.call(uow, actor=actor, token_id=token.id, clinician_id=clinician_id)
        queue.start(uow, actor=actor, token_id=token.id)
    consultation = uow.add(
        Consultation(
            clinic_id=patient.clinic_id,
            patient_id=patient.id,
            clinician_id=clinician_id,
            appointment_id=appointment.id if appointment else None,
            token_id=token.id if token else None,
            mode=mode,
            status=ConsultationStatus.OPEN.value,
            started_at=uow.now(),
        ),
        action="start_consultation",
    )
    audit.record(
        uow,
        actor=actor,
        clinic_id=patient.clinic_id,
        action="start_consultation",
        entity="consultation",
        entity_id=consultation.id,
        patient_id=patient.id,
    )
    return record_of(ConsultationRecord, consultation)


def save_notes(
    uow: UnitOfWork,
    *,
    actor: Actor,
    consultation_id: str,
    complaint: str | None = None,
    notes: str | None = None,
    diagnosis: str | None = None,
) -> ConsultationRecord:
    require(actor.role, "consultation.write")
    consultation = get(uow.session, Consultation, consultation_id)
    if consultation.status != ConsultationStatus.OPEN:
        raise ImmutableRecord(Reason.of("consultation.notes_closed"))
    if diagnosis is not None and len(diagnosis) > 300:
        raise InvalidInput(Reason.of("diagnosis.too_long"), field="diagnosis")
    for field, value in (("complaint", complaint), ("notes", notes), ("diagnosis", diagnosis)):
        if value is not None:
            setattr(consultation, field, value.strip())
    audit.record(
        uow,
        actor=actor,
        clinic_id=consultation.clinic_id,
        action="write_notes",
        entity="consultation",
        entity_id=consultation.id,
        patient_id=consultation.patient_id,
    )
    return record_of(ConsultationRecord, consultation)


def complete(uow: UnitOfWork, *, actor: Actor, consultation_id: str) -> ConsultationRecord:
    require(actor.role, "consultation.write")
    consultation = get(uow.session, Consultation, consultation_id)
    if consultation.status != ConsultationStatus.OPEN:
        raise InvalidInput(Reason.of("consultation.already_closed"), field="consultation_id")
    consultation.status = ConsultationStatus.CLOSED.value
    consultation.ended_at = uow.now()
    uow.label(consultation, "complete_consultation")
    if consultation.appointment_id:
        booking.transition(
            uow, actor=actor, appointment_id=consultation.appointment_id, to=AppointmentStatus.COMPLETED
        )
    if consultation.token_id:
        queue.complete(uow, actor=actor, token_id=consultation.token_id)
    audit.record(
        uow,
        actor=actor,
        clinic_id=consultation.clinic_id,
        action="complete_consultation",
        entity="consultation",
        entity_id=consultation.id,
        patient_id=consultation.patient_id,
    )
    return record_of(ConsultationRecord, consultation)


def add_chat_message(
    uow: UnitOfWork,
    *,
    actor: Actor,
    consultation_id: str,
    body: str,
    sender_role: str,
    message_id: str | None = None,
    sent_at: datetime | None = None,
) -> ChatMessageRecord:
    """Store one chat line of a call (it is also sent over the data channel by the media layer).

    `message_id` and `sent_at`: the line as its sender made it, so both ends of the call name it
    the same way."""
    require(actor.role, "chat.write")
    if sender_role not in ("doctor", "patient"):
        raise InvalidInput(Reason.of("chat.bad_sender"), field="sender_role")
    if sender_role == "doctor" and actor.role is not Role.DOCTOR and actor.role is not Role.SYSTEM:
        raise NotAllowed(Reason.of("chat.doctor_only"))
    body = body.strip()
    if not body:
        raise InvalidInput(Reason.of("chat.empty"), field="body")
    if len(body) > MAX_CHAT:
        raise InvalidInput(Reason.of("chat.too_long", most=MAX_CHAT), field="body")
    consultation = get(uow.session, Consultation, consultation_id)
    row = uow.add(
        ChatMessage(
            id=message_id,
            clinic_id=consultation.clinic_id,
            consultation_id=consultation.id,
            sender_role=sender_role,
            sender_id=actor.user_id,
            body=body,
            sent_at=sent_at or uow.now(),
        ),
        action="chat",
    )
    return record_of(ChatMessageRecord, row)


def chat_messages(session: Session, *, consultation_id: str) -> list[ChatMessageRecord]:
    rows = list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.consultation_id == consultation_id, ChatMessage.deleted.is_(False))
            .order_by(ChatMessage.sent_at, ChatMessage.id)
        )
    )
    return records_of(ChatMessageRecord, rows)
