"""The background sync loop: a plain daemon thread, no Qt (the UI wraps it with signals).

When it syncs:

- at start, then every `interval` seconds while all is well;
- soon after a local change (the store's change feed, `store.on_commit`, wakes it on a commit of
  origin `local`; changes are debounced: it syncs once they pause for `debounce` seconds, or
  `max_delay` after the first one at the latest);
- at once when told the network is back or staff ask for it (`sync_now()`);
- at once when the server's live channel says the clinic has changes past this device's pull
  cursor (`wake(seq)`, called by the worker's `LiveListener` thread, desktop/sync/live.py). While
  the channel is down the timer goes on as before; `status().live` says whether it is up.

While the server cannot be reached (or answers 5xx) it backs off exponentially with jitter,
from `backoff_initial` up to `backoff_cap`; every attempt is a reconnection probe, and the first
that succeeds pushes everything waiting. Local changes made meanwhile update the pending count
but do not cut the back-off short. After a 401 or 426 it stops syncing until `sync_now()` (the
UI calls it once staff have signed in again, re-enrolled, or updated): retrying cannot help.

`status()` is a frozen `SyncStatus`; observers registered with `on_status` are called (on the
worker thread, or the live listener's for `live`) whenever it changes. Nothing here blocks the
caller: `on_commit` listeners only set a flag, `start()`, `sync_now()` and `wake()` return at
once, `stop(timeout)` waits at most `timeout`.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import SQLAlchemyError

from desktop.domain.reasons import Reason
from desktop.store.changes import Changes, Origin
from desktop.store.local import LocalStore
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine, clock_warning, open_conflicts, pending_count
from desktop.sync.errors import AuthFailed, SyncError, UpgradeRequired
from desktop.sync.live import LiveListener, open_live
from desktop.sync.report import SyncReport

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

log = logging.getLogger(__name__)

State = Literal[
    "connecting", "online", "offline", "auth_failed", "upgrade_required", "error", "not_configured"
]
ClientFactory = Callable[[], SyncClient | None]
StatusObserver = Callable[["SyncStatus"], None]


@dataclass(frozen=True)
class SyncStatus:
    state: State = "connecting"
    syncing: bool = False
    pending: int = 0  # local changes the server has not answered yet
    last_sync_at: datetime | None = None
    open_conflicts: int = 0
    last_error: Reason | None = None  # the failure of the last sync (a SyncError's reason, sync.*)
    clock_warning: Reason | None = None  # sync.clock_off
    live: bool = False  # the server's live channel is connected: changes elsewhere arrive at once


class SyncWorker:
    def __init__(
        self,
        store: LocalStore,
        client_factory: ClientFactory,
        *,
        interval: float = 30.0,
        debounce: float = 0.5,
        max_delay: float = 3.0,
        backoff_initial: float = 2.0,
        backoff_cap: float = 300.0,
        engine_factory: Callable[[LocalStore, SyncClient], SyncEngine] = SyncEngine,
        live: bool = True,
        live_backoff_initial: float = 1.0,
        live_backoff_cap: float = 60.0,
        live_ping: float = 20.0,
    ):
        self.store = store
        self.client_factory = client_factory
        self.interval = interval
        self.debounce = debounce
        self.max_delay = max_delay
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.engine_factory = engine_factory
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._observers: list[StatusObserver] = []
        self._status = SyncStatus()
        self._timer_at = 0.0  # monotonic time of the next timed sync (interval, back-off); inf: none
        self._change_at = math.inf  # when local changes want a sync (debounced); inf: none
        self._first_change: float | None = None
        self._last_change = 0.0
        self._changed = False
        self._forced = False  # sync_now() was called: the next sync is due at once, whatever happens
        self._failures = 0
        self._client: SyncClient | None = None
        self._engine: SyncEngine | None = None
        self.last_report: SyncReport | None = None
        self._wanted: float | None = None  # the newest seq the live channel told of, not yet checked
        # A ping every `live_ping` seconds, answered within as long, or the channel is deemed lost.
        self.live_ping = live_ping
        self._live = (
            LiveListener(
                self._open_live,
                self.wake,
                lambda connected: self._set(live=connected),
                backoff_initial=live_backoff_initial,
                backoff_cap=live_backoff_cap,
            )
            if live
            else None
        )
        self._unsubscribe = store.on_commit(self._on_local_change)

    # -- the caller's side --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the sync worker is already started")
        self._thread = threading.Thread(target=self._run, name="clinicdesk-sync", daemon=True)
        self._thread.start()
        if self._live is not None:
            self._live.start()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the loop to end (a sync in progress stops after its current chunk); True once joined.
        The store stops telling this worker of its commits."""
        self._unsubscribe()
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is None:
            return True
        started = time.monotonic()
        live_stopped = self._live is None or self._live.stop(timeout)
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        self._thread.join(left)
        return live_stopped and not self._thread.is_alive()

    def sync_now(self) -> None:
        """Sync at once: the network is back, staff signed in again, or they pressed "sync"."""
        with self._cond:
            self._failures = 0
            self._forced = True
            self._timer_at = 0.0
            self._cond.notify_all()

    def wake(self, newest_seq: int | None = None) -> None:
        """The server has changes up to `newest_seq` (None: unknown): sync at once unless this
        device has pulled that far already. Returns at once; bursts make one sync."""
        with self._cond:
            wanted = math.inf if newest_seq is None else newest_seq
            self._wanted = wanted if self._wanted is None else max(self._wanted, wanted)
            self._cond.notify_all()

    def status(self) -> SyncStatus:
        with self._cond:
            return self._status

    def on_status(self, observer: StatusObserver) -> None:
        """Call `observer(status)` on the worker thread each time the status changes."""
        with self._cond:
            self._observers.append(observer)

    def _on_local_change(self, changes: Changes) -> None:
        if changes.origin is not Origin.LOCAL:
            return  # written by a sync: nothing to push
        now = time.monotonic()
        with self._cond:
            self._changed = True
            self._last_change = now
            if self._first_change is None:
                self._first_change = now
            self._cond.notify_all()

    # -- the worker's side --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._set(**self._local_facts(), **self._persisted_facts())
            while not self._stopping.is_set():
                if self._wait_for_turn():
                    self._sync()
        finally:
            self._close_client()

    def _wait_for_turn(self) -> bool:
        """Sleep until the next sync is due (True) or the worker stops (False)."""
        with self._cond:
            while not self._stopping.is_set():
                if self._wanted is not None:
                    wanted, self._wanted = self._wanted, None
                    self._cond.release()
                    try:
                        behind = wanted > self._pull_cursor()
                    finally:
                        self._cond.acquire()
                    if behind:  # the server is reachable and has news: whatever the timer says
                        self._failures = 0
                        self._timer_at = 0.0
                    continue
                if self._changed:
                    self._changed = False
                    self._schedule_after_change()
                    self._cond.release()
                    try:
                        self._set(**self._local_facts())  # the pending count moves at once
                    finally:
                        self._cond.acquire()
                    continue
                wait = min(self._timer_at, self._change_at) - time.monotonic()
                if wait <= 0:
                    self._first_change = None
                    self._change_at = math.inf
                    self._forced = False
                    return True
                self._cond.wait(None if math.isinf(wait) else wait)
        return False

    def _schedule_after_change(self) -> None:
        """A local change: sync once changes pause for `debounce` (`max_delay` after the first at the
        latest), unless backing off or stopped (the caller holds the lock)."""
        if self._status.state not in ("online", "connecting"):
            self._first_change = None
            return
        first = self._first_change if self._first_change is not None else self._last_change
        self._change_at = min(self._last_change + self.debounce, first + self.max_delay)

    def _sync(self) -> None:
        self._set(syncing=True)
        report: SyncReport | None = None
        error: Exception | None = None
        try:
            engine = self._get_engine()
            if engine is None:
                self._set(
                    state="not_configured",
                    syncing=False,
                    last_error=Reason.of("sync.not_enrolled"),
                )
                self._after(math.inf)
                return
            report = engine.sync_once(cancel=self._stopping.is_set)
            self.last_report = report
            error = report.error
        except Exception as exc:  # a bug or a local problem (disk full): log it, keep the loop alive
            log.exception("sync failed")
            error = exc
        self._finish(report, error)

    def _finish(self, report: SyncReport | None, error: Exception | None) -> None:
        facts = self._local_facts()
        if report is not None and report.clock_skew_ms is not None:
            facts["clock_warning"] = report.clock_warning
        if error is None:
            self._failures = 0
            if report is not None and not report.cancelled:
                facts["last_sync_at"] = self.store.now()
            self._set(state="online", syncing=False, last_error=None, **facts)
            self._after(self.interval)
            if self._live is not None and not self._status.live:
                self._live.retry_now()  # the server is back: the channel need not wait its back-off
            return
        message = error.reason if isinstance(error, SyncError) else Reason.of("sync.failed", error=str(error))
        if isinstance(error, AuthFailed | UpgradeRequired):
            self._close_client()  # the next attempt asks for a token again
            state: State = "auth_failed" if isinstance(error, AuthFailed) else "upgrade_required"
            self._set(state=state, syncing=False, last_error=message, **facts)
            self._after(math.inf)
            return
        self._failures += 1
        retryable = isinstance(error, SyncError) and error.retryable
        self._set(state="offline" if retryable else "error", syncing=False, last_error=message, **facts)
        self._after(self._backoff())

    def _backoff(self) -> float:
        """Exponential, capped, with jitter: half fixed, half random, so devices spread out."""
        delay = min(self.backoff_cap, self.backoff_initial * 2 ** (self._failures - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def _after(self, seconds: float) -> None:
        """Schedule the next sync; a `sync_now()` made during this one wins. Changes made during it
        are scheduled by the loop afterwards (and ignored while backing off)."""
        with self._cond:
            self._timer_at = 0.0 if self._forced else time.monotonic() + seconds
            self._forced = False

    def _get_engine(self) -> SyncEngine | None:
        if self._engine is None:
            client = self.client_factory()
            if client is None:
                return None
            self._client = client
            self._engine = self.engine_factory(self.store, client)
        return self._engine

    def _open_live(self) -> ClientConnection:
        client = self.client_factory()
        if client is None:
            raise AuthFailed(Reason.of("sync.not_enrolled"))
        try:
            return open_live(client, ping_interval=self.live_ping, ping_timeout=self.live_ping)
        finally:
            client.close()

    def _pull_cursor(self) -> int:
        try:
            return self.store.device().pull_cursor
        except SQLAlchemyError:  # cannot tell: pull
            log.exception("could not read the pull cursor")
            return -1

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client, self._engine = None, None

    def _local_facts(self) -> dict[str, object]:
        try:
            return {"pending": pending_count(self.store), "open_conflicts": open_conflicts(self.store)}
        except SQLAlchemyError:  # a busy or broken database must not end the loop: keep the old counts
            log.exception("could not count pending changes")
            return {}

    def _persisted_facts(self) -> dict[str, object]:
        try:
            device = self.store.device()
        except SQLAlchemyError:
            log.exception("could not read the device state")
            return {}
        return {"last_sync_at": device.last_sync_at, "clock_warning": clock_warning(device.clock_skew_ms)}

    def _set(self, **changes: object) -> None:
        with self._cond:
            new = replace(self._status, **changes)  # type: ignore[arg-type]
            if new == self._status:
                return
            self._status = new
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(new)
            except Exception:
                log.exception("a sync status observer failed")
