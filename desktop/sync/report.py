"""What one sync did, and how far it has got: plain values, safe to hand to any thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from desktop.domain.reasons import Reason
from desktop.sync.errors import SyncError

Stage = Literal["push", "pull", "done"]


@dataclass(frozen=True)
class Progress:
    """Reported after each committed chunk: `done` of `total` ops pushed, or changes pulled so far
    (`total` is None while pulling: the server does not say how many are left)."""

    stage: Stage
    done: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


@dataclass
class SyncReport:
    pushed: int = 0  # ops answered by the server
    applied: int = 0
    merged: int = 0
    conflicts: int = 0
    rejected: int = 0
    duplicates: int = 0  # answered from an earlier delivery (a retry after a lost answer)
    pulled: int = 0  # changes written locally
    rebased: int = 0  # pulled rows that kept this device's pending edits on top
    pages: int = 0
    duration: float = 0.0  # seconds
    clock_skew_ms: int | None = None  # server minus device, from the last push answer
    clock_warning: Reason | None = None  # sync.clock_off
    # ops refused or not sent (sync.refused, sync.not_sent.*); the failure that stopped sync
    errors: list[Reason] = field(default_factory=list)
    error: SyncError | None = None  # the failure that stopped this sync, typed
    cancelled: bool = False
    stage: Stage = "push"  # the stage reached

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def summary(self) -> str:
        """One line for logs and the `clinic sync` command."""
        return (
            f"pushed {self.pushed} (applied {self.applied}, merged {self.merged}, "
            f"conflicts {self.conflicts}, rejected {self.rejected}), pulled {self.pulled}"
        )
