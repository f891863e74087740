"""Many devices push at once while others pull continuously (SYNC.md point 7, "Guarantees").

Twelve pushing devices (eight kiosks, four desks), each a thread with its own SQLite store, sync
engine and HTTP client, make real changes through the services — registrations, bookings of the
same few slots, check-ins, walk-in queue tokens, edits of the same patients — and sync after
every few. A desk that worked offline pushes its backlog meanwhile, in pushes large enough for the
server to write their rows by COPY on PostgreSQL (server_stub.db.insert_rows). Three pullers (two
desks and a kiosk) sync in a loop meanwhile and record every change their pages deliver. At the
end:

- every puller received every change exactly once per version: the seqs it was sent strictly
  increase, each row's versions strictly increase (a row re-announced unchanged, which the
  server does after a refused or wholly out-voted change, repeats its version with the same data
  and is named in the conflict log), and the last version it saw of each row is the server's;
- no slot is double booked on the server, and every loser is in the conflict log;
- nothing lost, nothing applied twice, and every device holds exactly the server's rows.

Runs on the live server's database: SQLite, or PostgreSQL when `DATABASE_URL` is set.
`SYNC_CONCURRENCY_SCALE` (default 1) multiplies the rounds each pusher makes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.errors import ClinicError
from desktop.services import availability, booking, patients, queue
from desktop.store.models import Appointment, SyncConflict
from desktop.sync.client import SyncClient
from desktop.sync.protocol import PullResponse
from desktop.sync.report import SyncReport
from server_stub.db import COPY_MIN_ROWS
from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    device_template,
    live_server,
    server_database_url,
)
from tests.fixtures.sync_checks import (
    ADMIN,
    RECEPTION,
    Device,
    assert_applied_once,
    assert_device_matches_server,
    assert_nothing_lost,
    double_bookings,
    open_device,
    server_rows,
    sync_until_quiet,
    visible,
)

SCALE = float(os.environ.get("SYNC_CONCURRENCY_SCALE", "1"))
SEED = int(os.environ.get("SYNC_CONCURRENCY_SEED", "7"))
KIOSKS, DESKS = 8, 4
PULLERS = (("puller-desk-1", "desk"), ("puller-desk-2", "desk"), ("puller-kiosk", "kiosk"))
SHARED_PATIENTS = 6
BACKLOG = COPY_MIN_ROWS + 20  # registrations made offline by one desk


def letters(n: int) -> str:
    return "".join("abcdefghij"[int(d)] for d in str(n))


@dataclass(frozen=True)
class Seen:
    seq: int
    version: int
    data: Any
    deleted: bool


class RecordingClient(SyncClient):
    """The real client; keeps every change its pulls delivered, in order."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.delivered: list[tuple[str, str, Seen]] = []

    def pull(self, since: int, limit: int = 1000) -> PullResponse:
        page = super().pull(since, limit)
        self.delivered += [(c.entity, c.id, Seen(c.seq, c.version, c.data, c.deleted)) for c in page.changes]
        return page


@dataclass
class Pusher:
    device: Device
    rng: random.Random
    doctors: list[str]
    shared: list[str]
    own: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    born: int = 0

    def act(self) -> None:
        actions = [self.register, self.book, self.book, self.check_in, self.walk_in]
        if self.device.kind == "desk":
            actions += [self.edit_shared, self.edit_shared]
        with suppress(ClinicError):  # a slot taken meanwhile, a patient already queued...
            self.rng.choice(actions)()

    def register(self) -> None:
        device = self.device
        self.born += 1
        with device.store.unit_of_work() as uow:
            patient = patients.register(
                uow,
                actor=device.actor,
                full_name=f"Rush {letters(self.born)} {device.enrolled.letter}",
                birth_date=date(1960, 1, 1) + timedelta(days=41 * self.born),
            )
        self.own.append(patient.id)

    def book(self) -> None:
        if not self.own:
            return self.register()
        device, doctor = self.device, self.rng.choice(self.doctors)
        tomorrow = (device.store.now() + timedelta(days=1)).date()
        with device.store.reading() as session:
            slots = availability.find_free_slots(
                session, first_day=tomorrow, last_day=tomorrow, clinician_ids=[doctor], now=device.store.now()
            ).get(doctor, [])
        if slots:
            with device.store.unit_of_work() as uow:
                booking.book(
                    uow,
                    actor=device.actor,
                    patient_id=self.rng.choice(self.own),
                    clinician_id=doctor,
                    starts_at=self.rng.choice(slots[:4]).start,  # everyone wants the first slots
                )

    def check_in(self) -> None:
        with self.device.store.reading() as session:
            confirmed = list(
                session.scalars(
                    select(Appointment.id).where(
                        Appointment.status == AppointmentStatus.CONFIRMED.value,
                        Appointment.patient_id.in_(self.own or [""]),
                    )
                )
            )
        if confirmed:
            with self.device.store.unit_of_work() as uow:
                queue.check_in(uow, actor=self.device.actor, appointment_id=self.rng.choice(confirmed))

    def walk_in(self) -> None:
        if not self.own:
            return self.register()
        with self.device.store.unit_of_work() as uow:
            queue.issue_token(
                uow,
                actor=self.device.actor,
                patient_id=self.rng.choice(self.own),
                clinician_id=self.rng.choice(self.doctors),
            )

    def edit_shared(self) -> None:
        phone = f"030 {self.rng.randint(1000000, 9999999)}"
        with self.device.store.unit_of_work() as uow:
            patients.update_details(
                uow, actor=RECEPTION, patient_id=self.rng.choice(self.shared), phone=phone, address=phone[-3:]
            )

    def run(self, rounds: int, hiccups: list[str]) -> None:
        try:
            for _ in range(rounds):
                for _ in range(self.rng.randint(1, 3)):
                    self.act()
                note(self.device, self.device.sync(), self.failures, hiccups)
        except Exception as exc:
            self.failures.append(f"{self.device.name}: {exc!r}")
            raise


