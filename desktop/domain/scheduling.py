"""Working hours, breaks, leave and holidays turned into bookable slots.

Windows are defined in the clinic's wall-clock time; each window is converted to UTC once and
slots step through it in real time. On a daylight-saving day a night window is therefore one
hour shorter or longer, and a 09:00 slot is 09:00 on the clinic's clocks on either side of the
change. Inside the loop everything is integer seconds; what a month of fifty doctors costs is
measured by bench/core.py (see BENCHMARKS.md).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import chain
from typing import Protocol, overload
from zoneinfo import ZoneInfo

import numpy as np

from desktop.domain.errors import InvalidInput
from desktop.domain.reasons import Reason


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One weekly working window of a doctor, e.g. Mondays 09:00–13:00 in 15-minute slots."""

    weekday: int  # 0 = Monday
    start: time
    end: time
    slot_minutes: int = 15
    capacity: int = 1  # patients per slot
    buffer_minutes: int = 0  # gap after each slot
    daily_cap: int | None = None  # most bookings on a day this window is part of
    valid_from: date | None = None
    valid_to: date | None = None

    def applies_to(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_to is None or day <= self.valid_to)
        )


@dataclass(frozen=True, slots=True)
class Break:
    weekday: int
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Leave:
    first_day: date
    last_day: date

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True, slots=True)
class DoctorSchedule:
    clinician_id: str
    hours: tuple[WorkingHours, ...] = ()
    breaks: tuple[Break, ...] = ()
    leave: tuple[Leave, ...] = ()


@dataclass(frozen=True, slots=True)
class ClinicCalendar:
    tz: ZoneInfo
    holidays: frozenset[date] = field(default_factory=frozenset)
    min_notice: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Slot:
    clinician_id: str
    start: datetime  # aware, UTC
    end: datetime
    capacity: int
    taken: int

    @property
    def free(self) -> int:
        return self.capacity - self.taken


