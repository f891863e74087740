"""The reference cache (clinic, staff, calendars): a change reaches the very next booking, whoever
made it — this unit of work, an earlier one, one rolled back, another connection or process."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from desktop.domain.errors import BookingConflict, InvalidInput
from desktop.domain.roles import Role
from desktop.services import availability, booking, queue
from desktop.services import clinic as clinic_service
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Availability, Clinic, Clinician
from desktop.store.uow import UnitOfWork
from tests.conftest import PatientFactory
from tests.support import ADMIN, MONDAY, ClinicSetup, local

SATURDAY = MONDAY + timedelta(days=5)
NINE, TEN = local(MONDAY, 9), local(MONDAY, 10)


def version(store: LocalStore) -> int:
    with closing(sqlite3.connect(store.path)) as conn:
        return int(conn.execute("SELECT n FROM reference_version").fetchone()[0])


def book(store: LocalStore, patient_id: str, doctor: str, at: Any) -> None:
    with store.unit_of_work() as uow:
        booking.book(uow, actor=SYSTEM, patient_id=patient_id, clinician_id=doctor, starts_at=at)


def free_starts(store: LocalStore, doctor: str, day: date) -> list[Any]:
    with store.reading() as session:
        slots = availability.find_free_slots(
            session, first_day=day, last_day=day, clinician_ids=[doctor], now=store.now()
        )
    return [s.start for s in slots.get(doctor, [])]


def monday_hours(uow: UnitOfWork, doctor: str) -> Availability:
    return uow.session.scalars(
        select(Availability).where(
            Availability.clinician_id == doctor, Availability.kind == "hours", Availability.weekday == 0
        )
    ).one()


def test_every_change_of_a_reference_row_moves_the_version(store: LocalStore, clinic: ClinicSetup) -> None:
    """Through the triggers, so any connection's writes count (here: another sqlite3 connection)."""
    statements = [
        "INSERT INTO clinic (id, name, timezone, region, address, min_notice_minutes, holidays, version,"
        " hlc, deleted, updated_at) VALUES ('c2', 'Other', 'UTC', 'DE', '', 0, '[]', 0, '', 0, '2026-03-01')",
        "UPDATE clinic SET name = 'Other Clinic' WHERE id = 'c2'",
        "INSERT INTO clinician (id, clinic_id, name, username, role, specialty, room, active, version,"
        " hlc, deleted, updated_at)"
        " VALUES ('d9', 'c2', 'Dr. X', 'x', 'doctor', '', '', 1, 0, '', 0, '2026-03-01')",
        "UPDATE clinician SET active = 0 WHERE id = 'd9'",
        "INSERT INTO availability (id, clinic_id, clinician_id, kind, slot_minutes, capacity, buffer_minutes,"
        " note, version, hlc, deleted, updated_at)"
        " VALUES ('r9', 'c2', 'd9', 'leave', 15, 1, 0, '', 0, '', 0, '2026-03-01')",
        "UPDATE availability SET note = 'away' WHERE id = 'r9'",
        "DELETE FROM availability WHERE id = 'r9'",
        "DELETE FROM clinician WHERE id = 'd9'",
        "DELETE FROM clinic WHERE id = 'c2'",
        "UPDATE device_state SET letter = 'K'",
        "UPDATE device_state SET clinic_id = clinic_id",
    ]
    for sql in statements:
        before = version(store)
        with closing(sqlite3.connect(store.path)) as conn, conn:
            conn.execute(sql)
        assert version(store) == before + 1, sql
    before = version(store)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("UPDATE device_state SET pull_cursor = 7, last_sync_at = '2026-03-02'")
    assert version(store) == before  # syncing does not empty the cache


