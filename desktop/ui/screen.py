"""The base of every screen: its strings follow the language, its data follows the changes.

- `translate_ui()` sets every visible string; it runs once at start and on each
  `language_changed` (Frescobaldi's `translateUI`).
- `load()` starts the read op that fills the screen. A change to one of the screen's `interests`
  reloads it at once if it is shown; a hidden screen only marks itself stale and reloads when
  next shown (Anki's deck browser). The screen whose op made the change is the op's initiator:
  it updated itself from the op's result and does not reload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from desktop.store.changes import Changes
from desktop.ui.context import UiContext


class Screen(QWidget):
    interests: ClassVar[frozenset[str]] = frozenset()  # entities whose changes this screen shows
    tour_name: ClassVar[str] = "main"  # its name in the tour's file names

    def __init__(self, ctx: UiContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.stale = True
        self.loads = 0  # how many times it has reloaded (tests, the bench)
        ctx.signals.changed.connect(self._on_changed)
        ctx.signals.language_changed.connect(self._on_language_changed)

    def load(self) -> None:
        raise NotImplementedError

    def translate_ui(self) -> None:
        raise NotImplementedError

    def tour_states(self) -> dict[str, Callable[[], None]]:
        """States the tour renders besides the plain one ("": as loaded)."""
        return {"": lambda: None}

    def refresh(self) -> None:
        self.stale = False
        self.loads += 1
        self.load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stale:
            self.refresh()

    def _on_changed(self, changes: Changes, initiator: object) -> None:
        if initiator is self or changes.entities.isdisjoint(self.interests):
            return
        self.stale = True
        if self.isVisible():
            self.refresh()

    def _on_language_changed(self, _language: str) -> None:
        self.translate_ui()
