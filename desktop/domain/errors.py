"""Typed errors raised by the services; each message is meant for a receptionist, not a developer.

An error carries a structured `reason` (desktop.domain.reasons) for screens to render in the
reader's language, and `message`, its English (what the `clinic` command prints). Errors raised
with a plain sentence carry it as a reason of code `text`.
"""

from __future__ import annotations

from typing import Any

from desktop.domain.english import english
from desktop.domain.reasons import Reason, text


class ClinicError(Exception):
    """Base of every error a service raises on purpose. `message` is shown to staff as it is."""

    code = "error"

    def __init__(
        self, message: str | Reason, *, field: str | None = None, details: dict[str, Any] | None = None
    ):
        self.reason = message if isinstance(message, Reason) else text(message)
        self.message = english(self.reason)
        super().__init__(self.message)
        self.field = field
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(ClinicError):
    """A value the user typed or sent is not acceptable; `field` names it."""

    code = "invalid_input"


class NotFound(ClinicError):
    code = "not_found"


class NotAllowed(ClinicError):
    """The acting user or device may not do this."""

    code = "not_allowed"


class InvalidTransition(ClinicError):
    """A status change the state machine forbids (e.g. completing a cancelled appointment)."""

    code = "invalid_transition"


class BookingConflict(ClinicError):
    """The slot is taken, outside working hours, or overlaps the patient's own appointment."""

    code = "booking_conflict"


class ProbableDuplicate(ClinicError):
    """A patient with the same name and birth date (or phone and birth date) already exists."""

    code = "probable_duplicate"

    def __init__(self, message: str | Reason, *, candidate_ids: list[str]):
        super().__init__(message, details={"candidates": candidate_ids})
        self.candidate_ids = candidate_ids


class ImmutableRecord(ClinicError):
    """An issued prescription (or other signed record) cannot be edited; issue a correction."""

    code = "immutable"
