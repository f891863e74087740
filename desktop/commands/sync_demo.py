"""`clinic demo`: one clinic, a server, a desk, a kiosk and a waiting-room board.

Everything is real: the sync server (uvicorn on 127.0.0.1) on a SQLite file, devices each with
its own data dir, enrolled with one-time codes through the `clinic enroll` command, the clinic
and its staff accounts made by the server's administrator (staff accounts never travel in pushed
changes), the rest of the demo clinic made on the desk through the services, and
`clinic sync --once` on each device. While offline, the kiosk and the desk register the same
walk-in and book the same doctor's slot; the sync shows who won, what the conflict log says, and
that all three hold the same rows. Then the desk calls patients and the board shows them: in a
window, with the desk calling the next patient every few seconds, where there is a display; else
(or with --headless) as PNG pictures (`--tour`).

The demo day is played up to the minute it is now, in a time zone where it is the clinic's
morning (`demo.live_demo_zone`), so that it looks right at whatever hour it is run.
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import threading
from collections.abc import Sequence
from contextlib import closing
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from desktop.cli_support import Context, Subcommands, add_command
from desktop.commands.call_demo import run_call_demo
from desktop.domain.appointments import AppointmentType
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import InvalidInput
from desktop.domain.roles import Role
from desktop.services import availability, booking, demo, patients, queue
from desktop.services.common import KIOSK, Actor, current_clinic, local_day, local_time_text
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, Appointment, Clinic, Clinician, Patient, SyncConflict
from desktop.store.types import utcnow
from desktop.sync.protocol import HIDDEN, SERVER_NODE
from server_stub import admin
from server_stub.background import serving
from server_stub.db import create_server_engine, migrate, sqlite_url

WALK_IN = {
    "full_name": "Sunita Verma",
    "birth_date": date(1985, 4, 12),
    "phone": "98450 12345",
    "sex": "female",
}


def register(subcommands: Subcommands) -> None:
    parser = add_command(
        subcommands,
        "demo",
        run_demo,
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="Tell the story in the terminal and draw the board's screens to PNG files; open no window.",
    )
    parser.add_argument(
        "--dir", type=Path, help="Folder for the server's and the devices' data (default: new)."
    )
    parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="Seed of the demo clinic.")


def run_demo(ctx: Context, args: argparse.Namespace) -> int:
    from desktop.commands.app import has_display

    window = not args.headless
    if window and not has_display():
        print(
            "No display here (no DISPLAY or WAYLAND_DISPLAY): running the headless demo instead; "
            "the board's screens are drawn to PNG files.",
            flush=True,
        )
        window = False
    root: Path = args.dir or Path(tempfile.mkdtemp(prefix="clinicdesk-demo-"))
    if root.exists() and any(root.iterdir()):
        raise InvalidInput(f"{root} is not empty; the demo needs a new folder.", field="dir")
    root.mkdir(parents=True, exist_ok=True)
    TwoDeviceDemo(root, args.seed).run(window=window)
    return 0


def _clinic(argv: Sequence[str]) -> None:
    """Run a real `clinic` command, as a person at that machine would."""
    from desktop.cli import main  # the composition root, imported late: it lists this module

    print(f"\n$ clinic {' '.join(argv)}", flush=True)
    code = main(list(argv))
    if code != 0:
        raise RuntimeError(f"`clinic {' '.join(argv)}` failed with exit code {code}")


class TwoDeviceDemo:
    def __init__(self, root: Path, seed: int):
        self.root, self.seed = root, seed
        self.database_url = sqlite_url(root / "server" / "server.db")
        self.desk_dir, self.kiosk_dir, self.board_dir = root / "desk", root / "kiosk", root / "board"
        self.zone = demo.live_demo_zone(utcnow())

    def run(self, *, window: bool = False) -> None:
        print(f"ClinicDesk demo in {self.root}")
        now = utcnow().astimezone(ZoneInfo(self.zone))
        print(f"The demo clinic keeps the time of {self.zone}, where it is {now:%H:%M}: its morning.")
        migrate(self.database_url)
        with serving(self.database_url, run_migrations=False) as url:
            print(f"Sync server listening on {url} (SQLite: {self.root / 'server' / 'server.db'})")
            clinic_id, desk_code, kiosk_code, board_code = self.set_up_server()
            self.device(self.desk_dir, "desk", "enroll", url, desk_code, "--name", "Reception desk")
            self.make_clinic_on_desk()
            self.device(self.desk_dir, "desk", "sync", "--once")
            self.device(self.kiosk_dir, "kiosk", "enroll", url, kiosk_code, "--name", "Waiting-room kiosk")
            print("\n--- The network goes down. Both devices keep working on their own files. ---")
            self.work_offline()
            print("\n--- The network is back. Each device syncs (kiosk first). ---")
            for folder, kind in (
                (self.kiosk_dir, "kiosk"),
                (self.desk_dir, "desk"),
                (self.kiosk_dir, "kiosk"),
            ):
                self.device(folder, kind, "sync", "--once")
            self.report(clinic_id)
            print("\n--- The waiting-room board joins; the doctors call their next patients. ---")
            self.device(self.board_dir, "board", "enroll", url, board_code, "--name", "Waiting-room board")
            print("\n--- A video consultation: the doctor at the desk, the patient at the kiosk. ---")
            run_call_demo(
                self.desk_dir,
                self.kiosk_dir,
                window=window,
                tour_dir=self.root / "tour",
                sync=lambda folder, kind: self.device(folder, kind, "sync", "--once"),
            )
            calling = DeskCalling(self.desk_dir)
            calling.call_next(2)
            self.device(self.desk_dir, "desk", "sync", "--once")
            self.device(self.board_dir, "board", "sync", "--once")
            if window:
                self.open_board(calling)
            else:
                self.device(self.board_dir, "board", "board", "--tour", str(self.root / "tour"))

    def open_board(self, calling: DeskCalling) -> None:
        """The board in a window until it is closed, while the desk calls a patient every few
        seconds and syncs (the kiosk and desk have no windows yet)."""
        from desktop import app
        from desktop.settings import load_settings

        print(
            "\nThe board opens in a window; the desk calls a patient every "
            f"{DeskCalling.EVERY_S:.0f} s. Close the window to end the demo.",
            flush=True,
        )
        desk_settings, board_settings = (load_settings(data_dir=d) for d in (self.desk_dir, self.board_dir))
        with closing(LocalStore(self.desk_dir)) as desk, closing(LocalStore(self.board_dir)) as board:
            worker = app.sync_worker(desk, desk_settings, "desk", interval=2.0)
            assert worker is not None
            worker.start()
            calling.start(desk)
            try:
                app.run(board, board_settings, "board")
            finally:
                calling.stop()
                worker.stop()

    def device(self, folder: Path, kind: str, *command: str) -> None:
        _clinic(["--data-dir", str(folder), "--device-kind", kind, *command])

    def set_up_server(self) -> tuple[str, str, str]:
        engine = create_server_engine(self.database_url)
        try:
            with engine.begin() as conn:
                boss = admin.Admin(conn, utcnow(), HybridLogicalClock(SERVER_NODE))
                clinic_id = admin.create_clinic(
                    boss,
                    name=demo.CLINIC_NAME,
                    timezone=self.zone,
                    region=demo.CLINIC_REGION,
                    address=demo.CLINIC_ADDRESS,
                )
                for name, username, role, specialty, room in demo.staff():
                    admin.add_user(
                        boss,
                        clinic_id=clinic_id,
                        username=username,
                        name=name,
                        role=role,
                        password=demo.STAFF_PASSWORD,
                        specialty=specialty,
                        room=room,
                    )
                codes = [
                    admin.enrolment_code(boss, kind=k, clinic_id=clinic_id)
                    for k in ("desk", "kiosk", "board")
                ]
        finally:
            engine.dispose()
        print(
            f"Administrator created {demo.CLINIC_NAME}, its {len(demo.staff())} staff accounts and "
            "one-time enrolment codes for a desk, a kiosk and a board."
        )
        return clinic_id, codes[0], codes[1], codes[2]

    def make_clinic_on_desk(self) -> None:
        clock = demo.DemoClock()
        store = LocalStore(self.desk_dir, now=clock)
        try:
            now = utcnow().astimezone(ZoneInfo(self.zone))
            made = demo.generate(store, clock, seed=self.seed, moment=time(now.hour, now.minute))
        finally:
            store.close()
        print(
            f"\nOn the desk, with the {made.doctors} doctors and {made.staff - made.doctors} other staff it "
            f"pulled: {made.patients} patients, {made.appointments} appointments and {made.tokens} queue "
            f"tokens today, {made.prescriptions} prescriptions (all through the services, all journaled)."
        )

    def work_offline(self) -> None:
        kiosk, desk = LocalStore(self.kiosk_dir), LocalStore(self.desk_dir)
        try:
            doctor, start = self.shared_free_slot(kiosk)
            with kiosk.reading() as session:
                when = local_time_text(current_clinic(session), start)
                name = session.get(Clinician, doctor).name  # type: ignore[union-attr]
                receptionist = session.scalars(
                    select(Clinician).where(Clinician.role == Role.RECEPTION)
                ).one()
            reception = Actor(Role.RECEPTION, receptionist.id, receptionist.name)
            for store, actor, kind, where in (
                (kiosk, KIOSK, AppointmentType.KIOSK, "Kiosk"),
                (desk, reception, AppointmentType.FOLLOW_UP, "Desk "),
            ):
                with store.unit_of_work(actor=actor) as uow:
                    patient = patients.register(uow, actor=actor, **WALK_IN)  # type: ignore[arg-type]
                    made = booking.book(
                        uow,
                        actor=actor,
                        patient_id=patient.id,
                        clinician_id=doctor,
                        starts_at=start,
                        kind=kind,
                    )
                print(
                    f"{where}: registered {WALK_IN['full_name']} ({patient.code}) and booked {made.code} "
                    f"with {name} at {when}."
                )
        finally:
            kiosk.close()
            desk.close()

    @staticmethod
    def shared_free_slot(store: LocalStore) -> tuple[str, datetime]:
        """The first free one-patient slot of any doctor from tomorrow on."""
        with store.reading() as session:
            today = local_day(current_clinic(session), store.now())
            slots = availability.find_free_slots(
                session,
                first_day=today + timedelta(days=1),
                last_day=today + timedelta(days=7),
                now=store.now(),
            )
        best = min(
            (s for found in slots.values() for s in found if s.capacity == 1),
            key=lambda s: (s.start, s.clinician_id),
        )
        return best.clinician_id, best.start

    def report(self, clinic_id: str) -> None:
        desk = LocalStore(self.desk_dir)
        try:
            with desk.reading() as session:
                clinic = current_clinic(session)
                print("\n=== The same walk-in, registered on both devices ===")
                for p in session.scalars(select(Patient).where(Patient.full_name == WALK_IN["full_name"])):
                    print(f"  {p.code}  {p.full_name}  born {p.birth_date}  {p.phone}")
                print("\n=== The same slot, booked on both devices ===")
                for a in session.scalars(
                    select(Appointment)
                    .join(Patient, Patient.id == Appointment.patient_id)
                    .where(Patient.full_name == WALK_IN["full_name"])
                    .order_by(Appointment.code)
                ):
                    print(
                        f"  {a.code}  {local_time_text(clinic, a.starts_at)}  {a.kind:10}  status {a.status}"
                    )
                print("\n=== Conflict log (synced to every desk) ===")
                for c in session.scalars(select(SyncConflict).order_by(SyncConflict.created_at)):
                    print(f"  [{c.resolution}] {_about(session, clinic, c)}: {c.detail}")
        finally:
            desk.close()
        print("\n=== Convergence ===")
        server_rows = self.server_rows(clinic_id)
        for folder, kind in ((self.desk_dir, "desk"), (self.kiosk_dir, "kiosk")):
            hidden = HIDDEN[kind]
            expected = {k: v for k, v in server_rows.items() if k[0] not in hidden}
            held = self.device_rows(folder, hidden)
            same = "identical to the server" if held == expected else "DIFFERENT from the server"
            print(f"  {kind:5}: {len(held):5} rows (id, version) — {same}")

    def server_rows(self, clinic_id: str) -> dict[tuple[str, str], int]:
        engine = create_server_engine(self.database_url, read_only=True)
        try:
            with engine.connect() as conn:
                return _rows(conn, clinic_id)
        finally:
            engine.dispose()

    @staticmethod
    def device_rows(folder: Path, hidden: frozenset[str]) -> dict[tuple[str, str], int]:
        store = LocalStore(folder)
        try:
            with store.db.reader.connect() as conn:
                return {k: v for k, v in _rows(conn, None).items() if k[0] not in hidden}
        finally:
            store.close()


def _rows(conn: Connection, clinic_id: str | None) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for entity, model in ENTITY_MODELS.items():
        table = model.__table__  # type: ignore[attr-defined]
        query = select(table.c.id, table.c.version)
        if clinic_id is not None:
            query = query.where((table.c.id if entity == "clinic" else table.c.clinic_id) == clinic_id)
        for row_id, version in conn.execute(query):
            out[(entity, row_id)] = version
    return out


def _about(session: Session, clinic: Clinic, conflict: SyncConflict) -> str:
    """The records a conflict names, as staff know them (codes and names), and its suggestion."""
    model = ENTITY_MODELS[conflict.entity]
    named = [session.get(model, i) for i in (conflict.entity_id, conflict.other_id) if i]
    labels = [_label(row) for row in named if row is not None]
    text = f"{conflict.entity.replace('_', ' ')} {' vs '.join(labels)}"
    suggested = (conflict.suggestion or {}).get("starts_at")
    if suggested:
        text += f" (next free: {local_time_text(clinic, datetime.fromisoformat(suggested))})"
    return text


def _label(row: Any) -> str:
    if isinstance(row, Patient):
        return f"{row.code} {row.full_name}"
    return str(getattr(row, "code", row.id))


class DeskCalling:
    """The doctors at the desk call their next waiting patient, as the board's demo needs."""

    EVERY_S = 12.0

    def __init__(self, desk_dir: Path):
        self.desk_dir = desk_dir
        self.rng = random.Random(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def call_next(self, count: int, store: LocalStore | None = None) -> list[str]:
        """Call `count` waiting patients, one per doctor who has someone waiting, and round again
        when fewer doctors than that have (at some minutes of the demo morning only one does)."""
        own = store is None
        store = store or LocalStore(self.desk_dir)
        try:
            with store.reading() as session:
                doctors = list(
                    session.scalars(
                        select(Clinician).where(
                            Clinician.role == Role.DOCTOR.value, Clinician.active.is_(True)
                        )
                    )
                )
            self.rng.shuffle(doctors)
            called: list[str] = []
            for doctor in itertools.chain.from_iterable(itertools.repeat(doctors, count)):
                actor = Actor(Role.DOCTOR, user_id=doctor.id, name=doctor.name)
                with store.unit_of_work(actor=actor) as uow:
                    token = queue.call_next(uow, actor=actor, clinician_id=doctor.id, room=doctor.room)
                    if token is not None:
                        called.append(f"{token.code} ({doctor.room})")
                if len(called) == count:
                    break
            print(f"Desk: called {', '.join(called) or 'nobody (the queue is empty)'}", flush=True)
            return called
        finally:
            if own:
                store.close()

    def start(self, store: LocalStore) -> None:
        def run() -> None:
            while not self._stop.wait(self.EVERY_S):
                self.call_next(1, store)

        self._thread = threading.Thread(target=run, name="demo-desk-calling", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
