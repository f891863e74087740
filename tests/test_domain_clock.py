"""The hybrid logical clock keeps every device's changes in causal order, whatever the wall clocks do."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.domain.clock import HybridLogicalClock, format_hlc, parse_hlc


class Wall:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_stamps_strictly_increase_on_a_frozen_wall_clock() -> None:
    clock = HybridLogicalClock("dev-a", wall_ms=Wall(1_700_000_000_000))
    stamps = [clock.now() for _ in range(500)]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


def test_counter_overflow_carries_into_the_milliseconds() -> None:
    clock = HybridLogicalClock("dev-a", wall_ms=Wall(1_700_000_000_000))
    stamps = [clock.now() for _ in range(10_050)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert parse_hlc(stamps[-1])[0] == 1_700_000_000_001


def test_wall_clock_going_backwards_still_gives_increasing_stamps() -> None:
    wall = Wall(1_700_000_500_000)
    clock = HybridLogicalClock("dev-a", wall_ms=wall)
    before = clock.now()
    wall.ms -= 3_600_000  # someone set the PC's clock back an hour
    after = [clock.now() for _ in range(3)]
    assert before < after[0] < after[1] < after[2]
    wall.ms += 7_200_000
    assert clock.now() > after[2]


def test_observe_moves_past_a_remote_stamp_from_a_device_whose_clock_is_ahead() -> None:
    mine = HybridLogicalClock("dev-a", wall_ms=Wall(1_700_000_000_000))
    theirs = HybridLogicalClock("dev-b", wall_ms=Wall(1_700_000_900_000))  # 15 minutes ahead
    local_before = mine.now()
    remote = theirs.now()
    assert remote > local_before
    mine.observe(remote)
    assert mine.now() > remote


def test_observe_of_an_equal_millisecond_orders_after_it() -> None:
    mine = HybridLogicalClock("zzz", wall_ms=Wall(1_700_000_000_000))
    mine.observe(format_hlc(1_700_000_000_000, 7, "aaa"))
    assert mine.now() > format_hlc(1_700_000_000_000, 7, "zzzz")


def test_observing_an_older_stamp_changes_nothing() -> None:
    clock = HybridLogicalClock("dev-a", wall_ms=Wall(1_700_000_000_000))
    first = clock.now()
    clock.observe(format_hlc(1_600_000_000_000, 42, "dev-b"))
    assert parse_hlc(clock.now())[:2] == (parse_hlc(first)[0], 1)


def test_a_restarted_clock_resumes_after_its_last_stamp() -> None:
    old = HybridLogicalClock("dev-a", wall_ms=Wall(1_700_000_000_000))
    last = [old.now() for _ in range(5)][-1]
    restarted = HybridLogicalClock("dev-a", wall_ms=Wall(1_699_000_000_000), last=last)
    assert restarted.now() > last


def test_string_order_matches_numeric_order_across_digit_counts() -> None:
    # 13 zero-padded digits: a stamp from 2001 still sorts before one from 2286 as a string.
    early, late = format_hlc(999_999_999_999, 9999, "b"), format_hlc(1_000_000_000_000, 0, "a")
    assert early < late
    assert format_hlc(5, 9, "x") < format_hlc(5, 10, "x")
    assert parse_hlc(format_hlc(1_700_000_000_123, 42, "01a2-b3")) == (1_700_000_000_123, 42, "01a2-b3")


# A random history of three devices with skewed, jumping wall clocks, exchanging stamps.
_events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["tick", "send", "wall"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(-5_000, 5_000),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(_events)
def test_string_order_is_causal_order(events: list[tuple[str, str, str, int]]) -> None:
    """Whatever happened before a stamp (on its own device, or received from another) sorts below it."""
    walls = {n: Wall(1_700_000_000_000 + i * 60_000) for i, n in enumerate("abc")}
    clocks = {n: HybridLogicalClock(n, wall_ms=walls[n]) for n in "abc"}
    # The highest stamp each device has seen or made: everything causally before its next event.
    horizon: dict[str, str] = {n: "" for n in "abc"}
    for device, kind, peer, jump in events:
        if kind == "wall":
            walls[device].ms += jump  # wall clocks jump both ways
            continue
        stamp = clocks[device].now()
        assert stamp > horizon[device]
        horizon[device] = stamp
        if kind == "send" and peer != device:
            clocks[peer].observe(stamp)
            horizon[peer] = max(horizon[peer], stamp)
