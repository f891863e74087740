"""PySide6 6.12.0 on CPython 3.11 drops a reference to `True` on every `Signal.emit()` and one to
`None` on every void call, and the process aborts within a minute (PLATFORM.md). The pins in
pyproject.toml avoid it; this test catches a PySide6 that brings it back."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

EMITS = 100_000


class Emitter(QObject):
    flag = Signal(bool)
    ping = Signal()


def test_emitting_signals_keeps_the_reference_counts_of_true_and_none(qapp: Any) -> None:
    emitter = Emitter()
    heard: list[int] = [0, 0]

    def on_flag(value: bool) -> None:
        heard[0] += value

    def on_ping() -> None:
        heard[1] += 1

    emitter.flag.connect(on_flag)
    emitter.ping.connect(on_ping)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(EMITS):
        emitter.flag.emit(True)
        emitter.ping.emit()
    assert heard == [EMITS, EMITS]
    # Immortal objects (3.12+) report a constant; on 3.11 a leak or a drop shows as ~EMITS.
    assert abs(sys.getrefcount(True) - true_before) < 1000
    assert abs(sys.getrefcount(None) - none_before) < 1000
