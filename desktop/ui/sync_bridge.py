"""The sync worker's callbacks, re-emitted as Qt signals on the GUI thread (Electrum's bridge).

`SyncWorker` is plain Python and calls its observers on its own thread; widgets hear of it only
through these signals. What a sync changed reaches screens through the store's change feed
(`AppSignals.changed`, origin `pull`), not through here.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QObject, Qt, Signal

from desktop.sync.worker import SyncStatus, SyncWorker


class SyncBridge(QObject):
    status_changed = Signal(object)  # SyncStatus
    heard_from_server = Signal(object)  # datetime of the last sync the server answered

    _observed = Signal(object)  # from the worker thread

    def __init__(self, worker: SyncWorker, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.status: SyncStatus = worker.status()
        self._observed.connect(self._on_status, type=Qt.ConnectionType.QueuedConnection)
        worker.on_status(self._observed.emit)

    @property
    def last_heard(self) -> datetime | None:
        return self.status.last_sync_at

    def _on_status(self, status: SyncStatus) -> None:
        before, self.status = self.status, status
        self.status_changed.emit(status)
        if status.last_sync_at is not None and status.last_sync_at != before.last_sync_at:
            self.heard_from_server.emit(status.last_sync_at)
