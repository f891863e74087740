"""Queue priority: a transparent score anyone at the desk can explain in one line.

Score = minutes waited + points for urgency, age and pregnancy. Because waiting keeps adding
points, a routine patient overtakes a newly arrived urgent one after a while, so nobody starves;
an emergency is always first.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from desktop.domain.appointments import Urgency
from desktop.domain.errors import InvalidTransition
from desktop.domain.reasons import Reason


class TokenStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    IN_CONSULTATION = "in_consultation"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


T = TokenStatus
TOKEN_TRANSITIONS: dict[TokenStatus, frozenset[TokenStatus]] = {
    T.WAITING: frozenset({T.CALLED, T.CANCELLED}),
    T.CALLED: frozenset({T.IN_CONSULTATION, T.SKIPPED, T.NO_SHOW, T.WAITING}),
    # A skipped patient who comes back goes back into the queue, keeping the time already waited.
    T.SKIPPED: frozenset({T.WAITING, T.NO_SHOW, T.CANCELLED}),
    T.IN_CONSULTATION: frozenset({T.COMPLETED}),
    T.COMPLETED: frozenset(),
    T.NO_SHOW: frozenset(),
    T.CANCELLED: frozenset(),
}

TOKEN_PRECEDENCE: dict[TokenStatus, int] = {
    T.WAITING: 0,
    T.CALLED: 1,
    T.SKIPPED: 2,
    T.CANCELLED: 3,
    T.NO_SHOW: 3,
    T.IN_CONSULTATION: 4,
    T.COMPLETED: 5,
}

URGENCY_POINTS = {Urgency.ROUTINE: 0, Urgency.SOON: 20, Urgency.URGENT: 45, Urgency.EMERGENCY: 1000}
ELDERLY_AGE, ELDERLY_POINTS = 75, 15
CHILD_AGE, CHILD_POINTS = 5, 15
PREGNANCY_POINTS = 15
DEFAULT_CONSULTATION_MINUTES = 12.0


def check_token_transition(current: str, target: str) -> TokenStatus:
    now, new = TokenStatus(current), TokenStatus(target)
    if new not in TOKEN_TRANSITIONS[now]:
        raise InvalidTransition(Reason.of("token.bad_transition", current=now, target=new), field="status")
    return new


@dataclass(frozen=True, slots=True)
class QueueEntry:
    token_id: str
    code: str
    issued_at: datetime
    urgency: Urgency = Urgency.ROUTINE
    age_years: int | None = None
    pregnant: bool = False


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    parts: tuple[Reason, ...]  # each with its `points`: queue.waited, queue.urgency, queue.aged, ...


def priority(entry: QueueEntry, now: datetime) -> Priority:
    waited = max(0, int((now - entry.issued_at).total_seconds() // 60))
    parts = [Reason.of("queue.waited", minutes=waited, points=waited)]
    urgency = Urgency(entry.urgency)
    if URGENCY_POINTS[urgency]:
        parts.append(Reason.of("queue.urgency", urgency=urgency, points=URGENCY_POINTS[urgency]))
    if entry.age_years is not None and entry.age_years >= ELDERLY_AGE:
        parts.append(Reason.of("queue.aged", age=entry.age_years, points=ELDERLY_POINTS))
    elif entry.age_years is not None and entry.age_years < CHILD_AGE:
        parts.append(Reason.of("queue.child", age=entry.age_years, points=CHILD_POINTS))
    if entry.pregnant:
        parts.append(Reason.of("queue.pregnant", points=PREGNANCY_POINTS))
    return Priority(sum(p["points"] for p in parts), tuple(parts))


def order(entries: Sequence[QueueEntry], now: datetime) -> list[tuple[QueueEntry, Priority]]:
    """Highest score first; ties go to whoever came first."""
    ranked = [(e, priority(e, now)) for e in entries]
    ranked.sort(key=lambda ep: (-ep[1].score, ep[0].issued_at, ep[0].code))
    return ranked


def explain(entry: QueueEntry, prio: Priority, position: int) -> Reason:
    """Why a patient is where they are (`queue.position`); in English, e.g. `A-017 is 3rd: waited
    25 min (+25), urgent (+45), aged 78 (+15) = 85 points`."""
    return Reason.of(
        "queue.position", token=entry.code, position=position, parts=prio.parts, score=prio.score
    )


def estimate_wait_minutes(ahead: int, recent_minutes: Sequence[float], doctors: int = 1) -> int:
    """Minutes until a patient with `ahead` people before them is seen, from recent visit lengths."""
    typical = statistics.median(recent_minutes) if recent_minutes else DEFAULT_CONSULTATION_MINUTES
    rounds = math.ceil(ahead / max(1, doctors))
    return round(rounds * typical)
