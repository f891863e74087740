"""Booking as the front desk uses it: book, decide requests, cancel, reschedule, follow-ups, agenda."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from desktop.domain.appointments import AppointmentType
from desktop.domain.english import english
from desktop.domain.errors import BookingConflict, InvalidInput, InvalidTransition, NotAllowed
from desktop.domain.ids import is_human_code
from desktop.services import availability, booking, queue
from desktop.services import clinic as clinic_service
from desktop.services.common import KIOSK, SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, JournalOp
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, Clock, count, journal, local

NINE = local(MONDAY, 9)


def free_starts(store: LocalStore, doctor: str, day: date = MONDAY) -> list[datetime]:
    with store.reading() as session:
        slots = availability.find_free_slots(
            session, first_day=day, last_day=day, clinician_ids=[doctor], now=store.now()
        )
    return [s.start for s in slots.get(doctor, [])]


def book(store: LocalStore, patient_id: str, doctor: str, at: datetime, **kw: object) -> Appointment:
    actor = kw.pop("actor", SYSTEM)
    with store.unit_of_work() as uow:
        return booking.book(
            uow,
            actor=actor,  # type: ignore[arg-type]
            patient_id=patient_id,
            clinician_id=doctor,
            starts_at=at,
            **kw,  # type: ignore[arg-type]
        )


def get(store: LocalStore, appointment_id: str) -> Appointment:
    with store.reading() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        return row


def test_booking_takes_the_slot_and_gives_a_readable_code(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    assert NINE in free_starts(store, clinic.doctor_a)
    appointment = book(store, patient.id, clinic.doctor_a, NINE, actor=clinic.desk, reason=" cough ")
    assert appointment.status == "confirmed"
    assert (appointment.starts_at, appointment.ends_at) == (NINE, NINE + timedelta(minutes=15))
    assert appointment.reason == "cough"
    assert is_human_code(appointment.code) and appointment.code.startswith("APT-")
    assert appointment.booked_by == store.device_id
    assert NINE not in free_starts(store, clinic.doctor_a)
    assert NINE in free_starts(store, clinic.doctor_b)  # the other doctor is still free
    # Staff can find it from the code read over the phone, look-alike letters and all.
    typed = appointment.code.lower().replace("0", "o").replace("1", "l")
    with store.reading() as session:
        found = booking.find_by_code(session, typed)
        assert found is not None and found.id == appointment.id
    ops = [op for op in journal(store) if op.entity_id == appointment.id]
    assert [op.action for op in ops] == ["book"]


def test_booking_a_taken_slot_says_when_the_next_free_one_is(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    book(store, make_patient().id, clinic.doctor_a, NINE)
    with pytest.raises(BookingConflict) as info:
        book(store, make_patient().id, clinic.doctor_a, NINE)
    assert "Next free: Mon 2 Mar 09:15" in info.value.message  # in the clinic's own time
    reason = info.value.reason  # what a screen renders in its own language
    assert reason.code == "booking.slot_full" and reason["doctor"] == "Dr. Anna Weber"
    assert reason["next_free"] == local(MONDAY, 9, 15)
    assert reason["next_free"].utcoffset() == timedelta(hours=1)  # shown in the clinic's zone
    assert info.value.details["next_free"] == local(MONDAY, 9, 15).isoformat()
    assert info.value.field == "starts_at"


@pytest.mark.parametrize(
    "when",
    [
        local(MONDAY, 8, 45),  # before hours
        local(MONDAY, 12),  # after hours
        local(MONDAY, 9, 5),  # not on a slot boundary
        local(MONDAY + timedelta(days=5), 9),  # Saturday
        local(MONDAY, 9) - timedelta(days=7),  # in the past
    ],
)
def test_only_real_slots_can_be_booked(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, when: datetime
) -> None:
    with pytest.raises(BookingConflict, match="no bookable slot"):
        book(store, make_patient().id, clinic.doctor_a, when)
    assert count(store, Appointment) == 0


def test_a_naive_time_is_refused_rather_than_guessed(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with pytest.raises(InvalidInput) as info:
        book(store, make_patient().id, clinic.doctor_a, datetime(2026, 3, 2, 9, 0))
    assert info.value.field == "starts_at"


def test_a_receptionist_cannot_take_appointments_for_a_non_doctor(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with pytest.raises(InvalidInput) as info:
        book(store, make_patient().id, clinic.reception, NINE)
    assert info.value.field == "clinician_id"


# --- requests from the online form ------------------------------------------------------------


def test_an_online_request_waits_and_can_be_accepted(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    request = book(store, make_patient().id, clinic.doctor_a, NINE, kind=AppointmentType.ONLINE)
    assert request.status == "requested"
    assert NINE not in free_starts(store, clinic.doctor_a)  # a request holds its slot
    with store.reading() as session:
        assert [a.id for a in booking.requests(session)] == [request.id]
    with store.unit_of_work() as uow:
        booking.accept(uow, actor=clinic.doctor, appointment_id=request.id)
    assert get(store, request.id).status == "confirmed"
    with store.reading() as session:
        assert booking.requests(session) == []


def test_rejecting_needs_a_reason_and_frees_the_slot(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    request = book(store, make_patient().id, clinic.doctor_a, NINE, kind=AppointmentType.ONLINE)
    ops_before = len(journal(store))
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        booking.reject(uow, actor=clinic.doctor, appointment_id=request.id, reason="  ")
    assert info.value.field == "reason"
    assert get(store, request.id).status == "requested"
    assert len(journal(store)) == ops_before
    with store.unit_of_work() as uow:
        booking.reject(uow, actor=clinic.doctor, appointment_id=request.id, reason="Please see your GP first")
    rejected = get(store, request.id)
    assert (rejected.status, rejected.status_note) == ("rejected", "Please see your GP first")
    assert NINE in free_starts(store, clinic.doctor_a)


def test_the_kiosk_books_kiosk_and_walk_in_visits_only(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    for kind in (AppointmentType.ONLINE, AppointmentType.EMERGENCY, AppointmentType.FOLLOW_UP):
        with pytest.raises(InvalidInput) as info:
            book(store, patient.id, clinic.doctor_a, NINE, actor=KIOSK, kind=kind)
        assert info.value.field == "kind"
    assert count(store, Appointment) == 0
    assert book(store, patient.id, clinic.doctor_a, NINE, actor=KIOSK).kind == "kiosk"


def test_the_kiosk_cannot_cancel_or_decide(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    appointment = book(store, make_patient().id, clinic.doctor_a, NINE, kind=AppointmentType.ONLINE)
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        booking.cancel(uow, actor=KIOSK, appointment_id=appointment.id)
    with pytest.raises(NotAllowed), store.unit_of_work() as uow:
        booking.accept(uow, actor=KIOSK, appointment_id=appointment.id)
    assert get(store, appointment.id).status == "requested"


# --- cancel, reschedule, no-show --------------------------------------------------------------


def test_cancelling_frees_the_slot_for_someone_else(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    appointment = book(store, make_patient().id, clinic.doctor_a, NINE)
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=clinic.desk, appointment_id=appointment.id, reason="Feeling better")
    cancelled = get(store, appointment.id)
    assert (cancelled.status, cancelled.status_note) == ("cancelled", "Feeling better")
    assert NINE in free_starts(store, clinic.doctor_a)
    other = book(store, make_patient().id, clinic.doctor_a, NINE)
    assert other.seat == 1
    with pytest.raises(InvalidTransition), store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=appointment.id)  # already cancelled


def test_rescheduling_moves_the_visit_and_keeps_the_old_one(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    old = book(store, patient.id, clinic.doctor_a, NINE, reason="Back pain")
    later = local(MONDAY, 11)
    with store.unit_of_work() as uow:
        new = booking.reschedule(uow, actor=clinic.desk, appointment_id=old.id, starts_at=later)
    assert get(store, old.id).status == "rescheduled"
    moved = get(store, new.id)
    assert (moved.status, moved.starts_at, moved.rescheduled_from) == ("confirmed", later, old.id)
    assert (moved.patient_id, moved.clinician_id, moved.reason) == (patient.id, clinic.doctor_a, "Back pain")
    assert NINE in free_starts(store, clinic.doctor_a)
    assert later not in free_starts(store, clinic.doctor_a)


def test_rescheduling_to_a_slot_nearby_on_the_same_doctor_works(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    # The patient's own old appointment must not block their new time.
    old = book(store, make_patient().id, clinic.doctor_a, NINE)
    with store.unit_of_work() as uow:
        new = booking.reschedule(uow, actor=SYSTEM, appointment_id=old.id, starts_at=local(MONDAY, 9, 15))
    assert get(store, new.id).starts_at == local(MONDAY, 9, 15)


def test_rescheduling_into_a_taken_slot_changes_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    old = book(store, make_patient().id, clinic.doctor_a, NINE)
    book(store, make_patient().id, clinic.doctor_a, local(MONDAY, 10))
    before = len(journal(store))
    with pytest.raises(BookingConflict), store.unit_of_work() as uow:
        booking.reschedule(uow, actor=SYSTEM, appointment_id=old.id, starts_at=local(MONDAY, 10))
    assert get(store, old.id).status == "confirmed"
    assert count(store, Appointment) == 2
    assert len(journal(store)) == before


def test_rescheduling_to_another_doctor(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    old = book(store, make_patient().id, clinic.doctor_a, NINE)
    with store.unit_of_work() as uow:
        new = booking.reschedule(
            uow, actor=SYSTEM, appointment_id=old.id, starts_at=NINE, clinician_id=clinic.doctor_b
        )
    assert get(store, new.id).clinician_id == clinic.doctor_b
    assert NINE in free_starts(store, clinic.doctor_a)


def test_no_show_is_recorded_and_final(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    appointment = book(store, make_patient().id, clinic.doctor_a, NINE)
    clock.set(NINE + timedelta(minutes=30))
    with store.unit_of_work() as uow:
        booking.transition(uow, actor=clinic.desk, appointment_id=appointment.id, to="no_show")
    assert get(store, appointment.id).status == "no_show"
    with pytest.raises(InvalidTransition), store.unit_of_work() as uow:
        booking.transition(uow, actor=clinic.desk, appointment_id=appointment.id, to="checked_in")


def test_agenda_lists_one_doctors_day_in_time_order(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    eleven = book(store, make_patient().id, clinic.doctor_a, local(MONDAY, 11, 30))
    nine = book(store, make_patient().id, clinic.doctor_a, NINE)
    ten = book(store, make_patient().id, clinic.doctor_a, local(MONDAY, 10))
    book(store, make_patient().id, clinic.doctor_b, local(MONDAY, 9, 30))  # other doctor
    book(store, make_patient().id, clinic.doctor_a, local(MONDAY + timedelta(days=1), 9))  # other day
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=ten.id)
    with store.reading() as session:
        day = booking.agenda(session, clinician_id=clinic.doctor_a, day=MONDAY)
    assert [a.id for a in day] == [nine.id, ten.id, eleven.id]
    assert [a.status for a in day] == ["confirmed", "cancelled", "confirmed"]


def test_agenda_uses_the_clinics_day_not_the_utc_day(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with store.unit_of_work() as uow:
        late = clinic_service.add_clinician(
            uow,
            actor=SYSTEM,
            name="Dr. Night",
            username="night",
            role="doctor",  # type: ignore[arg-type]
        )
        uow.flush()
        availability.set_hours(uow, actor=SYSTEM, clinician_id=late.id, weekday=0, start=time(0), end=time(1))
    # 00:15 on Monday in Berlin is 23:15 UTC on Sunday.
    appointment = book(store, make_patient().id, late.id, local(MONDAY + timedelta(days=7), 0, 15))
    with store.reading() as session:
        assert [
            a.id for a in booking.agenda(session, clinician_id=late.id, day=MONDAY + timedelta(days=7))
        ] == [appointment.id]
        assert booking.agenda(session, clinician_id=late.id, day=MONDAY + timedelta(days=6)) == []


# --- recurring follow-ups ---------------------------------------------------------------------


def series_rows(store: LocalStore) -> list[Appointment]:
    with store.reading() as session:
        return list(
            session.scalars(
                select(Appointment).where(Appointment.kind == "follow_up").order_by(Appointment.starts_at)
            )
        )


def test_follow_ups_every_two_weeks_keep_the_wall_clock_time_across_dst(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    first = local(date(2026, 3, 16), 9, 30)  # Berlin moves to summer time on 29 March
    with store.unit_of_work() as uow:
        result = booking.book_follow_ups(
            uow,
            actor=clinic.doctor,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            first_start=first,
            every_weeks=2,
            count=4,
        )
    assert result.moved == ()
    rows = series_rows(store)
    days = [date(2026, 3, 16), date(2026, 3, 30), date(2026, 4, 13), date(2026, 4, 27)]
    assert [r.starts_at for r in rows] == [local(d, 9, 30) for d in days]
    assert [r.starts_at.hour for r in rows] == [8, 7, 7, 7]  # UTC: the offset changed, the wall time did not
    assert len({r.series_id for r in rows}) == 1 and rows[0].series_id
    assert {r.patient_id for r in rows} == {patient.id}


def test_a_series_with_a_day_on_leave_books_nothing_at_all(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    with store.unit_of_work() as uow:
        availability.add_leave(
            uow,
            actor=SYSTEM,
            clinician_id=clinic.doctor_a,
            first_day=date(2026, 4, 13),
            last_day=date(2026, 4, 17),
        )
    appointments, ops = count(store, Appointment), len(journal(store))
    with pytest.raises(BookingConflict, match=r"Follow-up 3 .* Mon 13 Apr 2026"), store.unit_of_work() as uow:
        booking.book_follow_ups(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            first_start=local(date(2026, 3, 16), 9, 30),
            every_weeks=2,
            count=4,
        )
    assert count(store, Appointment) == appointments
    assert len(journal(store)) == ops


def test_a_taken_follow_up_slot_moves_to_the_nearest_free_one_that_day(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    third_day = date(2026, 4, 13)
    book(store, make_patient().id, clinic.doctor_a, local(third_day, 9, 30))
    book(store, make_patient().id, clinic.doctor_a, local(third_day, 9, 15))
    with store.unit_of_work() as uow:
        result = booking.book_follow_ups(
            uow,
            actor=SYSTEM,
            patient_id=patient.id,
            clinician_id=clinic.doctor_a,
            first_start=local(date(2026, 3, 16), 9, 30),
            every_weeks=2,
            count=4,
        )
    ours = result.appointments
    assert len(ours) == 4
    assert ours[2].starts_at == local(third_day, 9, 45)  # 15 minutes away, after 09:15 is taken too
    assert len(result.moved) == 1
    assert (result.moved[0].code, result.moved[0]["n"]) == ("booking.follow_up_moved", 3)
    assert english(result.moved[0]) == "Follow-up 3 moved to Mon 13 Apr 09:45"


@pytest.mark.parametrize(
    ("every", "times", "field"), [(0, 4, "every_weeks"), (2, 0, "count"), (2, 27, "count")]
)
def test_follow_up_input_is_checked(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, every: int, times: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as info, store.unit_of_work() as uow:
        booking.book_follow_ups(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            first_start=NINE,
            every_weeks=every,
            count=times,
        )
    assert info.value.field == field


def test_each_booking_journals_one_op_per_row(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    before = len(journal(store))
    appointment = book(store, patient.id, clinic.doctor_a, NINE)
    with store.reading() as session:
        ops = session.scalars(select(JournalOp).where(JournalOp.seq > before)).all()
    assert sorted((op.entity, op.action) for op in ops) == [
        ("appointment", "book"),
        ("audit_event", "create"),
    ]
    audit = next(op for op in ops if op.entity == "audit_event")
    assert audit.data["entity_id"] == appointment.id and audit.data["action"] == "book"


def test_a_follow_up_in_the_repeated_hour_of_fall_back_is_not_reported_as_moved(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    with store.unit_of_work() as uow:
        availability.set_hours(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=6, start=time(1), end=time(4)
        )
    first = local(date(2026, 10, 18), 2, 30)
    with store.unit_of_work() as uow:
        result = booking.book_follow_ups(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            first_start=first,
            every_weeks=1,
            count=2,
        )
    # 02:30 happens twice on 25 October; the booking is at the first one, as asked.
    assert [a.starts_at for a in result.appointments] == [first, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    assert result.moved == ()


@pytest.mark.parametrize(("fold", "utc_hour"), [(0, 0), (1, 1)])
def test_booking_either_half_past_two_on_fall_back_night_in_clinic_time(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, fold: int, utc_hour: int
) -> None:
    """The screen hands over the clinic's wall time; in the repeated hour `fold` says which one."""
    with store.unit_of_work() as uow:
        availability.set_hours(
            uow, actor=SYSTEM, clinician_id=clinic.doctor_a, weekday=6, start=time(1), end=time(4)
        )
    wall_time = datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=clinic.tz)
    appointment = book(store, make_patient().id, clinic.doctor_a, wall_time)
    assert appointment.starts_at == datetime(2026, 10, 25, utc_hour, 30, tzinfo=UTC)


def test_an_emergency_is_seen_now_without_a_slot_and_jumps_the_queue(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> None:
    clock.set(local(MONDAY, 9))
    routine = make_patient()
    with store.unit_of_work() as uow:
        queue.issue_token(uow, actor=KIOSK, patient_id=routine.id)
    clock.set(local(MONDAY, 9, 40))
    with store.unit_of_work() as uow:
        emergency = booking.book(
            uow,
            actor=clinic.desk,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            kind=AppointmentType.EMERGENCY,
        )
    assert (emergency.starts_at, emergency.seat, emergency.urgency, emergency.emergency) == (
        clock(),
        None,
        "emergency",
        True,
    )
    assert free_starts(store, clinic.doctor_a)[0] == local(MONDAY, 10)  # 09:45 is taken by the emergency
    with store.unit_of_work() as uow:
        queue.check_in(uow, actor=clinic.desk, appointment_id=emergency.id)
    with store.unit_of_work() as uow:
        called = queue.call_next(uow, actor=clinic.doctor, clinician_id=clinic.doctor_a)
    assert called is not None and called.appointment_id == emergency.id
