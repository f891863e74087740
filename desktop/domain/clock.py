"""Hybrid logical clock: orders every device's changes causally even when wall clocks are wrong.

A stamp is `"<ms since epoch, 13 digits>-<counter, 4 digits>-<device id>"` and compares as a string.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_COUNTER_MAX = 9999


def format_hlc(ms: int, counter: int, node: str) -> str:
    return f"{ms:013d}-{counter:04d}-{node}"


def parse_hlc(stamp: str) -> tuple[int, int, str]:
    ms, counter, node = stamp.split("-", 2)
    return int(ms), int(counter), node


class HybridLogicalClock:
    """Thread-safe HLC for one device. `now()` stamps a local event; `observe()` absorbs a remote one."""

    def __init__(self, node: str, *, wall_ms: Callable[[], int] | None = None, last: str | None = None):
        self.node = node
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0
        if last:
            self._ms, self._counter, _ = parse_hlc(last)

    def now(self) -> str:
        with self._lock:
            wall = self._wall_ms()
            if wall > self._ms:
                self._ms, self._counter = wall, 0
            else:
                self._bump()
            return format_hlc(self._ms, self._counter, self.node)

    def observe(self, stamp: str) -> None:
        """Advance past a stamp seen from another device, so our next change orders after it."""
        ms, counter, _ = parse_hlc(stamp)
        with self._lock:
            if (ms, counter) > (self._ms, self._counter):
                self._ms, self._counter = ms, counter

    def _bump(self) -> None:
        if self._counter >= _COUNTER_MAX:
            self._ms += 1
            self._counter = 0
        else:
            self._counter += 1
