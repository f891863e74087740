"""Prescriptions: drafts, issuing (after which they never change), and corrections as new revisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.errors import ImmutableRecord, InvalidInput
from desktop.domain.prescriptions import PrescriptionStatus, validate_medicines
from desktop.domain.reasons import Reason
from desktop.domain.roles import require
from desktop.services import audit
from desktop.services.common import Actor, current_clinic, get, local_day, unused_code
from desktop.services.records import PrescriptionRecord, record_of, records_of
from desktop.store.models import Consultation, Patient, Prescription
from desktop.store.uow import UnitOfWork


def _today(uow: UnitOfWork) -> date:
    """The clinic's current day: after midnight in the clinic it is already tomorrow, whatever UTC says."""
    return local_day(current_clinic(uow.session), uow.now())


def _check_content(diagnosis: str, advice: str, follow_up_on: date | None, today: date) -> str:
    diagnosis = diagnosis.strip()
    if not diagnosis:
        raise InvalidInput(Reason.of("rx.diagnosis_missing"), field="diagnosis")
    if len(diagnosis) > 300:
        raise InvalidInput(Reason.of("diagnosis.too_long"), field="diagnosis")
    if len(advice) > 4000:
        raise InvalidInput(Reason.of("rx.advice_too_long"), field="advice")
    if follow_up_on is not None and follow_up_on < today:
        raise InvalidInput(Reason.of("rx.follow_up_past"), field="follow_up_on")
    return diagnosis


def draft(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: str,
    clinician_id: str,
    diagnosis: str,
    medicines: Sequence[Mapping[str, Any]],
    advice: str = "",
    follow_up_on: date | None = None,
    consultation_id: str | None = None,
) -> PrescriptionRecord:
    require(actor.role, "prescription.write")
    patient = get(uow.session, Patient, patient_id)
    if consultation_id:
        get(uow.session, Consultation, consultation_id)
    diagnosis = _check_content(diagnosis, advice, follow_up_on, _today(uow))
    row = uow.add(
        Prescription(
            clinic_id=patient.clinic_id,
            code=unused_code(uow.session, Prescription, "RX"),
            revision=1,
            patient_id=patient.id,
            clinician_id=clinician_id,
            consultation_id=consultation_id,
            status=PrescriptionStatus.DRAFT.value,
            diagnosis=diagnosis,
            medicines=validate_medicines(medicines),
            advice=advice.strip(),
            follow_up_on=follow_up_on,
        )
    )
    return record_of(PrescriptionRecord, row)


def edit_draft(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: str,
    diagnosis: str,
    medicines: Sequence[Mapping[str, Any]],
    advice: str = "",
    follow_up_on: date | None = None,
) -> PrescriptionRecord:
    require(actor.role, "prescription.write")
    rx = get(uow.session, Prescription, prescription_id)
    if rx.status != PrescriptionStatus.DRAFT.value:
        raise ImmutableRecord(Reason.of("rx.issued_immutable"))
    rx.diagnosis = _check_content(diagnosis, advice, follow_up_on, _today(uow))
    rx.medicines = validate_medicines(medicines)
    rx.advice = advice.strip()
    rx.follow_up_on = follow_up_on
    return record_of(PrescriptionRecord, rx)


def issue(uow: UnitOfWork, *, actor: Actor, prescription_id: str) -> PrescriptionRecord:
    require(actor.role, "prescription.write")
    rx = get(uow.session, Prescription, prescription_id)
    if rx.status != PrescriptionStatus.DRAFT.value:
        raise ImmutableRecord(Reason.of("rx.already_issued"))
    rx.status = PrescriptionStatus.ISSUED.value
    rx.issued_at = uow.now()
    uow.label(rx, "issue_prescription")
    audit.record(
        uow,
        actor=actor,
        clinic_id=rx.clinic_id,
        action="issue_prescription",
        entity="prescription",
        entity_id=rx.id,
        patient_id=rx.patient_id,
        detail=f"{rx.code} rev {rx.revision}",
    )
    return record_of(PrescriptionRecord, rx)


def correct(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: str,
    reason: str,
    diagnosis: str,
    medicines: Sequence[Mapping[str, Any]],
    advice: str = "",
    follow_up_on: date | None = None,
) -> PrescriptionRecord:
    """Issue a corrected revision; the original is marked superseded and kept unchanged otherwise."""
    require(actor.role, "prescription.write")
    old = get(uow.session, Prescription, prescription_id)
    if old.status != PrescriptionStatus.ISSUED.value:
        raise InvalidInput(Reason.of("rx.not_current"), field="prescription_id")
    if not reason.strip():
        raise InvalidInput(Reason.of("rx.correction_needs_reason"), field="reason")
    diagnosis = _check_content(diagnosis, advice, follow_up_on, _today(uow))
    old.status = PrescriptionStatus.SUPERSEDED.value
    uow.label(old, "supersede_prescription")
    new = uow.add(
        Prescription(
            clinic_id=old.clinic_id,
            code=old.code,
            revision=old.revision + 1,
            patient_id=old.patient_id,
            clinician_id=old.clinician_id,
            consultation_id=old.consultation_id,
            status=PrescriptionStatus.DRAFT.value,
            diagnosis=diagnosis,
            medicines=validate_medicines(medicines),
            advice=advice.strip(),
            follow_up_on=follow_up_on,
            supersedes=old.id,
            correction_reason=reason.strip()[:300],
        )
    )
    uow.flush()
    return issue(uow, actor=actor, prescription_id=new.id)


def for_patient(session: Session, *, patient_id: str) -> list[PrescriptionRecord]:
    rows = list(
        session.scalars(
            select(Prescription)
            .where(Prescription.patient_id == patient_id, Prescription.deleted.is_(False))
            .order_by(Prescription.code, Prescription.revision)
        )
    )
    return records_of(PrescriptionRecord, rows)
