"""App-wide signals.

Data flows one way (ARCHITECTURE.md): an op commits; the store's change feed says which
entities and ids changed (`desktop.store.changes.Changes`; a pulled page says the same, with
origin `pull`); `AppSignals.changed` carries it to every screen, with the op's initiator; a screen
that cares reloads through a read op, at once if shown, else when next shown (`ui.screen`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class AppSignals(QObject):
    """One per app. Emitted on the GUI thread only (the op runner sees to it)."""

    # (Changes, initiator): the initiator is the screen whose op made the change (None for a
    # change made elsewhere: a pulled page, another thread). It updated itself from the op's
    # answer and does not reload.
    changed = Signal(object, object)
    language_changed = Signal(str)  # the new language code ("en", "es")
    problem = Signal(str)  # a calm, translated sentence for the user; details are in the log
    refused = Signal(object)  # a Reason: an action refused by a typed error no screen handled
