"""SYNC.md's guarantees, shown by a stateful property test against the real server.

Three enrolled devices (two desks and a kiosk), each with its own SQLite file, make random
offline changes — bookings of the same few slots, walk-in registrations of the same people,
check-ins, queue calls, patient edits, cancellations — and sync in random order through a
link that loses answers and delivers requests twice. At the end, after every device has
synced until quiet:

- convergence: every device holds exactly the server's rows (of what its kind may see);
- nothing lost: every committed local change was answered by the server, and refused ones
  are in the conflict log;
- no double booking on the server, and every loser is in the conflict log;
- idempotence: replaying a device's whole journal changes nothing on the server.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, text

from desktop.domain.appointments import AppointmentStatus
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import ClinicError
from desktop.domain.roles import Role
from desktop.services import availability, booking, patients, queue
from desktop.services.common import KIOSK, Actor
from desktop.store.codec import data_fields, encode
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import ENTITY_MODELS, Appointment, JournalOp, Patient
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import Offline
from desktop.sync.protocol import HIDDEN, PullResponse, PushRequest, PushResponse
from desktop.sync.report import Progress
from tests.fixtures.server import (  # noqa: F401
    Enrolled,
    LiveServer,
    device_template,
    journal_ops,
    live_server,
    push,
    server_database_url,
)

EXAMPLES = int(os.environ.get("CONVERGENCE_EXAMPLES", "12"))
STEPS = int(os.environ.get("CONVERGENCE_STEPS", "30"))
NAMES = ("Anna Berg", "Jonas Müller", "Lea Schröder", "Ömer Yılmaz")
PHONES = ("030 1234567", "040 7654321", "089 2345678")
SLOW_CLOCK_MS = 10 * 60 * 1000  # desk 2's wall clock is ten minutes behind
RECEPTION = Actor(Role.RECEPTION, name="reception")
ADMIN = Actor(Role.ADMIN, name="admin")


class FlakyLink(SyncClient):
    """The real client over real HTTP, with faults injected at the edge of the network:
    `lose_answer` lets the server apply a request and then drops its answer; `twice` delivers
    every request two times (a retry after a lost answer)."""

    lose_answer = False
    twice = False

    def push(self, request: PushRequest) -> PushResponse:
        answer = super().push(request)
        if self.twice:
            answer = super().push(request)
        if self.lose_answer:
            raise Offline("The answer was lost on the way.")
        return answer

    def pull(self, since: int, limit: int = 1000) -> PullResponse:
        page = super().pull(since, limit)
        if self.twice:
            page = super().pull(since, limit)
        if self.lose_answer:
            raise Offline("The answer was lost on the way.")
        return page


@dataclass
class Device:
    name: str
    kind: str
    store: LocalStore
    link: FlakyLink
    engine: SyncEngine
    actor: Actor


def open_device(
    server: LiveServer, template: Path, folder: Path, clinic_id: str, kind: str, name: str
) -> Device:
    enrolled = server.enroll(clinic_id, kind, name)
    folder.mkdir(parents=True)
    shutil.copyfile(template, folder / DB_NAME)
    first = LocalStore(folder)
    first.update_device(
        device_id=enrolled.device_id, clinic_id=clinic_id, kind=kind, letter=enrolled.letter, server_url="x"
    )
    first.close()
    store = LocalStore(folder)  # reopened: the clock now stamps with the server's device id
    link = FlakyLink(server.base_url, token_provider=lambda: enrolled.token, retries=0)
    actor = KIOSK if kind == "kiosk" else RECEPTION
    return Device(name, kind, store, link, SyncEngine(store, link), actor)


class Convergence(RuleBasedStateMachine):
    server: LiveServer
    template: Path
    root: Path

    def __init__(self) -> None:
        super().__init__()
        self.devices: list[Device] = []
        self.last_edited: str | None = None  # so concurrent edits of one record are common

    @initialize()
    def set_up_clinic(self) -> None:
        server = self.server
        clinic_id = server.create_clinic()
        self.doctors = [server.add_user(clinic_id, "doctor")[0] for _ in range(2)]
        folder = self.root / clinic_id
        self.devices = [
            open_device(server, self.template, folder / "desk-1", clinic_id, "desk", "Desk 1"),
            open_device(server, self.template, folder / "desk-2", clinic_id, "desk", "Desk 2"),
            open_device(server, self.template, folder / "kiosk", clinic_id, "kiosk", "Kiosk"),
        ]
        first = self.devices[0]
        self._sync(first)
        with first.store.unit_of_work() as uow:
            for doctor in self.doctors:
                for weekday in range(7):
                    availability.set_hours(
                        uow,
                        actor=ADMIN,
                        clinician_id=doctor,
                        weekday=weekday,
                        start=clock_time(9),
                        end=clock_time(10),
                        capacity=1 if doctor == self.doctors[0] else 2,
                    )
            for name in NAMES[:2]:
                patients.register(uow, actor=RECEPTION, full_name=name, birth_date=date(1970, 1, 1))
        for device in self.devices:
            self._sync(device)
        slow = self.devices[1].store
        slow.clock = HybridLogicalClock(
            slow.device_id, wall_ms=lambda: _wall_ms() - SLOW_CLOCK_MS, last=slow.clock.now()
        )
        self.tomorrow = (first.store.now() + timedelta(days=1)).date()

    # -- offline work ---------------------------------------------------------------------------

    def _patients(self, device: Device) -> list[str]:
        with device.store.reading() as session:
            return list(
                session.scalars(
                    select(Patient.id)
                    .where(Patient.deleted.is_(False), Patient.merged_into.is_(None))
                    .order_by(Patient.id)
                )
            )

    def _appointments(self, device: Device, status: str) -> list[str]:
        with device.store.reading() as session:
            return list(
                session.scalars(
                    select(Appointment.id)
                    .where(Appointment.status == status, Appointment.deleted.is_(False))
                    .order_by(Appointment.id)
                )
            )

    def _try(self, device: Device, action: Any, **kwargs: Any) -> None:
        """Run one user action in its own unit of work; a refusal (taken slot...) is normal."""
        try:
            with device.store.unit_of_work() as uow:
                action(uow, actor=device.actor, **kwargs)
        except ClinicError:
            pass

    @rule(d=st.integers(0, 2), doctor=st.integers(0, 1), slot=st.integers(0, 2), who=st.integers(0, 9))
    def book(self, d: int, doctor: int, slot: int, who: int) -> None:
        device = self.devices[d]
        people = self._patients(device)
        with device.store.reading() as session:
            slots = availability.find_free_slots(
                session,
                first_day=self.tomorrow,
                last_day=self.tomorrow,
                clinician_ids=[self.doctors[doctor]],
                now=device.store.now(),
                include_full=True,
            ).get(self.doctors[doctor], [])
        if people and slots:
            self._try(
                device,
                booking.book,
                patient_id=people[who % len(people)],
                clinician_id=self.doctors[doctor],
                starts_at=slots[slot % len(slots)].start,
            )

    @rule(d=st.integers(0, 2), name=st.sampled_from(NAMES), phone=st.sampled_from(PHONES))
    def register_walk_in(self, d: int, name: str, phone: str) -> None:
        self._try(
            self.devices[d], patients.register, full_name=name, birth_date=date(1970, 1, 1), phone=phone
        )

    @rule(d=st.integers(0, 2), pick=st.integers(0, 9))
    def check_in(self, d: int, pick: int) -> None:
        device = self.devices[d]
        confirmed = self._appointments(device, AppointmentStatus.CONFIRMED.value)
        if confirmed:
            self._try(device, queue.check_in, appointment_id=confirmed[pick % len(confirmed)])

    @rule(d=st.integers(0, 1), doctor=st.integers(0, 1))
    def call_next(self, d: int, doctor: int) -> None:
        self._try(self.devices[d], queue.call_next, clinician_id=self.doctors[doctor])

    @rule(
        d=st.integers(0, 1),
        pick=st.integers(0, 9),
        phone=st.sampled_from(PHONES),
        note=st.text("abc ", max_size=8),
    )
    def edit_patient(self, d: int, pick: int, phone: str, note: str) -> None:
        device = self.devices[d]
        people = self._patients(device)
        if people:
            self.last_edited = people[pick % len(people)]
            self._try(device, patients.update_details, patient_id=self.last_edited, phone=phone, address=note)

    @rule(d=st.integers(0, 1), pick=st.integers(0, 9))
    def cancel(self, d: int, pick: int) -> None:
        device = self.devices[d]
        confirmed = self._appointments(device, AppointmentStatus.CONFIRMED.value)
        if confirmed:
            self._try(device, booking.cancel, appointment_id=confirmed[pick % len(confirmed)], reason="test")

    # -- the network ------------------------------------------------------------------------------

    @rule(d=st.integers(0, 2), lose_answer=st.booleans(), twice=st.booleans())
    def sync(self, d: int, lose_answer: bool, twice: bool) -> None:
        device = self.devices[d]
        device.link.lose_answer, device.link.twice = lose_answer, twice
        try:
            report = device.engine.sync_once()
        finally:
            device.link.lose_answer = device.link.twice = False
        assert report.error is None or isinstance(report.error, Offline), report.errors

    @rule(
        d=st.integers(0, 1),
        pick=st.integers(0, 9),
        phone=st.sampled_from(PHONES),
        note=st.text("xyz", max_size=4),
    )
    def edit_while_syncing(self, d: int, pick: int, phone: str, note: str) -> None:
        """Staff edit a patient while the worker syncs: the edit lands between push and pull."""
        device = self.devices[d]
        people = self._patients(device)
        if not people:
            return
        patient = self.last_edited if self.last_edited in people and pick % 2 else people[pick % len(people)]
        self._try(device, patients.update_details, patient_id=patient, address=note + "!")

        def edit_after_push(progress: Progress) -> None:
            if progress.stage == "push":
                self._try(device, patients.update_details, patient_id=patient, phone=phone, address=note)

        report = device.engine.sync_once(progress=edit_after_push)
        assert report.error is None, report.errors

    def _sync(self, device: Device) -> None:
        report = device.engine.sync_once()
        assert report.error is None, report.errors

    # -- what must always hold ------------------------------------------------------------------

    @invariant()
    def no_double_booking_on_the_server(self) -> None:
        if not self.devices:
            return
        with self.server.engine.connect() as conn:
            clashes = conn.execute(
                text(
                    "SELECT a.id, b.id FROM appointment a JOIN appointment b"
                    " ON a.clinician_id = b.clinician_id AND a.id < b.id"
                    " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
                    " WHERE a.seat IS NOT NULL AND b.seat IS NOT NULL"
                    " AND (a.starts_at != b.starts_at OR a.seat = b.seat)"
                    " AND a.status IN ('requested','confirmed','checked_in','in_consultation','completed')"
                    " AND b.status IN ('requested','confirmed','checked_in','in_consultation','completed')"
                )
            ).all()
        assert clashes == []

    def teardown(self) -> None:
        try:
            if self.devices:
                self._converge_and_check()
        finally:
            for device in self.devices:
                device.link.close()
                device.store.close()

    def _converge_and_check(self) -> None:
        for _ in range(2):  # round one pushes everything; round two brings every answer down
            for device in self.devices:
                self._sync(device)
        clinic_id = self.devices[0].store.device().clinic_id
        server_rows = self._server_rows(clinic_id)
        with self.server.engine.connect() as conn:
            answered = set(conn.scalars(text("SELECT op_id FROM applied_op")))
            conflicts = conn.execute(
                text("SELECT entity_id, resolution FROM sync_conflict WHERE clinic_id = :c"), {"c": clinic_id}
            ).all()
        logged = {entity_id for entity_id, _ in conflicts}
        for device in self.devices:
            with device.store.reading() as session:
                journal = list(session.scalars(select(JournalOp)))
            # Nothing lost: every committed change reached the server and was answered.
            unanswered = [op.op_id for op in journal if op.status in ("pending", "sent")]
            assert unanswered == [], f"{device.name} still holds unanswered ops"
            assert {op.op_id for op in journal} <= answered, f"{device.name}: ops the server never saw"
            refused = [op for op in journal if op.status == "rejected"]
            assert all(op.entity_id in logged for op in refused), (
                "a refused change is not in the conflict log"
            )
            # Convergence: the device holds exactly the server's rows of what it may see.
            hidden = HIDDEN[device.kind]
            mine = self._device_rows(device.store, hidden)
            theirs = {k: v for k, v in server_rows.items() if k[0] not in hidden}
            if device.kind != "desk":
                theirs = {k: {**v, "data": _without_hash(k, v["data"])} for k, v in theirs.items()}
            assert mine.keys() == theirs.keys(), f"{device.name} holds other rows than the server"
            for key in theirs:
                assert mine[key] == theirs[key], f"{device.name} differs on {key}"
        # Every loser of a double booking is in the conflict log.
        losers = [
            k[1]
            for k, v in server_rows.items()
            if k[0] == "appointment" and v["data"]["status"] == "conflict"
        ]
        assert all(loser in logged for loser in losers)
        # Idempotence: replaying a device's whole journal changes nothing.
        before = self.server.counts(clinic_id)
        desk = self.devices[0]
        enrolled_token = desk.link._token_provider()
        replay = Enrolled(desk.store.device().device_id, enrolled_token or "", clinic_id, "A", "desk")
        ops = journal_ops(desk.store)
        for start in range(0, len(ops), 500):
            answers = push(self.server, replay, ops[start : start + 500])["results"]
            assert all(a["duplicate"] for a in answers)
        assert self.server.counts(clinic_id) == before
        assert self._server_rows(clinic_id) == server_rows

    def _server_rows(self, clinic_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self.server.engine.connect() as conn:
            for entity, model in ENTITY_MODELS.items():
                table = model.__table__  # type: ignore[attr-defined]
                column = table.c.id if entity == "clinic" else table.c.clinic_id
                for row in conn.execute(select(table).where(column == clinic_id)).mappings():
                    out[(entity, row["id"])] = _comparable(model, row)
        return out

    def _device_rows(
        self, store: LocalStore, hidden: frozenset[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with store.db.reader.connect() as conn:
            for entity, model in ENTITY_MODELS.items():
                if entity in hidden:
                    continue
                table = model.__table__  # type: ignore[attr-defined]
                for row in conn.execute(select(table)).mappings():
                    out[(entity, row["id"])] = _comparable(model, row)
        return out


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _comparable(model: Any, row: Any) -> dict[str, Any]:
    return {
        "version": row["version"],
        "deleted": bool(row["deleted"]),
        "data": {k: encode(row[k]) for k in sorted(data_fields(model))},
    }


def _without_hash(key: tuple[str, str], data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "password_hash": None} if key[0] == "clinician" else data


@pytest.mark.slow
def test_devices_converge_with_the_server(
    live_server: LiveServer, device_template: Path, tmp_path: Path
) -> None:
    machine = type(
        "ConvergenceRun",
        (Convergence,),
        {"server": live_server, "template": device_template, "root": tmp_path},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
