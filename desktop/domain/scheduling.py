"""Working hours, breaks, leave and holidays turned into bookable slots.

Windows are defined in the clinic's wall-clock time; each window is converted to UTC once and
slots step through it in real time. On a daylight-saving day a night window is therefore one
hour shorter or longer, and a 09:00 slot is 09:00 on the clinic's clocks on either side of the
change. Inside the loop everything is integer seconds, which keeps a month of fifty doctors
well inside the 50 ms budget (see BENCHMARKS.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from desktop.domain.errors import InvalidInput


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


def validate_window(start: time, end: time, *, slot_minutes: int, capacity: int, buffer_minutes: int) -> None:
    if end <= start:
        raise InvalidInput("The end of working hours must be after the start.", field="end")
    if not 5 <= slot_minutes <= 240:
        raise InvalidInput("Slot length must be between 5 and 240 minutes.", field="slot_minutes")
    if not 1 <= capacity <= 50:
        raise InvalidInput("Patients per slot must be between 1 and 50.", field="capacity")
    if not 0 <= buffer_minutes <= 120:
        raise InvalidInput("The buffer must be between 0 and 120 minutes.", field="buffer_minutes")


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
) -> list[Slot]:
    """Bookable slots of one doctor between two local days (inclusive).

    `booked` holds (start, end) epoch seconds of the doctor's active appointments, sorted by
    start. A slot is taken once for every appointment overlapping it, so appointments made
    under an older slot length still block the right slots.
    """
    tz = calendar.tz
    earliest = int((now or datetime.now(UTC)).timestamp() + calendar.min_notice.total_seconds())
    starts = [b[0] for b in booked]
    out: list[Slot] = []
    doctor = schedule.clinician_id
    for day in days(first_day, last_day):
        if day in calendar.holidays or any(leave.covers(day) for leave in schedule.leave):
            continue
        windows = [w for w in schedule.hours if w.applies_to(day)]
        if not windows:
            continue
        day_start, day_end = day_bounds(day, tz)
        day_booked = booked[bisect.bisect_left(starts, day_start) : bisect.bisect_left(starts, day_end)]
        caps = [w.daily_cap for w in windows if w.daily_cap is not None]
        if caps and len(day_booked) >= min(caps):
            continue
        breaks = [
            (local_ts(day, b.start, tz), local_ts(day, b.end, tz))
            for b in schedule.breaks
            if b.weekday == day.weekday()
        ]
        for window in sorted(windows, key=lambda w: w.start):
            ws, we = local_ts(day, window.start, tz), local_ts(day, window.end, tz)
            length = window.slot_minutes * 60
            step = length + window.buffer_minutes * 60
            taken = _taken_per_slot(day_booked, ws, step, length)
            for t in range(ws, we - length + 1, step):
                if t < earliest:
                    continue
                end = t + length
                if breaks and any(bs < end and be > t for bs, be in breaks):
                    continue
                count = taken.get(t, 0)
                if count >= window.capacity and not include_full:
                    continue
                out.append(
                    Slot(
                        doctor,
                        datetime.fromtimestamp(t, UTC),
                        datetime.fromtimestamp(end, UTC),
                        window.capacity,
                        count,
                    )
                )
    return out


def _taken_per_slot(
    booked: Sequence[tuple[int, int]], window_start: int, step: int, length: int
) -> dict[int, int]:
    """How many appointments overlap each slot start of one window: arithmetic per appointment."""
    taken: dict[int, int] = {}
    for a, b in booked:
        # slot k = [ws + k*step, ws + k*step + length) overlaps [a, b) iff
        # ws + k*step < b  and  ws + k*step + length > a
        k = max(0, (a - length - window_start) // step + 1)
        while window_start + k * step < b:
            start = window_start + k * step
            taken[start] = taken.get(start, 0) + 1
            k += 1
    return taken
