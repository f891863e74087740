"""Sync benchmark: pushing, pulling, and 50 devices at once, against a real server process.

    python bench/sync.py                     # full sizes, SQLite then PostgreSQL, readable tables (~15 min)
    python bench/sync.py --db postgres       # full sizes, PostgreSQL only
    python bench/sync.py --quick --json      # smaller sizes, SQLite only, one JSON object on stdout (< 1 min)

The server is the real one, `python -m server_stub run` (uvicorn, one process, the app's own
engines and migrations), started in a separate process on 127.0.0.1 and a free port, over a new
SQLite file or a new scratch PostgreSQL database (made for the run and dropped after it). The
devices are real device stores (`LocalStore`, a SQLite file each) with the real `SyncClient` and
`SyncEngine`, in this process and in child processes. Set-up is not measured.

- **push** (`push_ops_per_s`): a desk registers patients and books them through the services
  (`patients.register`, `booking.book`: each visit journals the patient, the appointment, a
  reminder for patients with a phone, and their audit events) until its journal holds
  `push_ops` ops; then `SyncEngine.sync_once` pushes them in chunks of 1000 (the engine's
  default). Ops per second = ops / wall time from the start of the sync to the moment the last
  chunk's answers are committed in the journal (the pull stage is cancelled).
- **pull** (`pull_changes_per_s`, `pull_client_peak_mb`): the clinic's changes feed is topped
  up to `pull_changes` entries by bulk-inserting patients and appointments with their
  change-log entries on the server database (set-up); then a freshly enrolled desk, alone in a
  child process that freezes its start-up heap as the `clinic` command does (desktop/heap.py),
  runs `SyncEngine.sync_once` (an empty push stage, the pull stage in pages of 5,000, the most
  the server gives and the engine's default, and the done stage). Changes per second = changes /
  wall time of that sync. Memory: the child's peak resident set (`ru_maxrss`, the whole process: interpreter,
  libraries, store, engine) is `pull_client_peak_mb`; its growth during the sync and, from a
  second identical pull under `tracemalloc`, the peak of Python allocations are reported too.
- **50 devices** (`push_p99_ms_50_devices`): 50 kiosks are enrolled (25 per clinic: a clinic
  has at most 26 device letters, one is its set-up desk) and each makes its ops through the
  services beforehand (visits as above). Then, all at once, each pushes 5 ops every 250 ms
  (20 ops/s) for 60 s with `SyncClient.push` (a `PushRequest` of its next 5 journal ops, in
  journal order), its ticks spread over the 250 ms. Every request's latency is recorded, from
  before the client serialises the request to after it has parsed the answer; a device whose
  push is late sends the next at once. The devices run as threads in several child processes,
  so the client side is not the bottleneck (its CPU use is reported).

Figures are wall-clock times from `time.perf_counter`. --quick: 1,000 ops pushed, 10,000
changes pulled, 10 devices for 8 s, SQLite only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time as clock
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from common import (  # bench/common.py: scripts run as `python bench/x.py`
    ProgressLog,
    StolenTime,
    machine,
    percentile,
)
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import ClinicError
from desktop.domain.roles import Role
from desktop.domain.scheduling import Slot
from desktop.heap import freeze_start_up_heap
from desktop.services import availability, booking, patients
from desktop.services.common import KIOSK, Actor
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.migrate import upgrade
from desktop.store.models import JournalOp
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import SyncError
from desktop.sync.protocol import MAX_OPS_PER_PUSH, MAX_PULL_LIMIT, SERVER_NODE, Op, PushRequest
from desktop.sync.report import Progress, SyncReport

if TYPE_CHECKING:  # server-side modules: imported where used, so the device processes stay lean
    from multiprocessing.queues import Queue

    from sqlalchemy import Engine

    from server_stub.admin import Admin

TARGETS: dict[str, tuple[str, float]] = {
    "push_ops_per_s": (">=", 5000.0),
    "pull_changes_per_s": (">=", 20000.0),
    "pull_client_peak_mb": ("<=", 200.0),
    "push_p99_ms_50_devices": ("<=", 250.0),
}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
TZ_NAME = "Asia/Kolkata"
DEVICES_PER_CLINIC = 25  # a clinic hands out 26 device letters; one goes to its set-up desk
DOCTORS = 10  # per clinic of the push and pull stages
SLOTS_PER_DAY = 40  # 08:00-18:00 in 15-minute slots
STARTUP_TIMEOUT_S = 60.0
RECEPTION = Actor(Role.RECEPTION, name="reception")
ADMIN = Actor(Role.ADMIN, name="admin")
FIRST_NAMES_TEXT = """Aarav Aditi Anjali Arjun Deepa Divya Farah Gaurav Imran Ishaan Kavya Lakshmi Meera Mohan
Neha Nikhil Pooja Priya Rahul Ravi Rohan Sanjay Sara Shreya Sunil Tara Uday Varun Vikram Zoya"""
LAST_NAMES_TEXT = """Agarwal Bhat Chandra Das Desai Gill Gupta Iyer Jain Joshi Kapoor Khan Kumar Menon Mehta
Nair Pillai Rao Reddy Sharma Singh Verma Chopra Bose Malhotra Naidu Patel Saxena Trivedi Yadav"""
FIRST_NAMES = tuple(FIRST_NAMES_TEXT.split())
LAST_NAMES = tuple(LAST_NAMES_TEXT.split())
REASONS = ("Fever and cough", "Follow-up on blood pressure", "Back pain", "Diabetes review", "Skin rash")


@dataclass(frozen=True)
class Sizes:
    push_ops: int
    pull_changes: int
    devices: int
    seconds: float
    ops_per_s: int  # per device
    batch_ops: int  # ops per push request
    load_procs: int  # child processes running the devices
    tracemalloc: bool  # pull a second time under tracemalloc (slow), for the Python allocation peak

    @property
    def interval_s(self) -> float:
        return self.batch_ops / self.ops_per_s

    @property
    def batches(self) -> int:
        return round(self.seconds / self.interval_s)


FULL = Sizes(
    push_ops=10_000,
    pull_changes=100_000,
    devices=50,
    seconds=60,
    ops_per_s=20,
    batch_ops=5,
    load_procs=5,
    tracemalloc=True,
)
QUICK = Sizes(
    push_ops=1_000,
    pull_changes=10_000,
    devices=10,
    seconds=8,
    ops_per_s=20,
    batch_ops=5,
    load_procs=2,
    tracemalloc=False,
)


# -- measuring -----------------------------------------------------------------------------------


def r1(value: float) -> float:
    return round(value, 1)


def r3(value: float) -> float:
    return round(value, 3)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these processes so far (those still running)."""
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return out


