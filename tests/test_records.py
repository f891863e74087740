"""Patient records: registration without duplicates, edits, history, merging, prescriptions, visits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from desktop.domain.errors import ImmutableRecord, InvalidInput, NotAllowed, ProbableDuplicate
from desktop.services import booking, consultations, patients, prescriptions, queue
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import (
    Appointment,
    AuditEvent,
    Consultation,
    JournalOp,
    Patient,
    Prescription,
    QueueToken,
    WaitlistEntry,
)
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, Clock, count, journal, local

BORN = date(1980, 5, 1)


def medicine(**overrides: str) -> dict[str, str]:
    line = {"name": "Amoxicillin", "strength": "500 mg", "dose": "1 capsule", "route": "oral"}
    line |= {"frequency": "3 times a day", "duration": "7 days"}
    return line | overrides


def register(store: LocalStore, **kw: Any) -> Patient:
    with store.unit_of_work() as uow:
        return patients.register(uow, actor=kw.pop("actor", SYSTEM), **kw)


def row(store: LocalStore, model: Any, row_id: str) -> Any:
    with store.reading() as session:
        found = session.get(model, row_id)
        assert found is not None
        return found


# --- registration -----------------------------------------------------------------------------


def test_registration_folds_the_name_and_normalises_the_phone(store: LocalStore, clinic: ClinicSetup) -> None:
    patient = register(store, full_name="  José   Núñez-García ", birth_date=BORN, phone="0170 1234567")
    saved = row(store, Patient, patient.id)
    assert (saved.full_name, saved.name_key, saved.phone) == (
        "José Núñez-García",
        "garcia jose nunez",
        "+491701234567",
    )
    assert saved.code.startswith("PAT-")


def test_same_folded_name_and_birth_date_is_a_probable_duplicate(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    first = register(store, full_name="José Núñez-García", birth_date=BORN)
    ops = len(journal(store))
    with pytest.raises(ProbableDuplicate) as info:
        register(store, full_name="garcia nunez jose", birth_date=BORN)
    assert info.value.candidate_ids == [first.id]
    assert info.value.as_dict()["details"] == {"candidates": [first.id]}
    assert count(store, Patient) == 1
    assert len(journal(store)) == ops


def test_same_phone_and_birth_date_is_a_probable_duplicate(store: LocalStore, clinic: ClinicSetup) -> None:
    first = register(store, full_name="Maria Schulz", birth_date=BORN, phone="030 1234567")
    with pytest.raises(ProbableDuplicate) as info:
        # Married since, and the number typed differently.
        register(store, full_name="Maria Becker", birth_date=BORN, phone="+49 30 123 4567")
    assert info.value.candidate_ids == [first.id]


def test_all_candidates_are_listed(store: LocalStore, clinic: ClinicSetup) -> None:
    by_name = register(store, full_name="Maria Schulz", birth_date=BORN)
    by_phone = register(store, full_name="Mia Becker", birth_date=BORN, phone="030 1234567")
    with pytest.raises(ProbableDuplicate) as info:
        register(store, full_name="Schulz Maria", birth_date=BORN, phone="030 1234567")
    assert sorted(info.value.candidate_ids) == sorted([by_name.id, by_phone.id])


def test_a_different_birth_date_is_a_different_person(store: LocalStore, clinic: ClinicSetup) -> None:
    register(store, full_name="Maria Schulz", birth_date=BORN, phone="030 1234567")
    register(store, full_name="Maria Schulz", birth_date=BORN + timedelta(days=1), phone="030 1234567")
    assert count(store, Patient) == 2


def test_staff_can_confirm_that_a_lookalike_is_a_new_patient(store: LocalStore, clinic: ClinicSetup) -> None:
    register(store, full_name="Maria Schulz", birth_date=BORN)
    twin = register(store, full_name="Maria Schulz", birth_date=BORN, confirm_new=True)
    assert count(store, Patient) == 2
    assert row(store, Patient, twin.id).full_name == "Maria Schulz"


def test_registration_errors_name_the_field(store: LocalStore, clinic: ClinicSetup, clock: Clock) -> None:
    today = clock().date()
    cases = [
        ({"full_name": "X", "birth_date": BORN}, "full_name"),
        ({"full_name": "Eva Lang", "birth_date": today + timedelta(days=1)}, "birth_date"),
        ({"full_name": "Eva Lang", "birth_date": BORN, "phone": "12"}, "phone"),
        ({"full_name": "Eva Lang", "birth_date": BORN, "email": "eva at home"}, "email"),
        ({"full_name": "Eva Lang", "birth_date": BORN, "sex": "robot"}, "sex"),
    ]
    for values, field in cases:
        with pytest.raises(InvalidInput) as info:
            register(store, **values)
        assert info.value.field == field
    assert count(store, Patient) == 0


def test_the_kiosk_can_register_a_walk_in(store: LocalStore, clinic: ClinicSetup) -> None:
    patient = register(store, actor=KIOSK, full_name="Walk In", birth_date=BORN)
    with store.reading() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id)).one()
        assert (audit.action, audit.actor_role, audit.device_id) == ("register", "kiosk", store.device_id)


# --- edits ------------------------------------------------------------------------------------


def test_update_details_changes_and_journals_the_fields(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(full_name="Eva Lang")
    with store.unit_of_work() as uow:
        patients.update_details(uow, actor=clinic.desk, patient_id=patient.id, full_name="Eva Lang-Ötztal")
    saved = row(store, Patient, patient.id)
    assert (saved.full_name, saved.name_key) == ("Eva Lang-Ötztal", "eva lang otztal")
    op = [op for op in journal(store) if op.entity == "patient"][-1]
    assert op.data == {"full_name": "Eva Lang-Ötztal", "name_key": "eva lang otztal"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"address": "Neue Str. 1", "phone": "12"}, "phone"),
        ({"address": "Neue Str. 1", "email": "nope"}, "email"),
        ({"address": "Neue Str. 1", "birth_date": "1980-01-01"}, "birth_date"),
        ({"address": "Neue Str. 1", "full_name": " "}, "full_name"),
        ({"address": "Neue Str. 1", "code": "PAT-00000"}, "code"),
        ({"address": "Neue Str. 1", "merged_into": "x"}, "merged_into"),
    ],
)
def test_a_bad_edit_names_the_field_and_writes_nothing(
    store: LocalStore,
    clinic: ClinicSetup,
    make_patient: PatientFactory,
    changes: dict[str, object],
    field: str,
) -> None:
    patient = make_patient(address="Alte Str. 2")
    ops = len(journal(store))
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        patients.update_details(uow, actor=clinic.desk, patient_id=patient.id, **changes)
    assert info.value.field == field
    assert row(store, Patient, patient.id).address == "Alte Str. 2"
    assert len(journal(store)) == ops


def test_the_kiosk_cannot_edit_a_record(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        patients.update_details(uow, actor=KIOSK, patient_id=make_patient().id, address="x")


def test_search_finds_by_code_phone_or_any_part_of_the_name(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    jose = make_patient(full_name="José Núñez-García", phone="0170 1234567")
    make_patient(full_name="Anna Schmidt")
    with store.reading() as session:
        assert [p.id for p in patients.search(session, "nunez jose")] == [jose.id]
        assert [p.id for p in patients.search(session, "1234567")] == [jose.id]
        assert [p.id for p in patients.search(session, jose.code.lower())] == [jose.id]
        assert patients.search(session, "   ") == []


# --- a whole visit: check-in, consultation, prescription, history ------------------------------


def visit(store: LocalStore, clinic: ClinicSetup, clock: Clock, patient_id: str) -> tuple[str, str, str]:
    """Book, check in, see the doctor, prescribe, finish: (appointment, token, consultation) ids."""
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow, actor=SYSTEM, patient_id=patient_id, clinician_id=clinic.doctor_a, starts_at=local(MONDAY, 9)
        )
    clock.set(local(MONDAY, 8, 50))
    with store.unit_of_work() as uow:
        ticket = queue.check_in(uow, actor=KIOSK, appointment_id=appointment.id)
    clock.set(local(MONDAY, 9, 2))
    with store.unit_of_work() as uow:
        consultation = consultations.start(
            uow, actor=clinic.doctor, clinician_id=clinic.doctor_a, token_id=ticket.id
        )
    return appointment.id, ticket.id, consultation.id


def test_a_consultation_from_the_queue_moves_appointment_and_token_along(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient()
    appointment_id, token_id, consultation_id = visit(store, clinic, clock, patient.id)
    started = row(store, Consultation, consultation_id)
    assert (started.status, started.appointment_id, started.token_id, started.patient_id) == (
        "open",
        appointment_id,
        token_id,
        patient.id,
    )
    assert row(store, Appointment, appointment_id).status == "in_consultation"
    assert row(store, QueueToken, token_id).status == "in_consultation"

    clock.advance(minutes=14)
    with store.unit_of_work() as uow:
        consultations.save_notes(
            uow,
            actor=clinic.doctor,
            consultation_id=consultation_id,
            complaint="Cough",
            diagnosis="Bronchitis",
        )
        consultations.complete(uow, actor=clinic.doctor, consultation_id=consultation_id)
    done = row(store, Consultation, consultation_id)
    assert (done.status, done.ended_at, done.diagnosis) == ("closed", clock(), "Bronchitis")
    assert row(store, Appointment, appointment_id).status == "completed"
    finished = row(store, QueueToken, token_id)
    assert (finished.status, finished.completed_at - finished.started_at) == (
        "completed",
        timedelta(minutes=14),
    )


def test_closed_consultation_notes_cannot_change(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    _, _, consultation_id = visit(store, clinic, clock, make_patient().id)
    with store.unit_of_work() as uow:
        consultations.save_notes(uow, actor=clinic.doctor, consultation_id=consultation_id, notes="Rest.")
        consultations.complete(uow, actor=clinic.doctor, consultation_id=consultation_id)
    ops = len(journal(store))
    with pytest.raises(ImmutableRecord), store.unit_of_work() as uow:
        consultations.save_notes(uow, actor=clinic.doctor, consultation_id=consultation_id, notes="Changed.")
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:
        consultations.complete(uow, actor=clinic.doctor, consultation_id=consultation_id)
    assert row(store, Consultation, consultation_id).notes == "Rest."
    assert len(journal(store)) == ops


def test_a_video_visit_goes_straight_from_confirmed_into_consultation(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            starts_at=local(MONDAY, 10),
        )
    with store.unit_of_work() as uow:
        consultation = consultations.start(
            uow,
            actor=clinic.doctor,
            clinician_id=clinic.doctor_a,
            appointment_id=appointment.id,
            mode="video",
        )
    assert row(store, Consultation, consultation.id).mode == "video"
    assert row(store, Appointment, appointment.id).status == "in_consultation"


def test_chat_messages_are_kept_in_the_order_they_were_sent(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    _, _, consultation_id = visit(store, clinic, clock, make_patient().id)
    lines = [
        ("doctor", "Hello, can you hear me?"),
        ("patient", "Yes"),
        ("patient", "Now I can"),
        ("doctor", "Good"),
    ]
    for sender, body in lines:  # all within the same second: the order must still hold
        actor = clinic.doctor if sender == "doctor" else KIOSK
        with store.unit_of_work() as uow:
            consultations.add_chat_message(
                uow, actor=actor, consultation_id=consultation_id, body=f"  {body} ", sender_role=sender
            )
    clock.advance(seconds=1)
    with store.unit_of_work() as uow:
        consultations.add_chat_message(
            uow, actor=KIOSK, consultation_id=consultation_id, body="Thanks", sender_role="patient"
        )
    with store.reading() as session:
        stored = consultations.chat_messages(session, consultation_id=consultation_id)
    assert [(m.sender_role, m.body) for m in stored] == [*lines, ("patient", "Thanks")]
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        consultations.add_chat_message(
            uow, actor=KIOSK, consultation_id=consultation_id, body="I am the doctor", sender_role="doctor"
        )
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        consultations.add_chat_message(
            uow, actor=KIOSK, consultation_id=consultation_id, body="   ", sender_role="patient"
        )
    assert info.value.field == "body"


# --- prescriptions ----------------------------------------------------------------------------


def draft(store: LocalStore, clinic: ClinicSetup, patient_id: str, **kw: Any) -> Prescription:
    with store.unit_of_work() as uow:
        return prescriptions.draft(
            uow,
            actor=clinic.doctor,
            patient_id=patient_id,
            clinician_id=clinic.doctor_a,
            diagnosis=kw.pop("diagnosis", "Otitis media"),
            medicines=kw.pop("medicines", [medicine()]),
            **kw,
        )


def test_an_issued_prescription_never_changes_and_a_correction_is_a_new_revision(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient()
    rx = draft(store, clinic, patient.id)
    assert rx.status == "draft" and rx.code.startswith("RX-")
    with store.unit_of_work() as uow:
        prescriptions.edit_draft(
            uow,
            actor=clinic.doctor,
            prescription_id=rx.id,
            diagnosis="Otitis media",
            medicines=[medicine(dose="2")],
        )
        prescriptions.issue(uow, actor=clinic.doctor, prescription_id=rx.id)
    issued = row(store, Prescription, rx.id)
    assert (issued.status, issued.issued_at, issued.medicines[0]["dose"]) == ("issued", clock(), "2")

    with pytest.raises(ImmutableRecord), store.unit_of_work() as uow:
        prescriptions.edit_draft(
            uow,
            actor=clinic.doctor,
            prescription_id=rx.id,
            diagnosis="Otitis media",
            medicines=[medicine(dose="9")],
        )
    with pytest.raises(ImmutableRecord), store.unit_of_work() as uow:
        prescriptions.issue(uow, actor=clinic.doctor, prescription_id=rx.id)
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        prescriptions.correct(
            uow, actor=clinic.doctor, prescription_id=rx.id, reason=" ", diagnosis="x", medicines=[medicine()]
        )
    assert info.value.field == "reason"
    assert row(store, Prescription, rx.id).status == "issued"

    with store.unit_of_work() as uow:
        fixed = prescriptions.correct(
            uow,
            actor=clinic.doctor,
            prescription_id=rx.id,
            reason="Wrong dose",
            diagnosis="Otitis media",
            medicines=[medicine(dose="1 capsule")],
        )
    old, new = row(store, Prescription, rx.id), row(store, Prescription, fixed.id)
    assert (old.status, old.medicines[0]["dose"]) == ("superseded", "2")
    assert (new.status, new.revision, new.supersedes, new.code) == ("issued", 2, rx.id, rx.code)
    assert (new.correction_reason, new.medicines[0]["dose"]) == ("Wrong dose", "1 capsule")
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:  # only the current revision
        prescriptions.correct(
            uow,
            actor=clinic.doctor,
            prescription_id=rx.id,
            reason="Again",
            diagnosis="x",
            medicines=[medicine()],
        )
    with store.reading() as session:
        assert [p.revision for p in prescriptions.for_patient(session, patient_id=patient.id)] == [1, 2]


def test_a_bad_medicine_line_names_the_field_and_saves_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with pytest.raises(InvalidInput) as info:
        draft(store, clinic, make_patient().id, medicines=[medicine(), medicine(dose="")])
    assert info.value.field == "medicines[1].dose"
    assert count(store, Prescription) == 0


def test_a_follow_up_date_in_the_past_is_refused_in_the_clinics_own_day(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient()
    clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 00:30 on Tuesday 3 March in Berlin
    with pytest.raises(InvalidInput) as info:
        draft(store, clinic, patient.id, follow_up_on=date(2026, 3, 2))  # yesterday, for the clinic
    assert info.value.field == "follow_up_on"
    assert draft(store, clinic, patient.id, follow_up_on=date(2026, 3, 3)).follow_up_on == date(2026, 3, 3)


# --- history and merge ------------------------------------------------------------------------


def test_history_shows_visits_notes_prescriptions_and_diagnoses_and_is_audited(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient()
    appointment_id, _, consultation_id = visit(store, clinic, clock, patient.id)
    with store.unit_of_work() as uow:
        consultations.save_notes(
            uow, actor=clinic.doctor, consultation_id=consultation_id, diagnosis="Bronchitis"
        )
        rx = prescriptions.draft(
            uow,
            actor=clinic.doctor,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            consultation_id=consultation_id,
            diagnosis="Bronchitis",
            medicines=[medicine()],
        )
        uow.flush()
        prescriptions.issue(uow, actor=clinic.doctor, prescription_id=rx.id)
        consultations.complete(uow, actor=clinic.doctor, consultation_id=consultation_id)
    make_patient()  # someone else's record stays out of it
    before = count(store, AuditEvent, AuditEvent.action == "read_history")
    with store.unit_of_work() as uow:
        record = patients.history(uow, actor=clinic.doctor, patient_id=patient.id)
    assert [a.id for a in record.appointments] == [appointment_id]
    assert [c.id for c in record.consultations] == [consultation_id]
    assert [p.id for p in record.prescriptions] == [rx.id]
    assert record.diagnoses == [(MONDAY, "Bronchitis")]
    with store.reading() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "read_history")).all()
        assert len(reads) == before + 1
        assert (reads[-1].patient_id, reads[-1].actor_id, reads[-1].actor_role) == (
            patient.id,
            clinic.doctor_a,
            "doctor",
        )
        assert session.scalars(select(JournalOp).where(JournalOp.entity_id == reads[-1].id)).one()


def test_diagnosis_dates_are_the_clinics_day(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    patient = make_patient()
    clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 00:30 on Tuesday in Berlin: an emergency at night
    with store.unit_of_work() as uow:
        consultation = consultations.start(
            uow, actor=clinic.doctor, clinician_id=clinic.doctor_a, patient_id=patient.id
        )
        uow.flush()
        consultations.save_notes(
            uow, actor=clinic.doctor, consultation_id=consultation.id, diagnosis="Asthma attack"
        )
    with store.unit_of_work() as uow:
        record = patients.history(uow, actor=clinic.doctor, patient_id=patient.id)
    assert record.diagnoses == [(date(2026, 3, 3), "Asthma attack")]


def test_merging_moves_everything_to_the_survivor_and_keeps_the_duplicate(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    survivor = make_patient(full_name="Maria Schulz", birth_date=BORN)
    duplicate = make_patient(full_name="Maria Schultz", birth_date=BORN, phone="0170 1234567")
    appointment_id, token_id, consultation_id = visit(store, clinic, clock, duplicate.id)
    rx = draft(store, clinic, duplicate.id)
    with store.unit_of_work() as uow:
        entry = booking.join_waitlist(
            uow,
            actor=SYSTEM,
            patient_id=duplicate.id,
            clinician_id=clinic.doctor_b,
            earliest=MONDAY,
            latest=MONDAY + timedelta(days=5),
        )
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.desk, survivor_id=survivor.id, duplicate_id=duplicate.id)

    with store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.doctor, survivor_id=survivor.id, duplicate_id=duplicate.id)
    for model, row_id in (
        (Appointment, appointment_id),
        (QueueToken, token_id),
        (Consultation, consultation_id),
        (Prescription, rx.id),
        (WaitlistEntry, entry.id),
    ):
        assert row(store, model, row_id).patient_id == survivor.id, model.__name__
    kept = row(store, Patient, duplicate.id)
    assert (kept.merged_into, kept.deleted) == (survivor.id, False)
    assert row(store, Patient, survivor.id).phone == "+491701234567"  # filled from the duplicate
    moved = [op for op in journal(store) if op.action == "merge_patient" and op.entity == "appointment"]
    assert [(op.entity_id, op.data) for op in moved] == [(appointment_id, {"patient_id": survivor.id})]

    with store.unit_of_work() as uow:
        record = patients.history(uow, actor=clinic.doctor, patient_id=survivor.id)
    assert [a.id for a in record.appointments] == [appointment_id]
    with store.reading() as session:
        assert [p.id for p in patients.search(session, "Maria")] == [survivor.id]
    # A booking made with the old record's id lands on the survivor.
    with store.unit_of_work() as uow:
        later = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=duplicate.id,
            clinician_id=clinic.doctor_a,
            starts_at=local(MONDAY, 11),
        )
    assert later.patient_id == survivor.id
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.doctor, survivor_id=survivor.id, duplicate_id=duplicate.id)
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.doctor, survivor_id=survivor.id, duplicate_id=survivor.id)


def test_a_record_cannot_be_merged_into_one_that_was_itself_merged_away(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    current, old, another = make_patient(), make_patient(), make_patient()
    with store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.doctor, survivor_id=current.id, duplicate_id=old.id)
    ops = len(journal(store))
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        patients.merge(uow, actor=clinic.doctor, survivor_id=old.id, duplicate_id=another.id)
    assert info.value.field == "survivor_id"
    assert row(store, Patient, another.id).merged_into is None
    assert len(journal(store)) == ops
