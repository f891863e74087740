"""Reference data — the clinic, its staff, their calendars — read once per change, not per booking.

Nearly every booking and token reads the same few rows: the device's clinic, the doctor, the
doctors' hours, breaks and leave. They change a few times a year. A `ReferenceCache` (one per
database file) keeps values computed from them, plain immutable data, for as long as the file's
*reference version* stays put.

The version is the one row of `reference_version`, which SQLite triggers (migration 0004) bump
on every insert, update or delete of `clinic`, `clinician` and `availability`, and on a change of
`device_state.clinic_id` or `.letter`. Triggers see every writer of the file: units of work,
pulled sync pages (plain SQL), another process (`clinic` commands run while the app is open),
the sqlite3 shell. A transaction reads the version once, in its own snapshot, and takes a cached
value only if it was computed at that same version: what it gets is what a query would return.

A transaction that has written reference rows itself (or holds unflushed changes to them) always
reads them from the database: its version counts changes that may still roll back.

A migration that recreates one of these tables (a batch "move and copy") drops its triggers and
must create them again; tests/test_store_reference.py fails if a trigger is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import column, event, select, table
from sqlalchemy.orm import Session

from desktop.store.models import Availability, Clinic, Clinician, DeviceState
from desktop.store.prepared import Prepared

T = TypeVar("T")

REFERENCE_MODELS = (Clinic, Clinician, Availability, DeviceState)
_CACHE = "reference_cache"  # session.info: the ReferenceCache of the session's database
_WROTE = "reference_written"  # session.info: the transaction that flushed reference rows
_VERSION = "reference_version"  # session.info: (transaction, the version it read)
_reference_version = table("reference_version", column("id"), column("n"))  # migration 0004
# Prepared: on the DB-API connection, which the transaction's other prepared statements share.
_READ_VERSION = Prepared(select(_reference_version.c.n).where(_reference_version.c.id == 1))


class ReferenceCache:
    """Values computed from the reference rows at one reference version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[int, dict[Callable[[Session], Any], Any]] = (-1, {})

    def session_info(self) -> dict[str, Any]:
        """`info` for a sessionmaker whose sessions use this cache."""
        return {_CACHE: self}

    def get(self, session: Session, load: Callable[[Session], T]) -> T:
        version = _version(session)
        if version is None:
            return load(session)
        held, values = self._entry
        if held == version and load in values:
            return cast(T, values[load])
        value = load(session)
        with self._lock:
            held, values = self._entry
            if held == version:
                values[load] = value
            elif held < version:  # a transaction still reading an older snapshot never evicts
                self._entry = (version, {load: value})
        return value


def cached(session: Session, load: Callable[[Session], T]) -> T:
    """What `load(session)` returns, computed once per reference version (`load` is the key).

    `load` must read only reference rows, and return immutable data (never ORM objects). A session
    with no cache (the server's) simply loads."""
    cache: ReferenceCache | None = session.info.get(_CACHE)
    return load(session) if cache is None else cache.get(session, load)


def _version(session: Session) -> int | None:
    """The reference version this transaction sees, or None if it has written reference rows."""
    if any(isinstance(obj, REFERENCE_MODELS) for obj in (*session.new, *session.dirty)):
        session.flush()  # the changes reach the database, and `_note_writes` marks the transaction
    info = session.info
    transaction = session.get_transaction()
    if transaction is not None:  # the memo first: a read needs the transaction's connection
        if info.get(_WROTE) is transaction:
            return None
        memo = info.get(_VERSION)
        if memo is not None and memo[0] is transaction:
            return int(memo[1])
    version = int(_READ_VERSION.scalar(session, {}))
    info[_VERSION] = (session.get_transaction(), version)  # begun by the read, if it was not
    return version


@event.listens_for(Session, "before_flush")
def _note_writes(session: Session, _context: Any, _instances: Any) -> None:
    if _CACHE in session.info and any(
        isinstance(obj, REFERENCE_MODELS) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_WROTE] = session.get_transaction()
