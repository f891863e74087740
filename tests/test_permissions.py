"""Who may do what: the kiosk and the front desk are kept out of clinical records."""

from __future__ import annotations

from datetime import date

import pytest

from desktop.domain.errors import NotAllowed
from desktop.domain.roles import Role, may, op_permission
from desktop.services import consultations, patients, prescriptions, queue
from desktop.services.common import KIOSK, SYSTEM, Actor
from desktop.store.local import LocalStore
from desktop.store.models import AuditEvent, Consultation, Prescription
from tests.conftest import PatientFactory
from tests.support import ClinicSetup, count, journal

MEDICINE = {
    "name": "Paracetamol",
    "dose": "1 tablet",
    "route": "oral",
    "frequency": "4x daily",
    "duration": "3 days",
}
NURSE = Actor(Role.NURSE, name="Nurse Nina")
BOARD = Actor(Role.BOARD, name="board")


def test_the_kiosk_cannot_read_a_patients_history(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    audits = count(store, AuditEvent)
    with pytest.raises(NotAllowed, match="history"), store.unit_of_work() as uow:
        patients.history(uow, actor=KIOSK, patient_id=patient.id)
    assert count(store, AuditEvent) == audits


def test_reception_cannot_read_history_but_a_doctor_can(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        patients.history(uow, actor=clinic.desk, patient_id=patient.id)
    with store.unit_of_work() as uow:
        assert patients.history(uow, actor=clinic.doctor, patient_id=patient.id).patient.id == patient.id


@pytest.mark.parametrize("who", ["desk", "nurse", "kiosk"])
def test_only_doctors_write_prescriptions(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, who: str
) -> None:
    actor = {"desk": clinic.desk, "nurse": NURSE, "kiosk": KIOSK}[who]
    patient = make_patient()
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        prescriptions.draft(
            uow,
            actor=actor,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            diagnosis="Flu",
            medicines=[MEDICINE],
        )
    assert count(store, Prescription) == 0
    with store.unit_of_work() as uow:
        prescriptions.draft(
            uow,
            actor=clinic.doctor,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            diagnosis="Flu",
            medicines=[MEDICINE],
        )
    assert count(store, Prescription) == 1


def test_reception_cannot_open_a_consultation(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        consultations.start(
            uow, actor=clinic.desk, clinician_id=clinic.doctor_a, patient_id=make_patient().id
        )
    assert count(store, Consultation) == 0


def test_the_kiosk_issues_tokens_but_cannot_call_patients(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with store.unit_of_work() as uow:
        token = queue.issue_token(uow, actor=KIOSK, patient_id=make_patient().id)
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        queue.call_next(uow, actor=KIOSK)
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        queue.call(uow, actor=KIOSK, token_id=token.id)


def test_the_board_only_displays(store: LocalStore, clinic: ClinicSetup) -> None:
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        patients.register(uow, actor=BOARD, full_name="Somebody Else", birth_date=date(1990, 1, 1))
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        queue.issue_token(uow, actor=BOARD)


def test_every_op_names_who_made_it(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    """The journal records the actor the unit of work was opened for: the signed-in clinician's
    id, `kiosk`, or `system` when no one is named (the device's own bookkeeping)."""
    patient = make_patient()
    before = len(journal(store))
    with store.unit_of_work(actor=clinic.desk) as uow:
        patients.update_details(uow, actor=clinic.desk, patient_id=patient.id, address="Hof 2")
    with store.unit_of_work(actor=KIOSK) as uow:
        queue.issue_token(uow, actor=KIOSK, patient_id=patient.id)
    with store.unit_of_work() as uow:
        patients.update_details(uow, actor=SYSTEM, patient_id=patient.id, address="Hof 3")
    actors = [(op.entity, op.actor) for op in journal(store)[before:]]
    assert ("patient", clinic.reception) in actors
    assert {actor for entity, actor in actors if entity == "queue_token"} == {"kiosk"}
    assert ("patient", "system") in actors
    assert {actor for _, actor in actors} == {clinic.reception, "kiosk", "system"}


def test_the_table_names_what_a_pushed_op_needs() -> None:
    """The server asks the same table as the services, from what an op does (never its label)."""
    assert op_permission("clinician", creating=False, fields={"password_hash"}) is None
    assert op_permission("clinician", creating=True, fields={"role"}) is None
    assert op_permission("clinic", creating=True, fields={"name"}) is None
    assert op_permission("clinic", creating=False, fields={"holidays"}) == ["clinic.setup"]
    assert op_permission("patient", creating=False, fields={"merged_into"}) == ["patient.merge"]
    assert op_permission("queue_token", creating=False, fields={"patient_id"}) == ["patient.merge"]
    check_in = op_permission("appointment", creating=False, fields={"status"}, status="checked_in")
    assert check_in == ["appointment.check_in"]
    moved = op_permission("appointment", creating=False, fields={"status", "starts_at"}, status="checked_in")
    assert moved == ["appointment.check_in", "appointment.manage"]
    # A booking made already confirmed where its kind starts as a request needs the decision too.
    online = op_permission(
        "appointment", creating=True, fields={"status"}, status="confirmed", initial_status="requested"
    )
    assert online == ["appointment.book", "appointment.decide"]
    assert may("kiosk", "appointment.check_in") and not may("kiosk", "patient.edit")
    assert not may("reception", "clinic.setup") and may("admin", "clinic.setup")
    assert not may("system", "clinic.setup")  # a device on its own never changes the clinic's settings
