"""The waiting list: a freed slot goes to the first patient waiting for that doctor and day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from desktop.domain.errors import BookingConflict, InvalidInput
from desktop.domain.waitlist import WaitlistStatus
from desktop.services import booking
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, WaitlistEntry
from tests.conftest import PatientFactory
from tests.support import MONDAY, ClinicSetup, Clock, count, local

TUESDAY = MONDAY + timedelta(days=1)
SLOT = local(TUESDAY, 9)


def join(
    store: LocalStore,
    patient_id: str,
    doctor: str,
    first: date = MONDAY,
    last: date = MONDAY + timedelta(days=4),
) -> str:
    with store.unit_of_work() as uow:
        return booking.join_waitlist(
            uow, actor=SYSTEM, patient_id=patient_id, clinician_id=doctor, earliest=first, latest=last
        ).id


def entry(store: LocalStore, entry_id: str) -> WaitlistEntry:
    with store.reading() as session:
        row = session.get(WaitlistEntry, entry_id)
        assert row is not None
        return row


def booked_then_cancelled(store: LocalStore, make_patient: PatientFactory, doctor: str) -> Appointment:
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow, actor=SYSTEM, patient_id=make_patient().id, clinician_id=doctor, starts_at=SLOT
        )
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=appointment.id)
    return appointment


@pytest.fixture
def line(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, clock: Clock
) -> dict[str, str]:
    """Four patients waiting, in this order of joining."""
    out = {}
    out["other_doctor"] = join(store, make_patient().id, clinic.doctor_b)
    clock.advance(minutes=1)
    out["wrong_days"] = join(store, make_patient().id, clinic.doctor_a, MONDAY + timedelta(days=2))
    clock.advance(minutes=1)
    out["first"] = join(store, make_patient().id, clinic.doctor_a)
    clock.advance(minutes=1)
    out["second"] = join(store, make_patient().id, clinic.doctor_a)
    clock.advance(minutes=1)
    return out


def statuses(store: LocalStore, line: dict[str, str]) -> dict[str, str]:
    return {name: entry(store, entry_id).status for name, entry_id in line.items()}


def test_a_cancellation_is_offered_to_the_first_patient_waiting_for_that_doctor_and_day(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, line: dict[str, str], clock: Clock
) -> None:
    booked_then_cancelled(store, make_patient, clinic.doctor_a)
    assert statuses(store, line) == {
        "other_doctor": "waiting",
        "wrong_days": "waiting",
        "first": "offered",
        "second": "waiting",
    }
    offer = entry(store, line["first"])
    assert offer.offered_start == SLOT
    assert offer.offer_expires_at is not None and clock() < offer.offer_expires_at <= SLOT


def test_accepting_the_offer_books_the_slot(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, line: dict[str, str]
) -> None:
    booked_then_cancelled(store, make_patient, clinic.doctor_a)
    patient_id = entry(store, line["first"]).patient_id
    with store.unit_of_work() as uow:
        appointment = booking.accept_offer(uow, actor=SYSTEM, entry_id=line["first"])
    assert (appointment.patient_id, appointment.clinician_id, appointment.starts_at) == (
        patient_id,
        clinic.doctor_a,
        SLOT,
    )
    taken = entry(store, line["first"])
    assert (taken.status, taken.appointment_id) == ("booked", appointment.id)
    with pytest.raises(InvalidInput), store.unit_of_work() as uow:
        booking.accept_offer(uow, actor=SYSTEM, entry_id=line["first"])  # no second booking from one offer


def test_declining_passes_the_slot_to_the_next_in_line(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, line: dict[str, str]
) -> None:
    booked_then_cancelled(store, make_patient, clinic.doctor_a)
    with store.unit_of_work() as uow:
        passed_to = booking.decline_offer(uow, actor=SYSTEM, entry_id=line["first"])
    assert passed_to is not None and passed_to.id == line["second"]
    assert statuses(store, line)["first"] == "waiting"
    assert statuses(store, line)["second"] == "offered"
    assert entry(store, line["second"]).offered_start == SLOT
    assert entry(store, line["first"]).offered_start is None
    # The one who declined went to the back of the line.
    with store.unit_of_work() as uow:
        assert booking.decline_offer(uow, actor=SYSTEM, entry_id=line["second"]).id == line["first"]  # type: ignore[union-attr]


def test_an_expired_offer_books_nothing_and_the_patient_stays_on_the_list(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, line: dict[str, str], clock: Clock
) -> None:
    booked_then_cancelled(store, make_patient, clinic.doctor_a)
    clock.advance(hours=3)
    appointments = count(store, Appointment)
    with pytest.raises(BookingConflict, match="expired"), store.unit_of_work() as uow:
        booking.accept_offer(uow, actor=SYSTEM, entry_id=line["first"])
    assert count(store, Appointment) == appointments
    # Still first in line: the next freed slot is offered to them again.
    with store.unit_of_work() as uow:
        later = booking.book(
            uow,
            actor=SYSTEM,
            patient_id=make_patient().id,
            clinician_id=clinic.doctor_a,
            starts_at=local(TUESDAY, 11),
        )
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=SYSTEM, appointment_id=later.id)
    renewed = entry(store, line["first"])
    assert (renewed.status, renewed.offered_start) == ("offered", local(TUESDAY, 11))
    assert statuses(store, line)["second"] == "waiting"


def test_a_slot_in_the_past_is_not_offered(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory, line: dict[str, str], clock: Clock
) -> None:
    with store.unit_of_work() as uow:
        appointment = booking.book(
            uow, actor=SYSTEM, patient_id=make_patient().id, clinician_id=clinic.doctor_a, starts_at=SLOT
        )
    clock.set(SLOT + timedelta(minutes=20))
    with store.unit_of_work() as uow:
        booking.transition(uow, actor=SYSTEM, appointment_id=appointment.id, to="no_show")
    assert set(statuses(store, line).values()) == {"waiting"}


def test_a_patient_waits_once_per_doctor(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    patient = make_patient()
    join(store, patient.id, clinic.doctor_a)
    with pytest.raises(InvalidInput) as info:
        join(store, patient.id, clinic.doctor_a)
    assert info.value.field == "patient_id"
    join(store, patient.id, clinic.doctor_b)
    with pytest.raises(InvalidInput) as info:
        join(store, make_patient().id, clinic.doctor_a, MONDAY + timedelta(days=3), MONDAY)
    assert info.value.field == "latest"


def test_a_waiting_list_status_outside_the_domains_values_is_refused_by_the_database(
    store: LocalStore, clinic: ClinicSetup, make_patient: PatientFactory
) -> None:
    entry_id = join(store, make_patient().id, clinic.doctor_a)
    assert entry(store, entry_id).status == WaitlistStatus.WAITING
    with pytest.raises(IntegrityError, match="CHECK"), store.unit_of_work() as uow:
        row = uow.session.get(WaitlistEntry, entry_id)
        assert row is not None
        row.status = "parked"
    assert entry(store, entry_id).status == WaitlistStatus.WAITING
