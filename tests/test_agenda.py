"""The agenda's day view: every doctor's day with patient names, read in one query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from desktop.services import agenda, availability, booking
from desktop.services.agenda import DoctorDay
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, local


def test_the_day_view_holds_every_doctors_day_and_reads_appointments_once(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    ada, ben, cy = make_patient("Ada Roth"), make_patient("Ben Kahn"), make_patient("Cy Lind")
    with store.unit_of_work() as uow:
        for patient, doctor, hour in (
            (ben, clinic.doctor_a, 10),
            (ada, clinic.doctor_a, 9),
            (cy, clinic.doctor_b, 11),
        ):
            booking.book(
                uow, actor=SYSTEM, patient_id=patient.id, clinician_id=doctor, starts_at=local(MONDAY, hour)
            )
        availability.add_leave(
            uow,
            actor=SYSTEM,
            clinician_id=clinic.doctor_b,
            first_day=MONDAY + timedelta(days=1),
            last_day=MONDAY + timedelta(days=1),
        )
    statements: list[str] = []

    def heard(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.db.reader, "before_cursor_execute", heard)
    try:
        with store.reading() as session:
            monday = agenda.day_view(session, day=MONDAY)
    finally:
        event.remove(store.db.reader, "before_cursor_execute", heard)
    assert sum("FROM appointment" in s for s in statements) == 1
    assert [d.doctor.username for d in monday.doctors] == ["weber", "otto"]  # by specialty, then name
    weber, otto = monday.doctors
    assert [(e.patient_name, e.appointment.starts_at) for e in weber.entries] == [
        ("Ada Roth", local(MONDAY, 9)),
        ("Ben Kahn", local(MONDAY, 10)),
    ]
    assert [e.patient_name for e in otto.entries] == ["Cy Lind"]
    assert (monday.clinic_name, monday.holiday, weber.day, otto.day) == (
        "Praxis am Park",
        False,
        DoctorDay.WORKING,
        DoctorDay.WORKING,
    )
    with store.reading() as session:
        tuesday = agenda.day_view(session, day=MONDAY + timedelta(days=1), doctor="OTTO")
        sunday = agenda.day_view(session, day=MONDAY - timedelta(days=1), doctor="weber")
    assert [(d.doctor.username, d.day, d.entries) for d in tuesday.doctors] == [
        ("otto", DoctorDay.ON_LEAVE, ())
    ]
    assert sunday.doctors[0].day is DoctorDay.NOT_WORKING
