"""The one main window of every mode: a calm notice line over the mode's screens."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from desktop.settings import DeviceKind
from desktop.ui.context import UiContext
from desktop.ui.screen import Screen
from desktop.ui.theme import icon
from desktop.ui.widgets.notice import Notice


def mode_title(mode: DeviceKind) -> str:
    return {
        "board": QCoreApplication.translate("Window", "ClinicDesk — waiting-room board"),
        "kiosk": QCoreApplication.translate("Window", "ClinicDesk — kiosk"),
        "desk": QCoreApplication.translate("Window", "ClinicDesk — desk"),
    }[mode]


class MainWindow(QMainWindow):
    def __init__(self, ctx: UiContext, mode: DeviceKind, screens: list[Screen]):
        super().__init__()
        self.ctx = ctx
        self.mode = mode
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.notice = Notice()
        layout.addWidget(self.notice)
        self.stack = QStackedWidget()
        for screen in screens:
            self.stack.addWidget(screen)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.setWindowIcon(icon("clinicdesk"))
        ctx.signals.problem.connect(self.notice.show_message)
        ctx.signals.refused.connect(self.notice.show_reason)
        ctx.signals.language_changed.connect(self._translate_ui)
        self._translate_ui()

    @property
    def screens(self) -> list[Screen]:
        return [self.stack.widget(i) for i in range(self.stack.count())]  # type: ignore[misc]

    def show_screen(self, screen: Screen) -> None:
        self.stack.setCurrentWidget(screen)

    def _translate_ui(self, _language: str = "") -> None:
        self.setWindowTitle(mode_title(self.mode))
        self.notice.translate_ui()
