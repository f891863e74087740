"""Who may do what: the kiosk and the front desk are kept out of clinical records."""

from __future__ import annotations

from datetime import date

import pytest

from desktop.domain.errors import NotAllowed
from desktop.domain.roles import Role
from desktop.services import consultations, patients, prescriptions, queue
from desktop.services.common import KIOSK, Actor
from desktop.store.local import LocalStore
from desktop.store.models import AuditEvent, Consultation, Prescription
from tests.conftest import PatientFactory
from tests.support import ClinicSetup, count

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
