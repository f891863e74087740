"""WAL checkpoints on a background thread, so that no user action has to do one.

Left to SQLite, the commit that takes the write-ahead log past 1,000 pages copies them all into
the database file and fsyncs it: on this project's machine that one booking or queue token took
6–10 ms instead of 2 (see BENCHMARKS.md). Here, writers only checkpoint as a backstop, past
`BACKSTOP_PAGES`; a thread of the store checkpoints in PASSIVE mode (never blocking a reader
or a writer) soon after other connections have committed, whichever process they are in.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# A writer still checkpoints when the log passes this many pages (~40 MB): the log stays bounded
# when no checkpointer runs (another program on the file) or it cannot keep up.
BACKSTOP_PAGES = 10_000
# Often, so each checkpoint is small: a checkpoint fsyncs the log and the database, and a commit
# writing to the log meanwhile waits for the file system. Measured here (bench/core.py, full, 1,000
# bookings): the slowest 1% of commits took 1.3 ms with checkpoints every 0.05 s, 2.9 ms every
# 0.25 s and 7.6 ms once a second.
INTERVAL_S = 0.05
# While nothing is committed the thread looks less and less often, down to 4 times a second (from
# 20): a clinic's machine is idle most of the day, and every look is a wake-up and a query. Not
# less often: the first checkpoint after a quiet spell should stay small too.
IDLE_INTERVAL_S = 0.25


class WalCheckpointer:
    """Checkpoints `path` every `interval` seconds when something was committed since the last;
    while nothing is, it looks twice as long after each look, up to `idle_interval`."""

    def __init__(self, path: Path, *, interval: float = INTERVAL_S, idle_interval: float = IDLE_INTERVAL_S):
        self._path = path
        self._interval = interval
        self._idle_interval = max(interval, idle_interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self.checkpoints = 0
        self.looks = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            seen = _data_version(conn)
            wait = self._interval
            while not self._stop.wait(wait):
                self.looks += 1
                version = _data_version(conn)
                if version != seen:
                    seen = version
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                    wait = self._interval
                else:
                    wait = min(wait * 2, self._idle_interval)
        except sqlite3.Error:
            # The backstop keeps the log bounded without this thread; a checkpoint is never needed
            # for correctness.
            log.exception("background WAL checkpoints stopped")
        finally:
            conn.close()


def _data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits to the file (PRAGMA data_version)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