POSTGRES_HELPERS = (": checkpointer", ": background writer", ": walwriter")


def postgres_pids(database: str) -> list[int]:
    """The backends serving `database`, and the cluster's WAL writer, background writer and
    checkpointer (which also work for other databases of the cluster)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f" {database} " in title or title.rstrip().endswith(POSTGRES_HELPERS):
            found.append(int(entry.name))
    return found


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_database(db: str, tmp: Path, postgres_url: str) -> Iterator[str]:
    """A new SQLite file, or a new scratch database on the PostgreSQL server (dropped after)."""
    if db == "sqlite":
        from server_stub.db import sqlite_url

        yield sqlite_url(tmp / "server.db")
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    ensure_postgres(postgres_url)
    base = make_url(postgres_url).set(drivername="postgresql")
    conninfo = base.render_as_string(hide_password=False)
    name = f"clinic_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def ensure_postgres(url: str) -> None:
    """Start the local cluster if nothing answers (the machine's PostgreSQL 15, see PLATFORM.md)."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
        return
    except psycopg.OperationalError:
        pass
    versions = (
        sorted(p.name for p in Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").exists() else []
    )
    if not versions:
        raise SystemExit(f"PostgreSQL does not answer at {url} and there is no local cluster to start")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True)
    psycopg.connect(conninfo, connect_timeout=10).close()


@dataclass
class Server:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    engine: Engine  # the benchmark's own connections, for set-up only
    clock: HybridLogicalClock
    log: Path

    @contextmanager
    def admin(self) -> Iterator[Admin]:
        from server_stub.admin import Admin

        with self.engine.begin() as conn:
            yield Admin(conn, datetime.now(UTC), self.clock)

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far of the server process and, on PostgreSQL, of the database's processes."""
        pids = [self.process.pid]
        if self.engine.dialect.name == "postgresql":
            pids += postgres_pids(str(self.engine.url.database))
        return cpu_times(pids)

    def cpu_since(self, before: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in self.cpu().items())


@contextmanager
def server_process(database_url: str, tmp: Path) -> Iterator[Server]:
    """`python -m server_stub run` over `database_url` on a free port, stopped afterwards."""
    from server_stub.db import create_server_engine, migrate

    migrate(database_url)
    engine = create_server_engine(database_url)
    log = tmp / "server.log"
    env = {**os.environ, "CLINIC_DATA_DIR": str(tmp / "server-data"), "CLINIC_LOG_LEVEL": "WARNING"}
    for attempt in range(3):
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server_stub",
                    "run",
                    "--db",
                    database_url,
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        base_url = f"http://{HOST}:{port}"
        if _wait_until_up(process, base_url):
            break
        process.kill()
        process.wait()
        if attempt == 2:
            raise SystemExit(f"the sync server did not start:\n{log.read_text()[-3000:]}")
    try:
        yield Server(base_url, database_url, process, engine, HybridLogicalClock(SERVER_NODE), log)
    finally:
        process.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        engine.dispose()


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str) -> bool:
    deadline = clock.monotonic() + STARTUP_TIMEOUT_S
    while clock.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(base_url + "/v1/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        clock.sleep(0.05)
    return False


# -- clinics and devices -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicSpec:
    clinic_id: str
    doctor_ids: list[str]


def create_clinic(server: Server, name: str, doctors: int) -> ClinicSpec:
    from server_stub import admin

    with server.admin() as a:
        clinic_id = admin.create_clinic(a, name=name, timezone=TZ_NAME, region="IN")
        doctor_ids = [
            admin.add_user(
                a,
                clinic_id=clinic_id,
                username=f"dr_{clinic_id[-6:]}_{n}",
                name=f"Dr {LAST_NAMES[n % len(LAST_NAMES)]} {n}",
                role="doctor",
                password=secrets.token_urlsafe(12),
            )
            for n in range(doctors)
        ]
    return ClinicSpec(clinic_id, doctor_ids)


def enrolment_codes(server: Server, clinic_id: str, kind: str, count: int) -> list[str]:
    from server_stub import admin

    with server.admin() as a:
        return [admin.enrolment_code(a, kind=kind, clinic_id=clinic_id) for _ in range(count)]


@dataclass
class Device:
    device_id: str
    clinic_id: str
    token: str
    store: LocalStore
    client: SyncClient
    engine: SyncEngine

    def close(self) -> None:
        self.client.close()
        self.store.close()


def device_template(folder: Path) -> Path:
    """A migrated, empty device database; each device starts from a copy (migrations take a while)."""
    path = folder / DB_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        upgrade(path)
    return path


def enrol_device(base_url: str, code: str, kind: str, folder: Path, template: Path) -> Device:
    """Enrol through the real endpoint and set the store up as that device, as `clinic enroll` does."""
    with SyncClient(base_url) as anonymous:
        enrolled = anonymous.enroll(code, folder.name, kind)
    folder.mkdir(parents=True)
    shutil.copyfile(template, folder / DB_NAME)
    store = LocalStore(folder)
    store.update_device(
        device_id=enrolled.device_id,
        clinic_id=enrolled.clinic_id,
        kind=kind,
        letter=enrolled.letter,
        server_url=base_url,
    )
    store.close()
    store = LocalStore(folder)  # its clock now stamps with the server's device id
    token = enrolled.token
    client = SyncClient(base_url, token_provider=lambda: token)
    return Device(enrolled.device_id, enrolled.clinic_id, token, store, client, SyncEngine(store, client))


def sync_ok(device: Device) -> SyncReport:
    report = device.engine.sync_once()
    if report.error is not None or report.rejected:
        raise SystemExit(f"set-up sync failed: {report.summary()} {report.errors[:3]}")
    return report


def set_hours(desk: Device, doctor_ids: list[str]) -> None:
    """Every doctor works every day 08:00-18:00 in 15-minute slots (set on the desk, then pushed)."""
    with desk.store.unit_of_work() as uow:
        for doctor_id in doctor_ids:
            for weekday in range(7):
                availability.set_hours(
                    uow,
                    actor=ADMIN,
                    clinician_id=doctor_id,
                    weekday=weekday,
                    start=day_time(8),
                    end=day_time(18),
                )
    sync_ok(desk)


def pending_ops(store: LocalStore) -> int:
    with store.db.reader.connect() as conn:
        query = select(func.count()).where(JournalOp.status == "pending")
        return int(conn.execute(query).scalar_one())


def patient_name(serial: int) -> tuple[str, date]:
    """A distinct (name, birth date) for each serial: no two visits look like the same person."""
    first = FIRST_NAMES[serial % len(FIRST_NAMES)]
    last = LAST_NAMES[(serial // len(FIRST_NAMES)) % len(LAST_NAMES)]
    block = serial // (len(FIRST_NAMES) * len(LAST_NAMES))
    return f"{first} {last}", date(1940, 1, 1) + timedelta(days=block % 25_000)


def make_visits(
    store: LocalStore, actor: Actor, doctor_ids: list[str], ops: int, serial_base: int
) -> tuple[int, int]:
    """Register patients and book each one (a visit), one unit of work each, until the journal holds
    at least `ops` pending ops. Returns (visits, pending ops)."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    days = max(2, ops // (3 * SLOTS_PER_DAY * len(doctor_ids)) + 2)
    with store.reading() as session:
        free = availability.find_free_slots(
            session,
            first_day=tomorrow,
            last_day=tomorrow + timedelta(days=days),
            clinician_ids=doctor_ids,
            now=datetime.now(UTC),
        )
    per_doctor = [free.get(d, []) for d in doctor_ids]
    slots = [s for group in zip(*per_doctor, strict=False) for s in group]  # round robin over doctors
    visits = 0
    pending = pending_ops(store)
    while pending < ops:
        if visits >= len(slots):
            raise SystemExit(f"ran out of free slots after {visits} visits")
        serial = serial_base + visits
        name, born = patient_name(serial)
        phone = f"9{serial % 10**9:09d}" if serial % 2 else None  # every other patient gets reminders
        slot = slots[visits]
        try:
            with store.unit_of_work(actor=actor) as uow:
                patient = patients.register(uow, actor=actor, full_name=name, birth_date=born, phone=phone)
            book_retrying(store, actor, patient.id, slot, REASONS[serial % len(REASONS)])
        except ClinicError as exc:
            raise SystemExit(f"set-up visit {serial} failed: {exc.message}") from exc
        visits += 1
        pending = pending_ops(store) if visits % 50 == 0 else pending + 4
    return visits, pending_ops(store)


def book_retrying(store: LocalStore, actor: Actor, patient_id: str, slot: Slot, reason: str) -> None:
    """`booking.book` in its own unit of work, once more if it fails on the database: the random
    5-character appointment code (`human_code`) collides now and then over thousands of bookings, and
    the service then fails with SQLAlchemy's PendingRollbackError instead of a ClinicError."""
    for attempt in range(3):
        try:
            with store.unit_of_work(actor=actor) as uow:
                booking.book(
                    uow,
                    actor=actor,
                    patient_id=patient_id,
                    clinician_id=slot.clinician_id,
                    starts_at=slot.start,
                    reason=reason,
                )
            return
        except SQLAlchemyError:
            if attempt == 2:
                raise


# -- push ----------------------------------------------------------------------------------------


def bench_push(
    server: Server, sizes: Sizes, tmp: Path, template: Path, progress: ProgressLog
) -> dict[str, Any]:
    spec = create_clinic(server, "Push Clinic", DOCTORS)
    (code,) = enrolment_codes(server, spec.clinic_id, "desk", 1)
    desk = enrol_device(server.base_url, code, "desk", tmp / "push-desk", template)
    try:
        sync_ok(desk)
        set_hours(desk, spec.doctor_ids)
        progress(f"push: making {sizes.push_ops:,} ops through the services")
        started = clock.perf_counter()
        visits, ops = make_visits(desk.store, RECEPTION, spec.doctor_ids, sizes.push_ops, 0)
        made_s = clock.perf_counter() - started
        progress(f"push: pushing {ops:,} ops ({visits:,} visits)")
        marks: dict[str, float] = {}

        def notify(p: Progress) -> None:
            if p.stage == "push" and p.total is not None and p.done >= p.total:
                marks["pushed"] = clock.perf_counter()

        cpu_before, own_before = server.cpu(), clock.process_time()
        start = clock.perf_counter()
        report = desk.engine.sync_once(notify, lambda: "pushed" in marks)
        wall = marks.get("pushed", clock.perf_counter()) - start
        server_cpu, client_cpu = server.cpu_since(cpu_before), clock.process_time() - own_before
        if report.error is not None or report.pushed != ops:
            raise SystemExit(f"push failed: {report.summary()} {report.errors[:3]}")
        refused = report.errors[:3]
        return {
            "push_ops_per_s": r1(ops / wall),
            "push_s": r3(wall),
            "push_ops": ops,
            "push_visits": visits,
            "push_chunks": -(-ops // desk.engine.max_ops),
            "push_statuses": {
                "applied": report.applied,
                "merged": report.merged,
                "conflict": report.conflicts,
                "rejected": report.rejected,
            },
            "push_refusals": refused,
            "push_server_cpu_s": r3(server_cpu),
            "push_client_cpu_s": r3(client_cpu),
            "push_ops_made_per_s": r1(ops / made_s),
            "push_clinic_id": spec.clinic_id,
        }
    finally:
        desk.close()


# -- pull ----------------------------------------------------------------------------------------


def populate_feed(server: Server, spec: ClinicSpec, total: int) -> tuple[int, int]:
    """Bulk-insert patients and their past appointments (with change-log and merge-base entries, as
    `RowWriter` writes them) until the clinic's feed holds `total` entries. Returns (before, added)."""
    from desktop.domain.ids import new_id
    from desktop.domain.patients import name_key
    from desktop.store.models import Appointment, Patient
    from server_stub.models import ChangeLog, RowChange

    with server.engine.connect() as conn:
        before = int(
            conn.scalar(
                select(func.count()).select_from(ChangeLog).where(ChangeLog.clinic_id == spec.clinic_id)
            )
            or 0
        )
    missing = max(0, total - before)
    now = datetime.now(UTC)
    first_slot = datetime.combine(now.date() - timedelta(days=1), day_time(12, 30), tzinfo=UTC)
    chunk = 5000
    made = 0
    serial = 1_000_000
    while made < missing:
        patient_rows: list[dict[str, Any]] = []
        appointment_rows: list[dict[str, Any]] = []
        log_rows: list[dict[str, Any]] = []
        change_rows: list[dict[str, Any]] = []
        while made < missing and len(log_rows) < chunk:
            serial += 1
            name, born = patient_name(serial)
            hlc = server.clock.now()
            patient_id = new_id()
            patient_rows.append(
                {
                    "id": patient_id,
                    "version": 1,
                    "hlc": hlc,
                    "deleted": False,
                    "updated_at": now,
                    "clinic_id": spec.clinic_id,
                    "code": f"PB{serial:08d}",
                    "full_name": name,
                    "name_key": name_key(name),
                    "birth_date": born,
                    "sex": ("female", "male", "other", "unknown")[serial % 4],
                    "phone": f"+919{serial % 10**9:09d}" if serial % 2 else None,
                    "email": None,
                    "address": f"{serial % 400 + 1}, {LAST_NAMES[serial % 30]} Nagar, Bengaluru",
                    "allergies": "Penicillin" if serial % 7 == 0 else "",
                    "preferred_language": "en",
                    "merged_into": None,
                }
            )
            entries = [("patient", patient_id, hlc, list(patient_rows[-1]))]
            made += 1
            if made < missing:
                doctor_index = serial % len(spec.doctor_ids)
                starts_at = first_slot - timedelta(minutes=15 * (serial // len(spec.doctor_ids)))
                appointment_id = new_id()
                appointment_rows.append(
                    {
                        "id": appointment_id,
                        "version": 1,
                        "hlc": hlc,
                        "deleted": False,
                        "updated_at": now,
                        "clinic_id": spec.clinic_id,
                        "code": f"AB{serial:08d}",
                        "clinician_id": spec.doctor_ids[doctor_index],
                        "patient_id": patient_id,
                        "starts_at": starts_at,
                        "ends_at": starts_at + timedelta(minutes=15),
                        "seat": 1,
                        "kind": "kiosk",
                        "urgency": "routine",
                        "emergency": False,
                        "status": "completed",
                        "reason": REASONS[serial % len(REASONS)],
                        "status_note": "",
                        "rescheduled_from": None,
                        "series_id": None,
                        "booked_by": None,
                    }
                )
                entries.append(("appointment", appointment_id, hlc, list(appointment_rows[-1])))
                made += 1
            for entity, row_id, stamp, fields in entries:
                log_rows.append({"clinic_id": spec.clinic_id, "entity": entity, "entity_id": row_id})
                data = sorted(f for f in fields if f not in ("version", "hlc", "deleted", "updated_at"))
                change_rows.append(
                    {"entity_id": row_id, "version": 1, "device_id": None, "hlc": stamp, "fields": data}
                )
        with server.engine.begin() as conn:
            conn.execute(insert(Patient.__table__), patient_rows)
            if appointment_rows:
                conn.execute(insert(Appointment.__table__), appointment_rows)
            conn.execute(insert(RowChange), change_rows)
            conn.execute(insert(ChangeLog), log_rows)
    return before, missing


def pull_child(args: dict[str, Any], out: Queue[dict[str, Any]]) -> None:
    """A fresh device, alone in this process: open the store, then one sync (timed, memory measured)."""
    try:
        freeze_start_up_heap()  # as `clinic` does before any command (desktop/cli.py)
        if args["trace"]:
            tracemalloc.start()
        folder = Path(args["folder"])
        store = LocalStore(folder)
        client = SyncClient(args["base_url"], token_provider=lambda: args["token"])
        engine = SyncEngine(store, client)
        baseline = rss_mb()
        if args["trace"]:
            tracemalloc.reset_peak()
        start = clock.perf_counter()
        cpu = clock.process_time()
        report = engine.sync_once()
        wall = clock.perf_counter() - start
        cpu = clock.process_time() - cpu
        traced = tracemalloc.get_traced_memory()[1] / 2**20 if args["trace"] else None
        with store.db.reader.connect() as conn:
            rows = {
                entity: int(conn.exec_driver_sql(f"SELECT count(*) FROM {entity}").scalar_one())
                for entity in ("patient", "appointment", "audit_event", "reminder")
            }
        client.close()
        store.close()
        out.put(
            {
                "ok": report.error is None,
                "error": report.errors[:3],
                "pulled": report.pulled,
                "pages": report.pages,
                "wall_s": wall,
                "cpu_s": cpu,
                "baseline_mb": baseline,
                "peak_mb": peak_rss_mb(),
                "traced_peak_mb": traced,
                "rows": rows,
            }
        )
    except BaseException as exc:  # reported to the parent, which stops the run
        out.put({"ok": False, "error": [repr(exc)]})
        raise


def run_pull_child(server: Server, code: str, folder: Path, template: Path, *, trace: bool) -> dict[str, Any]:
    device = enrol_device(server.base_url, code, "desk", folder, template)
    token = device.token
    device.close()
    ctx = mp.get_context("spawn")
    out: Queue[dict[str, Any]] = ctx.Queue()
    args = {"folder": str(folder), "base_url": server.base_url, "token": token, "trace": trace}
    child = ctx.Process(target=pull_child, args=(args, out), name="pulling-device")
    before = server.cpu()
    child.start()
    result: dict[str, Any] = out.get(timeout=1800)
    child.join(timeout=60)
    result["server_cpu_s"] = server.cpu_since(before)
    if not result["ok"]:
        raise SystemExit(f"the pulling device failed: {result['error']}")
    return result


def bench_pull(
    server: Server, sizes: Sizes, clinic_id: str, tmp: Path, template: Path, progress: ProgressLog
) -> dict[str, Any]:
    from desktop.store.models import Clinician

    with server.engine.connect() as conn:
        table = Clinician.__table__
        doctor_ids = list(
            conn.scalars(select(table.c.id).where(table.c.clinic_id == clinic_id, table.c.role == "doctor"))
        )
    spec = ClinicSpec(clinic_id, doctor_ids)
    progress(f"pull: topping the feed up to {sizes.pull_changes:,} changes (bulk insert)")
    before, added = populate_feed(server, spec, sizes.pull_changes)
    codes = enrolment_codes(server, clinic_id, "desk", 2)
    progress(f"pull: a fresh desk pulls {before + added:,} changes")
    timed = run_pull_child(server, codes[0], tmp / "pull-desk", template, trace=False)
    traced_peak = None
    if sizes.tracemalloc:
        progress("pull: again under tracemalloc (memory only)")
        traced = run_pull_child(server, codes[1], tmp / "pull-desk-traced", template, trace=True)
        traced_peak = r1(traced["traced_peak_mb"])
    return {
        "pull_changes_per_s": r1(timed["pulled"] / timed["wall_s"]),
        "pull_client_peak_mb": r1(timed["peak_mb"]),
        "pull_s": r3(timed["wall_s"]),
        "pull_changes": timed["pulled"],
        "pull_pages": timed["pages"],
        "pull_feed_pushed": before,
        "pull_feed_bulk": added,
        "pull_client_baseline_mb": r1(timed["baseline_mb"]),
        "pull_client_growth_mb": r1(timed["peak_mb"] - timed["baseline_mb"]),
        "pull_client_tracemalloc_peak_mb": traced_peak,
        "pull_client_cpu_s": r3(timed["cpu_s"]),
        "pull_server_cpu_s": r3(timed["server_cpu_s"]),
        "pull_rows": timed["rows"],
    }


# -- 50 devices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceJob:
    code: str
    folder: str
    doctor_ids: list[str]
    serial_base: int
    phase_s: float  # this device's offset inside the push interval


def load_child(
    base_url: str,
    template: str,
    jobs: list[DeviceJob],
    sizes: Sizes,
    out: Queue[dict[str, Any]],
    start_at: Any,
    go: Any,
) -> None:
    """Set up this process's devices (enrol, pull, make ops), say ready, then push on schedule."""
    try:
        devices: list[tuple[Device, list[PushRequest]]] = []
        needed = sizes.batches * sizes.batch_ops
        for job in jobs:
            device = enrol_device(base_url, job.code, "kiosk", Path(job.folder), Path(template))
            sync_ok(device)
            make_visits(device.store, KIOSK, job.doctor_ids, needed, job.serial_base)
            devices.append((device, push_batches(device, needed, sizes.batch_ops)))
        out.put({"ready": True})
        if not go.wait(timeout=600):
            raise RuntimeError("never told to start")
        begin = float(start_at.value)
        results: list[dict[str, Any]] = []
        cpu = clock.process_time()
        threads = [
            threading.Thread(target=push_on_schedule, args=(d, b, begin + job.phase_s, sizes, results))
            for (d, b), job in zip(devices, jobs, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for device, _ in devices:
            device.close()
        out.put({"ready": False, "devices": results, "cpu_s": clock.process_time() - cpu})
    except BaseException as exc:
        out.put({"ready": False, "error": repr(exc)})
        raise


def push_batches(device: Device, ops: int, batch: int) -> list[PushRequest]:
    """The device's first `ops` journal ops, in journal order, as push requests of `batch` ops."""
    with device.store.reading() as session:
        rows = list(
            session.scalars(
                select(JournalOp).where(JournalOp.status == "pending").order_by(JournalOp.seq).limit(ops)
            )
        )
    wire = [
        Op(
            op_id=r.op_id,
            entity=r.entity,  # type: ignore[arg-type]
            entity_id=r.entity_id,
            action=r.action,
            base_version=r.base_version,
            data=r.data,
            hlc=r.hlc,
            actor=r.actor,
        )
        for r in rows
    ]
    return [
        PushRequest(device_id=device.device_id, ops=wire[i : i + batch]) for i in range(0, len(wire), batch)
    ]


def push_on_schedule(
    device: Device, batches: list[PushRequest], begin: float, sizes: Sizes, results: list[dict[str, Any]]
) -> None:
    """Push batch k at `begin + k * interval` (wall clock), or at once when late; time each request."""
    latencies: list[float] = []
    late: list[float] = []
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    refusals: list[str] = []
    for k, request in enumerate(batches):
        due = begin + k * sizes.interval_s
        wait = due - clock.time()
        if wait > 0:
            clock.sleep(wait)
        else:
            late.append(-wait)
        start = clock.perf_counter()
        try:
            answer = device.client.push(request)
            statuses.update(r.status for r in answer.results)
            refusals += [f"{r.error} ({r.field})" for r in answer.results if r.status == "rejected"]
        except SyncError as exc:
            errors.append(exc.message)
        latencies.append((clock.perf_counter() - start) * 1000)
    results.append(
        {
            "latencies_ms": latencies,
            "late_s": late,
            "statuses": dict(statuses),
            "errors": errors,
            "refusals": refusals,
        }
    )


def bench_devices(
    server: Server, sizes: Sizes, tmp: Path, template: Path, progress: ProgressLog
) -> dict[str, Any]:
    clinics = -(-sizes.devices // DEVICES_PER_CLINIC)
    jobs: list[DeviceJob] = []
    for c in range(clinics):
        count = min(DEVICES_PER_CLINIC, sizes.devices - c * DEVICES_PER_CLINIC)
        spec = create_clinic(server, f"Busy Clinic {c + 1}", count)  # a doctor per device
        (desk_code,) = enrolment_codes(server, spec.clinic_id, "desk", 1)
        desk = enrol_device(server.base_url, desk_code, "desk", tmp / f"busy-{c}-desk", template)
        try:
            sync_ok(desk)
            set_hours(desk, spec.doctor_ids)
        finally:
            desk.close()
        for n, code in enumerate(enrolment_codes(server, spec.clinic_id, "kiosk", count)):
            index = len(jobs)
            jobs.append(
                DeviceJob(
                    code=code,
                    folder=str(tmp / f"busy-{c}-kiosk-{n}"),
                    doctor_ids=[spec.doctor_ids[n]],
                    serial_base=(index + 1) * 100_000,
                    phase_s=sizes.interval_s * index / sizes.devices,
                )
            )
    procs = min(sizes.load_procs, len(jobs))
    ctx = mp.get_context("spawn")
    out: Queue[dict[str, Any]] = ctx.Queue()
    start_at = ctx.Value("d", 0.0)
    go = ctx.Event()
    children = [
        ctx.Process(
            target=load_child,
            args=(server.base_url, str(template), jobs[p::procs], sizes, out, start_at, go),
            name=f"devices-{p}",
        )
        for p in range(procs)
    ]
    progress(
        f"devices: {len(jobs)} kiosks in {clinics} clinic(s) and {procs} processes make their ops"
        f" ({sizes.batches * sizes.batch_ops:,} each) through the services"
    )
    for child in children:
        child.start()
    try:
        for _ in children:
            message = out.get(timeout=1800)
            if not message.get("ready"):
                raise SystemExit(f"a device process failed during set-up: {message.get('error')}")
        progress(
            f"devices: {len(jobs)} devices push {sizes.batch_ops} ops every {sizes.interval_s * 1000:.0f} ms"
            f" for {sizes.seconds:.0f} s"
        )
        start_at.value = clock.time() + 1.0
        cpu_before = server.cpu()
        wall = clock.perf_counter()
        go.set()
        finished = [out.get(timeout=sizes.seconds * 10 + 300) for _ in children]
        wall = clock.perf_counter() - wall - 1.0
        server_cpu = server.cpu_since(cpu_before)
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
    failed = [m.get("error") for m in finished if "error" in m]
    if failed:
        raise SystemExit(f"a device process failed: {failed}")
    devices = [d for m in finished for d in m["devices"]]
    latencies = [x for d in devices for x in d["latencies_ms"]]
    late = [x for d in devices for x in d["late_s"]]
    statuses: Counter[str] = Counter()
    for d in devices:
        statuses.update(d["statuses"])
    errors = [e for d in devices for e in d["errors"]]
    refusals = Counter(r for d in devices for r in d["refusals"])
    ops = sum(statuses.values())
    return {
        "push_p99_ms_50_devices": r1(percentile(latencies, 99)),
        "devices_push_p50_ms": r1(statistics.median(latencies)),
        "devices_push_p90_ms": r1(percentile(latencies, 90)),
        "devices_push_max_ms": r1(max(latencies)),
        "devices_requests": len(latencies),
        "devices_errors": len(errors),
        "devices_first_errors": errors[:3],
        "devices_ops_answered": ops,
        "devices_ops_per_s": r1(ops / wall),
        "devices_offered_ops_per_s": sizes.devices * sizes.ops_per_s,
        "devices_statuses": dict(statuses),
        "devices_refusals": dict(refusals.most_common(5)),
        "devices_late_pushes": len(late),
        "devices_max_late_ms": r1(max(late, default=0.0) * 1000),
        "devices_server_cpu_percent": r1(100 * server_cpu / wall),
        "devices_client_cpu_percent": r1(100 * sum(m["cpu_s"] for m in finished) / wall),
        "devices_clinics": clinics,
        "devices_processes": procs,
    }


# -- one database --------------------------------------------------------------------------------


def run_one(db: str, sizes: Sizes, *, postgres_url: str, progress: ProgressLog) -> dict[str, Any]:
    started = clock.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clinicdesk-sync-bench-") as name:
        tmp = Path(name)
        template = device_template(tmp / "template")
        with server_database(db, tmp, postgres_url) as url, server_process(url, tmp) as server:
            progress(f"{db}: server pid {server.process.pid} at {server.base_url}")
            results: dict[str, Any] = {}
            stolen: dict[str, float | None] = {}
            during = StolenTime()
            results.update(bench_push(server, sizes, tmp, template, progress))
            stolen["push"], during = during.percent(), StolenTime()
            results.update(bench_pull(server, sizes, results.pop("push_clinic_id"), tmp, template, progress))
            stolen["pull"], during = during.percent(), StolenTime()
            results.update(bench_devices(server, sizes, tmp, template, progress))
            stolen["devices"] = during.percent()
            if server.process.poll() is not None:
                raise SystemExit(f"the server died:\n{server.log.read_text()[-3000:]}")
            server_version = server_db_version(server)
    met = {key: _met(results[key], *TARGETS[key]) for key in TARGETS}
    return {
        **{key: results.pop(key) for key in TARGETS},
        **results,
        "db": db,
        "db_version": server_version,
        "targets_met": met,
        "all_targets_met": all(met.values()),
        "total_s": r1(clock.perf_counter() - started),
        # Other work on the machine competes for its cores: the 1-minute load average around the run.
        "load_average": [r1(load_before), r1(os.getloadavg()[0])],
        # The share of the machine's CPU time taken by the hypervisor during each stage (set-up
        # included): bench/common.py, StolenTime.
        "steal_percent": stolen,
    }


def server_db_version(server: Server) -> str:
    with server.engine.connect() as conn:
        if server.engine.dialect.name == "postgresql":
            return "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
        return "SQLite " + str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())


def _met(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


# -- machine and output ----------------------------------------------------------------------------


def counts(sizes: Sizes) -> dict[str, Any]:
    return {
        "push_ops": sizes.push_ops,
        "push_chunk_ops": MAX_OPS_PER_PUSH,  # the engine's defaults
        "pull_changes": sizes.pull_changes,
        "pull_page": MAX_PULL_LIMIT,
        "devices": sizes.devices,
        "device_ops_per_s": sizes.ops_per_s,
        "device_batch_ops": sizes.batch_ops,
        "device_seconds": sizes.seconds,
        "device_processes": sizes.load_procs,
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        (f"push {result['push_ops']:,} ops (chunks of 1000)", "push_ops_per_s", "ops/s"),
        (f"fresh device pulls {result['pull_changes']:,} changes", "pull_changes_per_s", "changes/s"),
        ("  pulling process, peak RSS", "pull_client_peak_mb", "MB"),
        (
            f"{result['counts']['devices']} devices x {result['counts']['device_ops_per_s']} ops/s: push p99",
            "push_p99_ms_50_devices",
            "ms",
        ),
    ]
    lines = [f"ClinicDesk sync benchmark ({result['mode']}, {result['db_version']}), {result['date']}"]
    lines.append(f"{'':52} {'measured':>12} {'target':>12}")
    for label, key, unit in rows:
        op, target = TARGETS[key]
        verdict = "ok" if result["targets_met"][key] else "MISSED"
        lines.append(
            f"{label:52} {result[key]:>12,.1f} {op + ' ' + format(target, ',.0f'):>12} {unit:9} {verdict}"
        )
    lines += [
        "",
        f"push: {result['push_s']} s for {result['push_ops']:,} ops ({result['push_visits']:,} visits),"
        f" statuses {result['push_statuses']}; CPU server {result['push_server_cpu_s']} s,"
        f" client {result['push_client_cpu_s']} s",
        f"pull: {result['pull_s']} s, {result['pull_pages']} pages; client RSS"
        f" {result['pull_client_baseline_mb']} MB before, +{result['pull_client_growth_mb']} MB in the"
        f" sync, tracemalloc peak"
        f" {result['pull_client_tracemalloc_peak_mb']} MB; CPU client {result['pull_client_cpu_s']} s,"
        f" server {result['pull_server_cpu_s']} s",
        f"devices: {result['devices_requests']:,} requests, p50 {result['devices_push_p50_ms']} ms,"
        f" p90 {result['devices_push_p90_ms']} ms, max {result['devices_push_max_ms']} ms;"
        f" {result['devices_ops_per_s']} of {result['devices_offered_ops_per_s']} ops/s answered"
        f" {result['devices_statuses']}, errors"
        f" {result['devices_errors']}, late pushes {result['devices_late_pushes']}"
        f" (max {result['devices_max_late_ms']} ms); CPU server {result['devices_server_cpu_percent']}%,"
        f" devices {result['devices_client_cpu_percent']}%",
        f"total {result['total_s']} s; load average {result['load_average'][0]} before,"
        f" {result['load_average'][1]} after; CPU time stolen by the hypervisor (%)"
        f" {result['steal_percent']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (1,000 ops, 10,000 changes, 10 devices for 8 s)"
    )
    parser.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres", "both"),
        help="the server's database (default: sqlite with --quick, else both)",
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help=f"a PostgreSQL server (default {DEFAULT_POSTGRES})"
    )
    parser.add_argument(
        "--device-batch",
        type=int,
        metavar="OPS",
        help="ops per push in the many-devices stage (default 5, i.e. a push every 250 ms; 60 is every 3 s,"
        " what the sync worker's debounce does while changes keep coming)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.device_batch:
        sizes = replace(sizes, batch_ops=args.device_batch)
    db: str = args.db or ("sqlite" if args.quick else "both")
    dbs = ["sqlite", "postgres"] if db == "both" else [db]
    progress = ProgressLog(not args.json)
    context = {
        "mode": "quick" if args.quick else "full",
        "counts": counts(sizes),
        "targets": {key: f"{op} {target:g}" for key, (op, target) in TARGETS.items()},
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
    }
    runs = {
        db: {**run_one(db, sizes, postgres_url=args.postgres_url, progress=progress), **context} for db in dbs
    }
    if args.json:
        if len(runs) == 1:
            print(json.dumps(next(iter(runs.values()))))
        else:
            both = {
                "db": "both",
                **context,
                **runs,
                "all_targets_met": all(r["all_targets_met"] for r in runs.values()),
            }
            print(json.dumps(both))
    else:
        print("\n\n".join(table(r) for r in runs.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