def _remove_monday_hours(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    availability.remove_rule(uow, actor=SYSTEM, rule_id=monday_hours(uow, clinic.doctor_a).id)


def _shorten_monday_hours(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    monday_hours(uow, clinic.doctor_a).end_time = time(10)


def _leave(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    availability.add_leave(uow, actor=SYSTEM, clinician_id=clinic.doctor_a, first_day=MONDAY, last_day=MONDAY)


def _break(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    availability.add_break(
        uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=0, start=time(9, 45), end=time(10, 30)
    )


def _holiday(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    clinic_service.set_holidays(uow, actor=ADMIN, holidays=[MONDAY])


def _notice(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    uow.session.get_one(Clinic, clinic.clinic_id).min_notice_minutes = (
        4 * 60
    )  # 07:00 now: 11:00 at the earliest


def _inactive(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    uow.session.get_one(Clinician, clinic.doctor_a).active = False


def _not_a_doctor(uow: UnitOfWork, clinic: ClinicSetup) -> None:
    uow.session.get_one(Clinician, clinic.doctor_a).role = Role.NURSE


Change = Callable[[UnitOfWork, ClinicSetup], None]
CALENDAR_CHANGES: dict[str, Change] = {
    "hours removed": _remove_monday_hours,
    "hours shortened": _shorten_monday_hours,
    "leave": _leave,
    "break": _break,
    "holiday": _holiday,
    "minimum notice": _notice,
}
CHANGES: dict[str, Change] = {
    **CALENDAR_CHANGES,
    "doctor inactive": _inactive,
    "no longer a doctor": _not_a_doctor,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_made_here_applies_to_the_next_booking(
    store: LocalStore,
    clinic: ClinicSetup,
    make_patient: PatientFactory,
    change: Change,
) -> None:
    book(store, make_patient().id, clinic.doctor_a, NINE)  # the cache holds the old rules now
    assert TEN in free_starts(store, clinic.doctor_a, MONDAY)
    with store.unit_of_work() as uow:
        change(uow, clinic)
    with pytest.raises((BookingConflict, InvalidInput)):
        book(store, make_patient().id, clinic.doctor_a, TEN)
    if change in CALENDAR_CHANGES.values():
        assert TEN not in free_starts(store, clinic.doctor_a, MONDAY)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_applies_to_a_booking_later_in_the_same_unit_of_work(
    store: LocalStore,
    clinic: ClinicSetup,
    make_patient: PatientFactory,
    change: Change,
) -> None:
    """Flushed or still pending in the session: this transaction's own changes count."""
    patient = make_patient().id
    book(store, make_patient().id, clinic.doctor_a, NINE)
    with pytest.raises((BookingConflict, InvalidInput)), store.unit_of_work() as uow:
        change(uow, clinic)
        booking.book(uow, actor=SYSTEM, patient_id=patient, clinician_id=clinic.doctor_a, starts_at=TEN)
    book(store, patient, clinic.doctor_a, TEN)  # the change rolled back with the refused booking


def test_rules_rolled_back_do_not_stay_in_the_cache(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    """Even once the version has moved again as far as the rolled-back transaction had moved it."""
    saturday_ten = local(SATURDAY, 10)
    patient = make_patient().id
    before = version(store)

    class Undo(Exception):
        pass

    with pytest.raises(Undo), store.unit_of_work() as uow:
        availability.set_hours(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=5, start=time(9), end=time(12)
        )
        booking.book(
            uow, actor=SYSTEM, patient_id=patient, clinician_id=clinic.doctor_a, starts_at=saturday_ten
        )
        raise Undo
    assert version(store) == before
    with store.unit_of_work() as uow:  # another change, which takes the version to the same number
        availability.add_break(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_b, weekday=1, start=time(10), end=time(10, 15)
        )
    assert free_starts(store, clinic.doctor_a, SATURDAY) == []
    with pytest.raises(BookingConflict, match="no bookable slot"):
        book(store, patient, clinic.doctor_a, saturday_ten)


def test_new_hours_open_slots_at_once(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    saturday_ten = local(SATURDAY, 10)
    assert free_starts(store, clinic.doctor_a, SATURDAY) == []
    with store.unit_of_work() as uow:
        availability.set_hours(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=5, start=time(9), end=time(12)
        )
    book(store, make_patient().id, clinic.doctor_a, saturday_ten)


def test_a_change_made_on_another_connection_applies_to_the_next_booking(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    """Another process on the same file (a `clinic` command, the sqlite3 shell) is another connection."""
    book(store, make_patient().id, clinic.doctor_a, NINE)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute(
            "UPDATE availability SET deleted = 1 WHERE clinician_id = ? AND weekday = 0", (clinic.doctor_a,)
        )
    with pytest.raises(BookingConflict, match="no bookable slot"):
        book(store, make_patient().id, clinic.doctor_a, TEN)


def test_a_letter_set_by_the_clinic_command_applies_to_the_next_token(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, tmp_path: Path
) -> None:
    """`clinic init --letter K` run while the app is open: another process writes the device row."""

    def issue() -> str:
        with store.unit_of_work() as uow:
            return queue.issue_token(uow, actor=KIOSK, patient_id=make_patient().id).code

    assert issue() == "A-001"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    clinic_command = Path(sys.executable).with_name("clinic")
    args = [str(clinic_command), "--data-dir", str(store.data_dir), "init", "--letter", "K"]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert issue() == "K-001"
    store.update_device(letter="B")  # and through this store's own device row
    assert issue() == "B-001"


def test_a_booking_reads_no_reference_rows_while_they_do_not_change(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patients = [make_patient().id for _ in range(4)]
    book(store, patients[0], clinic.doctor_a, NINE)
    with store.unit_of_work() as uow:
        queue.issue_token(uow, actor=KIOSK, patient_id=patients[1], clinician_id=clinic.doctor_a)
    statements: list[str] = []

    # SQLite's own trace: it sees the statements run on the DB-API connection too (prepared.py).
    def trace(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    def untrace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    event.listen(store.db.writer, "checkout", trace)
    event.listen(store.db.writer, "checkin", untrace)
    try:
        book(store, patients[2], clinic.doctor_b, NINE)
        with store.unit_of_work() as uow:
            queue.issue_token(uow, actor=KIOSK, patient_id=patients[3], clinician_id=clinic.doctor_b)
    finally:
        event.remove(store.db.writer, "checkout", trace)
        event.remove(store.db.writer, "checkin", untrace)
    assert any(s.startswith("INSERT INTO appointment") for s in statements)
    assert statements
    reference = re.compile(r"\b(FROM|JOIN)\s+(clinic|clinician|availability|device_state)\b", re.IGNORECASE)
    assert [s for s in statements if reference.search(s)] == []