def note(device: Device, report: SyncReport, failures: list[str], hiccups: list[str]) -> None:
    """A failed sync: a retryable one (the server busy) is what the worker retries later, so it is
    only counted; any other is a failure of the test."""
    if report.error is not None:
        (hiccups if report.error.retryable else failures).append(f"{device.name}: {report.errors}")


def pull_loop(device: Device, stop: threading.Event, failures: list[str], hiccups: list[str]) -> None:
    try:
        while True:
            finished = stop.is_set()  # read before syncing: one full sync after the last push
            report = device.sync()
            note(device, report, failures, hiccups)
            if finished and report.ok:
                return
    except Exception as exc:
        failures.append(f"{device.name}: {exc!r}")
        raise


def check_deliveries(
    name: str, client: RecordingClient, rows: dict[tuple[str, str], dict[str, Any]], reannounced: set[str]
) -> int:
    """What one puller's pages delivered, against the server's final rows; returns repeats seen."""
    seqs = [seen.seq for _, _, seen in client.delivered]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"{name}: a seq was delivered twice"
    history: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for entity, row_id, seen in client.delivered:
        history[(entity, row_id)].append(seen)
    repeats = 0
    for key, seen in history.items():
        for before, after in pairwise(seen):
            if after.version == before.version:
                # Re-announced unchanged: only rows named in the conflict log, with the same data.
                assert key[1] in reannounced, f"{name}: {key} delivered twice at version {after.version}"
                assert (after.data, after.deleted) == (before.data, before.deleted), (
                    f"{name}: {key} changed without a new version"
                )
                repeats += 1
            else:
                assert after.version > before.version, f"{name}: {key} went back from {before} to {after}"
    assert history.keys() == rows.keys(), (
        f"{name}: {len(rows.keys() - history.keys())} rows never delivered, "
        f"{len(history.keys() - rows.keys())} delivered that the server does not have"
    )
    stale = [k for k, v in rows.items() if history[k][-1].version != v["version"]]
    assert not stale, (
        f"{name}: the last version delivered is not the server's for {len(stale)} rows: {stale[:3]}"
    )
    return repeats


