"""Applying pulled pages, without a server: a scripted client hands the engine exact pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from desktop.domain.errors import BookingConflict, InvalidInput
from desktop.domain.ids import new_id
from desktop.services import booking
from desktop.services.common import SYSTEM
from desktop.store.codec import data_fields, encode
from desktop.store.local import LocalStore
from desktop.store.models import Availability, Clinic, Clinician, Patient, Synced
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import ServerError
from desktop.sync.protocol import Change, PullResponse
from tests.support import MONDAY, ClinicSetup, local

HLC = "1772438400000-0000-01939a6f-0000-7000-8000-0000000000ff"


class Pages:
    """A client whose pulls answer the given pages in turn (and that has nothing to push)."""

    def __init__(self, *pages: PullResponse):
        self.pages = list(pages)
        self.asked: list[int] = []

    def pull(self, since: int, limit: int) -> PullResponse:
        self.asked.append(since)
        return self.pages.pop(0)

    def health(self) -> Any:
        raise AssertionError("not asked in these tests")


def change(seq: int, entity: str, row_id: str, data: dict[str, Any], version: int = 1) -> Change:
    return Change(seq=seq, entity=entity, id=row_id, version=version, hlc=HLC, deleted=False, data=data)


def row_data(store: LocalStore, model: type[Synced], row_id: str, **changes: Any) -> dict[str, Any]:
    with store.reading() as session:
        row = session.get(model, row_id)
        assert row is not None
        data = {k: encode(getattr(row, k)) for k in data_fields(model)}
    return {**data, **changes}


def patient_data(store: LocalStore, patient_id: str, **changes: Any) -> dict[str, Any]:
    return row_data(store, Patient, patient_id, **changes)


def settle(store: LocalStore) -> None:
    """Everything local is known to the server: nothing to push."""
    with store.db.writer.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_journal SET status = 'applied'")
        for table in ("clinic", "clinician", "availability", "patient", "audit_event"):
            conn.exec_driver_sql(f"UPDATE {table} SET version = 1")


@pytest.fixture
def settled(store: LocalStore, clinic: ClinicSetup) -> ClinicSetup:
    settle(store)
    return clinic


def engine(store: LocalStore, client: Pages) -> SyncEngine:
    sync = SyncEngine(store, client)  # type: ignore[arg-type]
    sync._skew_checked = float("inf")  # no /health in these tests
    return sync


def test_a_unique_value_moves_from_a_stale_local_row_to_the_pulled_one(
    store: LocalStore, clinic: ClinicSetup, make_patient: Any
) -> None:
    stale, other = make_patient(), make_patient()
    settle(store)  # both known to the server; nothing pending
    # On the server the code moved to `other`; `stale`'s own change comes in a later page.
    page = PullResponse(
        changes=[change(1, "patient", other.id, patient_data(store, other.id, code=stale.code), 2)],
        next=1,
        more=False,
    )
    report = engine(store, Pages(page)).sync_once()
    assert report.error is None and report.pulled == 1
    with store.reading() as session:
        assert session.get(Patient, other.id).code == stale.code  # type: ignore[union-attr]
        assert session.get(Patient, stale.id) is None  # dropped: it comes back with its change
    assert store.device().pull_cursor == 1


def test_a_change_this_app_cannot_read_stops_sync_and_moves_nothing(
    store: LocalStore, clinic: ClinicSetup, make_patient: Any
) -> None:
    patient = make_patient()
    settle(store)
    bad = change(5, "patient", patient.id, patient_data(store, patient.id, birth_date="the fifth of May"), 2)
    report = engine(store, Pages(PullResponse(changes=[bad], next=5, more=False))).sync_once()
    assert isinstance(report.error, ServerError) and "cannot read" in report.error.message
    assert store.device().pull_cursor == 0
    with store.db.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_fields_from_a_newer_server_are_ignored(store: LocalStore, settled: ClinicSetup) -> None:
    clinic = settled
    with store.reading() as session:
        doctor = session.scalars(select(Clinician).where(Clinician.id == clinic.doctor_a)).one()
        data = {k: encode(getattr(doctor, k)) for k in data_fields(Clinician)}
    data.update(name="Dr. Anna Weber-Roth", pager="555")  # `pager`: a field of a later version
    page = PullResponse(changes=[change(3, "clinician", doctor.id, data, 4)], next=3, more=False)
    assert engine(store, Pages(page)).sync_once().error is None
    with store.reading() as session:
        row = session.get(Clinician, doctor.id)
        assert row is not None and (row.name, row.version) == ("Dr. Anna Weber-Roth", 4)


def test_a_page_another_sync_applied_first_is_not_applied_twice(
    store: LocalStore, settled: ClinicSetup
) -> None:
    store.update_device(pull_cursor=10)  # another sync of this data dir got there meanwhile
    client = Pages(
        PullResponse(changes=[], next=11, more=True),  # asked from 0: not applied
        PullResponse(changes=[], next=12, more=False),  # the page fetched ahead is thrown away,
        PullResponse(changes=[], next=12, more=False),  # and the one from 10 asked again
    )
    sync = engine(store, client)
    sync._cursor = lambda: 0  # type: ignore[method-assign]  # this one still thinks it is at 0
    assert sync.sync_once().error is None
    assert client.asked[0] == 0 and 10 in client.asked and store.device().pull_cursor == 12


@pytest.mark.parametrize("pages", [1, 3])
def test_the_cursor_follows_next(store: LocalStore, settled: ClinicSetup, pages: int) -> None:
    client = Pages(*[PullResponse(changes=[], next=n + 1, more=n + 1 < pages) for n in range(pages)])
    report = engine(store, client).sync_once()
    assert report.pages == pages and store.device().pull_cursor == pages


# -- pulled reference data reaches the next booking (the store caches it: desktop/store/reference.py)

SATURDAY = MONDAY + timedelta(days=5)


def monday_hours(store: LocalStore, doctor: str) -> str:
    with store.reading() as session:
        return session.scalars(
            select(Availability.id).where(
                Availability.clinician_id == doctor, Availability.kind == "hours", Availability.weekday == 0
            )
        ).one()


def _hours_tombstoned(store: LocalStore, clinic: ClinicSetup) -> Change:
    rule = monday_hours(store, clinic.doctor_a)
    data = row_data(store, Availability, rule)
    return Change(seq=1, entity="availability", id=rule, version=2, hlc=HLC, deleted=True, data=data)


def _leave(store: LocalStore, clinic: ClinicSetup) -> Change:
    monday = MONDAY.isoformat()
    blank = {"weekday": None, "start_time": None, "end_time": None}
    data = row_data(store, Availability, monday_hours(store, clinic.doctor_a), kind="leave", **blank)
    return change(1, "availability", new_id(), {**data, "valid_from": monday, "valid_to": monday})


def _holiday(store: LocalStore, clinic: ClinicSetup) -> Change:
    data = row_data(store, Clinic, clinic.clinic_id, holidays=[MONDAY.isoformat()])
    return change(1, "clinic", clinic.clinic_id, data, 2)


def _doctor_inactive(store: LocalStore, clinic: ClinicSetup) -> Change:
    return change(
        1, "clinician", clinic.doctor_a, row_data(store, Clinician, clinic.doctor_a, active=False), 2
    )


PULLED: dict[str, Callable[[LocalStore, ClinicSetup], Change]] = {
    "hours tombstoned": _hours_tombstoned,
    "leave": _leave,
    "holiday": _holiday,
    "doctor inactive": _doctor_inactive,
}


def book_at(store: LocalStore, patient_id: str, doctor: str, at: datetime) -> None:
    with store.unit_of_work() as uow:
        booking.book(uow, actor=SYSTEM, patient_id=patient_id, clinician_id=doctor, starts_at=at)


def booked_and_pushed(store: LocalStore, make_patient: Any, doctor: str) -> None:
    """A booking (which leaves the clinic, the doctor and the rules cached), already pushed."""
    book_at(store, make_patient().id, doctor, local(MONDAY, 9))
    with store.db.writer.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_journal SET status = 'applied'")


@pytest.mark.parametrize("pulled", PULLED.values(), ids=PULLED.keys())
def test_pulled_reference_changes_apply_to_the_next_booking(
    store: LocalStore,
    settled: ClinicSetup,
    make_patient: Any,
    pulled: Callable[[LocalStore, ClinicSetup], Change],
) -> None:
    clinic = settled
    booked_and_pushed(store, make_patient, clinic.doctor_a)
    page = PullResponse(changes=[pulled(store, clinic)], next=1, more=False)
    assert engine(store, Pages(page)).sync_once().error is None
    with pytest.raises((BookingConflict, InvalidInput)):
        book_at(store, make_patient().id, clinic.doctor_a, local(MONDAY, 10))


def test_pulled_hours_open_slots_at_once(store: LocalStore, settled: ClinicSetup, make_patient: Any) -> None:
    clinic = settled
    patient = make_patient().id
    booked_and_pushed(store, make_patient, clinic.doctor_a)
    saturday_ten = local(SATURDAY, 10)
    with pytest.raises(BookingConflict, match="no bookable slot"):
        book_at(store, patient, clinic.doctor_a, saturday_ten)
    data = row_data(store, Availability, monday_hours(store, clinic.doctor_a), weekday=5)
    page = PullResponse(changes=[change(1, "availability", new_id(), data)], next=1, more=False)
    assert engine(store, Pages(page)).sync_once().error is None
    book_at(store, patient, clinic.doctor_a, saturday_ten)
