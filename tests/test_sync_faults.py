"""Sync under faults, with real parts only: real uvicorn, real database files, real HTTP.

Faults are injected where they happen in a clinic — in the network and in processes:

1. devices sync through a TCP proxy that cuts, resets, delays and stalls connections and throws
   answers away after the server has applied the request (tests/fixtures/proxy.py);
2. the server, run as `python -m server_stub run` in a subprocess, is SIGKILLed while a device
   pushes a large journal, and restarted on the same port and database;
3. a device, run as a child process, is SIGKILLed while it pulls a large feed page by page,
   then reopened.

After each: nothing lost (every journal op answered and recorded by the server), nothing applied
twice (row versions count the distinct changes), the SQLite files pass `PRAGMA integrity_check`,
and the devices hold exactly the server's rows. The server's database is a SQLite file, or a
new PostgreSQL database when `DATABASE_URL` is set (as for the live server fixture).

Scale with `SYNC_FAULT_SCALE` (default 1; e.g. 5 for a long soak); `SYNC_FAULT_SEED` fixes the
proxy's and the workload's random choices.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.errors import ClinicError
from desktop.services import availability, booking, patients, queue
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import Appointment, Patient
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine, pending_count
from desktop.sync.protocol import PullResponse, PushRequest, PushResponse
from server_stub.db import create_server_engine, migrate, sqlite_url
from server_stub.models import ChangeLog
from tests.fixtures.proxy import ChaosProxy
from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    device_template,
    live_server,
    scratch_postgres,
    server_database_url,
)
from tests.fixtures.sync_checks import (
    ADMIN,
    Device,
    assert_applied_once,
    assert_device_matches_server,
    assert_nothing_lost,
    device_rows,
    integrity,
    open_device,
    prepare_store,
    server_rows,
    sync_until_quiet,
)

SCALE = float(os.environ.get("SYNC_FAULT_SCALE", "1"))
SEED = int(os.environ.get("SYNC_FAULT_SEED", "20260302"))
REPO = Path(__file__).resolve().parents[1]


def letters(n: int) -> str:
    """A number spelled in letters: patient name keys drop digits."""
    return "".join("abcdefghij"[int(d)] for d in str(n))


def set_hours(device: Device, doctors: list[str], start: int = 8, end: int = 12) -> None:
    with device.store.unit_of_work() as uow:
        for n, doctor in enumerate(doctors):
            for weekday in range(7):
                availability.set_hours(
                    uow,
                    actor=ADMIN,
                    clinician_id=doctor,
                    weekday=weekday,
                    start=clock_time(start),
                    end=clock_time(end),
                    capacity=1 + n % 2,
                )


# -- 1. a network that misbehaves ----------------------------------------------------------------


class Workload:
    """Real changes through the services, each in its own unit of work; refusals are normal."""

    def __init__(self, rng: random.Random, doctors: list[str]):
        self.rng = rng
        self.doctors = doctors
        self.born = 0
        self.own: dict[str, list[str]] = {}  # device name -> patients it registered
        self.edits: Counter[str] = Counter()  # patient id -> committed edits

    def act(self, device: Device) -> None:
        actions = [self.register, self.edit, self.edit, self.book, self.book, self.check_in]
        action = self.rng.choice([*actions, self.walk_in, self.cancel])
        with suppress(ClinicError):
            action(device)

    def register(self, device: Device) -> None:
        self.born += 1
        with device.store.unit_of_work() as uow:
            patient = patients.register(
                uow,
                actor=device.actor,
                full_name=f"Chaos {letters(self.born)} {device.name}",
                birth_date=date(1950, 1, 1) + timedelta(days=37 * self.born),
            )
        self.own.setdefault(device.name, []).append(patient.id)

    def _mine(self, device: Device) -> str | None:
        mine = self.own.get(device.name)
        return self.rng.choice(mine) if mine else None

    def edit(self, device: Device) -> None:
        patient_id = self._mine(device)
        if patient_id is None or device.kind == "kiosk":
            return self.register(device)
        address = f"Gartenweg {self.rng.randint(1, 10**6)}"
        with device.store.unit_of_work() as uow:
            patients.update_details(uow, actor=device.actor, patient_id=patient_id, address=address)
        self.edits[patient_id] += 1

    def book(self, device: Device) -> None:
        patient_id = self._mine(device)
        if patient_id is None:
            return self.register(device)
        doctor = self.rng.choice(self.doctors)
        tomorrow = (device.store.now() + timedelta(days=1)).date()
        with device.store.reading() as session:
            slots = availability.find_free_slots(
                session,
                first_day=tomorrow,
                last_day=tomorrow,
                clinician_ids=[doctor],
                now=device.store.now(),
                include_full=True,
            ).get(doctor, [])
        if slots:
            with device.store.unit_of_work() as uow:
                booking.book(
                    uow,
                    actor=device.actor,
                    patient_id=patient_id,
                    clinician_id=doctor,
                    starts_at=self.rng.choice(slots).start,
                )

    def _confirmed(self, device: Device) -> str | None:
        with device.store.reading() as session:
            found = list(
                session.scalars(
                    select(Appointment.id)
                    .where(Appointment.status == AppointmentStatus.CONFIRMED.value)
                    .order_by(Appointment.id)
                )
            )
        return self.rng.choice(found) if found else None

    def check_in(self, device: Device) -> None:
        appointment_id = self._confirmed(device)
        if appointment_id:
            with device.store.unit_of_work() as uow:
                queue.check_in(uow, actor=device.actor, appointment_id=appointment_id)

    def cancel(self, device: Device) -> None:
        appointment_id = self._confirmed(device)
        if appointment_id and device.kind == "desk":
            with device.store.unit_of_work() as uow:
                booking.cancel(uow, actor=device.actor, appointment_id=appointment_id, reason="chaos")

    def walk_in(self, device: Device) -> None:
        patient_id = self._mine(device)
        if patient_id:
            with device.store.unit_of_work() as uow:
                queue.issue_token(
                    uow, actor=device.actor, patient_id=patient_id, clinician_id=self.rng.choice(self.doctors)
                )


def cut_now_and_then(proxy: ChaosProxy, calm: threading.Event, rng: random.Random) -> None:
    """Besides the exchanges' fates: every connection cut at once, at moments unrelated to them."""
    while not calm.wait(rng.uniform(0.2, 1.5)):
        proxy.cut_all()


