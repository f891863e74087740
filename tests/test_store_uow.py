"""The unit of work: a change and its sync journal op commit together, or not at all."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from desktop.domain.clock import format_hlc
from desktop.domain.errors import BookingConflict
from desktop.services import booking, patients
from desktop.services.common import SYSTEM
from desktop.store.changes import Changes, Origin
from desktop.store.codec import data_fields, encode
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import AuditEvent, JournalOp, Patient
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, count, journal, local


def test_a_registration_writes_exactly_its_ops_with_every_field(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    before = len(journal(store))
    with store.unit_of_work() as uow:
        patient = patients.register(
            uow, actor=SYSTEM, full_name="Eva Lang", birth_date=date(1970, 4, 5), phone="030 1234567"
        )
    ops = journal(store)[before:]
    assert sorted((op.entity, op.action) for op in ops) == [
        ("audit_event", "create"),
        ("patient", "register"),
    ]
    op = next(op for op in ops if op.entity == "patient")
    with store.reading() as session:
        row = session.get(Patient, patient.id)
        assert row is not None
        assert op.entity_id == row.id
        assert op.base_version == row.version == 0
        assert op.status == "pending"
        assert set(op.data) == data_fields(Patient)  # a create op carries every field
        assert {k: encode(getattr(row, k)) for k in op.data} == op.data
        assert op.hlc and row.hlc == op.hlc


def test_an_update_journals_only_the_changed_fields(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(phone="030 1234567")
    # Pretend the server has seen the row three times: the op must say which version it edits.
    with store.db.write_session() as session, session.begin():
        session.execute(text("UPDATE patient SET version = 3 WHERE id = :id"), {"id": patient.id})
    before = len(journal(store))
    with store.unit_of_work() as uow:
        patients.update_details(
            uow, actor=SYSTEM, patient_id=patient.id, phone="0170 1234567", address="Hof 1"
        )
    ops = [op for op in journal(store)[before:] if op.entity == "patient"]
    assert len(ops) == 1
    op = ops[0]
    assert op.action == "update"
    assert op.data == {"phone": "+491701234567", "address": "Hof 1"}
    assert op.base_version == 3
    with store.reading() as session:
        row = session.get(Patient, patient.id)
        assert row is not None and row.hlc == op.hlc
        assert row.version == 3  # only the server raises it


def test_setting_a_field_to_its_current_value_journals_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient(address="Hof 1")
    before = len(journal(store))
    with store.unit_of_work() as uow:
        row = uow.session.get(Patient, patient.id)
        assert row is not None
        row.address = "Hof 1"
    assert journal(store)[before:] == []


def test_later_ops_get_later_clocks(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    make_patient()
    make_patient()
    stamps = [op.hlc for op in journal(store)]
    seqs = [op.seq for op in journal(store)]
    assert len(set(stamps)) == len(stamps)
    assert seqs == sorted(seqs)
    # The push order (seq) is also the clock order.
    assert stamps == sorted(stamps)


def test_an_exception_inside_the_unit_of_work_leaves_no_row_and_no_op(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    ops_before = len(journal(store))
    with pytest.raises(RuntimeError, match="power cut"), store.unit_of_work() as uow:
        patients.register(uow, actor=SYSTEM, full_name="Ghost Patient", birth_date=date(1990, 1, 1))
        uow.flush()  # the row and its op are already in the database transaction
        raise RuntimeError("power cut")
    assert count(store, Patient) == 0
    assert count(store, AuditEvent) == 0
    assert len(journal(store)) == ops_before


def test_a_service_error_half_way_leaves_nothing_behind(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    taken_by = make_patient()
    nine = local(MONDAY, 9)
    with store.unit_of_work() as uow:
        booking.book(uow, actor=SYSTEM, patient_id=taken_by.id, clinician_id=clinic.doctor_a, starts_at=nine)
    patients_before, ops_before = count(store, Patient), len(journal(store))
    with pytest.raises(BookingConflict), store.unit_of_work() as uow:
        newcomer = patients.register(uow, actor=SYSTEM, full_name="Late Comer", birth_date=date(1990, 1, 1))
        uow.flush()
        booking.book(uow, actor=SYSTEM, patient_id=newcomer.id, clinician_id=clinic.doctor_a, starts_at=nine)
    assert count(store, Patient) == patients_before
    assert len(journal(store)) == ops_before


def test_listeners_hear_about_committed_ops_only(store: LocalStore, clinic: ClinicSetup) -> None:
    heard: list[list[str]] = []
    unsubscribe = store.on_commit(lambda changes: heard.append(sorted(changes.entities)))
    with pytest.raises(ValueError), store.unit_of_work() as uow:
        patients.register(uow, actor=SYSTEM, full_name="Never Saved", birth_date=date(1990, 1, 1))
        raise ValueError
    assert heard == []
    with store.unit_of_work() as uow:
        patients.register(uow, actor=SYSTEM, full_name="Saved Person", birth_date=date(1990, 1, 1))
    assert heard == [["audit_event", "patient"]]
    unsubscribe()
    unsubscribe()  # twice is harmless (a worker stopped twice)
    with store.unit_of_work() as uow:
        patients.register(uow, actor=SYSTEM, full_name="Unheard Person", birth_date=date(1990, 1, 1))
    assert heard == [["audit_event", "patient"]]


def test_a_failing_listener_neither_undoes_the_commit_nor_deafens_the_others(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    def broken(_changes: Changes) -> None:
        raise RuntimeError("a screen's bug")

    heard: list[Changes] = []
    store.on_commit(broken)
    store.on_commit(heard.append)
    with store.unit_of_work() as uow:
        person = patients.register(uow, actor=SYSTEM, full_name="Still Saved", birth_date=date(1990, 1, 1))
    assert count(store, Patient) == 1
    assert len(heard) == 1 and heard[0].origin is Origin.LOCAL
    assert heard[0].ids_of("patient") == {person.id} and "patient" in heard[0]


def test_synced_rows_are_never_deleted_only_tombstoned(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    ops_before = len(journal(store))
    with pytest.raises(RuntimeError, match="never deleted"), store.unit_of_work() as uow:
        row = uow.session.get(Patient, patient.id)
        uow.session.delete(row)
    assert count(store, Patient) == 1
    assert len(journal(store)) == ops_before

    with store.unit_of_work() as uow:
        row = uow.session.get(Patient, patient.id)
        assert row is not None
        row.deleted = True
    op = journal(store)[-1]
    assert (op.entity, op.entity_id, op.action, op.data) == (
        "patient",
        patient.id,
        "delete",
        {"deleted": True},
    )
    assert count(store, Patient) == 1  # the row is kept, as a tombstone


def test_the_clock_resumes_after_the_last_journaled_stamp_on_restart(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    # Before a restart this device stamped a change while its clock was years ahead (since fixed).
    ahead = format_hlc(int(datetime(2031, 1, 1, tzinfo=UTC).timestamp() * 1000), 5, store.device_id)
    with store.unit_of_work() as uow:
        patients.register(uow, actor=SYSTEM, full_name="Before Restart", birth_date=date(1990, 1, 1))
    with store.db.write_session() as session, session.begin():
        session.execute(
            text("UPDATE sync_journal SET hlc = :h WHERE seq = (SELECT max(seq) FROM sync_journal)"),
            {"h": ahead},
        )
    store.close()
    reopened = LocalStore(store.data_dir, now=store.now)
    try:
        with reopened.unit_of_work() as uow:
            patients.register(uow, actor=SYSTEM, full_name="After Restart", birth_date=date(1990, 1, 1))
        newest = journal(reopened)[-1]
        assert newest.hlc > ahead  # still ordered after everything this device did before
    finally:
        reopened.close()


def test_backup_is_a_readable_consistent_copy_while_another_connection_writes(
    store: LocalStore, clinic: ClinicSetup, tmp_path: Path
) -> None:
    stop = threading.Event()
    written = threading.Event()
    errors: list[BaseException] = []

    def keep_writing() -> None:
        n = 0
        try:
            while not stop.is_set():
                with store.unit_of_work() as uow:
                    patients.register(
                        uow,
                        actor=SYSTEM,
                        full_name=f"Writer {'abcdefghij'[n % 10]}{'abcdefghij'[n // 10 % 10]}",
                        birth_date=date(1950, 1, 1 + n % 28),
                        confirm_new=True,
                    )
                n += 1
                if n >= 5:
                    written.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            written.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert written.wait(10)
        copies = [tmp_path / "backups" / f"copy{i}.db" for i in range(3)]
        for target in copies:
            store.backup(target)
    finally:
        stop.set()
        writer.join(10)
    assert not errors
    for target in copies:
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            patients_in_copy = {r[0] for r in conn.execute("SELECT id FROM patient")}
            journaled = {
                r[0] for r in conn.execute("SELECT entity_id FROM sync_journal WHERE entity = 'patient'")
            }
            assert len(patients_in_copy) >= 5
            # A consistent snapshot: every patient has its op and every op its patient.
            assert patients_in_copy == journaled
    # The copy opens as a working store.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    (restored_dir / DB_NAME).write_bytes(copies[-1].read_bytes())
    restored = LocalStore(restored_dir, now=store.now)
    try:
        with restored.reading() as session:
            assert session.scalars(select(Patient)).first() is not None
            assert session.scalars(select(JournalOp)).first() is not None
    finally:
        restored.close()
