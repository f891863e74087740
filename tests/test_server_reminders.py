"""Reminders from the desk to the patient: booked on a device, pushed, sent by the server's
dispatcher to a real SMTP server (aiosmtpd) or a real HTTP gateway on 127.0.0.1, each outcome
recorded and pulled back by the desk. Runs on SQLite, and on PostgreSQL with DATABASE_URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from desktop.domain.reminders import sms_size
from desktop.services import booking
from desktop.store.models import Reminder
from desktop.store.types import utcnow
from server_stub.models import DispatcherBeat, ReminderAttempt
from server_stub.notify.dispatcher import Dispatcher, wait_until_idle
from server_stub.notify.status import dispatch_status, status_lines
from tests.fixtures.desk import desk, server  # noqa: F401
from tests.fixtures.outbox import MailServer, SmsGateway, mail_server, sms_gateway  # noqa: F401
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server` and `desk`)
    LiveServer,
    device_template,
    live_server,
    server_database_url,
    tomorrow_at,
)
from tests.reminder_support import (  # noqa: F401  (quiet_outbox: a fixture)
    FROM,
    doctor_on_desk,
    due_reminders,
    invitation,
    notify_settings,
    patient_on,
    quiet_outbox,
    reminder_row,
    text_of,
)
from tests.support import Clock
from tests.sync_support import RECEPTION, Device, local_rows

pytestmark = pytest.mark.usefixtures("quiet_outbox")
BERLIN = ZoneInfo("Europe/Berlin")


def book(desk: Device, patient_id: str, doctor_id: str, starts_at: datetime) -> str:
    with desk.store.unit_of_work() as uow:
        return booking.book(
            uow, actor=RECEPTION, patient_id=patient_id, clinician_id=doctor_id, starts_at=starts_at
        ).id


def reminders_of(desk: Device, appointment_id: str) -> dict[str, dict[str, object]]:
    """The desk's copies of an appointment's messages, by kind."""
    rows = local_rows(desk.store, "reminder").values()
    return {str(r["kind"]): r for r in rows if r["appointment_id"] == appointment_id}


def test_an_appointment_s_emails_carry_its_invitation_and_their_status_reaches_the_desk(
    server: LiveServer, desk: Device, mail_server: MailServer
) -> None:
    doctor = doctor_on_desk(server, desk)
    patient = patient_on(
        desk, "Ida Anders", email="ida@example.org", notify_channels=["email"], notify_offsets=[120]
    )
    start = tomorrow_at(10)
    appointment = book(desk, patient, doctor, start)
    desk.sync()
    clock = Clock(utcnow())
    dispatcher = Dispatcher(server.engine, notify_settings(mail_server), now=clock)

    assert wait_until_idle(dispatcher, timeout_s=30).sent == 1  # the confirmation; the reminder waits
    [confirmation] = mail_server.messages
    assert confirmation["To"] == "Ida Anders <ida@example.org>"
    assert confirmation["Message-ID"].startswith("<reminder-")
    local = start.astimezone(BERLIN)
    shown = f"{local.day} {local:%b %Y}, 10:00 {local.tzname()}"
    assert shown in confirmation["Subject"] and shown in text_of(confirmation)
    assert "Dr. Anna Weber" in text_of(confirmation) and "Room 4" in text_of(confirmation)
    calendar = invitation(confirmation)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event["DTSTART"].dt == start and str(event["DTSTART"].dt.tzinfo) == "Europe/Berlin"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt.hour == 10  # the clinic's wall clock, not UTC
    assert str(event["ORGANIZER"]) == f"mailto:{FROM}"
    assert str(event["ATTENDEE"]) == "mailto:ida@example.org"
    assert calendar.walk("VTIMEZONE"), "the zone travels with the invitation"

    clock.set(start - timedelta(minutes=119))  # two hours before: the reminder
    assert wait_until_idle(dispatcher, timeout_s=30).sent == 1
    reminder = mail_server.messages[1]
    assert reminder["Subject"].startswith("Reminder")
    assert invitation(reminder).walk("VEVENT")[0]["UID"] == event["UID"]

    with desk.store.unit_of_work() as uow:
        booking.cancel(uow, actor=RECEPTION, appointment_id=appointment)
    desk.sync()
    assert wait_until_idle(dispatcher, timeout_s=30).sent == 1
    cancellation = mail_server.messages[2]
    calendar = invitation(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL"
    [cancelled] = calendar.walk("VEVENT")
    assert cancelled["UID"] == event["UID"] and cancelled["SEQUENCE"] > event["SEQUENCE"]
    assert str(cancelled["STATUS"]) == "CANCELLED"

    desk.sync()  # the dispatcher's outcomes come down like any change
    mine = reminders_of(desk, appointment)
    assert {kind: r["status"] for kind, r in mine.items()} == {
        "confirmation": "sent",
        "reminder": "sent",
        "cancellation": "sent",
    }
    assert all(r["attempts"] == 1 and r["sent_at"] is not None for r in mine.values())
    assert len(set(mail_server.message_ids())) == 3


def test_an_sms_reaches_the_gateway_in_spanish_within_one_part(
    server: LiveServer, desk: Device, sms_gateway: SmsGateway
) -> None:
    doctor = doctor_on_desk(server, desk, name="Dra. Ángela Núñez")
    patient = patient_on(desk, "José Pérez", phone="0151 23456789", language="es", notify_offsets=[1440])
    start = tomorrow_at(9, 30)
    book(desk, patient, doctor, start)
    desk.sync()
    dispatcher = Dispatcher(server.engine, notify_settings(sms=sms_gateway), now=Clock(utcnow()))
    assert wait_until_idle(dispatcher, timeout_s=30).sent == 1
    [form] = sms_gateway.forms
    assert form["To"] == "+4915123456789" and form["From"] == "+493012345678"
    local = start.astimezone(BERLIN)
    assert f"{local.day} " in form["Body"] and f"09:30 {local.tzname()}" in form["Body"]
    # Á is not in the GSM alphabet (it becomes A), ñ is: one part of up to 160 characters
    assert form["Body"].startswith("Praxis am Park: cita con Dra. Angela Nuñez el ")
    size = sms_size(form["Body"])
    assert (size.encoding, size.parts) == ("gsm7", 1) and size.length <= 160
    assert sms_gateway.keys[0].startswith("<reminder-")


FAULTS = {
    "smtp down": ("email", "SMTP server 127.0.0.1:", "is down (connection refused)"),
    "smtp 5xx": ("email", "SMTP server refused the message: 554", ""),
    "smtp timeout": ("email", "SMTP server timed out", ""),
    "smtp login refused": ("email", "SMTP login refused by 127.0.0.1:", "535"),
    "gateway down": ("sms", "SMS gateway is down", ""),
    "gateway 5xx": ("sms", "SMS gateway answered 503", ""),
    "gateway timeout": ("sms", "SMS gateway timed out", ""),
    "gateway refuses the credentials": ("sms", "SMS gateway refused the credentials (401)", ""),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failure_is_retried_with_back_off_then_failed_with_its_reason(
    server: LiveServer, desk: Device, mail_server: MailServer, sms_gateway: SmsGateway, fault: str
) -> None:
    channel, reason, detail = FAULTS[fault]
    doctor = doctor_on_desk(server, desk)
    patient = patient_on(
        desk, "Kai Castell", phone="0151 11111111", email="kai@example.org", notify_channels=[channel]
    )
    book(desk, patient, doctor, tomorrow_at(11))
    desk.sync()
    overrides: dict[str, object] = {}
    if fault == "smtp down":
        overrides["smtp_port"] = 1  # nothing listens there
    elif fault == "smtp 5xx":
        mail_server.reply = "554 5.7.1 Message rejected"
    elif fault == "smtp timeout":
        mail_server.hang_s = 3.0
        overrides["smtp_timeout_s"] = 0.5
    elif fault == "smtp login refused":
        overrides["smtp_password"] = "wrong"
    elif fault == "gateway down":
        overrides["sms_gateway_url"] = "http://127.0.0.1:1/Messages.json"
    elif fault == "gateway 5xx":
        sms_gateway.status = 503
    elif fault == "gateway timeout":
        sms_gateway.hang_s = 2.0
        overrides["sms_timeout_s"] = 0.5
    else:
        overrides["sms_password"] = "wrong"
    clock = Clock(utcnow())
    settings = notify_settings(mail_server, sms_gateway, **overrides)
    dispatcher = Dispatcher(server.engine, settings, now=clock)

    waits = []
    for attempt in (1, 2, 3):
        result = dispatcher.run_once()
        assert (result.sent, result.claimed) == (0, 1), attempt
        [row] = [r for r in _reminders(server, desk) if r["kind"] == "confirmation"]
        assert row["attempts"] == attempt and reason in row["last_error"] and detail in row["last_error"]
        if attempt < 3:
            assert row["status"] == "retrying"
            waits.append(row["next_attempt_at"] - clock())
            assert dispatcher.run_once().claimed == 0  # not before its time
            clock.set(row["next_attempt_at"])
        else:
            assert row["status"] == "failed" and row["next_attempt_at"] is None
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]  # back-off doubles
    assert dispatcher.run_once().claimed == 0  # failed is final
    assert mail_server.messages == [] and sms_gateway.forms == []
    with server.engine.connect() as conn:
        outcomes = conn.execute(
            select(ReminderAttempt.outcome)
            .where(ReminderAttempt.reminder_id == row["id"])
            .order_by(ReminderAttempt.id)
        ).scalars()
        assert list(outcomes) == ["retrying", "retrying", "failed"]
        status = dispatch_status(conn, now=clock(), settings=settings)
    shown = "\n".join(status_lines(status, now=clock()))
    assert f"{row['id']}  attempt 3 failed: {reason}" in shown
    assert "s3cret" not in shown and "wrong" not in shown  # no secret, ever
    assert dispatcher.health.failed == 1 and reason in dispatcher.health.last_error
    desk.sync()
    assert reminders_of(desk, row["appointment_id"])["confirmation"]["status"] == "failed"


def _reminders(server: LiveServer, desk: Device) -> list[dict[str, object]]:
    with server.engine.connect() as conn:
        rows = conn.execute(select(Reminder).where(Reminder.clinic_id == desk.enrolled.clinic_id))
        return [dict(r) for r in rows.mappings()]


def test_a_reminder_on_a_daylight_saving_day_carries_the_local_time(
    server: LiveServer, desk: Device, mail_server: MailServer, sms_gateway: SmsGateway
) -> None:
    """Berlin moves to summer time at 02:00 on Sunday 28 March 2027: a 10:00 visit that day is 08:00
    UTC, and the reminder sent the day before (still winter time) must say 10:00 CEST."""
    doctor = doctor_on_desk(server, desk)
    patient = patient_on(
        desk,
        "Lena Vogt",
        phone="0151 22222222",
        email="lena@example.org",
        notify_channels=["sms", "email"],
        notify_offsets=[1440],
    )
    start = datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN)
    assert start.astimezone(UTC).hour == 8
    book(desk, patient, doctor, start)
    desk.sync()
    clock = Clock(datetime(2027, 3, 27, 9, 30, tzinfo=UTC))  # the day before, 10:30 CET
    dispatcher = Dispatcher(server.engine, notify_settings(mail_server, sms_gateway), now=clock)
    assert wait_until_idle(dispatcher, timeout_s=30).sent == 4  # confirmation and reminder, twice
    reminders = [m for m in mail_server.messages if m["Subject"].startswith("Reminder")]
    assert len(reminders) == 1
    assert "Sun 28 Mar 2027, 10:00 CEST" in text_of(reminders[0])
    [event] = invitation(reminders[0]).walk("VEVENT")
    assert event["DTSTART"].to_ical() == b"20270328T100000"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    sms = [f["Body"] for f in sms_gateway.forms if f["Body"].startswith("Reminder")]
    assert len(sms) == 1 and "Sun 28 Mar 2027, 10:00 CEST" in sms[0]


def test_a_booking_that_lost_a_double_booking_gets_no_message(
    server: LiveServer, desk: Device, mail_server: MailServer, tmp_path: object, device_template: object
) -> None:
    from pathlib import Path

    from tests.sync_support import new_device

    doctor = doctor_on_desk(server, desk)
    other = new_device(
        server, desk.enrolled.clinic_id, "desk", Path(str(tmp_path)) / "other", Path(str(device_template))
    )
    other.sync()
    start = tomorrow_at(14)
    first = book(desk, patient_on(desk, "Ida Anders", email="ida@example.org"), doctor, start)
    second = book(other, patient_on(other, "Jan Brandt", email="jan@example.org"), doctor, start)
    desk.sync()
    other.sync()  # arrives second: its appointment is stored with status `conflict`
    assert server.row("appointment", second)["status"] == "conflict"  # type: ignore[index]
    dispatcher = Dispatcher(server.engine, notify_settings(mail_server), now=Clock(utcnow()))
    assert wait_until_idle(dispatcher, timeout_s=30).sent == 1
    assert [m["To"] for m in mail_server.messages] == ["Ida Anders <ida@example.org>"]
    other.sync()
    assert reminders_of(other, second)["confirmation"]["status"] == "pending"  # waits for a rebooking
    assert reminders_of(desk, first)["confirmation"]["status"] == "pending"  # until the desk pulls
    desk.sync()
    assert reminders_of(desk, first)["confirmation"]["status"] == "sent"
    other.client.close()
    other.store.close()


def test_an_opted_out_patient_gets_nothing(
    server: LiveServer, desk: Device, mail_server: MailServer, sms_gateway: SmsGateway
) -> None:
    doctor = doctor_on_desk(server, desk)
    patient = patient_on(desk, "Mia Roth", phone="0151 33333333", email="mia@example.org")
    appointment = book(desk, patient, doctor, tomorrow_at(15))
    desk.sync()
    with server.engine.begin() as conn:  # another device's opt-out reached the server first
        from desktop.store.models import Patient

        conn.execute(Patient.__table__.update().where(Patient.id == patient).values(notify_consent=False))
    dispatcher = Dispatcher(server.engine, notify_settings(mail_server, sms_gateway), now=Clock(utcnow()))
    result = wait_until_idle(dispatcher, timeout_s=30)
    assert (result.sent, result.dropped) == (0, 1)
    assert mail_server.messages == [] and sms_gateway.forms == []
    row = reminder_row(server, reminders_of_server(server, appointment)["confirmation"])
    assert row["status"] == "cancelled" and row["last_error"] == "The patient opted out of messages."
    with desk.store.unit_of_work() as uow:  # and on the desk: what was still to send is cancelled
        from desktop.services import patients

        patients.update_details(uow, actor=RECEPTION, patient_id=patient, notify_consent=False)
    with desk.store.reading() as session:
        statuses = session.scalars(select(Reminder.status).where(Reminder.patient_id == patient)).all()
    assert set(statuses) == {"cancelled"}


def reminders_of_server(server: LiveServer, appointment_id: str) -> dict[str, str]:
    """An appointment's reminder ids on the server, by kind."""
    with server.engine.connect() as conn:
        rows = conn.execute(
            select(Reminder.kind, Reminder.id).where(Reminder.appointment_id == appointment_id)
        )
        return dict(rows.all())


