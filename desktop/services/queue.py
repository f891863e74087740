"""The waiting-room queue: tokens, check-in, call next, and the ordered view with explanations.

A token's code is the issuing device's letter plus that device's count for the day (`A-017`),
so two kiosks working offline never print the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from desktop.domain.appointments import AppointmentStatus, Urgency
from desktop.domain.errors import InvalidInput
from desktop.domain.ids import token_code
from desktop.domain.patients import age_on
from desktop.domain.queue import (
    QueueEntry,
    TokenStatus,
    check_token_transition,
    estimate_wait_minutes,
    explain,
    order,
)
from desktop.domain.reasons import Reason
from desktop.domain.roles import require
from desktop.services import audit, booking, reminders
from desktop.services.common import (
    Actor,
    clinician,
    current_clinic,
    device_letter,
    get,
    local_day,
    patient_brief,
)
from desktop.services.records import QueueTokenRecord, record_of, records_of
from desktop.store.models import Appointment, Clinician, QueueToken
from desktop.store.prepared import Prepared
from desktop.store.uow import UnitOfWork

RECENT_VISITS = 10

# issue_token's queries, built once (see store/slots.py _RULES for why). Clinic and day first: the
# (clinic_id, day, status) index, not a scan of every token.
_QUEUED_AS = Prepared(
    select(QueueToken.code)
    .where(
        QueueToken.clinic_id == bindparam("clinic"),
        QueueToken.day == bindparam("day"),
        QueueToken.patient_id == bindparam("patient"),
        QueueToken.status.in_((TokenStatus.WAITING.value, TokenStatus.CALLED.value)),
        QueueToken.deleted.is_(False),
    )
    .limit(1)
)
_LAST_NUMBER = Prepared(
    select(func.max(QueueToken.number)).where(
        QueueToken.clinic_id == bindparam("clinic"),
        QueueToken.day == bindparam("day"),
        QueueToken.letter == bindparam("letter"),
    )
)


def issue_token(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: str | None = None,
    clinician_id: str | None = None,
    appointment_id: str | None = None,
    urgency: Urgency = Urgency.ROUTINE,
    pregnant: bool = False,
    room: str = "",
) -> QueueTokenRecord:
    """Give a patient a place in today's queue, optionally for one doctor."""
    require(actor.role, "queue.issue")
    session = uow.session
    clinic = current_clinic(session)
    letter = device_letter(session)
    today = local_day(clinic, uow.now())
    patient = patient_brief(session, patient_id) if patient_id else None
    if clinician_id:
        clinician(session, clinician_id)
    if patient is not None:
        queued_as = _QUEUED_AS.scalar(session, {"clinic": clinic.id, "patient": patient.id, "day": today})
        if queued_as is not None:
            raise InvalidInput(
                Reason.of("queue.already_queued", patient=patient.full_name, token=queued_as),
                field="patient_id",
            )
    number = 1 + (_LAST_NUMBER.scalar(session, {"clinic": clinic.id, "day": today, "letter": letter}) or 0)
    token = uow.insert(
        QueueToken(
            clinic_id=clinic.id,
            day=today,
            letter=letter,
            number=number,
            code=token_code(letter, number),
            patient_id=patient.id if patient else None,
            appointment_id=appointment_id,
            clinician_id=clinician_id,
            room=room,
            status=TokenStatus.WAITING.value,
            urgency=Urgency(urgency).value,
            age_years=age_on(patient.birth_date, today) if patient else None,
            pregnant=pregnant,
            issued_at=uow.now(),
        ),
        action="issue_token",
    )
    if patient is not None:
        audit.record(
            uow,
            actor=actor,
            clinic_id=clinic.id,
            action="issue_token",
            entity="queue_token",
            entity_id=token.id,
            patient_id=patient.id,
            detail=token.code,
        )
    return record_of(QueueTokenRecord, token)


