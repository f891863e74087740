"""Reminders made on the device (offline): per the patient's choices and the clinic's defaults,
moved, cancelled, opted out; the queue's "your turn is near"; and the messages themselves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from desktop.domain.errors import InvalidInput
from desktop.domain.reminders import (
    MessageFacts,
    channels_for,
    render,
    retry_delay,
    sms_size,
)
from desktop.services import booking, patients, queue
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, Reminder
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, Clock, local

TUESDAY_NINE_THIRTY = local(MONDAY + timedelta(days=1), 9, 30)


def book(store: LocalStore, patient_id: str, doctor: str, at: datetime) -> Appointment:
    with store.unit_of_work() as uow:
        return booking.book(uow, actor=SYSTEM, patient_id=patient_id, clinician_id=doctor, starts_at=at)


def messages(store: LocalStore, appointment_id: str | None = None) -> list[tuple[str, str, datetime, str]]:
    """(kind, channel, due, status) of the device's reminders, in due order."""
    with store.reading() as session:
        query = select(Reminder).order_by(Reminder.due_at, Reminder.kind, Reminder.channel)
        if appointment_id:
            query = query.where(Reminder.appointment_id == appointment_id)
        return [(r.kind, r.channel, r.due_at, r.status) for r in session.scalars(query)]


