"""Queue priority: emergencies first, urgency counts, nobody starves, and the order can be explained."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from desktop.domain.appointments import Urgency
from desktop.domain.english import english
from desktop.domain.errors import InvalidTransition
from desktop.domain.queue import (
    QueueEntry,
    TokenStatus,
    check_token_transition,
    estimate_wait_minutes,
    explain,
    order,
    priority,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def entry(code: str, minutes_ago: float, now: datetime, **kw: object) -> QueueEntry:
    return QueueEntry(code, code, now - timedelta(minutes=minutes_ago), **kw)  # type: ignore[arg-type]


def codes(entries: list[QueueEntry], now: datetime) -> list[str]:
    return [e.code for e, _ in order(entries, now)]


def test_an_emergency_goes_first_even_against_long_waits_and_bonuses() -> None:
    now = T0 + timedelta(hours=4)
    queue = [
        entry("A-001", 240, now, age_years=88, pregnant=True),
        entry("A-002", 120, now, urgency=Urgency.URGENT),
        entry("A-003", 0, now, urgency=Urgency.EMERGENCY),
    ]
    assert codes(queue, now)[0] == "A-003"


def test_urgent_beats_routine_at_equal_wait() -> None:
    now = T0 + timedelta(minutes=10)
    queue = [entry("A-001", 10, now), entry("A-002", 10, now, urgency=Urgency.URGENT)]
    assert codes(queue, now) == ["A-002", "A-001"]
    soon = [entry("A-001", 10, now), entry("A-002", 10, now, urgency=Urgency.SOON)]
    assert codes(soon, now) == ["A-002", "A-001"]


def test_a_routine_patient_who_waited_long_enough_overtakes_a_new_urgent_one() -> None:
    """No starvation: waiting keeps adding points, so routine patients are not passed over forever."""
    arrived = T0
    overtaken_at = None
    for minutes in range(0, 240):
        now = arrived + timedelta(minutes=minutes)
        queue = [
            QueueEntry("A-001", "A-001", arrived),
            QueueEntry("A-002", "A-002", now, Urgency.URGENT),  # a new urgent patient just arrived
        ]
        if codes(queue, now)[0] == "A-001":
            overtaken_at = minutes
            break
    assert overtaken_at is not None
    assert 0 < overtaken_at <= 60  # an urgent newcomer does go first, but not for more than an hour


def test_equal_scores_go_to_whoever_came_first() -> None:
    now = T0 + timedelta(minutes=30)
    first = QueueEntry("B-007", "B-007", T0)
    second = QueueEntry("A-001", "A-001", T0 + timedelta(seconds=30))
    assert codes([second, first], now) == ["B-007", "A-001"]


def test_age_and_pregnancy_add_points() -> None:
    now = T0 + timedelta(minutes=5)
    plain = priority(entry("A-001", 5, now, age_years=40), now).score
    assert priority(entry("A-002", 5, now, age_years=80), now).score > plain
    assert priority(entry("A-003", 5, now, age_years=2), now).score > plain
    assert priority(entry("A-004", 5, now, pregnant=True), now).score > plain


def test_a_token_issued_in_the_future_does_not_get_negative_points() -> None:
    now = T0
    assert priority(QueueEntry("A-001", "A-001", T0 + timedelta(minutes=5)), now).score == 0


_EXPLANATION = re.compile(
    r"^(?P<code>[A-Z]-\d{3}) is (?P<pos>\d+(st|nd|rd|th)): (?P<parts>.+) = (?P<total>\d+) points$"
)


def test_explain_is_one_line_whose_points_add_up() -> None:
    now = T0 + timedelta(minutes=25)
    e = entry("A-017", 25, now, urgency=Urgency.URGENT, age_years=78)
    prio = priority(e, now)
    text = english(explain(e, prio, 3))
    assert "\n" not in text
    match = _EXPLANATION.match(text)
    assert match, text
    assert match["code"] == "A-017"
    assert match["pos"] == "3rd"
    assert "waited 25 min (+25)" in text
    assert "urgent (+45)" in text
    assert "aged 78 (+15)" in text
    points = [int(p) for p in re.findall(r"\(\+(\d+)\)", match["parts"])]
    assert sum(points) == int(match["total"]) == prio.score


@pytest.mark.parametrize(
    ("position", "word"), [(1, "1st"), (2, "2nd"), (11, "11th"), (12, "12th"), (22, "22nd")]
)
def test_explain_uses_english_ordinals(position: int, word: str) -> None:
    e = entry("A-001", 0, T0)
    assert f" is {word}:" in english(explain(e, priority(e, T0), position))


def test_estimate_wait_uses_the_median_of_recent_visits() -> None:
    assert estimate_wait_minutes(0, [10, 12, 14]) == 0
    assert estimate_wait_minutes(3, [10, 12, 14]) == 36
    # One very long visit does not blow up everyone's estimate.
    assert estimate_wait_minutes(3, [10, 10, 10, 90]) == 30


def test_estimate_wait_shares_the_queue_between_doctors() -> None:
    assert estimate_wait_minutes(3, [20], doctors=2) == 40
    assert estimate_wait_minutes(4, [20], doctors=2) == 40
    assert estimate_wait_minutes(5, [20], doctors=0) == 100  # no doctor counted: assume one


def test_estimate_wait_without_history_uses_a_typical_visit() -> None:
    assert estimate_wait_minutes(2, []) > 0
    assert estimate_wait_minutes(4, []) == 2 * estimate_wait_minutes(2, [])


def test_a_skipped_patient_can_return_to_the_queue_but_a_finished_one_cannot() -> None:
    assert check_token_transition("skipped", "waiting") is TokenStatus.WAITING
    assert check_token_transition("called", "skipped") is TokenStatus.SKIPPED
    with pytest.raises(InvalidTransition):
        check_token_transition("completed", "waiting")
    with pytest.raises(InvalidTransition):
        check_token_transition("waiting", "completed")
