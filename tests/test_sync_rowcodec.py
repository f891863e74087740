"""Pulled values are written exactly as SQLAlchemy would store them, so queries keep matching."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session

from desktop.store.codec import data_fields, encode
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, Availability, Clinic, SyncConflict, Synced
from desktop.sync.pulled import foreign_keys_off
from desktop.sync.rowcodec import to_storage, utc_datetime

ID = "01939a6f-0000-7000-8000-00000000000{}"
ROWS: list[Synced] = [
    Clinic(id=ID.format(1), name="Praxis", timezone="Europe/Berlin", holidays=["2026-12-25"], phone=None),
    Availability(
        id=ID.format(2),
        clinic_id=ID.format(1),
        clinician_id=ID.format(3),
        kind="hours",
        weekday=0,
        start_time=time(8, 30),
        end_time=time(17, 45, 10, 500),
        valid_from=date(2026, 3, 2),
    ),
    Appointment(
        id=ID.format(4),
        clinic_id=ID.format(1),
        code="APT-7K3Q9",
        clinician_id=ID.format(3),
        patient_id=ID.format(5),
        starts_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        ends_at=datetime(2026, 3, 2, 8, 15, 0, 123456, tzinfo=UTC),
        seat=1,
        kind="kiosk",
        status="confirmed",
        emergency=True,
    ),
    SyncConflict(
        id=ID.format(6),
        clinic_id=ID.format(1),
        entity="appointment",
        entity_id=ID.format(4),
        ours={"a": [1, "ü"]},
        theirs=None,
        suggestion=None,
        resolution="needs_review",
    ),
]


def stored(store: LocalStore, table: str, row_id: str) -> dict[str, Any]:
    conn = sqlite3.connect(store.path)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone())
    finally:
        conn.close()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.__entity__)
def test_wire_values_become_the_values_sqlalchemy_stores(store: LocalStore, row: Synced) -> None:
    model = type(row)
    with foreign_keys_off(store.db.writer) as conn, conn.begin(), Session(bind=conn) as session:
        session.add(row)  # a plain ORM insert: no parent rows, no journal
        session.flush()
    raw = stored(store, model.__tablename__, row.id)  # type: ignore[attr-defined]
    wire = {key: encode(getattr(row, key)) for key in data_fields(model)}
    assert to_storage(model, wire) == {key: raw[key] for key in data_fields(model)}


def test_times_in_other_zones_are_stored_in_utc_and_naive_ones_refused() -> None:
    berlin = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc_datetime(berlin.isoformat()) == "2026-03-02 08:00:00.000000"
    with pytest.raises(ValueError):
        utc_datetime("2026-03-02T08:00:00")


def test_fields_this_app_does_not_know_are_dropped() -> None:
    assert to_storage(Clinic, {"name": "X", "added_in_v2": 1}) == {"name": "X"}
