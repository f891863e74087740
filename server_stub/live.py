"""Live notices: tell each connected device, at once, that its clinic has changes it may pull.

`LiveHub` (one per app, on `ServerState.live`) keeps the devices connected to `WS /v1/sync/live`
(routes/live.py) by clinic. When a transaction that changed a clinic's rows has committed, its
route calls `changed(clinic_id)`. The hub then reads the clinic's newest change-log seq for each
kind of device (one query, whatever the number of devices; changes that come while it runs are
folded into one more query) and wakes the clinic's connections whose kind has something new: each
sends `{"seq": n}`, the newest it knows when it gets to send, so a burst reaches a slow device as one
notice. No device is ever polled for, and nothing is read per device; while pushes keep coming, a
clinic is read at most every COALESCE_S.

Several server processes on one PostgreSQL database: the process that committed also sends the
seqs with `NOTIFY` (`PostgresRelay`), and every process LISTENs on one connection of its own and
wakes its own devices. After that connection is lost, the relay connects again (with back-off) and
reads every clinic it has devices of, since notices may have been missed meanwhile. On SQLite (one
process) the fan-out is in-process only. See docs/sync.md, "Live updates".
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, get_args

import orjson
from sqlalchemy import Connection, Engine, Select, bindparam, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from desktop.sync.protocol import HIDDEN, DeviceKind, Entity
from server_stub import access
from server_stub.models import ChangeLog

if TYPE_CHECKING:
    import psycopg

    from server_stub.deps import ServerState

log = logging.getLogger(__name__)
KINDS: tuple[str, ...] = get_args(DeviceKind)
CHANNEL = "clinicdesk_live"
# Close codes: the token no longer works (the device waits long before trying again); the server
# is stopping (it tries again soon, as after any lost connection).
POLICY_VIOLATION = 1008
SERVICE_RESTART = 1012
RECHECK_EVERY_S = 300.0  # connected devices' tokens are checked again (revoked, expired session)
RELAY_BACKOFF_INITIAL_S = 0.5
RELAY_BACKOFF_CAP_S = 30.0
# Under a steady stream of pushes a clinic is read again at most this often (the first change after
# a quiet spell is read at once): ~20 queries a second at most, not one per group commit.
COALESCE_S = 0.05
Seqs = dict[str, int]  # kind -> the clinic's newest change-log seq that kind may pull


@dataclass(eq=False)
class Listener:
    """One connected device. `wake` is set when it has a newer seq to be told, or must go."""

    caller: access.Caller
    token: str
    told: int = -1  # the seq last sent
    closing: tuple[int, str] | None = None  # it must go: the close code and reason to send
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def clinic_id(self) -> str:
        return self.caller.clinic_id


@cache
def _newest_query() -> Select[Any]:
    """Per kind, the newest seq after `b_since` of an entity that kind receives (NULL if none)."""
    every = set(get_args(Entity))
    columns = []
    for kind in KINDS:
        query = select(ChangeLog.seq).where(
            ChangeLog.clinic_id == bindparam("b_clinic"), ChangeLog.seq > bindparam("b_since")
        )
        if HIDDEN[kind]:
            query = query.where(ChangeLog.entity.in_(sorted(every - HIDDEN[kind])))
        columns.append(query.order_by(ChangeLog.seq.desc()).limit(1).scalar_subquery().label(kind))
    return select(*columns)


def newest_seqs(conn: Connection, clinic_id: str, known: Seqs | None) -> Seqs:
    """The clinic's newest seq per kind; only entries after the newest `known` are read (the rest
    of `known` stays as it was)."""
    since = max(known.values()) if known else 0
    row = conn.execute(_newest_query(), {"b_clinic": clinic_id, "b_since": since}).one()
    before = known or {}
    return {kind: row[at] if row[at] is not None else before.get(kind, 0) for at, kind in enumerate(KINDS)}


class LiveHub:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}  # clinic -> its connected devices
        self._newest: dict[str, Seqs] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # clinics changed while their refresh ran
        self._state: ServerState | None = None
        self._engine: Engine | None = None  # PostgreSQL: the hub's own (the requests' pool on SQLite)
        self._relay: PostgresRelay | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, state: ServerState) -> None:
        self._state = state
        if state.engine.dialect.name == "postgresql":
            # Connections of its own, apart from the requests' pool: after PostgreSQL restarts, the
            # hub's reads must not be the ones that find the pool's dead connections (the request
            # that does answers 503, which devices retry; docs/server.md).
            self._engine = create_engine(state.engine.url, pool_size=1, max_overflow=2)
            self._relay = PostgresRelay(self, state)
            self._tasks.append(asyncio.create_task(self._relay.run(), name="live-relay"))
        self._tasks.append(asyncio.create_task(self._recheck_tokens(), name="live-recheck"))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._refreshing.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._refreshing.values(), return_exceptions=True)
        self._tasks.clear()
        if self._engine is not None:
            self._engine.dispose()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.closing = (SERVICE_RESTART, "The server is stopping.")
                listener.wake.set()

    # -- devices ---------------------------------------------------------------------------------

    @contextmanager
    def listening(self, caller: access.Caller, token: str) -> Iterator[Listener]:
        """A device connected for as long as the block runs; it is told its clinic's newest seq at
        once (so one that was away pulls what it missed)."""
        listener = Listener(caller, token)
        self._listeners.setdefault(caller.clinic_id, set()).add(listener)
        try:
            if caller.clinic_id in self._newest:
                listener.wake.set()
            else:
                self.changed(caller.clinic_id)
            yield listener
        finally:
            listeners = self._listeners.get(caller.clinic_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[caller.clinic_id]
                    if self._relay is None:  # on PostgreSQL it stays current for the notices sent
                        self._newest.pop(caller.clinic_id, None)

    def seq_for(self, listener: Listener) -> int:
        return self._newest.get(listener.clinic_id, {}).get(listener.caller.kind, 0)

    # -- changes ---------------------------------------------------------------------------------

    def changed(self, clinic_id: str) -> None:
        """The clinic's rows changed and the change is committed (call on the event loop)."""
        if self._relay is None and clinic_id not in self._listeners:
            return  # one process, and nobody to tell
        if clinic_id in self._refreshing:
            self._again.add(clinic_id)
            return
        self._refreshing[clinic_id] = asyncio.create_task(self._refresh(clinic_id))

    async def committed(self, clinic_id: str) -> None:
        """`changed` as a response's background task: it runs after the request's commit."""
        self.changed(clinic_id)

    async def _refresh(self, clinic_id: str) -> None:
        assert self._state is not None, "the hub is not started"
        try:
            while True:
                self._again.discard(clinic_id)
                known = self._newest.get(clinic_id)
                seqs = await run_in_threadpool(self._read_and_announce, clinic_id, known)
                self.deliver(clinic_id, seqs)
                if clinic_id not in self._again:
                    break
                await asyncio.sleep(COALESCE_S)
        except Exception:  # the database is away: devices still sync on their timers
            log.warning("could not read the newest changes of clinic %s", clinic_id, exc_info=True)
        finally:
            # No await between the last check of `_again` and here: a change after it starts anew.
            del self._refreshing[clinic_id]

    def deliver(self, clinic_id: str, seqs: Seqs) -> None:
        """Newest seqs of a clinic (read here, or sent by another process): wake whoever is behind."""
        known = self._newest.setdefault(clinic_id, dict.fromkeys(KINDS, 0))
        for kind, seq in seqs.items():
            if kind in known:
                known[kind] = max(known[kind], seq)
        for listener in self._listeners.get(clinic_id, ()):
            if known[listener.caller.kind] > listener.told:
                listener.wake.set()

    def refresh_all(self) -> None:
        """Read every clinic with devices connected again (notices from elsewhere may be lost)."""
        for clinic_id in list(self._listeners):
            self.changed(clinic_id)

    async def _recheck_tokens(self) -> None:
        """Every RECHECK_EVERY_S, one query for every connected device: a revoked device or an
        expired session stops hearing its clinic."""
        while True:
            await asyncio.sleep(RECHECK_EVERY_S)
            listeners = [each for group in self._listeners.values() for each in group]
            if not listeners:
                continue
            try:
                answers = await run_in_threadpool(self._authenticate, [each.token for each in listeners])
            except Exception:
                log.warning("could not check the live devices' tokens", exc_info=True)
                continue
            for listener, answer in zip(listeners, answers, strict=True):
                if isinstance(answer, access.Unauthorised):
                    listener.closing = (POLICY_VIOLATION, answer.message)
                    listener.wake.set()

    def _read_and_announce(self, clinic_id: str, known: Seqs | None) -> Seqs:
        """The clinic's newest seqs; on PostgreSQL sent to the other processes in the same
        transaction (NOTIFY is delivered at its commit). A connection found dead is replaced once."""
        try:
            return self._read_once(clinic_id, known)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._read_once(clinic_id, known)  # on a new connection

    def _read_once(self, clinic_id: str, known: Seqs | None) -> Seqs:
        with self._connect() as conn, conn.begin():
            seqs = newest_seqs(conn, clinic_id, known)
            if self._relay is not None:
                self._relay.announce(conn, clinic_id, seqs)
        return seqs

    def _authenticate(self, tokens: list[str]) -> list[access.Caller | access.Unauthorised]:
        assert self._state is not None
        with self._connect() as conn, conn.begin():
            return access.authenticate_all(conn, list(tokens), now=self._state.now())

    def _connect(self) -> Connection:
        assert self._state is not None, "the hub is not started"
        return (self._engine or self._state.read_engine).connect()


