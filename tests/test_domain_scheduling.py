"""Working hours turned into bookable slots: breaks, leave, holidays, notice, buffers, capacity, DST."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from desktop.domain.scheduling import (
    Break,
    ClinicCalendar,
    DoctorSchedule,
    Leave,
    Slot,
    WorkingHours,
    free_slots,
)
from tests.support import BERLIN, NEW_YORK

MONDAY = date(2026, 3, 2)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def schedule(
    *hours: WorkingHours, breaks: tuple[Break, ...] = (), leave: tuple[Leave, ...] = ()
) -> DoctorSchedule:
    return DoctorSchedule("doc", hours, breaks, leave)


def hours(weekday: int = 0, start: int = 9, end: int = 12, **kw: object) -> WorkingHours:
    return WorkingHours(weekday, time(start), time(end), **kw)  # type: ignore[arg-type]


def local_starts(slots: list[Slot], tz: ZoneInfo = BERLIN) -> list[str]:
    return [f"{s.start.astimezone(tz):%H:%M}" for s in slots]


def slots_on(
    sched: DoctorSchedule,
    day: date,
    *,
    tz: ZoneInfo = BERLIN,
    booked: Sequence[tuple[datetime, datetime]] = (),
    now: datetime = LONG_AGO,
    holidays: frozenset[date] = frozenset(),
    notice: timedelta = timedelta(0),
    include_full: bool = False,
) -> list[Slot]:
    intervals = sorted((ts(a), ts(b)) for a, b in booked)
    return free_slots(
        sched,
        ClinicCalendar(tz, holidays, notice),
        day,
        day,
        intervals,
        now=now,
        include_full=include_full,
    )


def test_plain_morning_gives_twelve_quarter_hours() -> None:
    slots = slots_on(schedule(hours()), MONDAY)
    assert len(slots) == 12
    assert local_starts(slots)[0] == "09:00"
    assert local_starts(slots)[-1] == "11:45"
    assert all(s.end - s.start == timedelta(minutes=15) for s in slots)
    assert all(s.start.tzinfo is UTC for s in slots)


def test_only_the_right_weekday_has_slots() -> None:
    assert slots_on(schedule(hours(weekday=0)), MONDAY + timedelta(days=1)) == []


def test_a_break_removes_the_slots_it_touches() -> None:
    sched = schedule(hours(), breaks=(Break(0, time(10), time(10, 30)),))
    starts = local_starts(slots_on(sched, MONDAY))
    assert "09:45" in starts  # ends as the break begins
    assert "10:00" not in starts and "10:15" not in starts
    assert "10:30" in starts
    assert len(starts) == 10


def test_a_break_on_another_weekday_does_not_apply() -> None:
    sched = schedule(hours(), breaks=(Break(1, time(10), time(10, 30)),))
    assert len(slots_on(sched, MONDAY)) == 12


def test_leave_removes_whole_days_inclusive() -> None:
    sched = schedule(
        *(hours(weekday=d) for d in range(5)),
        leave=(Leave(MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)),),
    )
    found = free_slots(sched, ClinicCalendar(BERLIN), MONDAY, MONDAY + timedelta(days=4), now=LONG_AGO)
    days = {s.start.astimezone(BERLIN).date() for s in found}
    assert days == {MONDAY, MONDAY + timedelta(days=3), MONDAY + timedelta(days=4)}


def test_clinic_holidays_close_every_doctor() -> None:
    assert slots_on(schedule(hours()), MONDAY, holidays=frozenset({MONDAY})) == []


def test_minimum_notice_hides_slots_too_soon_to_book() -> None:
    now = at(MONDAY, 9, 40)
    slots = slots_on(schedule(hours()), MONDAY, now=now, notice=timedelta(hours=1))
    assert local_starts(slots)[0] == "10:45"  # 09:40 + 60 min, next slot start
    no_notice = slots_on(schedule(hours()), MONDAY, now=now)
    assert local_starts(no_notice)[0] == "09:45"  # past slots are never offered


def test_buffers_leave_a_gap_after_each_slot() -> None:
    slots = slots_on(schedule(hours(slot_minutes=15, buffer_minutes=5)), MONDAY)
    starts = local_starts(slots)
    assert starts[:4] == ["09:00", "09:20", "09:40", "10:00"]
    assert all(s.end - s.start == timedelta(minutes=15) for s in slots)
    assert slots[-1].end <= at(MONDAY, 12)
    assert len(slots) == 9  # 09:00 … 11:40 every 20 minutes


def test_a_slot_that_does_not_fit_before_closing_is_not_offered() -> None:
    slots = slots_on(schedule(WorkingHours(0, time(9), time(10, 10), slot_minutes=20)), MONDAY)
    assert local_starts(slots) == ["09:00", "09:20", "09:40"]


def test_capacity_is_patients_per_slot() -> None:
    sched = schedule(hours(capacity=2))
    one = slots_on(sched, MONDAY, booked=[(at(MONDAY, 9), at(MONDAY, 9, 15))])
    first = one[0]
    assert (local_starts([first]), first.taken, first.free) == (["09:00"], 1, 1)
    two = [(at(MONDAY, 9), at(MONDAY, 9, 15))] * 2
    full = slots_on(sched, MONDAY, booked=two)
    assert "09:00" not in local_starts(full)
    with_full = slots_on(sched, MONDAY, booked=two, include_full=True)
    assert (with_full[0].taken, with_full[0].free) == (2, 0)


def test_a_longer_appointment_blocks_every_slot_it_overlaps() -> None:
    # Booked when slots were 30 minutes long: it still blocks both 15-minute slots.
    slots = slots_on(schedule(hours()), MONDAY, booked=[(at(MONDAY, 10), at(MONDAY, 10, 30))])
    starts = local_starts(slots)
    assert "09:45" in starts and "10:30" in starts
    assert "10:00" not in starts and "10:15" not in starts


def test_an_appointment_across_a_buffer_only_blocks_its_own_slot() -> None:
    slots = slots_on(
        schedule(hours(slot_minutes=15, buffer_minutes=5)),
        MONDAY,
        booked=[(at(MONDAY, 9, 20), at(MONDAY, 9, 35))],
    )
    starts = local_starts(slots)
    assert "09:20" not in starts
    assert {"09:00", "09:40"} <= set(starts)


def test_daily_cap_closes_the_day_once_reached() -> None:
    sched = schedule(hours(daily_cap=2))
    one = [(at(MONDAY, 9), at(MONDAY, 9, 15))]
    assert len(slots_on(sched, MONDAY, booked=one)) == 11
    two = [*one, (at(MONDAY, 11), at(MONDAY, 11, 15))]
    assert slots_on(sched, MONDAY, booked=two) == []
    # Yesterday's bookings do not count against today.
    yesterday = [(at(MONDAY, 9) - timedelta(days=1), at(MONDAY, 9, 15) - timedelta(days=1))] * 3
    assert len(slots_on(sched, MONDAY, booked=yesterday)) == 12


def test_valid_from_and_valid_to_limit_a_window_to_its_period() -> None:
    summer = WorkingHours(0, time(14), time(15), valid_from=date(2026, 3, 9), valid_to=date(2026, 3, 16))
    sched = schedule(hours(), summer)
    week = lambda n: MONDAY + timedelta(weeks=n)  # noqa: E731
    assert "14:00" not in local_starts(slots_on(sched, week(0)))
    assert "14:00" in local_starts(slots_on(sched, week(1)))  # first valid day
    assert "14:00" in local_starts(slots_on(sched, week(2)))  # last valid day
    assert "14:00" not in local_starts(slots_on(sched, week(3)))
    assert "09:00" in local_starts(slots_on(sched, week(3)))


def test_two_windows_on_one_day_are_listed_in_time_order() -> None:
    slots = slots_on(schedule(hours(start=14, end=15), hours(start=9, end=10)), MONDAY)
    starts = [s.start for s in slots]
    assert starts == sorted(starts)
    assert len(slots) == 8


# --- Daylight saving --------------------------------------------------------------------------

BERLIN_SPRING = date(2026, 3, 29)  # Sunday: 02:00 → 03:00
BERLIN_FALL = date(2026, 10, 25)  # Sunday: 03:00 → 02:00
NY_SPRING = date(2026, 3, 8)
NY_FALL = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("tz", "day", "utc_hour"),
    [
        (BERLIN, date(2026, 3, 22), 8),  # winter (CET, UTC+1)
        (BERLIN, BERLIN_SPRING, 7),  # summer from this morning (CEST, UTC+2)
        (BERLIN, date(2026, 10, 18), 7),
        (BERLIN, BERLIN_FALL, 8),  # winter again
        (NEW_YORK, date(2026, 3, 1), 14),  # EST, UTC-5
        (NEW_YORK, NY_SPRING, 13),  # EDT, UTC-4
        (NEW_YORK, date(2026, 10, 25), 13),
        (NEW_YORK, NY_FALL, 14),
    ],
)
def test_nine_oclock_stays_nine_oclock_on_the_clinic_wall(tz: ZoneInfo, day: date, utc_hour: int) -> None:
    slots = slots_on(schedule(hours(weekday=6, start=9, end=10)), day, tz=tz)
    assert day.weekday() == 6
    assert slots[0].start == datetime.combine(day, time(utc_hour), tzinfo=UTC)
    assert local_starts(slots, tz)[0] == "09:00"
    assert len(slots) == 4


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        (BERLIN, BERLIN_SPRING, 20),  # the night has only 5 real hours
        (BERLIN, BERLIN_FALL, 28),  # and here 7
        (BERLIN, date(2026, 3, 22), 24),
        (NEW_YORK, NY_SPRING, 20),
        (NEW_YORK, NY_FALL, 28),
        (NEW_YORK, date(2026, 3, 1), 24),
    ],
)
def test_a_night_window_steps_in_real_time_across_the_change(tz: ZoneInfo, day: date, expected: int) -> None:
    slots = slots_on(schedule(hours(weekday=6, start=0, end=6)), day, tz=tz)
    assert len(slots) == expected
    starts = [s.start for s in slots]
    assert len(set(starts)) == len(starts)  # no UTC start twice
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(starts))
    assert all(s.end - s.start == timedelta(minutes=15) for s in slots)
    assert slots[0].start.astimezone(tz).time() == time(0)
    assert slots[-1].end.astimezone(tz).time() == time(6)


def test_fall_back_night_shows_the_repeated_hour_twice_on_the_wall() -> None:
    slots = slots_on(schedule(hours(weekday=6, start=0, end=6)), BERLIN_FALL)
    labels = local_starts(slots)
    assert labels.count("02:00") == 2 and labels.count("02:45") == 2
    assert labels.count("01:00") == 1


def test_spring_forward_night_never_offers_a_wall_time_that_does_not_exist() -> None:
    labels = local_starts(slots_on(schedule(hours(weekday=6, start=0, end=6)), BERLIN_SPRING))
    assert not any(label.startswith("02:") for label in labels)
    assert "01:45" in labels and "03:00" in labels


def test_bookings_on_a_dst_day_block_the_right_slot() -> None:
    booked = [(datetime(2026, 10, 25, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 15, tzinfo=UTC))]
    slots = slots_on(schedule(hours(weekday=6, start=0, end=6)), BERLIN_FALL, booked=booked)
    assert len(slots) == 27
    assert datetime(2026, 10, 25, 1, 0, tzinfo=UTC) not in {s.start for s in slots}
    # 01:00 UTC is the first 02:00 (still summer time); the second 02:00 (02:00 UTC) stays free.
    assert datetime(2026, 10, 25, 2, 0, tzinfo=UTC) in {s.start for s in slots}


def test_bookings_on_every_day_of_a_range_block_their_own_slots() -> None:
    week = schedule(*(hours(weekday=d, start=9, end=10) for d in range(5)))
    booked = [
        (at(MONDAY + timedelta(days=d), 9, 15), at(MONDAY + timedelta(days=d), 9, 30)) for d in range(5)
    ]
    intervals = sorted((ts(a), ts(b)) for a, b in booked)
    calendar = ClinicCalendar(BERLIN)
    found = free_slots(week, calendar, MONDAY, MONDAY + timedelta(days=4), intervals, now=LONG_AGO)
    full = free_slots(
        week, calendar, MONDAY, MONDAY + timedelta(days=4), intervals, now=LONG_AGO, include_full=True
    )
    assert len(found) == 5 * 3
    assert not {a for a, _ in booked} & {s.start for s in found}
    assert [s.taken for s in full] == [0, 1, 0, 0] * 5


def test_a_slot_list_reads_like_a_list_of_slots() -> None:
    found = slots_on(schedule(hours(start=9, end=10)), MONDAY, booked=[(at(MONDAY, 9), at(MONDAY, 9, 15))])
    expected = [
        Slot("doc", at(MONDAY, 9, minute), at(MONDAY, 9, minute) + timedelta(minutes=15), capacity=1, taken=0)
        for minute in (15, 30, 45)
    ]
    assert found == expected and list(found) == expected
    assert len(found) == 3 and found[0] == expected[0] and found[-1] == expected[-1]
    assert found[1:] == expected[1:]
    with pytest.raises(IndexError):
        found[3]
    assert found.at(at(MONDAY, 9, 30)) == expected[1]
    assert found.at(at(MONDAY, 9)) is None  # booked: not offered
    assert found.at(at(MONDAY, 9, 31)) is None  # not a slot start


def _slots_one_by_one(
    sched: DoctorSchedule,
    calendar: ClinicCalendar,
    first: date,
    last: date,
    booked: Sequence[tuple[int, int]],
    now: datetime,
    include_full: bool,
) -> list[Slot]:
    """The rules of free_slots applied slot by slot, as a person would: the reference for it."""
    out = []
    earliest = now + calendar.min_notice
    day = first
    while day <= last:
        windows = [w for w in sched.hours if w.applies_to(day)]
        off = day in calendar.holidays or any(leave.covers(day) for leave in sched.leave)
        day_start = datetime.combine(day, time(0), tzinfo=calendar.tz).timestamp()
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.tz).timestamp()
        that_day = [b for b in booked if day_start <= b[0] < day_end]
        caps = [w.daily_cap for w in windows if w.daily_cap is not None]
        if not off and not (caps and len(that_day) >= min(caps)):
            for w in sorted(windows, key=lambda w: w.start):
                start = datetime.combine(day, w.start, tzinfo=calendar.tz).astimezone(UTC)
                end = datetime.combine(day, w.end, tzinfo=calendar.tz).astimezone(UTC)
                length, step = (
                    timedelta(minutes=w.slot_minutes),
                    timedelta(minutes=w.slot_minutes + w.buffer_minutes),
                )
                breaks = [
                    (
                        datetime.combine(day, b.start, tzinfo=calendar.tz),
                        datetime.combine(day, b.end, tzinfo=calendar.tz),
                    )
                    for b in sched.breaks
                    if b.weekday == day.weekday()
                ]
                t = start
                while t + length <= end:
                    overlaps = sum(1 for a, b in booked if a < (t + length).timestamp() and b > t.timestamp())
                    on_break = any(a < t + length and b > t for a, b in breaks)
                    if t >= earliest and not on_break and (include_full or overlaps < w.capacity):
                        out.append(Slot(sched.clinician_id, t, t + length, w.capacity, overlaps))
                    t += step
        day += timedelta(days=1)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_free_slots_agree_with_working_through_the_rules_slot_by_slot(seed: int) -> None:
    rng = random.Random(seed)
    tz = rng.choice((BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("UTC")))
    first = date(2026, 3, 1) + timedelta(days=rng.randrange(0, 250))
    last = first + timedelta(days=rng.randrange(0, 21))
    windows = []
    for weekday in rng.sample(range(7), rng.randrange(1, 6)):
        start = rng.randrange(0, 14)
        windows.append(
            WorkingHours(
                weekday,
                time(start, rng.choice((0, 30))),
                time(start + rng.randrange(2, 9), rng.choice((0, 15))),
                slot_minutes=rng.choice((10, 15, 20, 30)),
                capacity=rng.choice((1, 1, 2, 3)),
                buffer_minutes=rng.choice((0, 0, 5)),
                daily_cap=rng.choice((None, None, 6)),
                valid_from=rng.choice((None, first + timedelta(days=3))),
            )
        )
    breaks = tuple(Break(w.weekday, time(w.start.hour + 1), time(w.start.hour + 1, 20)) for w in windows[:2])
    leave = (Leave(first + timedelta(days=2), first + timedelta(days=4)),) if rng.random() < 0.5 else ()
    sched = DoctorSchedule("doc", tuple(windows), breaks, leave)
    calendar = ClinicCalendar(
        tz, frozenset({first + timedelta(days=5)}), timedelta(minutes=rng.choice((0, 90)))
    )
    base = int(datetime.combine(first, time(0), tzinfo=tz).timestamp())
    span = (last - first).days * 86_400 + 86_400
    booked = sorted(
        (a, a + rng.choice((600, 900, 1800, 3600)))
        for a in (base + rng.randrange(0, span // 300) * 300 for _ in range(rng.randrange(0, 60)))
    )
    now = datetime.fromtimestamp(base + rng.randrange(-86_400, span // 2), UTC)
    for include_full in (False, True):
        expected = _slots_one_by_one(sched, calendar, first, last, booked, now, include_full)
        assert (
            free_slots(sched, calendar, first, last, booked, now=now, include_full=include_full) == expected
        )