def test_an_unconfigured_or_misconfigured_dispatcher_is_reported_and_sends_nothing(
    server: LiveServer, desk: Device
) -> None:
    clinic = desk.enrolled.clinic_id
    doctor = doctor_on_desk(server, desk)
    due_reminders(server, clinic, doctor, 2, channel="sms")
    settings = notify_settings(smtp_host="127.0.0.1", smtp_from="not-an-address")  # no gateway, no From
    with server.engine.begin() as conn:  # the other tests' dispatchers (some on clocks set ahead)
        conn.execute(DispatcherBeat.__table__.delete())
    dispatcher = Dispatcher(server.engine, settings, now=Clock(utcnow()))
    assert dispatcher.run_once().claimed == 0
    with server.engine.connect() as conn:
        status = dispatch_status(conn, now=utcnow(), settings=settings)
    shown = "\n".join(status_lines(status, now=utcnow()))
    assert "e-mail settings: not configured: CLINIC_SMTP_FROM must be an e-mail address" in shown
    assert "SMS settings:    not configured: set CLINIC_SMS_GATEWAY_URL" in shown
    assert f"dispatcher {dispatcher.name}: running" in shown
    assert "due now: " in shown and " sms" in shown
    assert not status.healthy


def test_your_turn_is_near_reaches_the_patient_s_phone(
    server: LiveServer, desk: Device, sms_gateway: SmsGateway
) -> None:
    from desktop.services import queue

    doctor = doctor_on_desk(server, desk)
    waiting = [patient_on(desk, f"Walk In {c}", phone=f"0151 4444444{n}") for n, c in enumerate("ABCDE")]
    with desk.store.unit_of_work() as uow:
        for patient in waiting:
            queue.issue_token(uow, actor=RECEPTION, patient_id=patient, clinician_id=doctor)
    with desk.store.unit_of_work() as uow:
        queue.call_next(uow, actor=RECEPTION, clinician_id=doctor)
    desk.sync()
    dispatcher = Dispatcher(server.engine, notify_settings(sms=sms_gateway), now=Clock(utcnow()))
    wait_until_idle(dispatcher, timeout_s=30)
    # Positions 1 to 3 of the 4 left (other tests' messages may go out too: one server).
    ours = [f for f in sms_gateway.forms if f["To"].startswith("+49151444444")]
    assert sorted(f["To"] for f in ours) == [f"+491514444444{n}" for n in (1, 2, 3)]
    assert all(
        "your turn is near" in f["Body"] and f["Body"].startswith("Praxis am Park: token ") for f in ours
    )


