"""Devices for the sync tests: an enrolled device with its own store, client and engine, and a way
to compare what a device holds with what the server holds.

The server is the real one (tests/fixtures/server.py: uvicorn on 127.0.0.1, a SQLite file).
Tokens stay in memory (`MemoryKeyring`): no test touches the user's keyring.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from sqlalchemy import select

from desktop.domain.roles import Role
from desktop.services import availability, booking, patients
from desktop.services.common import KIOSK, Actor
from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import ENTITY_MODELS, DeviceState, JournalOp
from desktop.sync.client import SyncClient
from desktop.sync.credentials import Credentials
from desktop.sync.engine import SyncEngine
from desktop.sync.report import SyncReport
from server_stub import background
from tests.fixtures.server import Enrolled, LiveServer, tomorrow_at

SYNC_COLUMNS = ("version", "hlc", "deleted")
ADMIN = Actor(Role.ADMIN, name="admin")
RECEPTION = Actor(Role.RECEPTION, name="reception")


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in this process only."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def fast_client(base_url: str, token: str | None, **options: Any) -> SyncClient:
    """A client that gives up quickly: tests wait for no back-off they do not ask for."""
    settings: dict[str, Any] = {"timeout": (2.0, 20.0), "retries": 0, "backoff_factor": 0.05}
    settings.update(options)
    return SyncClient(base_url, token_provider=lambda: token, **settings)


@dataclass
class Device:
    name: str
    enrolled: Enrolled
    store: LocalStore
    client: SyncClient
    engine: SyncEngine

    @property
    def kind(self) -> str:
        return self.enrolled.kind

    def sync(self, *, allow_error: bool = False, **options: Any) -> SyncReport:
        report = self.engine.sync_once(**options)
        assert allow_error or report.error is None, report
        return report

    def reopen(self, **engine_options: Any) -> Device:
        """The app restarted: a new store on the same file, a new engine."""
        self.store.close()
        self.store = LocalStore(self.store.data_dir)
        self.engine = SyncEngine(self.store, self.client, **engine_options)
        return self

    def journal(self) -> list[JournalOp]:
        with self.store.reading() as session:
            return list(session.scalars(select(JournalOp).order_by(JournalOp.seq)))

    def state(self) -> DeviceState:
        return self.store.device()

    def row(self, entity: str, row_id: str) -> Any:
        with self.store.reading() as session:
            return session.get(ENTITY_MODELS[entity], row_id)


def new_device(
    server: LiveServer,
    clinic_id: str,
    kind: str,
    folder: Path,
    template: Path,
    **engine_options: Any,
) -> Device:
    """Enrol a device of `kind` and set its store up as that device (no rows yet: it will pull)."""
    enrolled = server.enroll(clinic_id, kind, name=folder.name)
    folder.mkdir(parents=True)
    shutil.copyfile(template, folder / DB_NAME)
    store = LocalStore(folder)
    store.update_device(
        device_id=enrolled.device_id,
        clinic_id=enrolled.clinic_id,
        kind=kind,
        letter=enrolled.letter,
        server_url=server.base_url,
    )
    store.close()
    store = LocalStore(folder)  # its clock now stamps with the server's device id
    credentials = Credentials(folder, backend=MemoryKeyring())
    credentials.save_device_token(enrolled.token)
    client = fast_client(server.base_url, enrolled.token)
    return Device(folder.name, enrolled, store, client, SyncEngine(store, client, **engine_options))


def set_hours(desk: Device, doctor_id: str) -> None:
    """The doctor works every day 08:00–18:00 (set on the desk, synced by the caller)."""
    with desk.store.unit_of_work() as uow:
        for weekday in range(7):
            availability.set_hours(
                uow,
                actor=ADMIN,
                clinician_id=doctor_id,
                weekday=weekday,
                start=clock_time(8),
                end=clock_time(18),
            )


def register(device: Device, name: str, *, actor: Actor = KIOSK, birth: date = date(1980, 5, 17)) -> str:
    with device.store.unit_of_work(actor=actor) as uow:
        return patients.register(uow, actor=actor, full_name=name, birth_date=birth, phone=None).id


def book(device: Device, patient_id: str, doctor_id: str, hour: int, *, actor: Actor = KIOSK) -> str:
    with device.store.unit_of_work(actor=actor) as uow:
        appointment = booking.book(
            uow, actor=actor, patient_id=patient_id, clinician_id=doctor_id, starts_at=tomorrow_at(hour)
        )
        return appointment.id


def local_rows(store: LocalStore, entity: str) -> dict[str, dict[str, Any]]:
    table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
    with store.db.reader.connect() as conn:
        return {r["id"]: dict(r) for r in conn.execute(select(table)).mappings()}


def server_rows(server: LiveServer, entity: str, clinic_id: str) -> dict[str, dict[str, Any]]:
    table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
    column = table.c.id if entity == "clinic" else table.c.clinic_id
    with server.engine.connect() as conn:
        return {r["id"]: dict(r) for r in conn.execute(select(table).where(column == clinic_id)).mappings()}


def assert_converged(server: LiveServer, device: Device, entities: tuple[str, ...]) -> None:
    """The device holds exactly the server's rows of these entities (all but local bookkeeping)."""
    for entity in entities:
        ours, theirs = (
            local_rows(device.store, entity),
            server_rows(server, entity, device.enrolled.clinic_id),
        )
        assert set(ours) == set(theirs), (entity, set(ours) ^ set(theirs))
        skip = {"updated_at"}
        if entity == "clinician" and device.kind != "desk":
            skip.add("password_hash")  # desks only (offline sign-in)
        for row_id, row in theirs.items():
            mine = {k: v for k, v in ours[row_id].items() if k not in skip}
            assert mine == {k: v for k, v in row.items() if k not in skip}, (entity, row_id)


def serving(database_url: str, port: int) -> AbstractContextManager[str]:
    """Another server on the same database, on a port chosen beforehand (so that devices can be
    pointed at it while it is still down)."""
    return background.serving(database_url, port=port, run_migrations=False)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
