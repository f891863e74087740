"""The waiting list for a sooner slot: an entry's states."""

from __future__ import annotations

from enum import StrEnum


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # a freed slot is held for the patient until the offer expires
    BOOKED = "booked"
    CANCELLED = "cancelled"


OPEN_WAITLIST = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