def test_the_clinic_default_is_a_confirmation_and_a_reminder_a_day_ahead_by_sms_else_e_mail(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    now = clock()
    by_phone = book(
        store,
        make_patient(phone="0170 1234567", email="a@example.org").id,
        clinic.doctor_a,
        TUESDAY_NINE_THIRTY,
    )
    by_mail = book(store, make_patient(email="b@example.org").id, clinic.doctor_b, TUESDAY_NINE_THIRTY)
    unreachable = book(store, make_patient().id, clinic.doctor_a, TUESDAY_NINE_THIRTY + timedelta(minutes=15))
    day_ahead = TUESDAY_NINE_THIRTY - timedelta(hours=24)
    assert messages(store, by_phone.id) == [
        ("confirmation", "sms", now, "pending"),
        ("reminder", "sms", day_ahead, "pending"),
    ]
    assert messages(store, by_mail.id) == [
        ("confirmation", "email", now, "pending"),
        ("reminder", "email", day_ahead, "pending"),
    ]
    assert messages(store, unreachable.id) == []


def test_a_patient_s_own_channels_and_lead_times_are_kept_and_a_past_time_is_never_scheduled(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient(phone="0170 1234567", email="c@example.org")
    with store.unit_of_work() as uow:
        patients.update_details(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            notify_channels=["email", "sms"],
            notify_offsets=[15, 1440, 120, 30],
        )
    # 10:00 today (Monday, the clock is at 07:00): a day ahead is past, the rest are not.
    ten = local(MONDAY, 10)
    appointment = book(store, patient.id, clinic.doctor_a, ten)
    due = sorted({(kind, when) for kind, _, when, _ in messages(store, appointment.id)})
    assert due == [
        ("confirmation", clock()),
        ("reminder", ten - timedelta(hours=2)),
        ("reminder", ten - timedelta(minutes=30)),
        ("reminder", ten - timedelta(minutes=15)),
    ]
    assert {channel for _, channel, _, _ in messages(store, appointment.id)} == {"sms", "email"}
    with store.unit_of_work() as uow, pytest.raises(InvalidInput) as info:
        patients.update_details(uow, actor=SYSTEM, patient_id=patient.id, notify_offsets=[45])
    assert info.value.field == "notify_offsets"
    with store.unit_of_work() as uow, pytest.raises(InvalidInput) as info:
        patients.update_details(uow, actor=SYSTEM, patient_id=patient.id, notify_channels=["fax"])
    assert info.value.field == "notify_channels"


def test_cancelling_cancels_what_is_left_and_sends_a_cancellation_notice(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    appointment = book(store, make_patient(phone="0170 1234567").id, clinic.doctor_a, TUESDAY_NINE_THIRTY)
    clock.advance(minutes=5)
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=appointment.id)
    assert [(k, s) for k, _, _, s in messages(store, appointment.id)] == [
        ("confirmation", "cancelled"),  # not sent yet: it never will be
        ("cancellation", "pending"),  # the server sends it only if something had been sent
        ("reminder", "cancelled"),
    ]


def test_rescheduling_moves_the_messages_to_the_new_visit(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    old = book(store, make_patient(phone="0170 1234567").id, clinic.doctor_a, TUESDAY_NINE_THIRTY)
    later = TUESDAY_NINE_THIRTY + timedelta(days=1)
    with store.unit_of_work() as uow:
        new = booking.reschedule(uow, actor=SYSTEM, appointment_id=old.id, starts_at=later)
    assert {s for _, _, _, s in messages(store, old.id)} == {"cancelled"}
    assert [(k, d, s) for k, _, d, s in messages(store, new.id)][1:] == [
        ("reminder", later - timedelta(hours=24), "pending")
    ]


def test_an_online_request_gets_its_messages_when_it_is_accepted(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(phone="0170 1234567")
    with store.unit_of_work() as uow:
        request = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            starts_at=TUESDAY_NINE_THIRTY,
            kind="online",
        )
    assert request.status == "requested" and messages(store, request.id) == []
    with store.unit_of_work() as uow:
        booking.accept(uow, actor=SYSTEM, appointment_id=request.id)
    assert [k for k, _, _, _ in messages(store, request.id)] == ["confirmation", "reminder"]


def test_an_opted_out_patient_gets_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(phone="0170 1234567")
    first = book(store, patient.id, clinic.doctor_a, TUESDAY_NINE_THIRTY)
    with store.unit_of_work() as uow:
        patients.update_details(uow, actor=SYSTEM, patient_id=patient.id, notify_consent=False)
    assert {s for _, _, _, s in messages(store, first.id)} == {"cancelled"}
    second = book(store, patient.id, clinic.doctor_b, TUESDAY_NINE_THIRTY + timedelta(days=1))
    assert messages(store, second.id) == []


def test_your_turn_is_near_goes_once_to_waiting_patients_who_agreed_with_a_phone(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    clock.set(local(MONDAY, 9))
    with_phone = [make_patient(phone=f"0170 12345{n:02d}") for n in range(4)]
    no_phone = make_patient()
    refused = make_patient(phone="0170 9999999")
    with store.unit_of_work() as uow:
        patients.update_details(uow, actor=SYSTEM, patient_id=refused.id, notify_consent=False)
    tokens = []
    for patient in [with_phone[0], with_phone[1], no_phone, refused, with_phone[2], with_phone[3]]:
        clock.advance(minutes=1)
        with store.unit_of_work() as uow:
            tokens.append(queue.issue_token(uow, actor=KIOSK, patient_id=patient.id).id)
    with store.unit_of_work() as uow:  # the clinic's default: when 3 are left to go
        queue.call_next(uow, actor=SYSTEM, clinician_id=clinic.doctor_a)
    with store.reading() as session:
        near = session.scalars(select(Reminder).where(Reminder.kind == "turn_near")).all()
    # Now waiting: positions 1-3 are with_phone[1], no_phone, refused: one message.
    assert [(r.queue_token_id, r.channel, r.patient_id) for r in near] == [
        (tokens[1], "sms", with_phone[1].id)
    ]
    with store.unit_of_work() as uow:
        queue.call_next(uow, actor=SYSTEM, clinician_id=clinic.doctor_a)
    with store.reading() as session:
        near = session.scalars(select(Reminder.queue_token_id).where(Reminder.kind == "turn_near")).all()
    assert sorted(near) == sorted([tokens[1], tokens[4]])  # once each


# -- the messages ------------------------------------------------------------------------------

FACTS = MessageFacts(
    clinic_name="Sunrise Clinic",
    zone="Asia/Kolkata",
    doctor="Dr Asha Rao",
    starts_at=datetime(2026, 12, 7, 5, 0, tzinfo=UTC),
    room="12",
    code="APT-7K3Q9",
)


def test_messages_give_the_local_time_in_each_language() -> None:
    assert render("reminder", "sms", "en", FACTS).body == (
        "Reminder from Sunrise Clinic: Dr Asha Rao, Mon 7 Dec 2026, 10:30 IST, room 12. Ref APT-7K3Q9."
    )
    assert render("reminder", "sms", "es", FACTS).body == (
        "Recordatorio de Sunrise Clinic: Dr Asha Rao, lun 7 dic 2026, 10:30 IST, consulta 12. Ref APT-7K3Q9."
    )
    assert (
        render("confirmation", "email", "fr", FACTS).subject
        == "Appointment confirmed: Mon 7 Dec 2026, 10:30 IST"
    )
    video = render("confirmation", "email", "es", replace(FACTS, telehealth=True))
    assert "videollamada" in video.body.lower() and "consulta por video" in video.body


def test_every_sms_template_fits_one_part_with_long_names_and_says_when_it_does_not() -> None:
    long = replace(FACTS, clinic_name="Clínica San Rafael", doctor="Dra. María Núñez")
    for kind in ("confirmation", "reminder", "cancellation", "turn_near"):
        for language in ("en", "es"):
            body = render(kind, "sms", language, replace(long, token="A-017", position=3)).body
            size = sms_size(body)
            assert (size.encoding, size.parts) == ("gsm7", 1), (kind, language, size, body)
    assert sms_size("x" * 160).parts == 1 and sms_size("x" * 161).parts == 2
    assert sms_size("€" * 80).length == 160 and sms_size("€" * 81).parts == 2  # two septets each
    assert sms_size("á" * 70).encoding == "ucs2" and sms_size("á" * 71).parts == 2


def test_channels_follow_consent_choice_and_contact() -> None:
    assert channels_for(consent=False, phone="1", email="e", chosen=None, clinic_default=["sms"]) == []
    assert channels_for(consent=True, phone=None, email="e", chosen=None, clinic_default=["sms"]) == ["email"]
    assert channels_for(consent=True, phone=None, email="e", chosen=["sms"], clinic_default=["sms"]) == []
    assert channels_for(consent=True, phone="1", email="e", chosen=["sms", "email"], clinic_default=[]) == [
        "sms",
        "email",
    ]


def test_retries_back_off_up_to_a_cap() -> None:
    delays = [retry_delay(n, base_s=60, cap_s=600).total_seconds() for n in range(1, 6)]
    assert delays == [60, 120, 240, 480, 600]
