"""Hybrid logical clock: orders every device's changes causally even when wall clocks are wrong.

A stamp is `"<ms since epoch, 13 digits>-<counter, 4 digits>-<device id>"` and compares as a string.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

_COUNTER_MAX = 9999
_MS_MAX = 10**13 - 1  # 13 digits: the year 2286
_STAMP = re.compile(r"(\d{13})-(\d{4})-(.+)", re.ASCII)


class StampAhead(ValueError):
    """A remote stamp further ahead of this clock's wall clock than it accepts: not absorbed."""

    def __init__(self, stamp: str, ahead_ms: int):
        super().__init__(f"stamp {stamp!r} is {ahead_ms} ms ahead of the wall clock")
        self.ahead_ms = ahead_ms


def format_hlc(ms: int, counter: int, node: str) -> str:
    return f"{ms:013d}-{counter:04d}-{node}"


def parse_hlc(stamp: str) -> tuple[int, int, str]:
    """(ms, counter, node); ValueError unless 13 digits, 4 digits and a node."""
    match = _STAMP.fullmatch(stamp)
    if match is None:
        raise ValueError(f"not a clock stamp: {stamp[:80]!r}")
    return int(match[1]), int(match[2]), match[3]


class HybridLogicalClock:
    """Thread-safe HLC for one device. `now()` stamps a local event; `observe()` absorbs a remote one."""

    def __init__(
        self,
        node: str,
        *,
        wall_ms: Callable[[], int] | None = None,
        last: str | None = None,
        max_ahead_ms: int | None = None,
    ):
        """`max_ahead_ms`: `observe` refuses (StampAhead) a stamp further ahead of the wall clock than
        this, so one device's wrong clock never drags this one (and every stamp it makes) along."""
        self.node = node
        self.max_ahead_ms = max_ahead_ms
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
            if self.too_far_ahead(stamp):
                raise StampAhead(stamp, ms - self._wall_ms())
            if (ms, counter) > (self._ms, self._counter):
                self._ms, self._counter = ms, counter

    def too_far_ahead(self, stamp: str) -> bool:
        """Further ahead of the wall clock than `max_ahead_ms` (never without a limit, nor for a
        stamp that is not one: it compares as no clock would, and `observe` refuses it)."""
        match = _STAMP.fullmatch(stamp)
        if self.max_ahead_ms is None or match is None:
            return False
        return int(match[1]) - self._wall_ms() > self.max_ahead_ms

    def _bump(self) -> None:
        if self._counter < _COUNTER_MAX:
            self._counter += 1
        elif self._ms < _MS_MAX:  # at the end of 13 digits the stamp stays put: never a 14th digit
            self._ms, self._counter = self._ms + 1, 0
