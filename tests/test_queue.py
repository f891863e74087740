"""The waiting-room queue: token numbers, who is called next, and the order people see explained."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from desktop.domain.appointments import Urgency
from desktop.domain.english import english
from desktop.domain.errors import InvalidInput
from desktop.services import booking, queue
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import Appointment, QueueToken
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, Clock, local


def issue(store: LocalStore, patient_id: str | None = None, **kw: object) -> QueueToken:
    with store.unit_of_work() as uow:
        return queue.issue_token(uow, actor=KIOSK, patient_id=patient_id, **kw)  # type: ignore[arg-type]


def call_next(store: LocalStore, doctor: str | None) -> QueueToken | None:
    with store.unit_of_work() as uow:
        return queue.call_next(uow, actor=SYSTEM, clinician_id=doctor)


def token(store: LocalStore, token_id: str) -> QueueToken:
    with store.reading() as session:
        row = session.get(QueueToken, token_id)
        assert row is not None
        return row


@pytest.fixture
def morning(clock: Clock) -> Clock:
    clock.set(local(MONDAY, 8))
    return clock


def test_tokens_count_up_with_the_devices_letter(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    codes = [issue(store, make_patient().id).code for _ in range(3)]
    assert codes == ["A-001", "A-002", "A-003"]
    assert issue(store).code == "A-004"  # an anonymous walk-in token


def test_another_kiosk_numbers_its_own_tokens(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock, tmp_path: Path
) -> None:
    """Two kiosks working offline never print the same number: each has its own letter."""
    assert [issue(store).code for _ in range(2)] == ["A-001", "A-002"]
    # A second device enrolled with the same clinic data (its own device row, letter B).
    other_dir = tmp_path / "kiosk-b"
    store.backup(other_dir / DB_NAME)
    with sqlite3.connect(other_dir / DB_NAME) as conn:
        conn.execute("DELETE FROM device_state")
    kiosk_b = LocalStore(other_dir, now=store.now)
    try:
        kiosk_b.update_device(letter="B", clinic_id=clinic.clinic_id)
        assert kiosk_b.device_id != store.device_id
        assert [issue(kiosk_b).code for _ in range(2)] == ["B-001", "B-002"]
        assert issue(store).code == "A-003"
        with kiosk_b.reading() as session:
            codes = sorted(session.scalars(select(QueueToken.code)))
        assert codes == ["A-001", "A-002", "B-001", "B-002"]  # its copy holds A's tokens too
    finally:
        kiosk_b.close()


def test_numbers_restart_on_the_clinics_next_day(
    store: LocalStore, clinic: ClinicSetup, morning: Clock
) -> None:
    assert issue(store).code == "A-001"
    morning.set(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))  # 23:30 in Berlin: still Monday there
    assert issue(store).code == "A-002"
    morning.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 00:30 Tuesday in Berlin, still Monday in UTC
    tuesday = issue(store)
    assert tuesday.code == "A-001"
    assert tuesday.day == date(2026, 3, 3)


def test_a_waiting_patient_cannot_get_a_second_token(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    patient = make_patient()
    first = issue(store, patient.id)
    with pytest.raises(InvalidInput, match=first.code) as info:
        issue(store, patient.id)
    assert info.value.field == "patient_id"
    # Once seen, they may come back later the same day.
    for step in (queue.call, queue.start, queue.complete):
        with store.unit_of_work() as uow:
            step(uow, actor=SYSTEM, token_id=first.id)  # type: ignore[operator]
    assert issue(store, patient.id).code == "A-002"


def test_call_next_picks_by_priority(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    routine = issue(store, make_patient().id)
    morning.advance(minutes=5)
    urgent = issue(store, make_patient().id, urgency=Urgency.URGENT)
    morning.advance(minutes=5)
    emergency = issue(store, make_patient().id, urgency=Urgency.EMERGENCY)
    morning.advance(minutes=1)
    order = [call_next(store, clinic.doctor_a) for _ in range(3)]
    assert [t.id for t in order if t] == [emergency.id, urgent.id, routine.id]
    assert call_next(store, clinic.doctor_a) is None


def test_a_doctor_calls_their_own_patients_and_the_unassigned_ones(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    for_b = issue(store, make_patient().id, clinician_id=clinic.doctor_b, urgency=Urgency.EMERGENCY)
    anyone = issue(store, make_patient().id)
    morning.advance(minutes=1)
    for_a = issue(store, make_patient().id, clinician_id=clinic.doctor_a)
    morning.advance(minutes=1)
    first = call_next(store, clinic.doctor_a)
    second = call_next(store, clinic.doctor_a)
    assert [first.id, second.id] == [anyone.id, for_a.id]  # type: ignore[union-attr]
    assert call_next(store, clinic.doctor_a) is None  # Dr. Otto's emergency is not theirs to call
    called = token(store, first.id)  # type: ignore[union-attr]
    assert (called.status, called.clinician_id, called.room) == ("called", clinic.doctor_a, "1")
    assert call_next(store, clinic.doctor_b).id == for_b.id  # type: ignore[union-attr]


def test_skip_and_requeue_keep_the_time_already_waited(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    early = issue(store, make_patient().id)
    morning.advance(minutes=10)
    called = call_next(store, clinic.doctor_a)
    assert called is not None and called.id == early.id
    with store.unit_of_work() as uow:
        queue.skip(uow, actor=SYSTEM, token_id=early.id)  # not in the room when called
    later = issue(store, make_patient().id)
    morning.advance(minutes=20)
    with store.unit_of_work() as uow:
        queue.requeue(uow, actor=SYSTEM, token_id=early.id)  # back from the pharmacy
    assert token(store, early.id).issued_at == local(MONDAY, 8)
    with store.reading() as session:
        view = queue.view(session, now=morning(), clinician_id=clinic.doctor_a)
    assert [p.token.id for p in view] == [early.id, later.id]
    assert "waited 30 min" in english(view[0].reason)


def test_view_explains_positions_and_estimates_waits_from_recent_visits(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    # Three finished visits of 10, 20 and 30 minutes: a typical visit takes 20.
    for minutes in (10, 20, 30):
        seen = issue(store, make_patient().id, clinician_id=clinic.doctor_a)
        with store.unit_of_work() as uow:
            queue.call(uow, actor=SYSTEM, token_id=seen.id)
            queue.start(uow, actor=SYSTEM, token_id=seen.id)
        morning.advance(minutes=minutes)
        with store.unit_of_work() as uow:
            queue.complete(uow, actor=SYSTEM, token_id=seen.id)
    waiting = []
    for urgency in (Urgency.ROUTINE, Urgency.ROUTINE, Urgency.URGENT):
        waiting.append(issue(store, make_patient().id, clinician_id=clinic.doctor_a, urgency=urgency))
        morning.advance(minutes=2)
    with store.reading() as session:
        view = queue.view(session, now=morning(), clinician_id=clinic.doctor_a)
    assert [p.position for p in view] == [1, 2, 3]
    assert [p.token.id for p in view] == [waiting[2].id, waiting[0].id, waiting[1].id]
    assert [p.wait_minutes for p in view] == [0, 20, 40]
    assert english(view[0].reason).startswith(f"{waiting[2].code} is 1st: waited 2 min (+2), urgent (+45)")
    assert english(view[1].reason) == f"{waiting[0].code} is 2nd: waited 6 min (+6) = 6 points"
    assert all("\n" not in english(p.reason) for p in view)
    first = view[0].reason  # the same, as a screen gets it: codes and values
    assert (first.code, first["token"], first["position"], first["score"]) == (
        "queue.position",
        waiting[2].code,
        1,
        view[0].score,
    )
    assert [part.code for part in first["parts"]][:2] == ["queue.waited", "queue.urgency"]
    assert [p.score for p in view] == [47, 6, 4]


def test_the_clinic_wide_view_shares_the_wait_between_doctors(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    for _ in range(5):
        issue(store, make_patient().id)
        morning.advance(minutes=1)
    with store.reading() as session:
        view = queue.view(session, now=morning())
    per_visit = view[1].wait_minutes
    assert per_visit > 0
    # Two doctors: patients 2 and 3 are both one round away, 4 and 5 two rounds.
    assert [p.wait_minutes for p in view] == [0, per_visit, per_visit, 2 * per_visit, 2 * per_visit]


def test_check_in_confirms_arrival_and_hands_out_a_token_for_the_doctor(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    patient = make_patient(birth_date=date(1948, 6, 1))
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow, actor=SYSTEM, patient_id=patient.id, clinician_id=clinic.doctor_b, starts_at=local(MONDAY, 9)
        )
    with store.unit_of_work() as uow:
        ticket = queue.check_in(uow, actor=KIOSK, appointment_id=appointment.id)
    assert (ticket.appointment_id, ticket.clinician_id, ticket.patient_id) == (
        appointment.id,
        clinic.doctor_b,
        patient.id,
    )
    assert ticket.age_years == 77  # counts for priority
    with store.reading() as session:
        assert session.get(Appointment, appointment.id).status == "checked_in"  # type: ignore[union-attr]


def test_a_no_show_token_marks_its_appointment_too(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            starts_at=local(MONDAY, 9),
        )
    with store.unit_of_work() as uow:
        ticket = queue.check_in(uow, actor=KIOSK, appointment_id=appointment.id)
    morning.set(local(MONDAY, 9, 30))
    with store.unit_of_work() as uow:
        queue.call(uow, actor=SYSTEM, token_id=ticket.id)
        queue.no_show(uow, actor=SYSTEM, token_id=ticket.id)
    assert token(store, ticket.id).status == "no_show"
    with store.reading() as session:
        assert session.get(Appointment, appointment.id).status == "no_show"  # type: ignore[union-attr]


def test_the_board_shows_the_latest_calls_first(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    for _ in range(3):
        issue(store, make_patient().id)
    for doctor in (clinic.doctor_a, clinic.doctor_b):
        morning.advance(minutes=1)
        call_next(store, doctor)
    with store.reading() as session:
        board = queue.called_today(session, now=morning())
    assert [(t.code, t.room) for t in board] == [("A-002", "2"), ("A-001", "1")]


def test_the_clinic_wide_view_counts_waits_per_doctor(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, morning: Clock
) -> None:
    """Three patients wait for one doctor, one for the other: the other's patient is seen at once,
    whatever their place in the clinic's list; each doctor's own queue counts only its own."""
    first, second = clinic.doctor_a, clinic.doctor_b
    for _ in range(3):
        issue(store, make_patient().id, clinician_id=first)
    morning.advance(minutes=5)
    late = issue(store, make_patient().id, clinician_id=second)
    with store.reading() as session:
        positions = queue.view(session, now=morning())
    waits = {p.token.id: p.wait_minutes for p in positions}
    assert [p.token.id for p in positions][-1] == late.id  # last in the clinic's order...
    assert waits[late.id] == 0  # ...but nobody waits for that doctor before them
    assert sorted(w for t, w in waits.items() if t != late.id) == [0, 12, 24]