@pytest.mark.slow
def test_many_devices_push_at_once_while_others_pull(
    live_server: LiveServer, device_template: Path, tmp_path: Path
) -> None:
    rounds = max(1, int(8 * SCALE))
    seeds = random.Random(SEED)
    clinic_id = live_server.create_clinic(name="Rush hour clinic")
    doctors = [live_server.add_user(clinic_id, "doctor")[0] for _ in range(2)]

    def device(name: str, kind: str, **options: Any) -> Device:
        client_options = {"timeout": (5.0, 60.0)}
        return open_device(
            live_server,
            device_template,
            tmp_path / name,
            clinic_id,
            kind,
            client_options=client_options,
            **options,
        )

    admin = device("admin-desk", "desk")
    backlog = device("backlog-desk", "desk")
    pushers: list[Pusher] = []
    pullers: list[Device] = []
    try:
        assert admin.sync().ok
        with admin.store.unit_of_work() as uow:
            for n, doctor in enumerate(doctors):
                for weekday in range(7):
                    availability.set_hours(
                        uow,
                        actor=ADMIN,
                        clinician_id=doctor,
                        weekday=weekday,
                        start=clock_time(9),
                        end=clock_time(11),
                        capacity=1 + n,
                    )
            shared = [
                patients.register(
                    uow,
                    actor=RECEPTION,
                    full_name=f"Shared {letters(n)} Person",
                    birth_date=date(1970, 1, 1 + n),
                ).id
                for n in range(SHARED_PATIENTS)
            ]
        assert admin.sync().ok
        kinds = ["kiosk"] * KIOSKS + ["desk"] * DESKS
        for n, kind in enumerate(kinds):
            rng = random.Random(seeds.random())
            pushers.append(Pusher(device(f"{kind}-{n}", kind, page_size=50), rng, doctors, shared))
        for name, kind in PULLERS:
            pullers.append(device(name, kind, client_class=RecordingClient, page_size=25))
        for each in [backlog, *(pusher.device for pusher in pushers)]:
            assert each.sync().ok  # the clinic, its doctors and their hours
        with backlog.store.unit_of_work() as uow:
            for n in range(BACKLOG):
                name = f"Backlog {letters(n)} Person"
                patients.register(uow, actor=RECEPTION, full_name=name, birth_date=date(1960, 1, 1))

        stop = threading.Event()
        failures: list[str] = []
        hiccups: list[str] = []  # retryable failures (on SQLite: a writer waited too long for the lock)
        threads = [threading.Thread(target=pull_loop, args=(p, stop, failures, hiccups)) for p in pullers]
        threads.append(threading.Thread(target=pull_loop, args=(backlog, stop, failures, hiccups)))
        threads += [threading.Thread(target=p.run, args=(rounds, hiccups)) for p in pushers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads[len(pullers) + 1 :]:
            thread.join(300)
        pulls_meanwhile = [len(p.reports) for p in pullers]
        stop.set()
        for thread in threads[: len(pullers) + 1]:
            thread.join(120)
        assert not any(t.is_alive() for t in threads), "a device thread hangs"
        failures += [f for p in pushers for f in p.failures]
        assert not failures, failures[:5]
        assert min(pulls_meanwhile) >= 3, f"the pullers hardly pulled while devices pushed: {pulls_meanwhile}"
        elapsed = time.monotonic() - started
        pushed = sum(r.pushed for p in pushers for r in p.device.reports)
        assert pushed > 12 * rounds, pushed
        assert max(r.pushed for r in backlog.reports) >= 2 * BACKLOG  # a patient and an audit event each

        everyone = [admin, backlog, *(p.device for p in pushers), *pullers]
        sync_until_quiet(everyone)
        engine = live_server.engine
        rows = server_rows(engine, clinic_id)
        with engine.connect() as conn:
            conflicts = conn.execute(
                select(SyncConflict.entity_id, SyncConflict.other_id, SyncConflict.resolution).where(
                    SyncConflict.clinic_id == clinic_id
                )
            ).all()
        named = {i for c in conflicts for i in (c.entity_id, c.other_id) if i}

        # No slot double booked; every loser of a double booking is in the conflict log.
        assert double_bookings(engine, clinic_id) == []
        losers = [
            k[1] for k, v in rows.items() if k[0] == "appointment" and v["data"]["status"] == "conflict"
        ]
        assert losers, "no two devices ever booked the same slot: the test did not contend"
        missing = [loser for loser in losers if loser not in named]
        assert not missing, f"{len(missing)} losers of a double booking are not in the conflict log"

        stores = {d.name: d.store for d in everyone}
        ops = assert_nothing_lost(engine, clinic_id, stores)
        assert_applied_once(engine, clinic_id, stores)
        repeats = 0
        for puller in pullers:
            client = puller.client
            assert isinstance(client, RecordingClient)
            repeats += check_deliveries(puller.name, client, visible(rows, puller.kind), named)
        for each in everyone:
            assert_device_matches_server(each.name, each.store, each.kind, rows)
        print(
            f"\n{live_server.engine.dialect.name}: {len(pushers)} pushers x {rounds} rounds, {ops} ops, "
            f"{len(losers)} double-booking losers, {len(conflicts)} conflicts, {repeats} re-announcements, "
            f"{sum(len(c.client.delivered) for c in pullers if isinstance(c.client, RecordingClient))} "
            f"changes delivered to pullers, concurrent phase {elapsed:.1f} s, "
            f"{len(hiccups)} syncs failed and were retried: {hiccups[:2]}"
        )
    finally:
        for each in [admin, backlog, *(p.device for p in pushers), *pullers]:
            each.close()
