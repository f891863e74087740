"""`clinic demo-data`: a realistic clinic, every row journaled, the same for the same seed; and
`clinic backup` of it."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy import func, select

from desktop.cli import main
from desktop.services import queue
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import (
    SYNCED_MODELS,
    Appointment,
    Availability,
    Clinic,
    Clinician,
    Consultation,
    JournalOp,
    Patient,
    Prescription,
    QueueToken,
    WaitlistEntry,
)

DAY = date(2026, 3, 2)  # a Monday
KOLKATA = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True)
class Demo:
    data_dir: Path
    code: int
    output: str

    @property
    def db(self) -> Path:
        return self.data_dir / DB_NAME


@contextlib.contextmanager
def clean_environment(base: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("CLINIC_")]:
            mp.delenv(name)
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        yield


def run(data_dir: Path, *args: str) -> Demo:
    out = io.StringIO()
    with clean_environment(data_dir.parent), contextlib.redirect_stdout(out):
        code = main(["--data-dir", str(data_dir), *args])
    return Demo(data_dir, code, out.getvalue())


def make_demo(data_dir: Path, seed: int = 7, day: date = DAY) -> Demo:
    return run(data_dir, "demo-data", "--seed", str(seed), "--date", day.isoformat())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    made = make_demo(tmp_path_factory.mktemp("demo") / "data")
    assert made.code == 0, made.output
    return made


@pytest.fixture
def store(demo: Demo) -> Iterator[LocalStore]:
    opened = LocalStore(demo.data_dir)
    try:
        yield opened
    finally:
        opened.close()


def table_counts(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def day_statuses(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM appointment GROUP BY status").fetchall())


def test_the_summary_tells_the_day(demo: Demo) -> None:
    out = demo.output
    assert "Sunrise Family Clinic: 8 doctors, 3 other staff, 300 patients" in out
    assert "Demo day Mon 2 Mar 10:30" in out
    assert "Agenda of Sunrise Family Clinic for Mon 2 Mar 2026 (Asia/Kolkata)" in out
    assert "Dr Rahul Desai · Paediatrics · Room 4 · rahul.desai\n  on leave" in out
    assert "Queue of Sunrise Family Clinic at Mon 02 Mar 10:30" in out
    assert " is 1st: waited " in out
    assert "Waiting list: " in out and "for Dr Vikram Nair" in out
    assert "changes pending sync" in out


def test_staff_hours_leave_and_holiday(store: LocalStore) -> None:
    with store.reading() as s:
        doctors = list(s.scalars(select(Clinician).where(Clinician.role == "doctor")))
        assert len(doctors) == 8
        by_specialty: dict[str, int] = {}
        for d in doctors:
            by_specialty[d.specialty] = by_specialty.get(d.specialty, 0) + 1
            assert d.room and d.password_hash
        assert by_specialty == {"General medicine": 2, "Paediatrics": 2, "Gynaecology": 2, "Cardiology": 2}
        roles = sorted(s.scalars(select(Clinician.role).where(Clinician.role != "doctor")))
        assert roles == ["admin", "nurse", "reception"]
        lengths = s.execute(
            select(Clinician.specialty, func.min(Availability.slot_minutes))
            .join(Availability, Availability.clinician_id == Clinician.id)
            .where(Availability.kind == "hours")
            .group_by(Clinician.specialty)
        )
        slot_lengths = {specialty: minutes for specialty, minutes in lengths}
        assert slot_lengths == {
            "General medicine": 10,
            "Paediatrics": 15,
            "Gynaecology": 20,
            "Cardiology": 20,
        }
        hours = list(s.scalars(select(Availability).where(Availability.kind == "hours")))
        assert {h.weekday for h in hours} >= set(range(5))
        assert all(h.valid_to is not None and (h.valid_to - DAY).days >= 28 for h in hours)
        assert s.scalar(select(func.count()).where(Availability.kind == "break")) >= 8 * 5
        (leave,) = s.scalars(select(Availability).where(Availability.kind == "leave"))
        assert leave.valid_from is not None and leave.valid_to is not None
        assert leave.valid_from <= DAY <= leave.valid_to
        (clinic,) = s.scalars(select(Clinic))
        assert (clinic.timezone, clinic.region) == ("Asia/Kolkata", "IN")
        assert len(clinic.holidays) == 1 and date.fromisoformat(clinic.holidays[0]) > DAY


def test_patients_are_varied_and_valid(store: LocalStore) -> None:
    with store.reading() as s:
        people = list(s.scalars(select(Patient)))
    assert len(people) == 300
    assert len({p.code for p in people}) == 300
    phones = [p.phone for p in people if p.phone]
    assert len(phones) > 250
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phone.startswith("+91") and phonenumbers.is_valid_number(number)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    assert sum(not p.full_name.isascii() for p in people) >= 10  # Devanagari, Tamil, Bengali, accents
    assert {p.sex for p in people} >= {"female", "male"}
    ages = [(DAY - p.birth_date).days // 365 for p in people]
    assert min(ages) < 5 and max(ages) >= 75
    assert len({p.preferred_language for p in people}) >= 5
    assert any(p.email for p in people) and any(p.allergies for p in people)
    # The twins: same birthday and phone, confirmed as two people.
    pairs = {(p.birth_date, p.phone) for p in people if p.phone}
    assert len(pairs) == len(phones) - 1


def test_the_demo_day(store: LocalStore, demo: Demo) -> None:
    statuses = day_statuses(demo.db)
    assert set(statuses) >= {
        "requested",
        "confirmed",
        "rejected",
        "checked_in",
        "in_consultation",
        "completed",
        "cancelled",
        "no_show",
        "rescheduled",
    }
    assert sum(statuses.values()) >= 100
    assert statuses["requested"] >= 2
    with store.reading() as s:
        kinds = set(s.scalars(select(Appointment.kind)))
        assert kinds >= {"kiosk", "online", "follow_up", "telehealth", "walk_in", "emergency"}
        tokens = list(s.scalars(select(QueueToken)))
        assert len(tokens) >= 20 and all(t.day == DAY for t in tokens)
        assert {t.status for t in tokens} >= {"waiting", "in_consultation", "completed"}
        assert len({t.code for t in tokens}) == len(tokens)
        now = max(t.issued_at for t in tokens)
        waiting = queue.view(s, now=now)
        assert len(waiting) >= 3 and [p.position for p in waiting] == list(range(1, len(waiting) + 1))
        done = list(s.scalars(select(Consultation).where(Consultation.status == "closed")))
        assert len(done) >= 2 and all(c.notes and c.complaint for c in done)
        issued = list(s.scalars(select(Prescription).where(Prescription.status == "issued")))
        assert issued and all(rx.consultation_id and rx.medicines for rx in issued)
        (entry,) = s.scalars(select(WaitlistEntry))
        assert entry.status == "waiting" and entry.earliest == DAY
        # Every local time of the day falls in the clinic's day and its hours.
        for a in s.scalars(select(Appointment).where(Appointment.kind != "follow_up")):
            local = a.starts_at.astimezone(KOLKATA)
            assert local.date() >= DAY


def test_every_row_has_its_journal_op(store: LocalStore) -> None:
    with store.reading() as s:
        journaled: dict[str, set[str]] = {}
        for entity, entity_id in s.execute(select(JournalOp.entity, JournalOp.entity_id)):
            journaled.setdefault(entity, set()).add(entity_id)
        statuses = set(s.scalars(select(JournalOp.status)))
        for model in SYNCED_MODELS:
            ids = set(s.scalars(select(model.id)))
            missing = ids - journaled.get(model.__entity__, set())
            assert not missing, f"{len(missing)} {model.__entity__} rows without a journal op"
        assert s.scalar(select(func.count()).select_from(Patient)) == 300
    assert statuses == {"pending"}


def test_a_data_dir_with_data_is_refused(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    before = table_counts(demo.db)
    again = make_demo(demo.data_dir)
    assert again.code == 2
    assert "already holds clinic data; demo-data needs a fresh data dir" in capsys.readouterr().err
    assert table_counts(demo.db) == before


@pytest.mark.slow
def test_the_same_seed_makes_the_same_clinic_even_after_init(demo: Demo, tmp_path: Path) -> None:
    data = tmp_path / "again"
    assert run(data, "init", "--clinic-name", "Test Clinic", "--timezone", "Asia/Kolkata").code == 0
    again = make_demo(data)
    assert again.code == 0
    assert "Test Clinic: 8 doctors" in again.output  # init's clinic is kept
    assert table_counts(again.db) == table_counts(demo.db)
    assert day_statuses(again.db) == day_statuses(demo.db)
    names = "SELECT full_name, birth_date, phone FROM patient ORDER BY 1, 2, 3"
    tokens = "SELECT code, status, urgency FROM queue_token ORDER BY 1"
    with (
        contextlib.closing(sqlite3.connect(demo.db)) as a,
        contextlib.closing(sqlite3.connect(again.db)) as b,
    ):
        assert a.execute(names).fetchall() == b.execute(names).fetchall()
        assert a.execute(tokens).fetchall() == b.execute(tokens).fetchall()


@pytest.mark.slow
def test_another_seed_makes_other_patients(demo: Demo, tmp_path: Path) -> None:
    other = make_demo(tmp_path / "other", seed=8)
    assert other.code == 0
    names = "SELECT full_name FROM patient"
    with (
        contextlib.closing(sqlite3.connect(demo.db)) as a,
        contextlib.closing(sqlite3.connect(other.db)) as b,
    ):
        ours, theirs = set(a.execute(names).fetchall()), set(b.execute(names).fetchall())
    assert len(ours & theirs) < 150


@pytest.mark.slow
def test_a_sunday_is_a_quieter_day(tmp_path: Path) -> None:
    sunday = make_demo(tmp_path / "sunday", day=date(2026, 3, 1))
    assert sunday.code == 0
    assert "Demo day Sun 1 Mar 10:30" in sunday.output and ", 300 patients" in sunday.output
    assert (
        "Dr Arjun Mehta · General medicine · Room 2 · arjun.mehta\n  does not work on Sundays"
        in sunday.output
    )
    statuses = day_statuses(sunday.db)
    assert {"completed", "checked_in", "confirmed", "requested"} <= set(statuses)
    assert "Waiting list: " in sunday.output


def test_backup_is_a_valid_copy_with_the_same_rows(demo: Demo, tmp_path: Path) -> None:
    target = tmp_path / "backups" / "clinic.db"
    made = run(demo.data_dir, "backup", str(target))
    assert made.code == 0
    size = target.stat().st_size
    assert made.output == f"Backup written: {target} ({size / 1_000_000:.1f} MB, {size} bytes)\n"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    counts = table_counts(target)
    assert counts == table_counts(demo.db)
    assert counts["patient"] == 300 and counts["sync_journal"] > 1000


def test_agenda_and_queue_read_the_demo(demo: Demo) -> None:
    agenda = run(demo.data_dir, "agenda", "--date", DAY.isoformat(), "--doctor", "priya.raman")
    assert agenda.code == 0
    lines = agenda.output.splitlines()
    assert lines[2] == "Dr Priya Raman · General medicine · Room 1 · priya.raman"
    assert len(lines) > 10 and all(line.startswith("  ") for line in lines[3:])
    assert "completed" in agenda.output and "walk in" in agenda.output
    assert run(demo.data_dir, "queue").code == 0
