"""Patients' messages, made on the device (offline too) and sent by the server's dispatcher.

At booking: a confirmation (with the calendar invitation) and a reminder for each lead time, on
each channel the patient is written to (desktop/domain/reminders.py: consent, the patient's own
choice, else the clinic's defaults). Cancelling cancels what is still to send and sends a
cancellation notice; rescheduling cancels the old visit's messages and books the new one's; a
time already past is never scheduled. The server decides at send time whether a message is still
due (docs/reminders.md): a booking that lost a double booking gets nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.reminders import OPEN_STATUSES, Channel, MessageKind, ReminderStatus, channels_for
from desktop.services.records import QueueTokenRecord, ReminderRecord, records_of
from desktop.store.models import Appointment, Clinic, DeviceState, Patient, Reminder
from desktop.store.prepared import Prepared
from desktop.store.reference import cached
from desktop.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Defaults:
    """The clinic's defaults for patients who chose nothing themselves."""

    channels: tuple[str, ...]
    lead_minutes: tuple[int, ...]
    queue_position: int  # "your turn is near" when this many are left (0: never)


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    consent: bool
    phone: str | None
    email: str | None
    channels: tuple[str, ...] | None
    lead_minutes: tuple[int, ...] | None


_DEFAULT_COLUMNS = (Clinic.reminder_channels, Clinic.reminder_offsets, Clinic.queue_notify_position)
_DEVICE_CLINIC_DEFAULTS = (
    select(*_DEFAULT_COLUMNS).join(DeviceState, DeviceState.clinic_id == Clinic.id).where(DeviceState.id == 1)
)
_ANY_CLINIC_DEFAULTS = select(*_DEFAULT_COLUMNS).where(Clinic.deleted.is_(False)).limit(1)
_p = Patient.__table__.c
_RECIPIENT = Prepared(
    select(_p.id, _p.notify_consent, _p.phone, _p.email, _p.notify_channels, _p.notify_offsets).where(
        _p.id == bindparam("id")
    )
)


def _load_defaults(session: Session) -> Defaults:
    row = session.execute(_DEVICE_CLINIC_DEFAULTS).first() or session.execute(_ANY_CLINIC_DEFAULTS).first()
    if row is None:
        return Defaults(("sms",), (1440,), 3)
    return Defaults(tuple(row[0] or ()), tuple(row[1] or ()), row[2])


def defaults(session: Session) -> Defaults:
    """The device's clinic's defaults, from the reference cache (read again only after a change)."""
    return cached(session, _load_defaults)


def _recipient(session: Session, patient_id: str) -> Recipient | None:
    session.flush()
    row = _RECIPIENT.first(session, {"id": patient_id})
    if row is None:
        return None
    pid, consent, phone, email, chosen, lead = row
    return Recipient(
        pid,
        bool(consent),
        phone,
        email,
        tuple(chosen) if chosen is not None else None,
        tuple(lead) if lead is not None else None,
    )


def _channels(recipient: Recipient, clinic: Defaults) -> list[Channel]:
    return channels_for(
        consent=recipient.consent,
        phone=recipient.phone,
        email=recipient.email,
        chosen=recipient.channels,
        clinic_default=clinic.channels,
    )


def _insert(
    uow: UnitOfWork,
    *,
    clinic_id: str,
    patient_id: str,
    channel: Channel,
    kind: MessageKind,
    due_at: datetime,
    appointment_id: str | None = None,
    offset_minutes: int | None = None,
    queue_token_id: str | None = None,
) -> Reminder:
    return uow.insert(
        Reminder(
            clinic_id=clinic_id,
            appointment_id=appointment_id,
            patient_id=patient_id,
            channel=channel.value,
            due_at=due_at,
            status=ReminderStatus.PENDING.value,
            kind=kind.value,
            offset_minutes=offset_minutes,
            queue_token_id=queue_token_id,
            attempts=0,
            last_error="",
        ),
        attach=False,  # changed later only through a query (cancel_for)
    )