class PostgresRelay:
    """LISTEN on one connection of this process; NOTIFY the seqs this process read."""

    def __init__(self, hub: LiveHub, state: ServerState):
        self.hub = hub
        self.state = state
        self.origin = secrets.token_hex(8)  # this process: its own notices come back to it
        url = make_url(state.database_url).set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.listening = asyncio.Event()

    async def run(self) -> None:
        import psycopg

        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self.listening.set()
                    self.hub.refresh_all()
                    await self._receive(conn)
            except (psycopg.Error, OSError):
                log.warning("the live notices' PostgreSQL connection failed; connecting again", exc_info=True)
            self.listening.clear()
            failures += 1
            delay = min(RELAY_BACKOFF_CAP_S, RELAY_BACKOFF_INITIAL_S * 2 ** (failures - 1))
            await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))

    async def _receive(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for notice in conn.notifies():
            try:
                body = orjson.loads(notice.payload)
                if body["o"] == self.origin:
                    continue
                seqs = {str(kind): int(seq) for kind, seq in body["s"].items()}
                clinic_id = str(body["c"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                log.warning("ignored a malformed live notice: %.200r", notice.payload)
                continue
            self.hub.deliver(clinic_id, seqs)

    def announce(self, conn: Connection, clinic_id: str, seqs: Seqs) -> None:
        """NOTIFY the other processes, when `conn`'s transaction commits."""
        payload = orjson.dumps({"o": self.origin, "c": clinic_id, "s": seqs}).decode()
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
