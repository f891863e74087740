"""The dispatcher as a background thread of the server process, started and stopped by the app's
lifespan. On SQLite it takes the same write turns as requests (`ServerState.write_turns`), so a
push never waits on SQLite's busy handler behind it. A bad setting is logged and shown by
`clinic server status`; the server runs on without sending."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from desktop.domain.clock import HybridLogicalClock
from desktop.settings import SettingsError
from server_stub.notify.dispatcher import Dispatcher, WriteGate
from server_stub.notify.settings import NotifySettings, load_notify_settings

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 30


@dataclass
class RunningDispatcher:
    dispatcher: Dispatcher
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(STOP_TIMEOUT_S)


def loop_gate(loop: asyncio.AbstractEventLoop, turns: asyncio.Semaphore) -> WriteGate:
    """A write turn of the event loop's semaphore, taken from another thread."""

    @contextmanager
    def gate() -> Iterator[None]:
        asyncio.run_coroutine_threadsafe(turns.acquire(), loop).result()
        try:
            yield
        finally:
            loop.call_soon_threadsafe(turns.release)

    return gate


def start_dispatcher(
    engine: Engine,
    clock: HybridLogicalClock,
    *,
    settings: NotifySettings | None,
    turns: asyncio.Semaphore | None,
) -> RunningDispatcher | None:
    """Start the dispatcher thread, unless it is switched off or its settings are unusable."""
    try:
        settings = settings or load_notify_settings()
    except SettingsError as exc:
        log.error("Reminders are not sent: %s", exc.message)
        # Unvalidated defaults: the environment that broke the settings is not read again.
        Dispatcher(engine, NotifySettings.model_construct(), clock=clock).report_broken(exc.message)
        return None
    if not settings.dispatch_enabled:
        return None
    gate = loop_gate(asyncio.get_running_loop(), turns) if turns is not None else None
    dispatcher = Dispatcher(engine, settings, clock=clock, **({"gate": gate} if gate else {}))
    for channel, problem in (("E-mail", settings.email_problem), ("SMS", settings.sms_problem)):
        if problem:
            log.warning("%s reminders are not sent: %s", channel, problem)
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="clinic-dispatcher", daemon=True
    )
    thread.start()
    return RunningDispatcher(dispatcher, thread, stop)
