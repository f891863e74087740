"""The conflict log over HTTP: who may see it, and resolving double bookings and duplicate patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from sqlalchemy import text

from desktop.services import booking, patients
from desktop.services.common import KIOSK
from desktop.store.local import LocalStore
from tests.fixtures.server import (  # noqa: F401
    ClinicOnServer,
    Enrolled,
    LiveServer,
    device_store,
    device_template,
    journal_ops,
    live_server,
    new_clinic,
    pull_all,
    push,
    seed_store,
    server_database_url,
    tomorrow_at,
)


@dataclass
class Kiosk:
    device: Enrolled
    store: LocalStore


def kiosk(server: LiveServer, clinic: ClinicOnServer, make_store: Any, name: str) -> Kiosk:
    device = server.enroll(clinic.clinic_id, "kiosk", name=name)
    store = make_store(name)
    seed_store(store, server, device)
    return Kiosk(device, store)


def walk_in(
    k: Kiosk, clinic: ClinicOnServer, name: str, hour: int, minute: int = 0, phone: str | None = None
) -> str:
    with k.store.unit_of_work() as uow:
        patient = patients.register(
            uow, actor=KIOSK, full_name=name, birth_date=date(1975, 3, 9), phone=phone, confirm_new=True
        )
        appointment = booking.book(
            uow,
            actor=KIOSK,
            patient_id=patient.id,
            clinician_id=clinic.doctor_id,
            starts_at=tomorrow_at(hour, minute),
        )
        return appointment.id


def sync(server: LiveServer, k: Kiosk) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = push(server, k.device, journal_ops(k.store))["results"]
    return results


@dataclass
class DoubleBooking:
    winner: str
    loser: str
    conflict_id: str
    loser_kiosk: Kiosk


def double_booking(server: LiveServer, clinic: ClinicOnServer, make_store: Any) -> DoubleBooking:
    one, two = kiosk(server, clinic, make_store, "kiosk-1"), kiosk(server, clinic, make_store, "kiosk-2")
    winner = walk_in(one, clinic, "Ana Silva", 9)
    loser = walk_in(two, clinic, "Ben Okafor", 9)
    sync(server, one)
    lost = next(r for r in sync(server, two) if r["status"] == "conflict")
    return DoubleBooking(winner, loser, lost["conflict_id"], two)


def resolve(http: requests.Session, server: LiveServer, conflict_id: str, **body: Any) -> requests.Response:
    return http.post(server.url(f"/v1/conflicts/{conflict_id}/resolve"), json=body)


def test_only_desks_see_the_conflict_log(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    for kind in ("kiosk", "board"):
        device = live_server.enroll(new_clinic.clinic_id, kind)
        answer = live_server.http(device.token).get(live_server.url("/v1/conflicts"))
        assert answer.status_code == 403 and kind in answer.json()["detail"]
    assert live_server.http(new_clinic.desk.token).get(live_server.url("/v1/conflicts")).status_code == 200


def test_resolving_needs_a_signed_in_doctor_nurse_or_admin(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    desk = new_clinic.desk
    device_only = resolve(live_server.http(desk.token), live_server, clash.conflict_id, choice="dismiss")
    assert device_only.status_code == 403 and "Sign in" in device_only.json()["detail"]
    _, reception = live_server.add_user(new_clinic.clinic_id, "reception")
    as_reception = resolve(
        live_server.user_session(desk, reception), live_server, clash.conflict_id, choice="dismiss"
    )
    assert as_reception.status_code == 403
    kiosk_device = live_server.enroll(new_clinic.clinic_id, "kiosk")
    on_kiosk = resolve(
        live_server.user_session(kiosk_device, new_clinic.doctor_username),
        live_server,
        clash.conflict_id,
        choice="dismiss",
    )
    assert on_kiosk.status_code == 403
    assert live_server.row("sync_conflict", clash.conflict_id)["resolved_at"] is None  # type: ignore[index]


def test_cancel_the_loser_of_a_double_booking(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    doctor = live_server.user_session(new_clinic.desk, new_clinic.doctor_username)
    answer = resolve(doctor, live_server, clash.conflict_id, choice="cancel", note="Patient will call back")
    assert answer.status_code == 200, answer.text
    conflict = answer.json()
    assert conflict["choice"] == "cancel" and conflict["resolved_by"] == new_clinic.doctor_id
    assert conflict["resolved_at"] and conflict["note"] == "Patient will call back"
    assert live_server.row("appointment", clash.loser)["status"] == "cancelled"  # type: ignore[index]
    assert live_server.row("appointment", clash.winner)["status"] == "confirmed"  # type: ignore[index]

    listing = live_server.http(new_clinic.desk.token)
    open_ids = {c["id"] for c in listing.get(live_server.url("/v1/conflicts")).json()["conflicts"]}
    assert clash.conflict_id not in open_ids
    resolved = listing.get(live_server.url("/v1/conflicts"), params={"status": "resolved"}).json()[
        "conflicts"
    ]
    assert clash.conflict_id in {c["id"] for c in resolved}

    # Both the resolution and the cancelled loser reach the kiosk that booked it.
    changes = {c["id"]: c for c in pull_all(live_server, live_server.http(clash.loser_kiosk.device.token))[0]}
    assert changes[clash.loser]["data"]["status"] == "cancelled"

    retry = resolve(doctor, live_server, clash.conflict_id, choice="cancel", note="Patient will call back")
    assert retry.status_code == 200 and retry.json()["version"] == conflict["version"]
    other_choice = resolve(doctor, live_server, clash.conflict_id, choice="dismiss")
    assert other_choice.status_code == 409


def test_rebook_the_loser_into_a_free_slot_only(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    nurse_name = live_server.add_user(new_clinic.clinic_id, "nurse")[1]
    nurse = live_server.user_session(new_clinic.desk, nurse_name)
    before = live_server.counts(new_clinic.clinic_id), live_server.row_changes()
    for taken_or_closed in (tomorrow_at(9), tomorrow_at(20), tomorrow_at(9, 7)):
        answer = resolve(
            nurse, live_server, clash.conflict_id, choice="rebook", starts_at=taken_or_closed.isoformat()
        )
        assert answer.status_code == 409 and answer.json()["field"] == "starts_at"
    no_time = resolve(nurse, live_server, clash.conflict_id, choice="rebook")
    assert no_time.status_code == 422 and no_time.json()["field"] == "starts_at"
    assert (live_server.counts(new_clinic.clinic_id), live_server.row_changes()) == before

    answer = resolve(
        nurse, live_server, clash.conflict_id, choice="rebook", starts_at=tomorrow_at(9, 30).isoformat()
    )
    assert answer.status_code == 200, answer.text
    moved = live_server.row("appointment", clash.loser)
    assert moved is not None and moved["status"] == "confirmed" and moved["seat"] == 1
    assert moved["starts_at"] == tomorrow_at(9, 30)
    changes = {c["id"]: c for c in pull_all(live_server, live_server.http(clash.loser_kiosk.device.token))[0]}
    assert changes[clash.loser]["data"]["starts_at"] == moved["starts_at"].isoformat()


def test_choices_must_fit_the_conflict(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    doctor = live_server.user_session(new_clinic.desk, new_clinic.doctor_username)
    merge = resolve(doctor, live_server, clash.conflict_id, choice="merge")
    assert merge.status_code == 422 and merge.json()["field"] == "choice"
    unknown = resolve(doctor, live_server, clash.conflict_id, choice="flip_a_coin")
    assert unknown.status_code == 422 and unknown.json()["field"] == "choice"
    missing = resolve(doctor, live_server, "01a1ffed-0000-7000-8000-00000000abcd", choice="dismiss")
    assert missing.status_code == 404


def test_another_clinic_cannot_resolve_our_conflicts(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    rival = live_server.create_clinic(name="Rival")
    _, their_doctor = live_server.add_user(rival, "doctor")
    their_desk = live_server.enroll(rival, "desk")
    answer = resolve(
        live_server.user_session(their_desk, their_doctor), live_server, clash.conflict_id, choice="dismiss"
    )
    assert answer.status_code == 404
    assert live_server.row("sync_conflict", clash.conflict_id)["resolved_at"] is None  # type: ignore[index]


def test_merge_duplicate_patients_repoints_their_records(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    one, two = (
        kiosk(live_server, new_clinic, device_store, "kiosk-1"),
        kiosk(live_server, new_clinic, device_store, "kiosk-2"),
    )
    first = walk_in(one, new_clinic, "Chen Wei", 10)
    second = walk_in(two, new_clinic, "Chen  Wei", 11, phone="+49 30 1234567")  # the same person, offline
    sync(live_server, one)
    results = sync(live_server, two)
    duplicate_id = live_server.row("appointment", second)["patient_id"]  # type: ignore[index]
    survivor_id = live_server.row("appointment", first)["patient_id"]  # type: ignore[index]
    flagged = next(r for r in results if r["conflict_id"] and r["status"] == "applied")
    conflict = live_server.row("sync_conflict", flagged["conflict_id"])
    assert (
        conflict is not None and conflict["entity_id"] == duplicate_id and conflict["other_id"] == survivor_id
    )

    nurse = live_server.user_session(new_clinic.desk, live_server.add_user(new_clinic.clinic_id, "nurse")[1])
    assert (
        resolve(nurse, live_server, conflict["id"], choice="merge").status_code == 403
    )  # doctors and admins merge

    doctor = live_server.user_session(new_clinic.desk, new_clinic.doctor_username)
    answer = resolve(doctor, live_server, conflict["id"], choice="merge")
    assert answer.status_code == 200, answer.text
    assert answer.json()["resolution"] == "merged"
    assert live_server.row("patient", duplicate_id)["merged_into"] == survivor_id  # type: ignore[index]
    survivor = live_server.row("patient", survivor_id)
    assert survivor is not None and survivor["phone"] == "+49301234567"  # filled from the duplicate
    assert live_server.row("appointment", second)["patient_id"] == survivor_id  # type: ignore[index]

    # The kiosk that registered the duplicate receives every re-pointed record.
    changes = pull_all(live_server, live_server.http(two.device.token))[0]
    by_id = {c["id"]: c for c in changes}
    assert by_id[second]["data"]["patient_id"] == survivor_id
    assert by_id[duplicate_id]["data"]["merged_into"] == survivor_id
    repointed = [c for c in changes if c["entity"] in {"reminder", "queue_token", "waitlist_entry"}]
    assert all(c["data"]["patient_id"] == survivor_id for c in repointed)
    with live_server.engine.connect() as conn:
        for table in (
            "appointment",
            "reminder",
            "queue_token",
            "consultation",
            "prescription",
            "waitlist_entry",
        ):
            left = conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE patient_id = :p"), {"p": duplicate_id}
            )
            assert left == 0, table
    audit = [
        c
        for c in pull_all(live_server, live_server.http(new_clinic.desk.token))[0]
        if c["entity"] == "audit_event"
    ]
    assert any(
        c["data"]["action"] == "merge" and c["data"]["actor_id"] == new_clinic.doctor_id for c in audit
    )
