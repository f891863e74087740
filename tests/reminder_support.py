"""Helpers of the reminder tests: dispatcher settings pointing at the test SMTP server and gateway,
a clinic with a doctor on a synced desk, patients with their message preferences, and due
reminders written straight into the server's database (for the dispatch-only tests)."""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar
from pydantic import SecretStr
from sqlalchemy import update

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import human_code, new_id
from desktop.domain.reminders import OPEN_STATUSES
from desktop.services import patients
from desktop.store.models import Appointment, Patient, Reminder
from desktop.store.types import utcnow
from server_stub.notify.settings import NotifySettings
from server_stub.rows import RowWriter
from tests.fixtures.outbox import SMS_PASSWORD, SMS_USER, SMTP_PASSWORD, SMTP_USER, MailServer, SmsGateway
from tests.fixtures.server import LiveServer
from tests.sync_support import RECEPTION, Device, set_hours

FROM = "desk@praxis.example"


@pytest.fixture(autouse=False)
def quiet_outbox(live_server: LiveServer) -> None:
    """The dispatcher is server-wide and the server is shared by the session: messages other tests
    left due are settled first, so a test's dispatcher sends only its own."""
    with live_server.engine.begin() as conn:
        conn.execute(update(Reminder).where(Reminder.status.in_(OPEN_STATUSES)).values(status="cancelled"))


def notify_settings(
    mail: MailServer | None = None, sms: SmsGateway | None = None, **overrides: Any
) -> NotifySettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1" if mail else None,
        "smtp_port": mail.port if mail else 25,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SecretStr(SMTP_PASSWORD),
        "smtp_from": FROM,
        "smtp_timeout_s": 2.0,
        "sms_gateway_url": sms.url if sms else None,
        "sms_username": SMS_USER,
        "sms_password": SecretStr(SMS_PASSWORD),
        "sms_from": "+493012345678",
        "sms_timeout_s": 2.0,
        "dispatch_batch": 50,
        "dispatch_lease_s": 30.0,
        "dispatch_max_attempts": 3,
        "dispatch_retry_base_s": 60.0,
        "dispatch_interval_s": 0.2,
    }
    values.update(overrides)
    return NotifySettings(**values)


def doctor_on_desk(server: LiveServer, desk: Device, name: str = "Dr. Anna Weber") -> str:
    """A doctor in room 4 working every day 08:00-18:00, known to the desk."""
    from server_stub import admin

    with server.admin() as a:
        doctor_id = admin.add_user(
            a,
            clinic_id=desk.enrolled.clinic_id,
            username=f"doc_{new_id()[-8:]}",
            name=name,
            role="doctor",
            password="correct horse",
            room="4",
        )
    desk.sync()
    set_hours(desk, doctor_id)
    desk.sync()
    return doctor_id


def patient_on(
    device: Device,
    name: str,
    *,
    phone: str | None = None,
    email: str | None = None,
    language: str = "en",
    **preferences: Any,
) -> str:
    with device.store.unit_of_work() as uow:
        patient = patients.register(
            uow,
            actor=RECEPTION,
            full_name=name,
            birth_date=date(1980, 5, 17),
            phone=phone,
            email=email,
            preferred_language=language,
        )
        uow.flush()
        if preferences:
            patients.update_details(uow, actor=RECEPTION, patient_id=patient.id, **preferences)
        return patient.id


def invitation(message: EmailMessage) -> Calendar:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    return Calendar.from_ical(parts[0].get_content())


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def due_reminders(
    server: LiveServer, clinic_id: str, doctor_id: str, count: int, *, channel: str = "email"
) -> list[str]:
    """`count` confirmations due now, each for its own patient and tomorrow's appointment, written
    on the server as if pushed."""
    now = utcnow()
    clock = HybridLogicalClock("tests")
    ids: list[str] = []
    used: set[str] = set()
    with server.engine.begin() as conn:
        writer = RowWriter(conn, clinic_id=clinic_id, clock=clock, now=now)
        for n in range(count):
            patient_id, appointment_id, reminder_id = new_id(), new_id(), new_id()
            start = (now + timedelta(days=1)).replace(second=0, microsecond=0) + timedelta(minutes=15 * n)
            writer.insert(Patient, _patient(clinic_id, patient_id, n, used), device_id=None, hlc=clock.now())
            writer.insert(
                Appointment,
                {
                    "id": appointment_id,
                    "clinic_id": clinic_id,
                    "code": unique_code("APT", used),
                    "clinician_id": doctor_id,
                    "patient_id": patient_id,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=15),
                    "seat": None,
                    "kind": "walk_in",
                    "urgency": "routine",
                    "emergency": False,
                    "status": "confirmed",
                    "reason": "",
                    "status_note": "",
                    "rescheduled_from": None,
                    "series_id": None,
                    "booked_by": None,
                },
                device_id=None,
                hlc=clock.now(),
            )
            writer.insert(
                Reminder,
                {
                    "id": reminder_id,
                    "clinic_id": clinic_id,
                    "appointment_id": appointment_id,
                    "patient_id": patient_id,
                    "channel": channel,
                    "due_at": now - timedelta(seconds=1),
                    "status": "pending",
                    "sent_at": None,
                    "kind": "confirmation",
                    "offset_minutes": None,
                    "queue_token_id": None,
                    "attempts": 0,
                    "last_error": "",
                    "next_attempt_at": None,
                },
                device_id=None,
                hlc=clock.now(),
            )
            ids.append(reminder_id)
        writer.flush()
    return ids


def unique_code(prefix: str, used: set[str]) -> str:
    while (code := human_code(prefix)) in used:
        pass
    used.add(code)
    return code


def _patient(clinic_id: str, patient_id: str, n: int, used: set[str]) -> dict[str, Any]:
    return {
        "id": patient_id,
        "clinic_id": clinic_id,
        "code": unique_code("PAT", used),
        "full_name": f"Patient {n}",
        "name_key": f"patient {n}",
        "birth_date": date(1970, 1, 1) + timedelta(days=n),
        "sex": "unknown",
        "phone": f"+4915100{n:06d}",
        "email": f"patient{n}@example.org",
        "address": "",
        "allergies": "",
        "preferred_language": "en",
        "merged_into": None,
        "notify_consent": True,
        "notify_channels": None,
        "notify_offsets": None,
    }


def reminder_row(server: LiveServer, reminder_id: str) -> dict[str, Any]:
    row = server.row("reminder", reminder_id)
    assert row is not None
    return row