@pytest.mark.slow
def test_devices_converge_through_a_network_that_cuts_resets_delays_and_drops(
    live_server: LiveServer, device_template: Path, tmp_path: Path
) -> None:
    rounds = int(25 * SCALE)
    rng = random.Random(SEED)
    upstream = urlsplit(live_server.base_url)
    clinic_id = live_server.create_clinic(name="Chaos clinic")
    doctors = [live_server.add_user(clinic_id, "doctor")[0] for _ in range(2)]
    with ChaosProxy(upstream.hostname or "127.0.0.1", upstream.port or 80, seed=SEED, stall_s=1.5) as proxy:
        devices = [
            open_device(
                live_server,
                device_template,
                tmp_path / name,
                clinic_id,
                kind,
                base_url=proxy.base_url,
                # Short read timeout (a stall outlasts it); urllib3 retries once by itself.
                client_options={"timeout": (1.0, 1.0), "retries": 1},
                max_ops=5,  # many chunks per push, many pages per pull: faults land between them
                page_size=10,
            )
            for name, kind in (("desk-1", "desk"), ("desk-2", "desk"), ("kiosk", "kiosk"))
        ]
        try:
            sync_until_quiet(devices[:1])  # the clinic and its doctors, before their hours are set
            set_hours(devices[0], doctors)
            sync_until_quiet(devices)
            work = Workload(rng, doctors)
            proxy.misbehave(0.45)
            calm = threading.Event()
            monkey = threading.Thread(target=cut_now_and_then, args=(proxy, calm, random.Random(SEED + 1)))
            monkey.start()
            failed = 0
            for _ in range(rounds):
                for device in rng.sample(devices, len(devices)):
                    for _ in range(rng.randint(1, 3)):
                        work.act(device)
                    if rng.random() < 0.25:
                        continue  # offline for a while: its journal grows
                    report = device.sync()
                    assert report.error is None or report.error.retryable, (device.name, report.errors)
                    failed += report.error is not None
            calm.set()
            monkey.join()
            proxy.heal()
            for device in devices:
                device.client.timeout = (5.0, 30.0)  # a slow answer on a busy machine is no fault now
            sync_until_quiet(devices)

            stores = {d.name: d.store for d in devices}
            ops = assert_nothing_lost(live_server.engine, clinic_id, stores)
            exact = assert_applied_once(live_server.engine, clinic_id, stores)
            assert exact > 20
            # The brief's own example: a patient edited k times by one device is at version 1 + k.
            for patient_id, edits in work.edits.items():
                row = live_server.row("patient", patient_id)
                assert row is not None and row["version"] == 1 + edits, (patient_id, edits, row)
            rows = server_rows(live_server.engine, clinic_id)
            for device in devices:
                assert_device_matches_server(device.name, device.store, device.kind, rows)
                assert integrity(device.store.path) == "ok"
            # The faults did bite: requests cut and reset, answers lost after the server applied them.
            faults = {fate: n for fate, n in proxy.stats.items() if fate not in ("pass", "delay")}
            assert faults.get("drop_response", 0) > 0 and faults.get("reset_request", 0) > 0, proxy.stats
            assert failed > rounds // 2, f"only {failed} syncs failed: the faults did not bite"
            duplicates = sum(r.duplicates for d in devices for r in d.reports)
            assert duplicates > 0, "no answer was lost after the server applied it"
            print(
                f"\n{live_server.engine.dialect.name}: {ops} ops, {failed} syncs failed, {duplicates} ops "
                f"answered again, {exact} rows with one version per op; proxy: {dict(proxy.stats)}"
            )
        finally:
            for device in devices:
                device.close()