class SlotList(Sequence[Slot]):
    """One doctor's slots in time order, kept as columns of epoch seconds.

    A month of a clinic is tens of thousands of slots, of which a screen shows a handful: a Slot
    object (~1 µs and a garbage-collected object each) is made only when one is read.
    """

    __slots__ = ("_capacity", "_ends", "_starts", "_taken", "clinician_id")

    def __init__(
        self,
        clinician_id: str,
        starts: Sequence[int] = (),
        ends: Sequence[int] = (),
        capacity: Sequence[int] = (),
        taken: Sequence[int] = (),
    ) -> None:
        self.clinician_id = clinician_id
        self._starts = np.asarray(starts, dtype=np.int64)
        self._ends = np.asarray(ends, dtype=np.int64)
        self._capacity = np.asarray(capacity, dtype=np.int64)
        self._taken = np.asarray(taken, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> Slot: ...
    @overload
    def __getitem__(self, index: slice) -> list[Slot]: ...
    def __getitem__(self, index: int | slice) -> Slot | list[Slot]:
        if isinstance(index, slice):
            return [self._slot(i) for i in range(len(self))[index]]
        return self._slot(range(len(self))[index])

    def __iter__(self) -> Iterator[Slot]:
        return map(self._slot, range(len(self)))

    def __eq__(self, other: object) -> bool:  # like a list: equal to a list of the same slots
        if isinstance(other, SlotList | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"SlotList({self.clinician_id!r}, {len(self)} slots)"

    def at(self, start: datetime) -> Slot | None:
        """The slot starting at `start` (aware), if there is one."""
        ts = start.timestamp()
        i = int(np.searchsorted(self._starts, ts))
        return self._slot(i) if i < len(self._starts) and self._starts[i] == ts else None

    def _slot(self, i: int) -> Slot:
        return Slot(
            self.clinician_id,
            _utc(int(self._starts[i])),
            _utc(int(self._ends[i])),
            int(self._capacity[i]),
            int(self._taken[i]),
        )


def validate_window(start: time, end: time, *, slot_minutes: int, capacity: int, buffer_minutes: int) -> None:
    if end <= start:
        raise InvalidInput(Reason.of("availability.hours_end_first"), field="end")
    if not 5 <= slot_minutes <= 240:
        raise InvalidInput(Reason.of("availability.bad_slot_length"), field="slot_minutes")
    if not 1 <= capacity <= 50:
        raise InvalidInput(Reason.of("availability.bad_slot_capacity"), field="capacity")
    if not 0 <= buffer_minutes <= 120:
        raise InvalidInput(Reason.of("availability.bad_buffer"), field="buffer_minutes")


def local_ts(day: date, at: time, tz: ZoneInfo) -> int:
    """Epoch seconds of a wall-clock time in the clinic's zone."""
    return int(datetime.combine(day, at, tzinfo=tz).timestamp())


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """Epoch seconds of local midnight and the next local midnight (23 or 25 hours on DST days)."""
    return local_ts(day, time(0), tz), local_ts(day + timedelta(days=1), time(0), tz)


def days(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def free_slots(
    schedule: DoctorSchedule,
    calendar: ClinicCalendar,
    first_day: date,
    last_day: date,
    booked: Sequence[tuple[int, int]] = (),
    *,
    now: datetime | None = None,
    include_full: bool = False,
) -> SlotList:
    """Bookable slots of one doctor between two local days (inclusive).

    `booked` holds (start, end) epoch seconds of the doctor's active appointments, sorted by
    start. A slot is taken once for every appointment overlapping it, so appointments made
    under an older slot length still block the right slots.

    The days and their windows are walked in Python; the slots of all windows are then made and
    counted at once, as arrays (a month is ~1,000 slots per doctor).
    """
    tz = calendar.tz
    earliest = int((now or datetime.now(UTC)).timestamp() + calendar.min_notice.total_seconds())
    starts = [b[0] for b in booked]
    # Per weekday, once: its windows in time order and its breaks.
    windows_on: dict[int, list[WorkingHours]] = {}
    for window in sorted(schedule.hours, key=lambda w: w.start):
        windows_on.setdefault(window.weekday, []).append(window)
    breaks_on: dict[int, list[Break]] = {}
    for b in sorted(schedule.breaks, key=lambda b: b.start):
        breaks_on.setdefault(b.weekday, []).append(b)
    # One entry per window of a working day: its first and last slot start, step, length, capacity.
    firsts: list[int] = []
    lasts: list[int] = []
    steps: list[int] = []
    lengths: list[int] = []
    capacities: list[int] = []
    breaks: list[tuple[int, int]] = []
    for day in days(first_day, last_day):
        weekday = day.weekday()
        if weekday not in windows_on or day in calendar.holidays:
            continue
        if any(leave.covers(day) for leave in schedule.leave):
            continue
        windows = [w for w in windows_on[weekday] if w.applies_to(day)]
        if not windows:
            continue
        caps = [w.daily_cap for w in windows if w.daily_cap is not None]
        if caps:
            day_start, day_end = _local_ts(day, _MIDNIGHT, tz), _local_ts(day + _ONE_DAY, _MIDNIGHT, tz)
            if bisect.bisect_left(starts, day_end) - bisect.bisect_left(starts, day_start) >= min(caps):
                continue
        breaks.extend(
            (_local_ts(day, b.start, tz), _local_ts(day, b.end, tz)) for b in breaks_on.get(weekday, ())
        )
        for window in windows:
            ws, we = _local_ts(day, window.start, tz), _local_ts(day, window.end, tz)
            length = window.slot_minutes * 60
            step = length + window.buffer_minutes * 60
            last_start = we - length
            # The first slot start not in the past (or inside the minimum notice).
            first = ws if ws >= earliest else ws + -((ws - earliest) // step) * step
            if first > last_start:
                continue
            firsts.append(first)
            lasts.append(last_start)
            steps.append(step)
            lengths.append(length)
            capacities.append(window.capacity)
    if not firsts:
        return SlotList(schedule.clinician_id)
    step_of = np.array(steps)
    counts = (np.array(lasts) - np.array(firsts)) // step_of + 1
    window_of = np.repeat(np.arange(len(counts)), counts)
    # Each slot's place in its window: its index overall minus where its window's slots begin.
    place = np.arange(len(window_of)) - np.repeat(np.cumsum(counts) - counts, counts)
    slot_starts = np.array(firsts)[window_of] + place * step_of[window_of]
    slot_ends = slot_starts + np.array(lengths)[window_of]
    capacity = np.array(capacities)[window_of]
    taken = _overlapping(booked, slot_starts, slot_ends)
    keep = _overlapping(breaks, slot_starts, slot_ends) == 0
    if not include_full:
        keep &= taken < capacity
    return SlotList(schedule.clinician_id, slot_starts[keep], slot_ends[keep], capacity[keep], taken[keep])


def _overlapping(intervals: Sequence[tuple[int, int]], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each [start, end), how many of `intervals` ([a, b), a < b, sorted by a) overlap it.

    Those with a < end, less those that ended by start (b <= start; each of them has a < end too).
    """
    if not intervals:
        return np.zeros(len(starts), dtype=np.int64)
    # fromiter over the flattened pairs: a third of the cost of np.array on a list of tuples.
    pairs = np.fromiter(chain.from_iterable(intervals), dtype=np.int64, count=2 * len(intervals))
    a, b = pairs[0::2], np.sort(pairs[1::2])
    return np.searchsorted(a, ends, "left") - np.searchsorted(b, starts, "right")


# A month of fifty doctors is ~50,000 slot starts and ~1,500 doctor-days, so there is no work per
# slot in Python, and no object per slot (see SlotList). Wall-clock times and slot bounds repeat
# across doctors, hence the two small caches of pure functions: a time-zone conversion costs
# ~2.5 µs and an aware datetime ~0.5 µs on the project's machine, a cache hit ~0.1 µs.
_MIDNIGHT = time(0)
_ONE_DAY = timedelta(days=1)
_local_ts = lru_cache(maxsize=8192)(local_ts)


@lru_cache(maxsize=16384)
def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Rule(Protocol):
    """What `build_schedules` reads of an availability rule: an ORM object or a plain row."""

    @property
    def clinician_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def weekday(self) -> int | None: ...
    @property
    def start_time(self) -> time | None: ...
    @property
    def end_time(self) -> time | None: ...
    @property
    def slot_minutes(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def buffer_minutes(self) -> int: ...
    @property
    def daily_cap(self) -> int | None: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_to(self) -> date | None: ...


class ClinicSettings(Protocol):
    """What `calendar_of` reads of a clinic: its row or the services' `ClinicInfo`."""

    @property
    def timezone(self) -> str: ...
    @property
    def holidays(self) -> Iterable[str] | None: ...
    @property
    def min_notice_minutes(self) -> int: ...


def build_schedules(rules: Iterable[Rule]) -> dict[str, DoctorSchedule]:
    hours: dict[str, list[WorkingHours]] = defaultdict(list)
    breaks: dict[str, list[Break]] = defaultdict(list)
    leave: dict[str, list[Leave]] = defaultdict(list)
    for r in rules:
        if r.kind == "hours" and r.weekday is not None and r.start_time and r.end_time:
            hours[r.clinician_id].append(
                WorkingHours(
                    r.weekday,
                    r.start_time,
                    r.end_time,
                    r.slot_minutes,
                    r.capacity,
                    r.buffer_minutes,
                    r.daily_cap,
                    r.valid_from,
                    r.valid_to,
                )
            )
        elif r.kind == "break" and r.weekday is not None and r.start_time and r.end_time:
            breaks[r.clinician_id].append(Break(r.weekday, r.start_time, r.end_time))
        elif r.kind == "leave" and r.valid_from and r.valid_to:
            leave[r.clinician_id].append(Leave(r.valid_from, r.valid_to))
    ids = hours.keys() | breaks.keys() | leave.keys()
    return {cid: DoctorSchedule(cid, tuple(hours[cid]), tuple(breaks[cid]), tuple(leave[cid])) for cid in ids}


def calendar_of(clinic: ClinicSettings) -> ClinicCalendar:
    return ClinicCalendar(
        ZoneInfo(clinic.timezone),
        frozenset(date.fromisoformat(d) for d in clinic.holidays or ()),
        timedelta(minutes=clinic.min_notice_minutes),
    )
