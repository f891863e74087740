"""Shared fixtures: a real SQLite store in a temp dir, a clock tests can move, a set-up clinic."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from desktop.domain.ids import new_id
from desktop.domain.roles import Role
from desktop.services import availability, patients
from desktop.services import clinic as clinic_service
from desktop.services.common import SYSTEM
from desktop.services.records import PatientRecord
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.migrate import upgrade
from tests.support import BERLIN, ClinicSetup, Clock


@pytest.fixture
def clock() -> Clock:
    """The store's wall clock: Monday 2 March 2026, 07:00 in Berlin; tests `set` and `advance` it."""
    return Clock()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the newest revision, migrated once per run (~0.3 s saved per test)."""
    path = tmp_path_factory.mktemp("template") / DB_NAME
    upgrade(path)
    return path


def set_up_clinic(store: LocalStore) -> ClinicSetup:
    """A Berlin clinic (region DE); two doctors working Monday–Friday 09:00–12:00 in 15-minute
    slots; one receptionist. Everything through the services, as the system."""
    with store.unit_of_work() as uow:
        c = clinic_service.create_clinic(
            uow, actor=SYSTEM, name="Praxis am Park", timezone="Europe/Berlin", region="DE"
        )
        a = clinic_service.add_clinician(
            uow, actor=SYSTEM, name="Dr. Anna Weber", username="weber", role=Role.DOCTOR, room="1"
        )
        b = clinic_service.add_clinician(
            uow, actor=SYSTEM, name="Dr. Ben Otto", username="otto", role=Role.DOCTOR, room="2"
        )
        r = clinic_service.add_clinician(
            uow, actor=SYSTEM, name="Rita Desk", username="rita", role=Role.RECEPTION
        )
        uow.flush()
        for doctor in (a, b):
            for weekday in range(5):
                availability.set_hours(
                    uow, actor=SYSTEM, clinician_id=doctor.id, weekday=weekday, start=time(9), end=time(12)
                )
    return ClinicSetup(c.id, BERLIN, a.id, b.id, r.id)


@pytest.fixture(scope="session")
def clinic_db(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> tuple[Path, ClinicSetup]:
    """The clinic set up once per run; each test that asks for `clinic` gets its own copy."""
    data_dir = tmp_path_factory.mktemp("clinic-template")
    shutil.copyfile(migrated_db, data_dir / DB_NAME)
    template = LocalStore(data_dir, now=Clock())
    try:
        setup = set_up_clinic(template)
        copy = data_dir / "copy" / DB_NAME
        template.backup(copy)  # one consistent file, WAL included
    finally:
        template.close()
    return copy, setup


@pytest.fixture
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, migrated_db: Path
) -> Iterator[LocalStore]:
    """A LocalStore on a real SQLite file of the test's own; it reads the time from `clock`.

    A test that also asks for `clinic` starts from a copy of the set-up clinic, with a device id
    of its own, exactly as if `set_up_clinic` had run on this store."""
    data_dir = tmp_path / "device"
    data_dir.mkdir()
    if "clinic" in request.fixturenames:
        template: Path = request.getfixturevalue("clinic_db")[0]
        shutil.copyfile(template, data_dir / DB_NAME)
        with closing(sqlite3.connect(data_dir / DB_NAME)) as conn, conn:
            conn.execute("UPDATE device_state SET device_id = ?", (new_id(),))
    else:
        shutil.copyfile(migrated_db, data_dir / DB_NAME)
    s = LocalStore(data_dir, now=clock)
    yield s
    s.close()


@pytest.fixture
def clinic(store: LocalStore, clinic_db: tuple[Path, ClinicSetup]) -> ClinicSetup:
    """The ids of the clinic already in `store` (see `set_up_clinic`)."""
    return clinic_db[1]


_SURNAMES = ["Anders", "Brandt", "Castell", "Dorn", "Engel", "Fuchs", "Graf", "Hahn", "Imhof", "Jung"]


def unique_name(n: int) -> str:
    """Distinct after folding (digits are dropped from name keys, so spell the number in letters)."""
    suffix = "".join(chr(ord("a") + int(d)) for d in str(n // len(_SURNAMES)))
    return f"Kim{suffix} {_SURNAMES[n % len(_SURNAMES)]}"


PatientFactory = Callable[..., PatientRecord]


@pytest.fixture
def make_patient(store: LocalStore, clinic: ClinicSetup) -> PatientFactory:
    """Register a patient through the service; names and birth dates differ unless given."""
    counter = iter(range(100_000))

    def make(full_name: str | None = None, birth_date: date | None = None, **extra: object) -> PatientRecord:
        n = next(counter)
        with store.unit_of_work() as uow:
            return patients.register(
                uow,
                actor=SYSTEM,
                full_name=full_name or unique_name(n),
                birth_date=birth_date or date(1960, 1, 1) + timedelta(days=97 * n),
                **extra,  # type: ignore[arg-type]
            )

    return make
