"""The device's local store: the SQLite file, its migrations, identity and clock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import new_id
from desktop.store.changes import ChangeFeed, Changes, Listener
from desktop.store.engine import Database
from desktop.store.migrate import upgrade
from desktop.store.models import DeviceState, JournalOp
from desktop.store.private import private_file, warn_if_not_private
from desktop.store.uow import Acting, JournalingSession, UnitOfWork, actor_of

DB_NAME = "clinicdesk.db"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """This device's identity and sync state, as read (the `device_state` row, frozen)."""

    device_id: str
    kind: str  # kiosk | desk | board
    letter: str
    clinic_id: str | None
    server_url: str | None
    pull_cursor: int
    last_sync_at: datetime | None
    clock_skew_ms: int | None

    @classmethod
    def of(cls, state: DeviceState) -> DeviceInfo:
        return cls(*(getattr(state, f.name) for f in fields(cls)))


class LocalStore:
    """Opens (creating and migrating) the device database in `data_dir`."""

    def __init__(self, data_dir: Path, *, now: Callable[[], datetime] | None = None):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        warn_if_not_private(self.path)
        upgrade(self.path)
        self.db = Database.open(self.path, session_class=JournalingSession)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._feed = ChangeFeed()
        self._identity = threading.Lock()
        with self.db.write_session.begin() as session:
            state = session.get(DeviceState, 1)
            if state is None:
                state = DeviceState(id=1, device_id=new_id(), kind="desk", letter="A")
                session.add(state)
            last = session.scalar(select(func.max(JournalOp.hlc)))
        self.device_id: str = state.device_id
        self.clock = HybridLogicalClock(self.device_id, last=last)

    def unit_of_work(self, *, actor: Acting | None = None) -> UnitOfWork:
        """One user action's transaction, acting for `actor` (a service's `Actor`; None: the
        device itself, `system`). Its ops name that actor, and the server checks them against
        its role (desktop/domain/roles.py)."""
        with self._identity:  # the device id and its clock, never one without the other
            device_id, clock = self.device_id, self.clock
        return UnitOfWork(
            self.db.write_session,
            clock,
            now=self.now,
            device_id=device_id,
            on_commit=self._feed.announce,
            actor=actor_of(actor),
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session for queries; never journals, never commits."""
        with self.db.read_session() as session, session.begin():
            yield session

    def device(self) -> DeviceInfo:
        with self.reading() as session:
            state = session.get(DeviceState, 1)
            assert state is not None
            return DeviceInfo.of(state)

    def update_device(self, **values: object) -> DeviceInfo:
        with self.db.write_session.begin() as session:
            state = session.get(DeviceState, 1)
            assert state is not None
            for key, value in values.items():
                setattr(state, key, value)
            session.flush()
            return DeviceInfo.of(state)

    def adopt_enrolment(
        self, *, device_id: str, server_url: str, clinic_id: str, letter: str, kind: str
    ) -> DeviceInfo:
        """Become the device the server enrolled, in place: the next unit of work is stamped with
        the server's device id, and its clock goes on after every stamp made so far. The pull
        starts again (what a device sees depends on its kind). A unit of work under way keeps
        the old identity."""
        with self._identity:
            state = self.update_device(
                device_id=device_id,
                server_url=server_url,
                clinic_id=clinic_id,
                letter=letter,
                kind=kind,
                pull_cursor=0,
            )
            clock = HybridLogicalClock(device_id, last=self.clock.now())
            self.device_id, self.clock = device_id, clock
        return state

    def on_commit(self, listener: Listener) -> Callable[[], None]:
        """The change feed: `listener(changes)` after every commit that changed synced rows — a unit
        of work (origin local) or a sync write (origin pull) — on the committing thread (see
        desktop/store/changes.py). Returns the call that stops it being called."""
        return self._feed.subscribe(listener)

    def announce(self, changes: Changes) -> None:
        """Tell the subscribers of a commit made outside a unit of work (the sync engine's)."""
        self._feed.announce(changes)

    def backup(self, target: Path) -> None:
        """Consistent copy of the live database (SQLite online backup: safe while the app runs),
        owner-only like the database itself."""
        target = Path(target)
        if target.exists():
            target.unlink()
        private_file(target)
        source = sqlite3.connect(self.path)
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()

    def close(self) -> None:
        self.db.dispose()
