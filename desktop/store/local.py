"""The device's local store: the SQLite file, its migrations, identity and clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from desktop.store.uow import JournalingSession, UnitOfWork

DB_NAME = "clinicdesk.db"


class LocalStore:
    """Opens (creating and migrating) the device database in `data_dir`."""

    def __init__(self, data_dir: Path, *, now: Callable[[], datetime] | None = None):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        upgrade(self.path)
        self.db = Database.open(self.path, session_class=JournalingSession)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._feed = ChangeFeed()
        with self.db.write_session.begin() as session:
            state = session.get(DeviceState, 1)
            if state is None:
                state = DeviceState(id=1, device_id=new_id(), kind="desk", letter="A")
                session.add(state)
            last = session.scalar(select(func.max(JournalOp.hlc)))
        self.device_id: str = state.device_id
        self.clock = HybridLogicalClock(self.device_id, last=last)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self.db.write_session,
            self.clock,
            now=self.now,
            device_id=self.device_id,
            on_commit=self._feed.announce,
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

    def on_commit(self, listener: Listener) -> Callable[[], None]:
        """The change feed: `listener(changes)` after every commit that changed synced rows — a unit
        of work (origin local) or a sync write (origin pull) — on the committing thread (see
        desktop/store/changes.py). Returns the call that stops it being called."""
        return self._feed.subscribe(listener)

    def announce(self, changes: Changes) -> None:
        """Tell the subscribers of a commit made outside a unit of work (the sync engine's)."""
        self._feed.announce(changes)

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
