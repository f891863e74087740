"""What the bench scripts share: percentiles, progress lines, and the machine the figures are from."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class ProgressLog:
    """Timestamped progress lines on stderr, or nothing (--json)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=sys.stderr, flush=True)


class StolenTime:
    """CPU time the hypervisor gave to other guests over a stretch: Linux's `steal` in /proc/stat.

    On a shared virtual machine the same code measures up to 2–3 times slower while neighbours
    are busy (BENCHMARKS.md). `percent()` is the stolen share of all the machine's CPU time since
    the object was made (both cores, busy or idle): every bench reports it beside its figures.
    """

    def __init__(self) -> None:
        self._start = _cpu_ticks()

    def percent(self) -> float | None:
        end = _cpu_ticks()
        if self._start is None or end is None:
            return None  # not Linux
        total = sum(end) - sum(self._start)
        return round(100 * (end[7] - self._start[7]) / total, 1) if total else 0.0


def _cpu_ticks() -> list[int] | None:
    """user, nice, system, idle, iowait, irq, softirq, steal: the machine's CPU ticks so far."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    return [int(v) for v in fields[1:9]]


def machine() -> dict[str, Any]:
    """What the figures were measured on: repeated under `machine` in every bench's JSON."""
    cpu = platform.processor() or platform.machine()
    memory_gb: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }
