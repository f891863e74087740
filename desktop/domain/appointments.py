"""Appointment kinds, urgency and the status state machine."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from desktop.domain.errors import InvalidTransition
from desktop.domain.reasons import Reason


class AppointmentType(StrEnum):
    WALK_IN = "walk_in"
    KIOSK = "kiosk"
    ONLINE = "online"
    TELEHEALTH = "telehealth"
    EMERGENCY = "emergency"
    FOLLOW_UP = "follow_up"


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class AppointmentStatus(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CHECKED_IN = "checked_in"
    IN_CONSULTATION = "in_consultation"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"
    # Lost a double booking on the server; staff rebook or cancel it from the conflict log.
    CONFLICT = "conflict"


S = AppointmentStatus

TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.REQUESTED: frozenset({S.CONFIRMED, S.REJECTED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW, S.RESCHEDULED}),
    S.CHECKED_IN: frozenset({S.IN_CONSULTATION, S.CANCELLED, S.NO_SHOW}),
    S.IN_CONSULTATION: frozenset({S.COMPLETED}),
    S.CONFLICT: frozenset({S.CONFIRMED, S.CANCELLED, S.RESCHEDULED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.RESCHEDULED: frozenset(),
}

# Statuses that hold a slot: only these count against a doctor's capacity or a patient's time.
ACTIVE_STATUSES: frozenset[AppointmentStatus] = frozenset(
    {S.REQUESTED, S.CONFIRMED, S.CHECKED_IN, S.IN_CONSULTATION, S.COMPLETED}
)

# When two devices changed an appointment's status concurrently, the one further along wins:
# a finished consultation is not undone by a late cancel.
PRECEDENCE: dict[AppointmentStatus, int] = {
    S.REQUESTED: 0,
    S.CONFLICT: 0,
    S.CONFIRMED: 1,
    S.REJECTED: 2,
    S.RESCHEDULED: 2,
    S.CANCELLED: 2,
    S.NO_SHOW: 3,
    S.CHECKED_IN: 4,
    S.IN_CONSULTATION: 5,
    S.COMPLETED: 6,
}


def check_transition(current: str, target: str) -> AppointmentStatus:
    """Return `target` as a status if the move is legal, else raise `InvalidTransition`."""
    try:
        now, new = AppointmentStatus(current), AppointmentStatus(target)
    except ValueError as exc:
        raise InvalidTransition(
            Reason.of("appointment.unknown_status", problem=str(exc)), field="status"
        ) from None
    if new not in TRANSITIONS[now]:
        raise InvalidTransition(
            Reason.of("appointment.bad_transition", current=now, target=new), field="status"
        )
    return new


def winning_status(a: str, b: str) -> str:
    """The status kept when two devices set different ones concurrently."""
    return a if PRECEDENCE[AppointmentStatus(a)] >= PRECEDENCE[AppointmentStatus(b)] else b


def initial_status(kind: AppointmentType) -> AppointmentStatus:
    """Online requests wait for a clinician's acceptance; everything booked on site is confirmed."""
    return S.REQUESTED if kind is AppointmentType.ONLINE else S.CONFIRMED


def reachable(transitions: Mapping[Any, frozenset[Any]], start: Any, target: Any) -> bool:
    """Whether `target` can follow `start` in one or more legal moves (an op may carry several
    moves made in one unit of work, e.g. checked in and straight into consultation)."""
    seen, frontier = {start}, [start]
    while frontier:
        for nxt in transitions[frontier.pop()]:
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return start == target