# -- 2. the server killed mid-push -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`python -m server_stub run --db URL --port P` (the `clinic server run` command) in a subprocess."""

    def __init__(self, database_url: str, port: int, log: Path):
        self.database_url = database_url
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "server_stub", "run", "--db", self.database_url]
        with open(self.log, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"the server exited early:\n{self.tail()}"
            assert time.monotonic() < deadline, f"the server did not come up:\n{self.tail()}"
            try:
                if requests.get(self.base_url + "/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


class WatchedClient(SyncClient):
    """The real client; tells the test when a push is on the wire."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.cond = threading.Condition()
        self.answered = 0  # pushes answered so far
        self.took = 0.1  # seconds the last answered push took
        self.in_flight = False

    def push(self, request: PushRequest) -> PushResponse:
        with self.cond:
            self.in_flight = True
            self.cond.notify_all()
        started = time.monotonic()
        try:
            answer = super().push(request)
            with self.cond:
                self.answered += 1
                self.took = time.monotonic() - started
            return answer
        finally:
            with self.cond:
                self.in_flight = False

    def wait_for_push(self, answered: int, timeout: float = 120) -> bool:
        """Wait until a push is on the wire after `answered` were answered; False if none came."""
        with self.cond:
            return self.cond.wait_for(lambda: self.answered >= answered and self.in_flight, timeout)


def big_journal(device: Device, registrations: int, twice_edited: int = 0) -> dict[str, int]:
    """`registrations` patients (2 ops each, with their audit events), the first `twice_edited`
    edited twice in separate units of work (2 ops per edit): returns the edits per patient."""
    born: list[str] = []
    for start in range(0, registrations, 100):
        with device.store.unit_of_work() as uow:
            for n in range(start, min(start + 100, registrations)):
                patient = patients.register(
                    uow,
                    actor=device.actor,
                    full_name=f"Heavy {letters(n)} Load",
                    birth_date=date(1940, 1, 1) + timedelta(days=11 * n),
                )
                born.append(patient.id)
    edits: Counter[str] = Counter()
    for round_ in range(2):
        with device.store.unit_of_work() as uow:
            for patient_id in born[:twice_edited]:
                address = f"Lindenallee {round_}"
                patients.update_details(uow, actor=device.actor, patient_id=patient_id, address=address)
                edits[patient_id] += 1
    return {p: edits.get(p, 0) for p in born}


@contextmanager
def server_database(tmp_path: Path) -> Iterator[str]:
    """A new database for the server process: on PostgreSQL when `DATABASE_URL` is set (as the
    live server fixture does), else a SQLite file."""
    base = os.environ.get("DATABASE_URL")
    if base:
        with scratch_postgres(base) as url:
            yield url
    else:
        yield sqlite_url(tmp_path / "server.db")


@pytest.mark.slow
def test_a_server_killed_mid_push_loses_nothing_and_applies_nothing_twice(
    device_template: Path, tmp_path: Path
) -> None:
    kills = max(1, int(2 * SCALE))
    registrations, twice_edited = int(1000 * SCALE), int(250 * SCALE)  # 2000 + 4 x 250 = 3000 ops
    rng = random.Random(SEED)
    with server_database(tmp_path) as url:
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
        migrate(url)
        engine = create_server_engine(url)
        server = ServerProcess(url, free_port(), tmp_path / "server.log")
        live = LiveServer(server.base_url, url, engine)
        device: Device | None = None
        try:
            server.start()
            clinic_id = live.create_clinic(name="Crashing server clinic")
            device = open_device(
                live,
                device_template,
                tmp_path / "desk",
                clinic_id,
                "desk",
                client_class=WatchedClient,
                client_options={"timeout": (1.0, 30.0)},
                max_ops=100,
            )
            assert device.sync().ok
            edits = big_journal(device, registrations, twice_edited)
            ops = pending_count(device.store)
            assert ops >= 3000 * SCALE
            client = device.client
            assert isinstance(client, WatchedClient)

            failures: list[str] = []
            stop = threading.Event()

            def sync_until_done() -> None:
                assert device is not None
                try:
                    while not stop.is_set():
                        report = device.sync()
                        if report.ok and pending_count(device.store) == 0:
                            return
                        if report.error is not None and not report.error.retryable:
                            failures.append(f"{report.error!r}: {report.errors}")
                            return
                        time.sleep(0.05)  # the server is down: try again, as the worker would
                except Exception as exc:
                    failures.append(repr(exc))

            pusher = threading.Thread(target=sync_until_done, name="pusher")
            pusher.start()
            try:
                hit_in_flight = 0
                chunks = -(-ops // 100)
                for n in range(kills):
                    target = (n + 1) * chunks // (kills + 2)
                    assert client.wait_for_push(target), f"push {target} never came: {failures}"
                    time.sleep(rng.uniform(0.0, 0.8 * client.took))  # somewhere in the server's work on it
                    hit_in_flight += client.in_flight
                    server.kill()
                    if database == "sqlite":
                        assert integrity(tmp_path / "server.db") == "ok"
                    time.sleep(rng.uniform(0.0, 0.5))  # the device retries against a dead port meanwhile
                    server.start()
                pusher.join(120)
                assert not pusher.is_alive(), "the device did not finish pushing"
            finally:
                stop.set()
                pusher.join(30)
            assert not failures, failures
            assert hit_in_flight > 0, "no kill landed while a push was on the wire"
            duplicates = sum(r.duplicates for r in device.reports)

            stores = {device.name: device.store}
            assert_nothing_lost(engine, clinic_id, stores)
            assert assert_applied_once(engine, clinic_id, stores) >= 2 * registrations
            with engine.connect() as conn:
                table = Patient.__table__  # type: ignore[attr-defined]
                versions = {i: v for i, v in conn.execute(select(table.c.id, table.c.version))}
            wrong = {p: (versions.get(p), 1 + k) for p, k in edits.items() if versions.get(p) != 1 + k}
            assert not wrong, (
                f"{len(wrong)} patients at an unexpected version, e.g. {list(wrong.items())[:3]}"
            )
            assert device.sync().ok  # bring down whatever the last pushes changed
            rows = server_rows(engine, clinic_id)
            assert_device_matches_server(device.name, device.store, device.kind, rows)
            assert integrity(device.store.path) == "ok"
            print(
                f"\n{database}: {ops} ops pushed in chunks of 100, server killed {kills} times "
                f"({hit_in_flight} mid-push), {duplicates} ops answered again after a lost answer"
            )
        finally:
            if device is not None:
                device.close()
            server.stop()
            engine.dispose()
        if database == "sqlite":
            assert integrity(tmp_path / "server.db") == "ok"


# -- 3. a device killed mid-pull -------------------------------------------------------------------

CHILD = Path(__file__).with_name("pull_child.py")


class RecordingClient(SyncClient):
    """The real client; keeps the seq of every change its pulls delivered."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seqs: list[int] = []

    def pull(self, since: int, limit: int = 1000) -> PullResponse:
        page = super().pull(since, limit)
        self.seqs += [c.seq for c in page.changes]
        return page


def change_seqs(engine: Any, clinic_id: str) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        query = select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.seq).where(
            ChangeLog.clinic_id == clinic_id
        )
        return {(entity, entity_id): seq for entity, entity_id, seq in conn.execute(query)}


def pull_until_killed(
    data_dir: Path, base_url: str, token: str, page_size: int, pages: int, rng: random.Random
) -> list[int]:
    """Run the child puller; SIGKILL it soon after it has reported `pages` committed pages.
    Returns the cursors it reported."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), base_url, token, str(page_size)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cursors: list[int] = []
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        while len(cursors) < pages:
            assert time.monotonic() < deadline, "the child pulls too slowly"
            line = child.stdout.readline().split()
            assert line and line[0] == "page", f"child: {line} {child.stderr.read() if child.stderr else ''}"
            cursors.append(int(line[2]))
        time.sleep(rng.uniform(0.0, 0.05))  # land anywhere: mid-request, mid-transaction, mid-commit
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        rest = [line.split() for line in child.stdout]
        assert ["done"] not in rest, "the child finished before it was killed"
        cursors += [int(words[2]) for words in rest if words and words[0] == "page"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    return cursors


@pytest.mark.slow
def test_a_device_killed_mid_pull_neither_skips_nor_repeats_a_change(
    live_server: LiveServer, device_template: Path, tmp_path: Path
) -> None:
    registrations = int(2500 * SCALE)  # a patient and its audit event each: 5,000+ changes
    page_size = 50
    rng = random.Random(SEED)
    clinic_id = live_server.create_clinic(name="Big feed clinic")
    source = open_device(live_server, device_template, tmp_path / "source", clinic_id, "desk", max_ops=1000)
    try:
        assert source.sync().ok
        big_journal(source, registrations)
        assert source.sync().ok and pending_count(source.store) == 0
    finally:
        source.close()
    expected = server_rows(live_server.engine, clinic_id)
    seqs = change_seqs(live_server.engine, clinic_id)
    last = max(seqs.values())
    assert len(seqs) >= 2 * registrations

    enrolled = live_server.enroll(clinic_id, "desk", "puller")
    data_dir = tmp_path / "puller"
    prepare_store(device_template, data_dir, enrolled)
    cursor = 0
    kills_at: list[int] = []
    for run in range(2):  # killed twice: once from the start, once after resuming
        reported = pull_until_killed(
            data_dir, live_server.base_url, enrolled.token, page_size, rng.randint(3, 8), rng
        )
        assert integrity(data_dir / DB_NAME) == "ok"
        store = LocalStore(data_dir)
        try:
            stored = store.device().pull_cursor
            # Every page it reported committed is kept; a page it had not committed is not half kept.
            assert reported[-1] <= stored < last, (run, reported[-3:], stored, last)
            assert stored > cursor
            held = device_rows(store, "desk")
            wanted = {k: v for k, v in expected.items() if seqs[k] <= stored}
            assert held.keys() == wanted.keys(), (
                f"run {run}: cursor {stored}, {len(wanted.keys() - held.keys())} rows up to it missing, "
                f"{len(held.keys() - wanted.keys())} rows beyond it present"
            )
            assert held == wanted
        finally:
            store.close()
        cursor = stored
        kills_at.append(stored)

    store = LocalStore(data_dir)
    client = RecordingClient(live_server.base_url, token_provider=lambda: enrolled.token, retries=0)
    try:
        report = SyncEngine(store, client, page_size=page_size).sync_once()
        assert report.ok, report.errors
        assert client.seqs, "nothing was left to pull"
        assert client.seqs == sorted(set(client.seqs)), "a change was delivered twice"
        assert client.seqs[0] > cursor, f"pulled seq {client.seqs[0]} again after cursor {cursor}"
        assert store.device().pull_cursor == last
        # Rows kept before the kills and rows pulled after them: every change exactly once.
        assert sorted(client.seqs) == sorted(s for s in seqs.values() if s > cursor)
        assert_device_matches_server("puller", store, "desk", expected)
        assert integrity(data_dir / DB_NAME) == "ok"
        print(
            f"\n{live_server.engine.dialect.name}: {len(seqs)} changes; killed at cursors {kills_at}, "
            f"then {len(client.seqs)} pulled"
        )
    finally:
        client.close()
        store.close()
