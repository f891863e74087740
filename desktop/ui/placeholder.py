"""The screen of a mode whose screens are not built yet (kiosk, desk): it says so, in words."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.settings import DeviceKind
from desktop.ui.context import UiContext
from desktop.ui.screen import Screen
from desktop.ui.widgets.sync_badge import SyncBadge


class PlaceholderScreen(Screen):
    def __init__(self, ctx: UiContext, mode: DeviceKind, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.mode = mode
        layout = QVBoxLayout(self)
        layout.setContentsMargins(64, 64, 64, 64)
        self.heading = QLabel()
        self.heading.setProperty("role", "heading")
        self.body = QLabel()
        self.body.setWordWrap(True)
        layout.addStretch(1)
        for label in (self.heading, self.body):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        layout.addStretch(1)
        self.badge = SyncBadge()
        layout.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignRight)
        if ctx.sync is not None:
            ctx.sync.status_changed.connect(self.badge.set_status)
            self.badge.set_status(ctx.sync.status)
        self.translate_ui()

    def load(self) -> None:
        """Nothing to show yet."""

    def translate_ui(self) -> None:
        self.heading.setText(
            QCoreApplication.translate("Placeholder", "Kiosk")
            if self.mode == "kiosk"
            else QCoreApplication.translate("Placeholder", "Desk")
        )
        self.body.setText(
            QCoreApplication.translate(
                "Placeholder",
                "The screens of this mode are being built. This device keeps its data and syncs meanwhile.",
            )
        )
        self.badge.translate_ui()