def check_in(
    uow: UnitOfWork, *, actor: Actor, appointment_id: str, pregnant: bool = False
) -> QueueTokenRecord:
    """Arrival for a booked appointment: the appointment is checked in and a token issued."""
    appointment = booking.transition(
        uow, actor=actor, appointment_id=appointment_id, to=AppointmentStatus.CHECKED_IN
    )
    return issue_token(
        uow,
        actor=actor,
        patient_id=appointment.patient_id,
        clinician_id=appointment.clinician_id,
        appointment_id=appointment.id,
        urgency=Urgency(appointment.urgency),
        pregnant=pregnant,
    )


def _waiting(session: Session, clinic_id: str, day: date, clinician_id: str | None) -> list[QueueToken]:
    query = select(QueueToken).where(
        QueueToken.clinic_id == clinic_id,
        QueueToken.day == day,
        QueueToken.status == TokenStatus.WAITING.value,
        QueueToken.deleted.is_(False),
    )
    if clinician_id:
        # A doctor serves their own patients and anyone not waiting for a particular doctor.
        query = query.where((QueueToken.clinician_id == clinician_id) | QueueToken.clinician_id.is_(None))
    return list(session.scalars(query))


def _entry(token: QueueToken) -> QueueEntry:
    return QueueEntry(
        token.id, token.code, token.issued_at, Urgency(token.urgency), token.age_years, token.pregnant
    )


@dataclass(frozen=True, slots=True)
class QueuePosition:
    token: QueueTokenRecord
    position: int  # 1 = next
    score: int
    reason: Reason  # queue.position: why this place (desktop.domain.english renders it)
    wait_minutes: int


def recent_visit_minutes(
    session: Session, clinician_id: str | None, limit: int = RECENT_VISITS
) -> list[float]:
    query = select(QueueToken.started_at, QueueToken.completed_at).where(
        QueueToken.status == TokenStatus.COMPLETED.value,
        QueueToken.started_at.is_not(None),
        QueueToken.completed_at.is_not(None),
    )
    if clinician_id:
        query = query.where(QueueToken.clinician_id == clinician_id)
    rows = session.execute(query.order_by(QueueToken.completed_at.desc()).limit(limit))
    return [(done - start).total_seconds() / 60 for start, done in rows]


def view(session: Session, *, now: datetime, clinician_id: str | None = None) -> list[QueuePosition]:
    """Today's waiting patients in the order they will be called, each with its reason and wait.

    A patient waiting for one doctor waits for that doctor's patients ahead (and for those
    waiting for anyone); a patient waiting for anyone is seen by whichever doctor is free first.
    """
    clinic = current_clinic(session)
    tokens = {t.id: t for t in _waiting(session, clinic.id, local_day(clinic, now), clinician_id)}
    ranked = order([_entry(t) for t in tokens.values()], now)
    recent: dict[str | None, list[float]] = {}
    on_duty = 1
    if clinician_id is None and any(t.clinician_id is None for t in tokens.values()):
        count = select(func.count()).where(Clinician.role == "doctor", Clinician.active.is_(True))
        on_duty = max(1, session.scalar(count) or 1)
    out: list[QueuePosition] = []
    for i, (entry, prio) in enumerate(ranked):
        doctor = clinician_id or tokens[entry.token_id].clinician_id
        if doctor is None:
            ahead, servers = i, on_duty
        else:
            before = (tokens[e.token_id].clinician_id for e, _ in ranked[:i])
            ahead, servers = sum(1 for d in before if d in (doctor, None)), 1
        if doctor not in recent:
            recent[doctor] = recent_visit_minutes(session, doctor)
        wait = estimate_wait_minutes(ahead, recent[doctor], servers)
        out.append(
            QueuePosition(
                record_of(QueueTokenRecord, tokens[entry.token_id]),
                i + 1,
                prio.score,
                explain(entry, prio, i + 1),
                wait,
            )
        )
    return out


