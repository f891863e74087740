"""App-wide signals, and `Changes`: what a commit changed, as screens hear of it.

Data flows one way (ARCHITECTURE.md): an op commits; the change feed says which entities and ids
changed (a pulled page says the same); `AppSignals.changed` carries it to every screen; a screen
that cares reloads through a read op, at once if shown, else when next shown (`ui.screen`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Signal

Source = Literal["local", "pull"]


@dataclass(frozen=True)
class Changes:
    """Entities (`queue_token`, `clinician`...) and row ids changed by one commit or op.

    `entities` empty means "not known which": everything may have changed (a pulled page
    while only the sync report's counts are known). `initiator` is the screen whose op made the
    change: it has already updated itself and does not reload.
    """

    entities: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    source: Source = "local"
    initiator: object | None = None

    def touches(self, entities: Iterable[str]) -> bool:
        return not self.entities or not self.entities.isdisjoint(entities)

    def merged(self, other: Changes) -> Changes:
        if not self.entities or not other.entities:
            return Changes(source=self.source, initiator=self.initiator)
        return Changes(self.entities | other.entities, self.ids | other.ids, self.source, self.initiator)


class AppSignals(QObject):
    """One per app. Emitted on the GUI thread only (ops and the sync bridge see to it)."""

    changed = Signal(object)  # Changes
    language_changed = Signal(str)  # the new language code ("en", "es")
    problem = Signal(str)  # a calm, translated sentence for the user; details are in the log
