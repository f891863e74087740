"""The composition root of the desktop app: one place builds the store's listeners, the sync
worker and its bridge, the Qt application, the theme and language, and the mode's screens.

`clinic board|kiosk|desk` call `run`; tests, the tour and the bench call `start` and drive the
returned `App`. Nothing below this module builds any of these parts itself.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile, Qt
from PySide6.QtWidgets import QApplication, QWidget

from desktop.domain.errors import InvalidInput
from desktop.logs import set_up_logging, stop_logging
from desktop.settings import DeviceKind, Settings
from desktop.store.local import LocalStore
from desktop.sync.worker import ClientFactory, SyncWorker
from desktop.ui.board.screen import BoardScreen
from desktop.ui.context import UiContext
from desktop.ui.errors import install_exception_hooks
from desktop.ui.i18n import Translations
from desktop.ui.ops import OpRunner
from desktop.ui.placeholder import PlaceholderScreen
from desktop.ui.screen import Screen
from desktop.ui.signals import AppSignals
from desktop.ui.sync_bridge import SyncBridge
from desktop.ui.theme import Theme
from desktop.ui.window import MainWindow

log = logging.getLogger(__name__)

LOCK_FILE = "clinicdesk.lock"
# How often a device syncs when nothing wakes it: a board shows others' calls, so it asks often.
SYNC_INTERVAL_S: dict[DeviceKind, float] = {"board": 5.0, "kiosk": 15.0, "desk": 15.0}


@dataclass
class App:
    qt: QApplication
    store: LocalStore
    ctx: UiContext
    window: MainWindow
    worker: SyncWorker | None
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the worker and the ops, close the window; the store stays the caller's."""
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


def instance_lock(data_dir: Path) -> QLockFile:
    """One app per data dir: a second start on the same folder is refused (a crashed app's stale
    lock is taken over)."""
    lock = QLockFile(str(Path(data_dir) / LOCK_FILE))
    lock.setStaleLockTime(0)
    if not lock.tryLock(100):
        raise InvalidInput(
            f"ClinicDesk is already running on {data_dir}; one app per data dir.", field="data_dir"
        )
    return lock


def sync_worker(
    store: LocalStore,
    settings: Settings,
    mode: DeviceKind,
    *,
    client_factory: ClientFactory | None = None,
    **options: Any,
) -> SyncWorker | None:
    """The device's sync worker, or None when it is not enrolled with a server."""
    if client_factory is None:
        url = settings.server_url if "server_url" in settings.model_fields_set else None
        url = url or store.device().server_url
        if not url:
            return None
        from desktop.sync.client import SyncClient
        from desktop.sync.credentials import Credentials

        credentials = Credentials(store.data_dir)

        def client_factory() -> SyncClient:
            return SyncClient(url, token_provider=credentials.device_token)

    options.setdefault("interval", SYNC_INTERVAL_S[mode])
    return SyncWorker(store, client_factory, **options)


def mode_screens(ctx: UiContext, mode: DeviceKind, **board_options: Any) -> list[Screen]:
    if mode == "board":
        return [BoardScreen(ctx, **board_options)]
    return [PlaceholderScreen(ctx, mode)]


def start(
    store: LocalStore,
    settings: Settings,
    mode: DeviceKind,
    *,
    language: str = "en",
    theme: Theme | None = None,
    client_factory: ClientFactory | None = None,
    sync_options: dict[str, Any] | None = None,
    board_options: dict[str, Any] | None = None,
    lock: bool = True,
    log_to_data_dir: bool = True,
) -> App:
    """Build the app for `mode` on `store` and start syncing; the window is built, not shown."""
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt, QApplication)
    closers: list[Callable[[], Any]] = []
    if lock:
        held = instance_lock(store.data_dir)
        closers.append(held.unlock)
    if log_to_data_dir:
        handler = set_up_logging(store.data_dir, settings.log_level)
        closers.append(lambda: stop_logging(handler))
    signals = AppSignals()
    ops = OpRunner(store, signals)
    closers.append(ops.close)
    worker = sync_worker(store, settings, mode, client_factory=client_factory, **(sync_options or {}))
    bridge = SyncBridge(worker) if worker is not None else None
    theme = theme or Theme()
    qt.setStyleSheet(theme.style_sheet())
    translations = Translations(signals)
    closers.append(translations.close)
    ctx = UiContext(settings, signals, ops, translations, theme, store.now, bridge)
    window = MainWindow(ctx, mode, mode_screens(ctx, mode, **(board_options or {})))
    closers.append(window.close)
    closers.append(install_exception_hooks(signals))
    if language != translations.language:
        translations.set_language(language)
    if worker is not None:
        worker.start()
        closers.append(worker.stop)
    return App(qt, store, ctx, window, worker, closers)


def run_window(
    store: LocalStore,
    settings: Settings,
    mode: DeviceKind,
    open_window: Callable[[UiContext], QWidget],
    *,
    language: str = "en",
    theme: Theme | None = None,
) -> int:
    """A window of its own (the call window) on the app's machinery: one app per data dir, the
    log, the theme, the language, the error hooks, the sync worker; the mode's main window stays
    hidden. Returns when that window closes."""
    app = start(store, settings, mode, language=language, theme=theme)
    try:
        window = open_window(app.ctx)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        app.qt.setQuitOnLastWindowClosed(True)
        return app.qt.exec()
    finally:
        app.close()


def run(
    store: LocalStore,
    settings: Settings,
    mode: DeviceKind,
    *,
    language: str = "en",
    theme: Theme | None = None,
    fullscreen: bool = False,
) -> int:
    app = start(store, settings, mode, language=language, theme=theme)
    try:
        if fullscreen:
            app.window.showFullScreen()
        else:
            app.window.resize(1280, 720)
            app.window.show()
        return app.qt.exec()
    finally:
        app.close()
