"""The sync badge: offline / syncing / synced / needs attention, from the sync bridge's status."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QWidget

from desktop.sync.worker import SyncStatus
from desktop.ui.reasons import fill, number, render

BadgeState = Literal["offline", "syncing", "synced", "attention"]
ATTENTION = ("auth_failed", "upgrade_required", "error")


def badge_state(status: SyncStatus | None) -> BadgeState:
    if status is None or status.state in ("offline", "not_configured"):
        return "offline"
    if status.state in ATTENTION or status.open_conflicts or status.clock_warning:
        return "attention"
    if status.state == "connecting" or (status.syncing and status.pending):
        return "syncing"
    return "synced"


def badge_text(state: BadgeState) -> str:
    return {
        "offline": QCoreApplication.translate("SyncBadge", "Offline"),
        "syncing": QCoreApplication.translate("SyncBadge", "Syncing…"),
        "synced": QCoreApplication.translate("SyncBadge", "Synced"),
        "attention": QCoreApplication.translate("SyncBadge", "Needs attention"),
    }[state]


class SyncBadge(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("syncBadge")
        self.status: SyncStatus | None = None
        self.state: BadgeState = "offline"
        self.translate_ui()

    def set_status(self, status: SyncStatus | None) -> None:
        self.status = status
        state = badge_state(status)
        if state != self.state:
            self.state = state
            self.setProperty("state", state)
            self.style().unpolish(self)
            self.style().polish(self)
        self.translate_ui()

    def translate_ui(self) -> None:
        self.setProperty("state", self.state)
        self.setText(badge_text(self.state))
        details = self.details()
        self.setToolTip(details)
        self.setAccessibleDescription(details)
        self.setAccessibleName(QCoreApplication.translate("SyncBadge", "Sync status"))

    def details(self) -> str:
        """Why the badge says what it says, one line per reason (its tooltip), in the current language."""
        status = self.status
        if status is None:
            return ""
        lines = [render(reason) for reason in (status.last_error, status.clock_warning) if reason is not None]
        if status.open_conflicts:
            lines.append(
                fill(self.tr("Open conflicts to resolve at the desk: %1"), number(status.open_conflicts))
            )
        return "\n".join(lines)
