"""Upgrading an older database keeps every row; the engine runs SQLite the way the design says."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError

from desktop.domain.roles import Role
from desktop.services import booking
from desktop.services.common import SYSTEM
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.migrate import alembic_config, sqlite_url, upgrade
from desktop.store.models import Base, Clinic, Clinician, Patient, WaitlistEntry
from tests.support import Clock


def head_revision(path: Path) -> str:
    head = ScriptDirectory.from_config(alembic_config(sqlite_url(path))).get_current_head()
    assert head
    return head


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_an_old_database_is_upgraded_on_open_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    upgrade(path, "0001")
    assert "waitlist_entry" not in tables(path)
    stamp = "2026-03-01 10:00:00.000000"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO clinic (id, name, timezone, region, address, min_notice_minutes, holidays,"
            " version, hlc, deleted, updated_at)"
            " VALUES ('c1', 'Old Clinic', 'Europe/Berlin', 'DE', '', 0, '[]', 4, 'h', 0, ?)",
            (stamp,),
        )
        conn.execute(
            "INSERT INTO clinician (id, clinic_id, name, username, role, specialty, room, active,"
            " version, hlc, deleted, updated_at)"
            " VALUES ('d1', 'c1', 'Dr. Old', 'old', 'doctor', '', '3', 1, 2, 'h', 0, ?)",
            (stamp,),
        )
        conn.execute(
            "INSERT INTO patient (id, clinic_id, code, full_name, name_key, birth_date, sex, phone,"
            " address, allergies, preferred_language, version, hlc, deleted, updated_at)"
            " VALUES ('p1', 'c1', 'PAT-AAAAA', 'Eva Alt', 'alt eva', '1950-02-03', 'female',"
            " '+49301234567', '', 'penicillin', 'de', 7, 'h', 0, ?)",
            (stamp,),
        )

    store = LocalStore(tmp_path, now=Clock())
    try:
        assert "waitlist_entry" in tables(path)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision(
                path
            )
        with store.reading() as session:
            clinic = session.get(Clinic, "c1")
            doctor = session.get(Clinician, "d1")
            patient = session.get(Patient, "p1")
            assert clinic is not None and (clinic.name, clinic.timezone, clinic.version) == (
                "Old Clinic",
                "Europe/Berlin",
                4,
            )
            assert doctor is not None and (doctor.role, doctor.active) == ("doctor", True)
            assert patient is not None
            assert (patient.birth_date, patient.allergies, patient.version) == (
                date(1950, 2, 3),
                "penicillin",
                7,
            )
            assert patient.updated_at.tzinfo is not None

        # The new table works with the old rows.
        with store.unit_of_work() as uow:
            entry = booking.join_waitlist(
                uow,
                actor=SYSTEM,
                patient_id="p1",
                clinician_id="d1",
                earliest=date(2026, 3, 2),
                latest=date(2026, 3, 6),
            )
        with store.reading() as session:
            saved = session.get(WaitlistEntry, entry.id)
            assert saved is not None and (saved.patient_id, saved.status) == ("p1", "waiting")
    finally:
        store.close()


def test_opening_twice_is_harmless(tmp_path: Path) -> None:
    first = LocalStore(tmp_path, now=Clock())
    device = first.device_id
    first.close()
    second = LocalStore(tmp_path, now=Clock())
    try:
        assert second.device_id == device  # the device keeps its identity
    finally:
        second.close()


def test_wal_and_foreign_keys_are_on_for_readers_and_writers(store: LocalStore) -> None:
    with store.reading() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    with store.db.write_session() as session, session.begin():
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    # WAL is a property of the file: any other program opening it sees it too.
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_database_refuses_a_row_pointing_at_nothing(store: LocalStore) -> None:
    with pytest.raises(IntegrityError), store.db.write_session() as session, session.begin():
        session.add(
            Clinician(id="x", clinic_id="no-such-clinic", name="Ghost", username="ghost", role=Role.DOCTOR)
        )
    with store.reading() as session:
        assert session.scalars(select(Clinician)).all() == []


def test_the_device_migrations_build_what_the_models_describe(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    upgrade(path)
    engine = create_engine(sqlite_url(path))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    # made by migration 0004 and read with plain SQL: no model describes it
                    "include_name": lambda name, type_, _parents: name != "reference_version",
                },
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