def schedule(uow: UnitOfWork, *, appointment: Appointment, patient_id: str) -> list[ReminderRecord]:
    """A confirmed appointment's confirmation (now) and reminders (each lead time before it, if
    that is still ahead), on each of the patient's channels. Nothing for other statuses: an online
    request gets its messages when it is accepted."""
    if appointment.status != AppointmentStatus.CONFIRMED.value:
        return []
    recipient = _recipient(uow.session, patient_id)
    if recipient is None:
        return []
    clinic = defaults(uow.session)
    now = uow.now()
    made: list[Reminder] = []
    common = {"clinic_id": appointment.clinic_id, "patient_id": patient_id, "appointment_id": appointment.id}
    for channel in _channels(recipient, clinic):
        if appointment.starts_at > now:
            made.append(_insert(uow, **common, channel=channel, kind=MessageKind.CONFIRMATION, due_at=now))
        for minutes in recipient.lead_minutes if recipient.lead_minutes is not None else clinic.lead_minutes:
            due = appointment.starts_at - timedelta(minutes=minutes)
            if due > now:
                made.append(
                    _insert(
                        uow,
                        **common,
                        channel=channel,
                        kind=MessageKind.REMINDER,
                        due_at=due,
                        offset_minutes=minutes,
                    )
                )
    return records_of(ReminderRecord, made)


def cancel_for(uow: UnitOfWork, *, appointment_id: str, notify: bool = False) -> None:
    """Cancel the appointment's messages still to send; with `notify`, tell the patient it is
    cancelled, on each channel they were written to (only if they were told of it at all)."""
    session = uow.session
    open_rows = list(
        session.scalars(
            select(Reminder).where(
                Reminder.appointment_id == appointment_id,
                Reminder.status.in_(OPEN_STATUSES),
                Reminder.kind != MessageKind.CANCELLATION.value,
            )
        )
    )
    _cancel(open_rows)
    if not notify:
        return
    told = session.execute(
        select(Reminder.channel, Reminder.clinic_id, Reminder.patient_id)
        .where(
            Reminder.appointment_id == appointment_id,
            Reminder.kind == MessageKind.CONFIRMATION.value,
            Reminder.deleted.is_(False),
        )
        .distinct()
    ).all()
    for channel, clinic_id, patient_id in told:
        _insert(
            uow,
            clinic_id=clinic_id,
            patient_id=patient_id,
            appointment_id=appointment_id,
            channel=Channel(channel),
            kind=MessageKind.CANCELLATION,
            due_at=uow.now(),
        )


def cancel_all_for_patient(uow: UnitOfWork, *, patient_id: str) -> None:
    """The patient opted out: whatever is still to send to them is cancelled."""
    _cancel(
        uow.session.scalars(
            select(Reminder).where(Reminder.patient_id == patient_id, Reminder.status.in_(OPEN_STATUSES))
        )
    )


def _cancel(rows: Iterable[Reminder]) -> None:
    for reminder in rows:
        reminder.status = ReminderStatus.CANCELLED.value


def notify_turn_near(uow: UnitOfWork, *, waiting: list[tuple[QueueTokenRecord, int]]) -> list[ReminderRecord]:
    """ "Your turn is near" by SMS to each waiting patient whose position (1 = next) has reached the
    clinic's number, once per token, if they gave a phone number and agreed to be written to."""
    made: list[Reminder] = []
    if not waiting:
        return []
    clinic = defaults(uow.session)
    if clinic.queue_position <= 0:
        return []
    near = [(t, p) for t, p in waiting if p <= clinic.queue_position and t.patient_id]
    if not near:
        return []
    told = set(
        uow.session.scalars(
            select(Reminder.queue_token_id).where(
                Reminder.queue_token_id.in_([t.id for t, _ in near]),
                Reminder.kind == MessageKind.TURN_NEAR.value,
            )
        )
    )
    for token, _position in near:
        recipient = _recipient(uow.session, token.patient_id or "")
        if token.id in told or recipient is None or not recipient.consent or not recipient.phone:
            continue
        made.append(
            _insert(
                uow,
                clinic_id=token.clinic_id,
                patient_id=recipient.id,
                appointment_id=token.appointment_id,
                queue_token_id=token.id,
                channel=Channel.SMS,
                kind=MessageKind.TURN_NEAR,
                due_at=uow.now(),
            )
        )
    return records_of(ReminderRecord, made)


def status_of(session: Session, *, appointment_id: str) -> list[ReminderRecord]:
    """An appointment's messages as the devices know them (the dispatcher's outcomes come by pull)."""
    rows = session.scalars(
        select(Reminder)
        .where(Reminder.appointment_id == appointment_id, Reminder.deleted.is_(False))
        .order_by(Reminder.due_at)
    )
    return records_of(ReminderRecord, rows)
