"""No double booking: the database itself refuses a second claim of a seat, even under a race."""

from __future__ import annotations

import threading
from datetime import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from desktop.domain.errors import BookingConflict
from desktop.domain.roles import Role
from desktop.services import availability, booking
from desktop.services import clinic as clinic_service
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Appointment
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, count, local

NINE = local(MONDAY, 9)


def raw_appointment(like: Appointment, *, code: str, **changes: object) -> Appointment:
    """A copy of `like` with some columns changed, added without any service check."""
    columns = ("clinic_id", "clinician_id", "patient_id", "starts_at", "ends_at", "seat", "kind", "status")
    values: dict[str, object] = {c: getattr(like, c) for c in columns}
    values.update(changes)
    return Appointment(id=f"raw-{code}", code=code, **values)


def test_the_database_refuses_a_second_active_claim_of_the_same_seat(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    first, second = make_patient(), make_patient()
    with store.unit_of_work() as uow:
        taken = booking.book(
            uow, actor=SYSTEM, patient_id=first.id, clinician_id=clinic.doctor_a, starts_at=NINE
        )
    assert taken.seat == 1
    # Straight through a session: no service checks, only the schema stands in the way.
    with pytest.raises(IntegrityError), store.db.write_session() as session, session.begin():
        session.add(raw_appointment(taken, patient_id=second.id, code="APT-RAW01"))
    assert count(store, Appointment) == 1


def test_a_freed_seat_can_be_claimed_again_and_unslotted_visits_claim_none(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    first, second, third = make_patient(), make_patient(), make_patient()
    with store.unit_of_work() as uow:
        taken = booking.book(
            uow, actor=SYSTEM, patient_id=first.id, clinician_id=clinic.doctor_a, starts_at=NINE
        )
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=taken.id)
    with store.db.write_session() as session, session.begin():
        session.add(raw_appointment(taken, patient_id=second.id, code="APT-RAW01", status="confirmed"))
    # Walk-ins (seat NULL) at the same minute are not seat claims.
    with store.db.write_session() as session, session.begin():
        session.add(raw_appointment(taken, patient_id=third.id, code="APT-RAW02", seat=None, kind="walk_in"))
        session.add(raw_appointment(taken, patient_id=first.id, code="APT-RAW03", seat=None, kind="walk_in"))
    assert count(store, Appointment) == 4


def _race(
    store: LocalStore, clinician_id: str, patient_ids: list[str]
) -> tuple[list[Appointment], list[Exception]]:
    barrier = threading.Barrier(len(patient_ids))
    booked: list[Appointment] = []
    failed: list[Exception] = []
    lock = threading.Lock()

    def attempt(patient_id: str) -> None:
        barrier.wait()
        try:
            with store.unit_of_work() as uow:
                appointment = booking.book(
                    uow, actor=SYSTEM, patient_id=patient_id, clinician_id=clinician_id, starts_at=NINE
                )
            with lock:
                booked.append(appointment)
        except Exception as exc:  # every outcome is checked by the test
            with lock:
                failed.append(exc)

    threads = [threading.Thread(target=attempt, args=(pid,)) for pid in patient_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    return booked, failed


def test_two_desks_booking_the_last_seat_at_once_one_wins(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patients = [make_patient().id for _ in range(2)]
    booked, failed = _race(store, clinic.doctor_a, patients)
    assert len(booked) == 1
    assert len(failed) == 1 and isinstance(failed[0], BookingConflict), failed
    with store.reading() as session:
        rows = session.scalars(select(Appointment)).all()
        assert [(r.id, r.seat) for r in rows] == [(booked[0].id, 1)]


def test_two_stores_on_one_file_cannot_double_book_either(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    """The UI and a background worker each open the file: the database still decides."""
    other = LocalStore(store.data_dir, now=store.now)
    try:
        a, b = make_patient().id, make_patient().id
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def attempt(s: LocalStore, pid: str) -> None:
            barrier.wait()
            try:
                with s.unit_of_work() as uow:
                    outcomes.append(
                        booking.book(
                            uow, actor=SYSTEM, patient_id=pid, clinician_id=clinic.doctor_a, starts_at=NINE
                        )
                    )
            except Exception as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=attempt, args=args) for args in ((store, a), (other, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(type(o).__name__ for o in outcomes) == ["AppointmentRecord", "BookingConflict"]
        assert count(store, Appointment) == 1
    finally:
        other.close()


def test_with_two_seats_two_win_and_the_third_is_refused(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with store.unit_of_work() as uow:
        group = clinic_service.add_clinician(
            uow, actor=SYSTEM, name="Dr. Group Visit", username="group", role=Role.DOCTOR
        )
        uow.flush()
        availability.set_hours(
            uow, actor=SYSTEM, clinician_id=group.id, weekday=0, start=time(9), end=time(10), capacity=2
        )
    patients = [make_patient().id for _ in range(3)]
    booked, failed = _race(store, group.id, patients)
    assert len(booked) == 2
    assert len(failed) == 1 and isinstance(failed[0], BookingConflict), failed
    assert sorted(a.seat for a in booked) == [1, 2]


def test_a_patient_cannot_be_in_two_places_at_once(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    with store.unit_of_work() as uow:
        booking.book(uow, actor=SYSTEM, patient_id=patient.id, clinician_id=clinic.doctor_a, starts_at=NINE)
    with pytest.raises(BookingConflict, match="already has an appointment"), store.unit_of_work() as uow:
        booking.book(uow, actor=SYSTEM, patient_id=patient.id, clinician_id=clinic.doctor_b, starts_at=NINE)
    assert count(store, Appointment) == 1
    # Right after, with the other doctor, is fine.
    with store.unit_of_work() as uow:
        booking.book(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            clinician_id=clinic.doctor_b,
            starts_at=local(MONDAY, 9, 15),
        )
    assert count(store, Appointment) == 2
