"""The device's local store: the SQLite file, its migrations, identity and clock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import new_id
from desktop.store.engine import Database
from desktop.store.migrate import upgrade
from desktop.store.models import DeviceState, JournalOp
from desktop.store.uow import Acting, Journaled, JournalingSession, UnitOfWork, actor_of

DB_NAME = "clinicdesk.db"


class LocalStore:
    """Opens (creating and migrating) the device database in `data_dir`."""

    def __init__(self, data_dir: Path, *, now: Callable[[], datetime] | None = None):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        upgrade(self.path)
        self.db = Database.open(self.path, session_class=JournalingSession)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._listeners: list[Callable[[list[Journaled]], None]] = []
        self._lock = threading.Lock()
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
        return UnitOfWork(
            self.db.write_session,
            self.clock,
            now=self.now,
            device_id=self.device_id,
            on_commit=self._committed,
            actor=actor_of(actor),
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session for queries; never journals, never commits."""
        with self.db.read_session() as session, session.begin():
            yield session

    def device(self) -> DeviceState:
        with self.reading() as session:
            state = session.get(DeviceState, 1)
            assert state is not None
            return state

    def update_device(self, **values: object) -> DeviceState:
        with self.db.write_session.begin() as session:
            state = session.get(DeviceState, 1)
            assert state is not None
            for key, value in values.items():
                setattr(state, key, value)
            return state

    def on_commit(self, listener: Callable[[list[Journaled]], None]) -> Callable[[], None]:
        """Called after every unit of work that journaled something (e.g. to wake the sync worker).
        Returns the call that stops it being called."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _committed(self, ops: list[Journaled]) -> None:
        for listener in list(self._listeners):
            listener(ops)

    def backup(self, target: Path) -> None:
        """Consistent copy of the live database (SQLite online backup: safe while the app runs)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
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
