"""The background worker: syncs at start, soon after local changes, backs off while offline,
comes back on reconnect, stops for good reasons, and always stops cleanly when told to."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from typing import Any

from desktop.domain.english import english
from desktop.domain.reasons import text
from desktop.store.changes import Changes, Origin
from desktop.store.local import LocalStore
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine
from desktop.sync.protocol import PROTOCOL_HEADER
from desktop.sync.report import SyncReport
from desktop.sync.worker import SyncStatus, SyncWorker
from tests.fixtures.desk import desk, server  # noqa: F401
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server` and the `desk`)
    LiveServer,
    device_template,
    live_server,
    server_database_url,
)
from tests.sync_support import (
    RECEPTION,
    Device,
    fast_client,
    free_port,
    register,
    serving,
    wait_for,
)


class Counting:
    """An engine factory that counts the syncs the worker runs."""

    def __init__(self) -> None:
        self.syncs = 0
        self.lock = threading.Lock()

    def __call__(self, store: LocalStore, client: SyncClient) -> SyncEngine:
        outer = self
        engine = SyncEngine(store, client)
        real = engine.sync_once

        def counted(**options: Any) -> SyncReport:
            with outer.lock:
                outer.syncs += 1
            return real(**options)

        engine.sync_once = counted  # type: ignore[method-assign]
        return engine


def worker_for(
    device: Device, url: str | None = None, token: str | None = None, **options: Any
) -> SyncWorker:
    base = url or device.client.base_url
    key = token or device.enrolled.token
    return SyncWorker(device.store, lambda: fast_client(base, key), **options)


def test_syncs_at_start_and_soon_after_local_changes(desk: Device) -> None:
    counting = Counting()
    # Longer than any one registration takes on a loaded machine, so the burst below is one burst
    # (at 0.2 s a slow registration let the worker sync mid-burst, and 10 pending was never seen).
    worker = worker_for(desk, interval=60, debounce=1.0, engine_factory=counting)
    seen: list[SyncStatus] = []
    worker.on_status(seen.append)
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "online" and not worker.status().syncing)
        assert worker.status().last_sync_at is not None and counting.syncs == 1
        started = time.monotonic()
        for n in range(5):  # a burst of changes: one sync once they pause
            register(desk, f"Burst {chr(65 + n)}ero", actor=RECEPTION)
        # The count moves before the sync; until it has, the status still says 0 pending, not synced.
        wait_for(lambda: any(s.pending == 10 for s in seen))
        wait_for(lambda: worker.status().pending == 0 and not worker.status().syncing)
        assert time.monotonic() - started < 5
        assert 2 <= counting.syncs <= 3
        assert {op.status for op in desk.journal()} == {"applied"}
    finally:
        assert worker.stop(timeout=10)
    assert seen[-1].state == "online"


def test_a_pulled_page_does_not_wake_the_worker_but_a_local_change_does(desk: Device) -> None:
    counting = Counting()
    worker = worker_for(desk, interval=60, debounce=0.1, engine_factory=counting)
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "online" and not worker.status().syncing)
        desk.store.announce(Changes.of(Origin.PULL, [("patient", "someone")]))  # what a sync wrote
        time.sleep(0.5)
        assert counting.syncs == 1
        desk.store.announce(Changes.of(Origin.LOCAL, [("patient", "someone")]))
        wait_for(lambda: counting.syncs == 2)
    finally:
        assert worker.stop(timeout=10)


def test_backs_off_while_offline_and_recovers_by_itself(server: LiveServer, desk: Device) -> None:
    port = free_port()
    counting = Counting()
    worker = worker_for(
        desk,
        f"http://127.0.0.1:{port}",
        interval=60,
        backoff_initial=0.05,
        backoff_cap=0.4,
        engine_factory=counting,
    )
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "offline")
        assert "Cannot reach the server" in english(worker.status().last_error or text(""))
        register(desk, "Offline Anders", actor=RECEPTION)
        wait_for(lambda: worker.status().pending == 2)
        time.sleep(1.0)
        assert worker.status().state == "offline"
        assert counting.syncs <= 10  # 0.05, 0.1, 0.2, then at most every 0.4 s: backing off
        with serving(server.database_url, port):
            wait_for(lambda: worker.status().state == "online" and worker.status().pending == 0)
        assert worker.status().last_error is None
    finally:
        assert worker.stop(timeout=10)


def test_sync_now_reconnects_at_once(server: LiveServer, desk: Device) -> None:
    port = free_port()
    worker = worker_for(desk, f"http://127.0.0.1:{port}", interval=60, backoff_initial=120)
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "offline")
        with serving(server.database_url, port):
            worker.sync_now()  # e.g. the OS said the network is back
            wait_for(lambda: worker.status().state == "online", timeout=10)
    finally:
        assert worker.stop(timeout=10)


def test_a_refused_token_stops_syncing_until_asked_again(desk: Device) -> None:
    counting = Counting()
    worker = worker_for(
        desk, token="not-a-token", interval=0.05, backoff_initial=0.05, engine_factory=counting
    )
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "auth_failed")
        assert "enrol" in english(worker.status().last_error or text(""))
        time.sleep(0.5)
        assert counting.syncs == 1  # retrying cannot help: staff must sign in or re-enrol
        worker.sync_now()
        wait_for(lambda: counting.syncs == 2)
        assert worker.status().state == "auth_failed"
    finally:
        assert worker.stop(timeout=10)


def test_an_app_too_old_for_the_server_is_told_to_update(desk: Device) -> None:
    def old_client() -> SyncClient:
        client = fast_client(desk.client.base_url, desk.enrolled.token)
        client._session.headers[PROTOCOL_HEADER] = "0"
        return client

    worker = SyncWorker(desk.store, old_client, interval=0.05)
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "upgrade_required")
        assert "update" in english(worker.status().last_error or text("")).lower()
    finally:
        assert worker.stop(timeout=10)


def test_a_device_without_a_server_says_so_and_a_broken_observer_does_no_harm(desk: Device) -> None:
    worker = SyncWorker(desk.store, lambda: None)
    calls: list[SyncStatus] = []

    def broken(status: SyncStatus) -> None:
        calls.append(status)
        raise RuntimeError("a UI bug")

    worker.on_status(broken)
    worker.start()
    try:
        wait_for(lambda: worker.status().state == "not_configured")
        register(desk, "Local Only", actor=RECEPTION)
        wait_for(lambda: worker.status().pending == 2)  # still counting, still alive
    finally:
        assert worker.stop(timeout=10)
    assert calls


def test_stop_interrupts_a_long_sync_between_chunks(desk: Device) -> None:
    for n in range(30):
        register(desk, f"Many {chr(65 + n % 26)}{chr(65 + n // 26)}ers", actor=RECEPTION)

    def slow_engine(store: LocalStore, client: SyncClient) -> SyncEngine:
        engine = SyncEngine(store, client, max_ops=2)
        real = client.push
        client.push = lambda request: (time.sleep(0.1), real(request))[1]  # type: ignore[method-assign]
        return engine

    worker = worker_for(desk, engine_factory=slow_engine)
    worker.start()
    wait_for(lambda: worker.status().syncing)
    time.sleep(0.3)
    started = time.monotonic()
    assert worker.stop(timeout=10)
    assert time.monotonic() - started < 2
    assert worker.last_report is not None and worker.last_report.cancelled
    assert 0 < worker.status().pending < 60


def test_a_stopped_worker_is_let_go_by_the_store(desk: Device) -> None:
    # The desk replaces its worker when staff re-enrol or switch servers: the old one must not live
    # on in the store's commit listeners, woken by every booking.
    def run_and_stop() -> weakref.ref[SyncWorker]:
        worker = worker_for(desk, interval=60)
        worker.start()
        wait_for(lambda: worker.status().state == "online")
        assert worker.stop(timeout=10)
        return weakref.ref(worker)

    stopped = run_and_stop()
    gc.collect()
    assert stopped() is None
    register(desk, "After Stop", actor=RECEPTION)  # commits with no worker left to tell