def test_clinic_server_status_shows_the_dispatcher_the_queue_and_the_failures(
    server: LiveServer, desk: Device, mail_server: MailServer
) -> None:
    import os
    import subprocess
    import sys

    doctor = doctor_on_desk(server, desk)
    due_reminders(server, desk.enrolled.clinic_id, doctor, 3, channel="email")
    settings = notify_settings(mail_server, smtp_password="wrong", dispatch_batch=1)
    Dispatcher(server.engine, settings).run_once()  # one refused login, two left due
    env = {
        **os.environ,
        "CLINIC_SMTP_HOST": "127.0.0.1",
        "CLINIC_SMTP_FROM": FROM,
        "CLINIC_SMTP_PASSWORD": "s3cret-never-shown",
        "CLINIC_SMTP_USERNAME": "clinic",
    }
    env.pop("CLINIC_SMS_GATEWAY_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "server_stub", "status", "--db", server.database_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    shown = done.stdout
    assert "e-mail settings: ok" in shown and "SMS settings:    not configured" in shown, shown
    assert "running" in shown and "e-mail: failing: SMTP login refused" in shown
    assert (
        "due now: " in shown
        and "last failures:" in shown
        and "attempt 1 retrying: SMTP login refused" in shown
    )
    assert "s3cret" not in shown + done.stderr
    env["CLINIC_SMTP_PORT"] = "not-a-port"
    bad = subprocess.run(
        [sys.executable, "-m", "server_stub", "status", "--db", server.database_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("clinic server: Invalid server setting"), bad.stderr
    assert "CLINIC_SMTP_PORT" in bad.stderr and "s3cret" not in bad.stderr


def test_a_setting_that_does_not_parse_never_stops_the_server(
    server_database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import requests

    from server_stub.background import serving

    monkeypatch.setenv("CLINIC_SMTP_PORT", "not-a-port")
    monkeypatch.setenv("CLINIC_SMTP_PASSWORD", "s3cret-never-logged")
    with serving(server_database_url, run_migrations=False) as base_url:
        assert requests.get(f"{base_url}/v1/health", timeout=10).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("server_stub.notify"))
    assert "Reminders are not sent: Invalid server setting" in logged and "CLINIC_SMTP_PORT" in logged
    assert "s3cret" not in logged
    from sqlalchemy import create_engine

    from server_stub.db import normalise_url

    engine = create_engine(normalise_url(server_database_url))
    try:
        with engine.connect() as conn:
            beats = conn.execute(
                select(DispatcherBeat.last_error).order_by(DispatcherBeat.beat_at.desc())
            ).all()
    finally:
        engine.dispose()
    assert any("CLINIC_SMTP_PORT" in row.last_error for row in beats)


def test_the_running_server_sends_on_its_own(
    server: LiveServer, desk: Device, mail_server: MailServer
) -> None:
    """The dispatcher as deployed: a thread of the server process (on SQLite it takes the same write
    turns as requests), started and stopped with the app."""
    from server_stub.background import serving
    from tests.sync_support import wait_for

    doctor = doctor_on_desk(server, desk)
    patient = patient_on(desk, "Ona Weiss", email="ona@example.org", notify_offsets=[1440])
    book(desk, patient, doctor, tomorrow_at(16))
    desk.sync()
    settings = notify_settings(mail_server, dispatch_interval_s=0.2)
    with serving(server.database_url, run_migrations=False, notify=settings):
        wait_for(lambda: len(mail_server.messages) == 1, timeout=30)
    assert mail_server.messages[0]["To"] == "Ona Weiss <ona@example.org>"
    desk.sync()
    [confirmation] = [r for r in local_rows(desk.store, "reminder").values() if r["kind"] == "confirmation"]
    assert confirmation["status"] == "sent"
