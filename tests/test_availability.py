"""A doctor's calendar as staff set it up, and the free slots the desk is offered."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from desktop.domain.errors import InvalidInput, NotAllowed
from desktop.domain.roles import Role
from desktop.domain.scheduling import Slot
from desktop.services import availability, booking
from desktop.services import clinic as clinic_service
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Clinic
from tests.conftest import PatientFactory
from tests.support import ADMIN, BERLIN, MONDAY, NEW_YORK, ClinicSetup, Clock, local


def slots(store: LocalStore, doctor: str, first: date = MONDAY, last: date | None = None) -> list[Slot]:
    with store.reading() as session:
        found = availability.find_free_slots(
            session, first_day=first, last_day=last or first, clinician_ids=[doctor], now=store.now()
        )
    return found.get(doctor, [])


def wall(found: list[Slot]) -> list[str]:
    return [f"{s.start.astimezone(BERLIN):%H:%M}" for s in found]


def test_both_doctors_have_their_morning(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.reading() as session:
        found = availability.find_free_slots(session, first_day=MONDAY, last_day=MONDAY, now=store.now())
    assert set(found) == {clinic.doctor_a, clinic.doctor_b}  # the receptionist has no calendar
    assert [len(v) for v in found.values()] == [12, 12]
    assert wall(found[clinic.doctor_a])[:2] == ["09:00", "09:15"]


def test_a_break_is_not_bookable(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        availability.add_break(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=0, start=time(10, 30), end=time(11)
        )
    assert "10:30" not in wall(slots(store, clinic.doctor_a))
    assert "10:45" not in wall(slots(store, clinic.doctor_a))
    assert len(slots(store, clinic.doctor_a)) == 10
    assert len(slots(store, clinic.doctor_a, MONDAY + timedelta(days=1))) == 12  # Tuesday: no break


def test_leave_closes_the_doctors_days_and_only_theirs(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        availability.add_leave(
            uow,
            actor=SYSTEM,
            clinician_id=clinic.doctor_a,
            first_day=MONDAY + timedelta(days=1),
            last_day=MONDAY + timedelta(days=2),
        )
    week = slots(store, clinic.doctor_a, MONDAY, MONDAY + timedelta(days=4))
    assert {s.start.astimezone(BERLIN).date().weekday() for s in week} == {0, 3, 4}
    assert len(slots(store, clinic.doctor_b, MONDAY + timedelta(days=1))) == 12


def test_clinic_holidays_close_everyone(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        clinic_service.set_holidays(uow, actor=ADMIN, holidays=[MONDAY + timedelta(days=2)])
    assert slots(store, clinic.doctor_a, MONDAY + timedelta(days=2)) == []
    assert slots(store, clinic.doctor_b, MONDAY + timedelta(days=2)) == []
    assert len(slots(store, clinic.doctor_a, MONDAY + timedelta(days=3))) == 12


def test_minimum_notice_hides_slots_starting_too_soon(
    store: LocalStore, clinic: ClinicSetup, clock: Clock
) -> None:
    with store.unit_of_work() as uow:
        uow.session.get_one(Clinic, clinic.clinic_id).min_notice_minutes = 120
    clock.set(local(MONDAY, 8, 10))
    assert wall(slots(store, clinic.doctor_a))[0] == "10:15"
    clock.set(local(MONDAY, 11))
    assert slots(store, clinic.doctor_a) == []
    assert len(slots(store, clinic.doctor_a, MONDAY + timedelta(days=1))) == 12


def test_buffers_capacity_and_daily_cap_set_through_the_service(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    saturday = MONDAY + timedelta(days=5)
    with store.unit_of_work() as uow:
        availability.set_hours(
            uow,
            actor=SYSTEM,
            clinician_id=clinic.doctor_a,
            weekday=5,
            start=time(9),
            end=time(10),
            slot_minutes=10,
            buffer_minutes=5,
            capacity=2,
            daily_cap=3,
        )
    found = slots(store, clinic.doctor_a, saturday)
    assert wall(found) == ["09:00", "09:15", "09:30", "09:45"]
    assert {s.capacity for s in found} == {2}
    nine = found[0].start
    for _ in range(2):
        with store.unit_of_work() as uow:
            booking.book(
                uow, actor=SYSTEM, patient_id=make_patient().id, clinician_id=clinic.doctor_a, starts_at=nine
            )
    assert wall(slots(store, clinic.doctor_a, saturday)) == ["09:15", "09:30", "09:45"]  # 09:00 is full
    with store.unit_of_work() as uow:
        booking.book(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            starts_at=found[1].start,
        )
    assert slots(store, clinic.doctor_a, saturday) == []  # three bookings: the day's cap


def test_hours_valid_for_a_period_only(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        availability.set_hours(
            uow,
            actor=SYSTEM,
            clinician_id=clinic.doctor_b,
            weekday=0,
            start=time(14),
            end=time(15),
            valid_from=MONDAY + timedelta(weeks=1),
            valid_to=MONDAY + timedelta(weeks=2),
        )

    def afternoon(weeks: int) -> list[str]:
        day = MONDAY + timedelta(weeks=weeks)
        return [t for t in wall(slots(store, clinic.doctor_b, day)) if t >= "14:00"]

    assert [len(afternoon(w)) for w in range(4)] == [0, 4, 4, 0]


def test_removing_a_rule_takes_its_slots_away(store: LocalStore, clinic: ClinicSetup) -> None:
    with store.unit_of_work() as uow:
        rule = availability.set_hours(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=6, start=time(10), end=time(11)
        )
    sunday = MONDAY + timedelta(days=6)
    assert len(slots(store, clinic.doctor_a, sunday)) == 4
    with store.unit_of_work() as uow:
        availability.remove_rule(uow, actor=SYSTEM, rule_id=rule.id)
    assert slots(store, clinic.doctor_a, sunday) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"weekday": 0, "start": time(11), "end": time(13)}, "start"),  # overlaps 09:00–12:00
        ({"weekday": 7, "start": time(14), "end": time(15)}, "weekday"),
        ({"weekday": 0, "start": time(15), "end": time(14)}, "end"),
        ({"weekday": 0, "start": time(14), "end": time(15), "slot_minutes": 3}, "slot_minutes"),
        ({"weekday": 0, "start": time(14), "end": time(15), "capacity": 0}, "capacity"),
        ({"weekday": 0, "start": time(14), "end": time(15), "daily_cap": 0}, "daily_cap"),
        (
            {
                "weekday": 0,
                "start": time(14),
                "end": time(15),
                "valid_from": MONDAY,
                "valid_to": MONDAY - timedelta(1),
            },
            "valid_to",
        ),
    ],
)
def test_bad_hours_are_refused_with_the_field_named(
    store: LocalStore, clinic: ClinicSetup, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        availability.set_hours(uow, actor=SYSTEM, clinician_id=clinic.doctor_a, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_the_same_hours_in_another_period_do_not_overlap(store: LocalStore, clinic: ClinicSetup) -> None:
    """Winter and summer hours on the same weekday, set up in advance."""
    change = date(2026, 3, 29)
    with store.unit_of_work() as uow:
        for start, first, last in ((time(8), None, change), (time(10), change + timedelta(days=1), None)):
            availability.set_hours(
                uow,
                actor=SYSTEM,
                clinician_id=clinic.doctor_a,
                weekday=6,
                start=start,
                end=time(12),
                valid_from=first,
                valid_to=last,
            )
    assert wall(slots(store, clinic.doctor_a, change))[0] == "08:00"
    assert wall(slots(store, clinic.doctor_a, change + timedelta(weeks=1)))[0] == "10:00"


def test_reception_cannot_change_a_doctors_hours(store: LocalStore, clinic: ClinicSetup) -> None:
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        availability.add_leave(
            uow, actor=clinic.desk, clinician_id=clinic.doctor_a, first_day=MONDAY, last_day=MONDAY
        )


# --- daylight saving through the whole stack ------------------------------------------------------


def sunday_hours(store: LocalStore, doctor: str, start: time, end: time) -> None:
    with store.unit_of_work() as uow:
        availability.set_hours(uow, actor=SYSTEM, clinician_id=doctor, weekday=6, start=start, end=end)


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(date(2026, 3, 22), 8), (date(2026, 3, 29), 7), (date(2026, 10, 18), 7), (date(2026, 10, 25), 8)],
)
def test_a_nine_oclock_booking_on_either_side_of_a_change(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, day: date, utc_hour: int
) -> None:
    sunday_hours(store, clinic.doctor_a, time(9), time(10))
    nine = datetime.combine(day, time(utc_hour), tzinfo=UTC)
    assert slots(store, clinic.doctor_a, day)[0].start == nine
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow, actor=SYSTEM, patient_id=make_patient().id, clinician_id=clinic.doctor_a, starts_at=nine
        )
    assert appointment.starts_at.astimezone(BERLIN).time() == time(9)
    assert nine not in {s.start for s in slots(store, clinic.doctor_a, day)}
    with store.reading() as session:
        assert [a.id for a in booking.agenda(session, clinician_id=clinic.doctor_a, day=day)] == [
            appointment.id
        ]


@pytest.mark.parametrize(("day", "expected"), [(date(2026, 3, 29), 20), (date(2026, 10, 25), 28)])
def test_a_night_shift_on_a_change_day(
    store: LocalStore, clinic: ClinicSetup, day: date, expected: int
) -> None:
    sunday_hours(store, clinic.doctor_a, time(0), time(6))
    found = slots(store, clinic.doctor_a, day)
    assert len(found) == expected
    assert len({s.start for s in found}) == expected


def test_a_new_york_clinic_on_its_change_days(tmp_path: Path, clock: Clock) -> None:
    store = LocalStore(tmp_path / "ny", now=clock)
    try:
        with store.unit_of_work() as uow:
            clinic_service.create_clinic(
                uow, actor=SYSTEM, name="Harlem Health", timezone="America/New_York", region="US"
            )
            doctor = clinic_service.add_clinician(
                uow, actor=SYSTEM, name="Dr. Rivera", username="rivera", role=Role.DOCTOR
            )
            uow.flush()
            for start, end in ((time(0), time(6)), (time(9), time(10))):
                availability.set_hours(
                    uow, actor=SYSTEM, clinician_id=doctor.id, weekday=6, start=start, end=end
                )
        for day, night, nine_utc in (
            (date(2026, 3, 8), 20, 13),  # spring forward: EST → EDT
            (date(2026, 3, 15), 24, 13),
            (date(2026, 11, 1), 28, 14),  # fall back: EDT → EST
            (date(2026, 11, 8), 24, 14),
        ):
            found = slots(store, doctor.id, day)
            local_times = [s.start.astimezone(NEW_YORK).time() for s in found]
            assert sum(t < time(6) for t in local_times) == night, day
            nines = [s.start for s, t in zip(found, local_times, strict=True) if t == time(9)]
            assert nines == [datetime.combine(day, time(nine_utc), tzinfo=UTC)]
            assert len(set(s.start for s in found)) == len(found)
    finally:
        store.close()
