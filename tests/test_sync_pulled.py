"""Applying pulled pages, without a server: a scripted client hands the engine exact pages."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from desktop.store.codec import data_fields, encode
from desktop.store.local import LocalStore
from desktop.store.models import Clinician, Patient
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import ServerError
from desktop.sync.protocol import Change, PullResponse
from tests.support import ClinicSetup

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


def patient_data(store: LocalStore, patient_id: str, **changes: Any) -> dict[str, Any]:
    with store.reading() as session:
        row = session.get(Patient, patient_id)
        assert row is not None
        data = {k: encode(getattr(row, k)) for k in data_fields(Patient)}
    return {**data, **changes}


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
