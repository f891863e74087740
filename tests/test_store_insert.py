"""`UnitOfWork.insert` and `Prepared` statements: the fast path of the busiest actions writes and
reads exactly what the ORM and SQLAlchemy's own execution would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from desktop.domain.clock import format_hlc
from desktop.services import booking, queue
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.codec import data_fields, encode
from desktop.store.local import LocalStore
from desktop.store.models import (
    Appointment,
    AuditEvent,
    Clinician,
    JournalOp,
    Patient,
    QueueToken,
    Reminder,
)
from desktop.store.prepared import Prepared
from desktop.store.uow import UnitOfWork
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, count, journal, local


def _appointment(clinic: ClinicSetup, patient_id: str, code: str, at: datetime, seat: int = 1) -> Appointment:
    return Appointment(
        clinic_id=clinic.clinic_id,
        code=code,
        clinician_id=clinic.doctor_a,
        patient_id=patient_id,
        starts_at=at,
        ends_at=at + timedelta(minutes=15),
        seat=seat,
        kind="kiosk",
        urgency="routine",
        emergency=False,
        status="confirmed",
    )


def _audit_event(uow: UnitOfWork, clinic: ClinicSetup) -> AuditEvent:
    """As `audit.record` writes one: inserted, and left out of the session."""
    event = AuditEvent(
        clinic_id=clinic.clinic_id, at=uow.now(), actor_role="system", action="x", entity="patient"
    )
    return uow.insert(event, attach=False)


def test_an_inserted_row_and_its_op_are_what_add_and_flush_would_write(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    before = len(journal(store))
    with store.unit_of_work() as uow:
        inserted = uow.insert(_appointment(clinic, patient.id, "APT-FAST1", local(MONDAY, 9)), action="book")
        added = uow.add(_appointment(clinic, patient.id, "APT-SLOW1", local(MONDAY, 10)), action="book")
    ops = {op.entity_id: op for op in journal(store)[before:]}
    assert set(ops) == {inserted.id, added.id}
    with store.reading() as session:
        fast, slow = session.get(Appointment, inserted.id), session.get(Appointment, added.id)
        assert fast is not None and slow is not None
        for name in data_fields(Appointment) - {"code", "starts_at", "ends_at"}:
            assert getattr(fast, name) == getattr(slow, name), name
        assert fast.starts_at == local(MONDAY, 9)  # aware UTC, read back as it was written
        assert (fast.version, fast.deleted) == (0, False)
        assert fast.hlc == ops[fast.id].hlc
    fast_op, slow_op = ops[inserted.id], ops[added.id]
    assert (fast_op.action, fast_op.base_version, fast_op.status) == ("book", 0, "pending")
    assert set(fast_op.data) == set(slow_op.data) == data_fields(Appointment)
    assert fast_op.data == {k: encode(getattr(fast, k)) for k in fast_op.data}


def test_a_change_to_an_inserted_row_in_the_same_unit_of_work_is_an_update_op(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    before = len(journal(store))
    with store.unit_of_work() as uow:
        appointment = uow.insert(_appointment(clinic, patient.id, "APT-FAST2", local(MONDAY, 9)))
        appointment.status = "checked_in"
    ops = journal(store)[before:]
    assert [(op.action, op.data.get("status")) for op in ops] == [
        ("create", "confirmed"),
        ("update", "checked_in"),
    ]
    assert ops[0].hlc < ops[1].hlc
    with store.reading() as session:
        assert session.scalar(select(Appointment.status).where(Appointment.id == appointment.id)) == (
            "checked_in"
        )


def test_an_insert_flushes_the_rows_it_refers_to_first(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        patient = uow.add(
            Patient(
                clinic_id=clinic.clinic_id,
                code="PAT-FAST3",
                full_name="New Person",
                name_key="new person",
                birth_date=date(1990, 1, 1),
            )
        )
        uow.insert(_appointment(clinic, patient.id, "APT-FAST3", local(MONDAY, 9)))
    assert count(store, Appointment, Appointment.code == "APT-FAST3") == 1
    entities = [op.entity for op in journal(store)[-2:]]
    assert entities == ["patient", "appointment"]  # the parent's op first, as the server applies them


def test_a_refused_insert_raises_at_once_and_the_unit_of_work_leaves_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    first, second = make_patient(), make_patient()
    with store.unit_of_work() as uow:
        uow.insert(_appointment(clinic, first.id, "APT-FAST4", local(MONDAY, 9)))
    before = len(journal(store))
    with pytest.raises(IntegrityError), store.unit_of_work() as uow:
        _audit_event(uow, clinic)
        uow.insert(_appointment(clinic, second.id, "APT-FAST5", local(MONDAY, 9)))  # the same seat
    assert len(journal(store)) == before
    assert count(store, Appointment, Appointment.patient_id == second.id) == 0


def test_ops_of_inserts_no_flush_came_after_are_written_at_commit(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    before_rows, before_ops = count(store, AuditEvent), len(journal(store))
    with store.unit_of_work() as uow:
        event = _audit_event(uow, clinic)
    assert count(store, AuditEvent) == before_rows + 1
    ops = journal(store)[before_ops:]
    assert [(op.entity, op.entity_id) for op in ops] == [("audit_event", event.id)]


def test_reference_rows_cannot_skip_the_flush(store: LocalStore, clinic: ClinicSetup) -> None:
    with pytest.raises(TypeError, match="reference data"), store.unit_of_work() as uow:
        uow.insert(Clinician(clinic_id=clinic.clinic_id, name="Dr. Fast", username="fast", role="doctor"))


def test_a_token_issued_on_the_fast_path_can_be_called_in_the_same_unit_of_work(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    with store.unit_of_work() as uow:
        token = queue.issue_token(uow, actor=KIOSK, patient_id=patient.id, clinician_id=clinic.doctor_a)
        called = queue.call_next(uow, actor=clinic.doctor, clinician_id=clinic.doctor_a)
        assert called is not None and called.id == token.id
    with store.reading() as session:
        assert session.scalar(select(QueueToken.status).where(QueueToken.id == token.id)) == "called"


# -- Prepared ------------------------------------------------------------------------------------

_a = Appointment.__table__.c
_BY_PATIENT = (
    select(_a.code, _a.starts_at, _a.emergency, _a.seat)
    .where(_a.patient_id == bindparam("patient"), _a.status.in_(("confirmed", "requested")))
    .order_by(_a.starts_at)
    .limit(3)
)


def test_a_prepared_select_returns_what_sqlalchemy_returns(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    with store.unit_of_work() as uow:
        for n, hour in enumerate((9, 10, 11, 12)):
            row = _appointment(clinic, patient.id, f"APT-PREP{n}", local(MONDAY, hour))
            row.status = "requested" if hour == 10 else "confirmed"
            row.emergency = hour == 11
            uow.add(row)
    prepared = Prepared(_BY_PATIENT)
    with store.reading() as session:
        expected = [tuple(r) for r in session.execute(_BY_PATIENT, {"patient": patient.id})]
        got = prepared.rows(session, {"patient": patient.id})
        assert got == expected
        assert len(got) == 3  # the LIMIT, fixed in the statement
        _code, starts_at, _emergency, seat = got[1]
        assert starts_at == local(MONDAY, 10) and starts_at.tzinfo is UTC
        assert got[2][2] is True and seat == 1
        assert prepared.first(session, {"patient": "nobody"}) is None
        assert prepared.scalar(session, {"patient": patient.id}) == "APT-PREP0"
        with pytest.raises(KeyError, match="patient"):
            prepared.rows(session, {})


def test_a_prepared_date_parameter_matches_rows_written_by_the_orm(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    born = date(1971, 5, 6)
    patient = make_patient(birth_date=born)
    t = Patient.__table__.c
    by_birth = Prepared(
        select(func.count()).where(t.birth_date == bindparam("born"), t.id == bindparam("id"))
    )
    with store.reading() as session:
        assert by_birth.scalar(session, {"born": born, "id": patient.id}) == 1
        assert by_birth.scalar(session, {"born": date(1971, 5, 7), "id": patient.id}) == 0


def test_a_prepared_insert_applies_column_defaults_and_converts_values(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    op = Prepared(JournalOp.__table__.insert())
    hlc = format_hlc(1, 0, "test")
    with store.unit_of_work() as uow:
        op.execute(
            uow.session,
            [
                {
                    "op_id": f"op-{n}",
                    "entity": "patient",
                    "entity_id": "p",
                    "action": "create",
                    "base_version": 0,
                    "data": {"full_name": "Ä", "n": n},
                    "hlc": hlc,
                }
                for n in range(2)
            ],
        )
    written = [j for j in journal(store) if j.op_id.startswith("op-")]
    assert [(j.op_id, j.data, j.status) for j in written] == [
        ("op-0", {"full_name": "Ä", "n": 0}, "pending"),
        ("op-1", {"full_name": "Ä", "n": 1}, "pending"),
    ]
    assert all(j.created_at is not None and j.created_at.tzinfo is UTC for j in written)


def test_a_prepared_statement_takes_no_list_from_its_caller(store: LocalStore, clinic: ClinicSetup) -> None:
    in_list = Prepared(select(_a.code).where(_a.patient_id.in_(bindparam("ids", expanding=True))))
    with store.reading() as session, pytest.raises(TypeError, match="expanding"):
        in_list.rows(session, {"ids": ["a"]})


def test_reminders_are_written_on_the_fast_path_too(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(phone="030 1234567")
    next_monday = MONDAY + timedelta(days=7)
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            starts_at=local(next_monday, 9),
        )
    with store.reading() as session:
        due = session.scalars(
            select(Reminder.due_at).where(
                Reminder.appointment_id == appointment.id, Reminder.kind == "reminder"
            )
        ).all()
    assert due == [local(next_monday, 9) - timedelta(hours=24)]


def test_a_prepared_insert_stores_exactly_what_sqlalchemy_stores(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    table = JournalOp.__table__
    row = {
        "entity": "patient",
        "entity_id": "p",
        "action": "create",
        "base_version": 0,
        "data": {"a": None},
        "hlc": "h",
    }
    created = datetime(2026, 3, 2, 8, 0, 0, 5, tzinfo=UTC)
    with store.unit_of_work() as uow:
        uow.session.connection().execute(
            table.insert(), {**row, "op_id": "by-sqlalchemy", "created_at": created}
        )
        Prepared(table.insert()).execute(uow.session, {**row, "op_id": "prepared", "created_at": created})
    raw = "SELECT {} FROM sync_journal WHERE op_id = ?".format(
        ", ".join(f"typeof({c.name}), {c.name}" for c in table.columns if c.name not in ("seq", "op_id"))
    )
    with store.reading() as session:
        driver = session.connection().connection.driver_connection
        ours, theirs = (driver.execute(raw, (op_id,)).fetchone() for op_id in ("prepared", "by-sqlalchemy"))
    assert ours == theirs  # JSON None is the text `null`, times the same text, defaults applied
