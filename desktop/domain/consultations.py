"""A consultation's states: notes may change while it is open, never once it is closed."""

from __future__ import annotations

from enum import StrEnum


class ConsultationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