def call_next(
    uow: UnitOfWork, *, actor: Actor, clinician_id: str | None = None, room: str = ""
) -> QueueTokenRecord | None:
    """Call the highest-priority waiting patient for this doctor (or room); None if nobody waits."""
    require(actor.role, "queue.call")
    session = uow.session
    clinic = current_clinic(session)
    now = uow.now()
    waiting = {t.id: t for t in _waiting(session, clinic.id, local_day(clinic, now), clinician_id)}
    if not waiting:
        return None
    first, _ = order([_entry(t) for t in waiting.values()], now)[0]
    return call(uow, actor=actor, token_id=first.token_id, clinician_id=clinician_id, room=room)


def call(
    uow: UnitOfWork, *, actor: Actor, token_id: str, clinician_id: str | None = None, room: str = ""
) -> QueueTokenRecord:
    """Call one particular waiting patient (the board shows the token and room)."""
    require(actor.role, "queue.call")
    session = uow.session
    token = get(session, QueueToken, token_id)
    doctor_id = token.clinician_id or clinician_id
    room = room or token.room or (clinician(session, doctor_id).room if doctor_id else "")
    token.called_at = uow.now()
    token.called_by = actor.user_id
    token.clinician_id = doctor_id
    token.room = room
    _move(uow, actor, token, TokenStatus.CALLED, "call_token")
    uow.flush()
    ahead = view(session, now=uow.now(), clinician_id=doctor_id)
    reminders.notify_turn_near(uow, waiting=[(p.token, p.position) for p in ahead])
    return record_of(QueueTokenRecord, token)


def recall(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    """Call a called patient again (they did not come): the board announces the token once more."""
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    if token.status != TokenStatus.CALLED.value:
        raise InvalidInput(Reason.of("queue.not_called", token=token.code), field="token_id")
    token.called_at = uow.now()
    token.called_by = actor.user_id
    uow.label(token, "recall_token")
    return record_of(QueueTokenRecord, token)


def _move(uow: UnitOfWork, actor: Actor, token: QueueToken, to: TokenStatus, action: str) -> None:
    check_token_transition(token.status, to)
    token.status = to.value
    uow.label(token, action)
    if token.patient_id:
        audit.record(
            uow,
            actor=actor,
            clinic_id=token.clinic_id,
            action=action,
            entity="queue_token",
            entity_id=token.id,
            patient_id=token.patient_id,
            detail=token.code,
        )


def start(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.IN_CONSULTATION, "start_token")
    token.started_at = uow.now()
    return record_of(QueueTokenRecord, token)


def complete(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.COMPLETED, "complete_token")
    token.completed_at = uow.now()
    return record_of(QueueTokenRecord, token)


def skip(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    """Called but not there: set aside; `requeue` puts them back without losing their wait."""
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.SKIPPED, "skip_token")
    return record_of(QueueTokenRecord, token)


def requeue(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.WAITING, "requeue_token")
    return record_of(QueueTokenRecord, token)


def no_show(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    require(actor.role, "queue.call")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.NO_SHOW, "no_show_token")
    if token.appointment_id:
        appointment = get(uow.session, Appointment, token.appointment_id)
        if appointment.status == AppointmentStatus.CHECKED_IN.value:
            booking.transition(uow, actor=actor, appointment_id=appointment.id, to=AppointmentStatus.NO_SHOW)
    return record_of(QueueTokenRecord, token)


def cancel(uow: UnitOfWork, *, actor: Actor, token_id: str) -> QueueTokenRecord:
    require(actor.role, "queue.issue")
    token = get(uow.session, QueueToken, token_id)
    _move(uow, actor, token, TokenStatus.CANCELLED, "cancel_token")
    return record_of(QueueTokenRecord, token)


def called_today(session: Session, *, now: datetime, limit: int = 12) -> list[QueueTokenRecord]:
    """The most recently called tokens, for the waiting-room board."""
    clinic = current_clinic(session)
    return records_of(
        QueueTokenRecord,
        session.scalars(
            select(QueueToken)
            .where(
                QueueToken.clinic_id == clinic.id,
                QueueToken.day == local_day(clinic, now),
                QueueToken.called_at.is_not(None),
                QueueToken.deleted.is_(False),
            )
            .order_by(QueueToken.called_at.desc())
            .limit(limit)
        ),
    )
