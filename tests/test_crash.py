"""A process killed at any moment loses no committed booking and leaves no half-written one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.store.local import DB_NAME, LocalStore
from desktop.store.models import ENTITY_MODELS
from tests.support import Clock

REPO = Path(__file__).resolve().parents[1]

CHILD = Path(__file__).with_name("crash_child.py")


@pytest.mark.slow
@pytest.mark.parametrize("wanted", [20, 57])
def test_sigkill_mid_booking_loses_nothing_committed(tmp_path: Path, wanted: int) -> None:
    data_dir = tmp_path / "device"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: list[str] = []
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        assert child.stdout.readline().strip() == "ready"
        while len(printed) < wanted:
            assert time.monotonic() < deadline, "the child is too slow"
            line = child.stdout.readline().strip()
            assert line, f"the child stopped early: {child.stderr.read() if child.stderr else ''}"
            printed.append(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # Ids it committed but we have not read yet are still in the pipe.
        printed += [line.strip() for line in child.stdout if line.strip()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    store = LocalStore(data_dir, now=Clock())  # reopens (and recovers) the killed database
    try:
        with sqlite3.connect(data_dir / DB_NAME) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            appointments = {r[0] for r in conn.execute("SELECT id FROM appointment")}
            booked_ops = {
                r[0] for r in conn.execute("SELECT entity_id FROM sync_journal WHERE entity = 'appointment'")
            }
            # Every id the child printed (it had committed) is there, with its journal op.
            assert set(printed) <= appointments
            assert set(printed) <= booked_ops
            # At most one booking committed after the last id got out of the pipe.
            assert len(appointments) - len(set(printed)) <= 1
            # No op without its committed row, no row without its op, for every synced table.
            for entity, model in ENTITY_MODELS.items():
                rows = {r[0] for r in conn.execute(f"SELECT id FROM {model.__tablename__}")}
                ops = {
                    r[0]
                    for r in conn.execute("SELECT entity_id FROM sync_journal WHERE entity = ?", (entity,))
                }
                assert rows == ops, entity
            seqs = [r[0] for r in conn.execute("SELECT seq FROM sync_journal ORDER BY seq")]
            assert seqs == list(range(1, len(seqs) + 1))  # no gap in the push order
        # And the store keeps working after the crash.
        assert store.device_id
    finally:
        store.close()
