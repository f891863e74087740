"""Patients: registration with probable-duplicate detection, edits, search, history, merge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from desktop.domain.errors import InvalidInput, ProbableDuplicate
from desktop.domain.ids import normalise_code
from desktop.domain.patients import (
    SEXES,
    check_birth_date,
    clean_name,
    duplicate_keys,
    name_key,
    normalise_phone,
)
from desktop.domain.reasons import Reason
from desktop.domain.reminders import check_channels, check_lead_times
from desktop.domain.roles import require
from desktop.services import audit, reminders
from desktop.services.common import Actor, clinic_zone, current_clinic, get, local_day, unused_code
from desktop.services.records import (
    AppointmentRecord,
    ConsultationRecord,
    PatientRecord,
    PrescriptionRecord,
    record_of,
    records_of,
)
from desktop.store.models import (
    PATIENT_RECORDS,
    Appointment,
    Consultation,
    Patient,
    Prescription,
)
from desktop.store.uow import UnitOfWork

EDITABLE = (
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address",
    "allergies",
    "preferred_language",
    # messages (desktop/domain/reminders.py): consent, channels, lead times in minutes
    "notify_consent",
    "notify_channels",
    "notify_offsets",
)


def _clean(clinic_region: str, today: date, values: dict[str, object]) -> dict[str, object]:
    out = dict(values)
    if "full_name" in out:
        out["full_name"] = clean_name(str(out["full_name"]))
    if "birth_date" in out:
        if not isinstance(out["birth_date"], date):
            raise InvalidInput(Reason.of("patient.birth_date_missing"), field="birth_date")
        out["birth_date"] = check_birth_date(out["birth_date"], today)
    if "sex" in out and out["sex"] not in SEXES:
        raise InvalidInput(Reason.of("patient.bad_sex"), field="sex")
    if "phone" in out:
        out["phone"] = normalise_phone(out["phone"], clinic_region)  # type: ignore[arg-type]
    if "email" in out:
        email = str(out["email"] or "").strip()
        if email and ("@" not in email or "." not in email.rsplit("@", 1)[-1]):
            raise InvalidInput(Reason.of("patient.bad_email"), field="email")
        out["email"] = email or None
    if "notify_consent" in out and not isinstance(out["notify_consent"], bool):
        raise InvalidInput("Say whether the patient agrees to messages.", field="notify_consent")
    if "notify_channels" in out:
        out["notify_channels"] = check_channels(out["notify_channels"], "notify_channels")  # type: ignore[arg-type]
    if "notify_offsets" in out:
        out["notify_offsets"] = check_lead_times(out["notify_offsets"], "notify_offsets")  # type: ignore[arg-type]
    return out


def _probable_duplicates(
    session: Session, *, clinic_id: str, full_name: str, birth_date: date, phone: str | None
) -> list[str]:
    keys = duplicate_keys(full_name, birth_date, phone)
    match = (Patient.name_key == keys.by_name[0]) & (Patient.birth_date == birth_date)
    if keys.by_phone:
        match = match | ((Patient.phone == keys.by_phone[0]) & (Patient.birth_date == birth_date))
    return list(
        session.scalars(
            select(Patient.id).where(
                Patient.clinic_id == clinic_id,
                Patient.deleted.is_(False),
                Patient.merged_into.is_(None),
                match,
            )
        )
    )


def register(
    uow: UnitOfWork,
    *,
    actor: Actor,
    full_name: str,
    birth_date: date,
    sex: str = "unknown",
    phone: str | None = None,
    email: str | None = None,
    address: str = "",
    allergies: str = "",
    preferred_language: str = "en",
    confirm_new: bool = False,
) -> PatientRecord:
    """Register a patient. If they probably exist already, raise ProbableDuplicate with the
    candidates, unless staff confirm that this is a different person (`confirm_new`)."""
    require(actor.role, "patient.register")
    clinic = current_clinic(uow.session)
    values = _clean(
        clinic.region,
        local_day(clinic, uow.now()),
        {
            "full_name": full_name,
            "birth_date": birth_date,
            "sex": sex,
            "phone": phone,
            "email": email,
        },
    )
    candidates = _probable_duplicates(
        uow.session,
        clinic_id=clinic.id,
        full_name=values["full_name"],  # type: ignore[arg-type]
        birth_date=birth_date,
        phone=values["phone"],  # type: ignore[arg-type]
    )
    if candidates and not confirm_new:
        raise ProbableDuplicate(
            Reason.of("patient.probable_duplicate"),
            candidate_ids=candidates,
        )
    patient = uow.add(
        Patient(
            clinic_id=clinic.id,
            code=unused_code(uow.session, Patient, "PAT"),
            name_key=name_key(values["full_name"]),  # type: ignore[arg-type]
            address=address.strip(),
            allergies=allergies.strip(),
            preferred_language=preferred_language,
            **values,
        ),
        action="register",
    )
    audit.record(
        uow,
        actor=actor,
        clinic_id=clinic.id,
        action="register",
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
    )
    return record_of(PatientRecord, patient)


def update_details(uow: UnitOfWork, *, actor: Actor, patient_id: str, **changes: object) -> PatientRecord:
    require(actor.role, "patient.edit")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        first = sorted(unknown)[0]
        raise InvalidInput(Reason.of("patient.not_editable", name=first), field=first)
    patient = get(uow.session, Patient, patient_id)
    clinic = current_clinic(uow.session)
    values = _clean(clinic.region, local_day(clinic, uow.now()), changes)
    for key, value in values.items():
        setattr(patient, key, value)
    if "full_name" in values:
        patient.name_key = name_key(patient.full_name)
    if values.get("notify_consent") is False:  # opted out: nothing more is sent
        reminders.cancel_all_for_patient(uow, patient_id=patient.id)
    audit.record(
        uow,
        actor=actor,
        clinic_id=clinic.id,
        action="update",
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
        detail=", ".join(sorted(values)),
    )
    return record_of(PatientRecord, patient)


def search(session: Session, text: str, *, limit: int = 20) -> list[PatientRecord]:
    """By patient code, phone digits, or any part of the name (accents and order ignored)."""
    text = text.strip()
    if not text:
        return []
    query = select(Patient).where(Patient.deleted.is_(False), Patient.merged_into.is_(None))
    digits = "".join(ch for ch in text if ch.isdigit())
    conditions = [Patient.code == normalise_code(text)]
    if len(digits) >= 4:
        conditions.append(Patient.phone.like(f"%{digits}%"))
    words = name_key(text).split()
    if words:
        name_match = Patient.name_key.like(f"%{words[0]}%")
        for word in words[1:]:
            name_match = name_match & Patient.name_key.like(f"%{word}%")
        conditions.append(name_match)
    found = session.scalars(query.where(or_(*conditions)).order_by(Patient.full_name).limit(limit))
    return records_of(PatientRecord, found)


@dataclass(frozen=True, slots=True)
class PatientHistory:
    patient: PatientRecord
    appointments: tuple[AppointmentRecord, ...]
    consultations: tuple[ConsultationRecord, ...]
    prescriptions: tuple[PrescriptionRecord, ...]
    tz: tzinfo = UTC  # the clinic's zone: dates are the clinic's days

    @property
    def diagnoses(self) -> list[tuple[date, str]]:
        """Every recorded diagnosis with its (clinic-local) date, newest first."""
        found = [
            (c.started_at.astimezone(self.tz).date(), c.diagnosis) for c in self.consultations if c.diagnosis
        ]
        found += [
            (p.issued_at.astimezone(self.tz).date(), p.diagnosis)
            for p in self.prescriptions
            if p.issued_at and p.diagnosis
        ]
        return sorted(set(found), reverse=True)


def history(uow: UnitOfWork, *, actor: Actor, patient_id: str) -> PatientHistory:
    """Visits, consultations and prescriptions, newest first. Reading it is audited."""
    require(actor.role, "patient.read_history")
    session = uow.session
    patient = get(session, Patient, patient_id)
    ids = [patient.id, *session.scalars(select(Patient.id).where(Patient.merged_into == patient.id))]
    appointments = session.scalars(
        select(Appointment)
        .where(Appointment.patient_id.in_(ids), Appointment.deleted.is_(False))
        .order_by(Appointment.starts_at.desc())
    )
    consultations = session.scalars(
        select(Consultation)
        .where(Consultation.patient_id.in_(ids), Consultation.deleted.is_(False))
        .order_by(Consultation.started_at.desc())
    )
    prescriptions = session.scalars(
        select(Prescription)
        .where(Prescription.patient_id.in_(ids), Prescription.deleted.is_(False))
        .order_by(Prescription.code, Prescription.revision.desc())
    )
    result = PatientHistory(
        record_of(PatientRecord, patient),
        tuple(records_of(AppointmentRecord, appointments)),
        tuple(records_of(ConsultationRecord, consultations)),
        tuple(records_of(PrescriptionRecord, prescriptions)),
        clinic_zone(current_clinic(session)),
    )
    audit.record(
        uow,
        actor=actor,
        clinic_id=patient.clinic_id,
        action="read_history",
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
    )
    return result


def merge(uow: UnitOfWork, *, actor: Actor, survivor_id: str, duplicate_id: str) -> PatientRecord:
    """Fold a duplicate registration into the survivor: its visits, tokens and records move over.
    The duplicate row stays (pointing at the survivor) so its history is never lost."""
    require(actor.role, "patient.merge")
    if survivor_id == duplicate_id:
        raise InvalidInput(Reason.of("patient.merge_same"), field="duplicate_id")
    session = uow.session
    survivor = get(session, Patient, survivor_id)
    duplicate = get(session, Patient, duplicate_id)
    if duplicate.merged_into:
        raise InvalidInput(Reason.of("patient.already_merged"), field="duplicate_id")
    if survivor.merged_into:
        # Its visits would land on a record that search no longer shows.
        raise InvalidInput(
            Reason.of("patient.merged_elsewhere"),
            field="survivor_id",
        )
    for model in PATIENT_RECORDS:
        rows = session.scalars(select(model).where(model.patient_id == duplicate.id))  # type: ignore[attr-defined]
        for row in rows:
            row.patient_id = survivor.id  # type: ignore[attr-defined]
            uow.label(row, "merge_patient")
    for field in ("phone", "email", "address", "allergies"):
        if not getattr(survivor, field) and getattr(duplicate, field):
            setattr(survivor, field, getattr(duplicate, field))
    duplicate.merged_into = survivor.id
    uow.label(duplicate, "merge_patient")
    audit.record(
        uow,
        actor=actor,
        clinic_id=survivor.clinic_id,
        action="merge",
        entity="patient",
        entity_id=survivor.id,
        patient_id=survivor.id,
        detail=f"merged {duplicate.code} into {survivor.code}",
    )
    return record_of(PatientRecord, survivor)
