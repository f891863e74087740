"""What every screen is given: the app's signals, the op runner, the language, the sync bridge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from desktop.settings import Settings
from desktop.ui.i18n import Translations
from desktop.ui.ops import OpRunner
from desktop.ui.signals import AppSignals
from desktop.ui.sync_bridge import SyncBridge
from desktop.ui.theme import Theme


@dataclass
class UiContext:
    settings: Settings
    signals: AppSignals
    ops: OpRunner
    translations: Translations
    theme: Theme
    now: Callable[[], datetime]  # the store's clock (a demo moves it)
    sync: SyncBridge | None = None  # None: this device works offline only
