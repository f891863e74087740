"""A status outside the domain's values (waiting list, consultation) is refused by the server's
database too: the op is rejected (never a 500) and nothing is written."""

from __future__ import annotations

from typing import Any

from desktop.domain.ids import new_id
from tests.fixtures.server import (  # noqa: F401
    ClinicOnServer,
    LiveServer,
    device_store,
    device_template,
    live_server,
    new_clinic,
    patient_op,
    push,
    server_database_url,
)


def waitlist_op(clinic: ClinicOnServer, patient_id: str, status: str) -> dict[str, Any]:
    return {
        "op_id": new_id(),
        "entity": "waitlist_entry",
        "entity_id": new_id(),
        "action": "create",
        "base_version": 0,
        "data": {
            "clinic_id": clinic.clinic_id,
            "patient_id": patient_id,
            "clinician_id": clinic.doctor_id,
            "earliest": "2026-03-02",
            "latest": "2026-03-06",
            "status": status,
            "offered_start": None,
            "offer_expires_at": None,
            "appointment_id": None,
            "joined_at": "2026-03-01T09:00:00+00:00",
            "deleted": False,
        },
        "hlc": "1767225600001-0000-0190f2a4-7b1c-7d3e-8f00-123456789abc",
        "actor": clinic.doctor_id,
    }


def test_a_waiting_list_status_outside_the_enum_is_rejected(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    patient = patient_op(new_clinic.clinic_id)
    good, bad = (
        waitlist_op(new_clinic, patient["entity_id"], "waiting"),
        waitlist_op(new_clinic, patient["entity_id"], "parked"),
    )
    results = push(live_server, new_clinic.desk, [patient, good, bad])["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"], results
    assert live_server.row("waitlist_entry", good["entity_id"]) is not None
    assert live_server.row("waitlist_entry", bad["entity_id"]) is None
