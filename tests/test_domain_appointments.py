"""The appointment state machine: every legal move accepted, every other move refused."""

from __future__ import annotations

import itertools

import pytest

from desktop.domain.appointments import (
    AppointmentStatus,
    AppointmentType,
    check_transition,
    initial_status,
    winning_status,
)
from desktop.domain.errors import InvalidTransition

S = AppointmentStatus

# The clinic's rules, written out independently of the code's table.
LEGAL = {
    (S.REQUESTED, S.CONFIRMED),
    (S.REQUESTED, S.REJECTED),
    (S.REQUESTED, S.CANCELLED),
    (S.CONFIRMED, S.CHECKED_IN),
    (S.CONFIRMED, S.CANCELLED),
    (S.CONFIRMED, S.NO_SHOW),
    (S.CONFIRMED, S.RESCHEDULED),
    (S.CHECKED_IN, S.IN_CONSULTATION),
    (S.CHECKED_IN, S.CANCELLED),
    (S.CHECKED_IN, S.NO_SHOW),
    (S.IN_CONSULTATION, S.COMPLETED),
    (S.CONFLICT, S.CONFIRMED),
    (S.CONFLICT, S.CANCELLED),
    (S.CONFLICT, S.RESCHEDULED),
}
ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_every_legal_move_is_accepted(current: S, target: S) -> None:
    assert check_transition(current.value, target.value) is target


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_every_illegal_move_is_refused(current: S, target: S) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(current.value, target.value)
    assert info.value.field == "status"
    assert info.value.message  # a sentence staff can read


def test_all_pairs_are_covered() -> None:
    assert len(ALL_PAIRS) == len(S) ** 2 == 100
    assert set(ALL_PAIRS) > LEGAL


def test_finished_appointments_are_final() -> None:
    for done in (S.COMPLETED, S.CANCELLED, S.REJECTED, S.NO_SHOW, S.RESCHEDULED):
        for target in S:
            with pytest.raises(InvalidTransition):
                check_transition(done, target)


def test_refusal_message_says_what_is_wrong_in_plain_words() -> None:
    with pytest.raises(InvalidTransition, match="cancelled cannot be checked in"):
        check_transition("cancelled", "checked_in")


def test_unknown_status_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidTransition):
        check_transition("confirmed", "teleported")
    with pytest.raises(InvalidTransition):
        check_transition("limbo", "confirmed")


def test_online_requests_wait_for_a_clinician_and_everything_else_is_confirmed() -> None:
    assert initial_status(AppointmentType.ONLINE) is S.REQUESTED
    for kind in AppointmentType:
        if kind is not AppointmentType.ONLINE:
            assert initial_status(kind) is S.CONFIRMED


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        ("completed", "cancelled", "completed"),  # a finished visit is not undone by a late cancel
        ("cancelled", "checked_in", "checked_in"),
        ("confirmed", "requested", "confirmed"),
        ("no_show", "cancelled", "no_show"),
        ("in_consultation", "completed", "completed"),
    ],
)
def test_concurrent_status_changes_keep_the_one_further_along(a: str, b: str, winner: str) -> None:
    assert winning_status(a, b) == winner
    assert winning_status(b, a) == winner
