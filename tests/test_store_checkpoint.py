"""WAL checkpoints happen on the store's own thread, not in the commit of a user action."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import date
from pathlib import Path

from desktop.services import patients
from desktop.services.common import SYSTEM
from desktop.store.checkpoint import BACKSTOP_PAGES
from desktop.store.local import LocalStore
from tests.support import ClinicSetup


def wal_frames(store: LocalStore) -> tuple[int, int]:
    """(frames in the log, frames of it already in the database file), as a PASSIVE checkpoint
    reports them; with nothing left to copy, it copies nothing."""
    with closing(sqlite3.connect(store.path)) as conn:
        _, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return log, done


def register_many(store: LocalStore, n: int) -> None:
    for i in range(n):
        with store.unit_of_work() as uow:
            patients.register(
                uow, actor=SYSTEM, full_name=f"Walk In {i}", birth_date=date(1980, 1, 1), confirm_new=True
            )


def test_commits_leave_the_checkpoint_to_the_background(store: LocalStore, clinic: ClinicSetup) -> None:
    with closing(store.db.writer.raw_connection()) as raw:
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
    register_many(store, 40)
    deadline = time.monotonic() + 10
    while store.db.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.db.checkpointer.checkpoints >= 1
    time.sleep(0.5)  # for the checkpoint after the last commits
    store.db.checkpointer.stop()
    log, done = wal_frames(store)
    assert log > 0 and done == log  # every committed frame is in the database file already


def test_a_closed_store_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.db.checkpointer.running
    store.close()
    assert not store.db.checkpointer.running


def test_an_idle_store_looks_less_often_and_still_checkpoints_soon_after_a_commit(
    store: LocalStore, clinic: ClinicSetup
) -> None:
    checkpointer = store.db.checkpointer
    time.sleep(0.5)  # whatever set-up wrote is checkpointed; then nothing happens
    looks = checkpointer.looks
    time.sleep(2.0)
    idle_looks = checkpointer.looks - looks
    assert 1 <= idle_looks <= 12  # about 4 a second (20 at the busy pace)
    before = checkpointer.checkpoints
    register_many(store, 1)
    deadline = time.monotonic() + 2
    while checkpointer.checkpoints == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.checkpoints == before + 1
