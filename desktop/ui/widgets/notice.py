"""A calm message across the top of the window (a problem, a refused action); it goes by itself."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from desktop.domain.reasons import Reason
from desktop.ui.reasons import render

SHOWN_MS = 12_000


class Notice(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("notice")
        self.setWordWrap(True)
        self.hide()
        self._timer = QTimer(self, singleShot=True, interval=SHOWN_MS)
        self._timer.timeout.connect(self.hide)
        self.reason: Reason | None = (
            None  # what is shown, when it is a reason: re-rendered on a language change
        )

    def show_message(self, text: str) -> None:
        self.reason = None
        self.setText(text)
        self.show()
        self._timer.start()

    def show_reason(self, reason: Reason) -> None:
        self.show_message(render(reason))
        self.reason = reason

    def translate_ui(self) -> None:
        if self.reason is not None:
            self.setText(render(self.reason))
