"""SQLite engines: WAL, foreign keys, busy timeout; writers take the lock up front.

Writers start with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can
fail at once with "database is locked" when another writer committed in between, whatever the
busy timeout. Readers keep plain `BEGIN`, so the UI reads while the sync worker writes (WAL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from desktop.store.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from desktop.store.private import private_file
from desktop.store.reference import ReferenceCache

BUSY_TIMEOUT_MS = 10_000


def sqlite_engine(path: Path, *, begin: str) -> Engine:
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=4,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # NORMAL in WAL mode survives any process crash; only a power cut can lose the last
        # commits. FULL costs an fsync per booking (see docs/store.md).
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints are a WalCheckpointer's job; a commit does one only past the backstop.
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the DB-API connection: every unit of work and read starts here, and a statement
        # through SQLAlchemy costs ~40 µs more.
        conn.connection.driver_connection.execute(begin)

    return engine


@dataclass
class Database:
    """The two engines over one SQLite file, their session factories and its checkpointer.

    The sessions of both factories share one cache of the file's reference data."""

    path: Path
    writer: Engine
    reader: Engine
    write_session: sessionmaker[Session]
    read_session: sessionmaker[Session]
    checkpointer: WalCheckpointer

    @classmethod
    def open(cls, path: Path, *, session_class: type[Session] = Session) -> Database:
        private_file(path)
        writer = sqlite_engine(path, begin="BEGIN IMMEDIATE")
        reader = sqlite_engine(path, begin="BEGIN")
        checkpointer = WalCheckpointer(path)
        checkpointer.start()
        info = ReferenceCache().session_info()
        return cls(
            path,
            writer,
            reader,
            sessionmaker(writer, class_=session_class, expire_on_commit=False, info=info),
            sessionmaker(reader, expire_on_commit=False, info=info),
            checkpointer,
        )

    def dispose(self) -> None:
        self.checkpointer.stop()
        self.writer.dispose()
        self.reader.dispose()
