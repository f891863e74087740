"""Per-op authorisation (issue 11): what an authenticated device pushes is checked against who made
it. Each finding of the audit is reproduced here as an attack, on SQLite and on PostgreSQL:

- a desk token alone took over an admin account by pushing a password hash;
- a reception session raised a clinician's role;
- one clinic booked another clinic's doctor and patient;
- one clinic's op id was answered with another clinic's stored result;
- a kiosk (and a board) acting beyond their role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from desktop.domain.errors import NotAllowed
from desktop.domain.ids import human_code, new_id
from desktop.domain.roles import Role
from desktop.services import clinic as clinic_service
from desktop.services.clinic import hash_password
from desktop.services.common import Actor
from desktop.store.types import utcnow
from desktop.sync.protocol import ClinicianChanges, NewClinician
from server_stub import admin
from tests.fixtures.desk import desk, server  # noqa: F401  (fixtures)
from tests.fixtures.server import (  # noqa: F401  (fixtures)
    ClinicOnServer,
    Enrolled,
    LiveServer,
    device_store,
    device_template,
    live_server,
    new_clinic,
    now_hlc,
    patient_op,
    pull_all,
    push,
    server_database_url,
    tomorrow_at,
)
from tests.sync_support import Device, fast_client


def update_op(entity: str, row: dict[str, Any], actor: str, **data: Any) -> dict[str, Any]:
    """A hand-made op changing `data` of a row the server holds, on top of its current version."""
    return {
        "op_id": new_id(),
        "entity": entity,
        "entity_id": row["id"],
        "action": "update",
        "base_version": row["version"],
        "data": data,
        "hlc": now_hlc(),
        "actor": actor,
    }


def appointment_op(
    clinic_id: str, clinician_id: str, patient_id: str, hour: int, actor: str = "kiosk"
) -> dict[str, Any]:
    """A hand-made kiosk booking tomorrow at `hour` (every field, as a device's create op carries)."""
    start = tomorrow_at(hour)
    return {
        "op_id": new_id(),
        "entity": "appointment",
        "entity_id": new_id(),
        "action": "book",
        "base_version": 0,
        "data": {
            "clinic_id": clinic_id,
            "code": human_code("APT"),
            "clinician_id": clinician_id,
            "patient_id": patient_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=15)).isoformat(),
            "seat": 1,
            "kind": "kiosk",
            "urgency": "routine",
            "emergency": False,
            "status": "confirmed",
            "reason": "",
            "status_note": "",
            "rescheduled_from": None,
            "series_id": None,
            "booked_by": None,
        },
        "hlc": now_hlc(),
        "actor": actor,
    }


def push_with(server: LiveServer, http: requests.Session, device: Enrolled, ops: list[dict[str, Any]]) -> Any:
    answer = http.post(server.url("/v1/sync/push"), json={"device_id": device.device_id, "ops": ops})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def registered(server: LiveServer, device: Enrolled, clinic_id: str, **data: Any) -> str:
    op = patient_op(clinic_id, **data)
    assert push(server, device, [op])["results"][0]["status"] == "applied"
    return str(op["entity_id"])


# -- credentials and roles are the server's ---------------------------------------------------


def test_a_desk_token_alone_cannot_take_over_an_admin_account(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    admin_id, admin_name = live_server.add_user(new_clinic.clinic_id, "admin")
    before = live_server.row("clinician", admin_id)
    assert before is not None
    chosen = "chosen by the attacker"
    forged = hash_password(chosen)
    # Whoever the op claims to be: the device itself, or the admin in person.
    for actor in ("system", admin_id):
        answer = push(
            live_server, new_clinic.desk, [update_op("clinician", before, actor, password_hash=forged)]
        )
        result = answer["results"][0]
        assert result["status"] == "rejected", result
        assert result["field"] == "entity" and "administrator on the server" in result["error"]
    assert live_server.row("clinician", admin_id) == before
    assert live_server.login(new_clinic.desk, admin_name, chosen).status_code == 401
    assert live_server.login(new_clinic.desk, admin_name).status_code == 200


def test_no_op_creates_a_staff_account(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    user_id = new_id()
    op = {
        "op_id": new_id(),
        "entity": "clinician",
        "entity_id": user_id,
        "action": "create",
        "base_version": 0,
        "data": {
            "clinic_id": new_clinic.clinic_id,
            "name": "Eve Intruder",
            "username": "eve",
            "role": "admin",
            "specialty": "",
            "room": "",
            "password_hash": hash_password("eve's own password"),
            "active": True,
        },
        "hlc": now_hlc(),
        "actor": "system",
    }
    result = push(live_server, new_clinic.desk, [op])["results"][0]
    assert result["status"] == "rejected" and result["field"] == "entity"
    assert live_server.row("clinician", user_id) is None
    assert live_server.login(new_clinic.desk, "eve", "eve's own password").status_code == 401


def test_a_reception_session_cannot_raise_a_role(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    reception_id, reception_name = live_server.add_user(new_clinic.clinic_id, "reception")
    session = live_server.user_session(new_clinic.desk, reception_name)
    me = live_server.row("clinician", reception_id)
    doctor = live_server.row("clinician", new_clinic.doctor_id)
    assert me is not None and doctor is not None
    ops = [
        update_op("clinician", me, reception_id, role="admin"),
        update_op("clinician", doctor, reception_id, active=False),
    ]
    results = push_with(live_server, session, new_clinic.desk, ops)
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert live_server.row("clinician", reception_id) == me
    assert live_server.row("clinician", new_clinic.doctor_id) == doctor


def test_clinic_settings_are_an_admins(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    reception_id, _ = live_server.add_user(new_clinic.clinic_id, "reception")
    admin_id, _ = live_server.add_user(new_clinic.clinic_id, "admin")
    clinic = live_server.row("clinic", new_clinic.clinic_id)
    assert clinic is not None
    for actor in (reception_id, "system", "kiosk"):
        result = push(
            live_server, new_clinic.desk, [update_op("clinic", clinic, actor, holidays=["2031-01-01"])]
        )
        assert result["results"][0]["status"] == "rejected" and result["results"][0]["field"] == "actor"
    assert live_server.row("clinic", new_clinic.clinic_id) == clinic
    result = push(
        live_server, new_clinic.desk, [update_op("clinic", clinic, admin_id, holidays=["2031-01-01"])]
    )
    assert result["results"][0]["status"] == "applied"


# -- who may act, from which device -----------------------------------------------------------


def test_a_desk_op_names_an_active_member_of_its_own_clinic(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    elsewhere = live_server.create_clinic(name="Praxis am See")
    stranger_id, _ = live_server.add_user(elsewhere, "admin")
    gone_id, gone_name = live_server.add_user(new_clinic.clinic_id, "doctor")
    with live_server.admin() as a:
        admin.update_user(a, clinic_id=new_clinic.clinic_id, user_id=gone_id, active=False)
    before = live_server.counts(new_clinic.clinic_id)
    refused = [(stranger_id, "not on this clinic's staff"), (new_id(), "not on this clinic's staff")]
    for actor, reason in [*refused, (gone_id, "no longer active")]:
        result = push(live_server, new_clinic.desk, [patient_op(new_clinic.clinic_id, actor=actor)])[
            "results"
        ][0]
        assert result["status"] == "rejected" and result["field"] == "actor", result
        assert reason in result["error"]
    after = live_server.counts(new_clinic.clinic_id)
    assert after["patient"] == before["patient"]
    assert live_server.login(new_clinic.desk, gone_name).status_code == 401


def test_a_kiosk_acts_as_the_kiosk_only(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    kiosk = live_server.enroll(new_clinic.clinic_id, "kiosk")
    patient_id = registered(live_server, kiosk, new_clinic.clinic_id)
    patient = live_server.row("patient", patient_id)
    assert patient is not None
    # Naming the doctor does not make the kiosk one.
    as_doctor = push(live_server, kiosk, [patient_op(new_clinic.clinic_id, actor=new_clinic.doctor_id)])
    assert as_doctor["results"][0]["status"] == "rejected" and as_doctor["results"][0]["field"] == "actor"
    assert "never as a member of staff" in as_doctor["results"][0]["error"]
    # The kiosk registers and books, but edits no record and opens no consultation.
    consultation = {
        "op_id": new_id(),
        "entity": "consultation",
        "entity_id": new_id(),
        "action": "create",
        "base_version": 0,
        "data": {
            "clinic_id": new_clinic.clinic_id,
            "patient_id": patient_id,
            "clinician_id": new_clinic.doctor_id,
            "started_at": tomorrow_at(9).isoformat(),
            "notes": "written at the kiosk",
        },
        "hlc": now_hlc(),
        "actor": "kiosk",
    }
    ops = [update_op("patient", patient, "kiosk", allergies="none"), consultation]
    for system_too in ("kiosk", "system"):
        results = push(live_server, kiosk, [{**op, "op_id": new_id(), "actor": system_too} for op in ops])[
            "results"
        ]
        assert [r["status"] for r in results] == ["rejected", "rejected"], results
        assert all(r["field"] == "actor" and r["error"].startswith("The kiosk may not") for r in results)
    assert live_server.row("patient", patient_id) == patient
    # It chats as the patient, never as the doctor.
    as_the_doctor = {
        **consultation,
        "op_id": new_id(),
        "entity": "chat_message",
        "entity_id": new_id(),
        "data": {"clinic_id": new_clinic.clinic_id, "consultation_id": new_id(), "sender_role": "doctor",
                 "sender_id": new_clinic.doctor_id, "body": "Take twice the dose",
                 "sent_at": utcnow().isoformat()},
    }  # fmt: skip
    result = push(live_server, kiosk, [as_the_doctor])["results"][0]
    assert (result["status"], result["field"]) == ("rejected", "data.sender_role")
    # It books kiosk and walk-in visits, nothing a clinician decides (a request, an emergency...).
    beyond = [appointment_op(new_clinic.clinic_id, new_clinic.doctor_id, patient_id, 9) for _ in range(2)]
    beyond[0]["data"]["kind"], beyond[1]["data"]["kind"] = "emergency", ["kiosk"]
    results = push(live_server, kiosk, beyond)["results"]
    assert [(r["status"], r["field"]) for r in results] == [("rejected", "data.kind")] * 2
    booked = push(
        live_server, kiosk, [appointment_op(new_clinic.clinic_id, new_clinic.doctor_id, patient_id, 9)]
    )
    assert booked["results"][0]["status"] == "applied"


def test_a_board_pushes_nothing_whoever_it_names(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    board = live_server.enroll(new_clinic.clinic_id, "board")
    ops = [
        patient_op(new_clinic.clinic_id, actor=actor) for actor in ("kiosk", "system", new_clinic.doctor_id)
    ]
    results = push(live_server, board, ops)["results"]
    assert {r["status"] for r in results} == {"rejected"}
    assert all("board only displays" in r["error"] for r in results)


# -- clinics are sealed from each other ---------------------------------------------------------


def test_one_clinic_cannot_book_another_clinics_doctor(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    victim = new_clinic
    victims_patient = registered(live_server, victim.desk, victim.clinic_id)
    other = live_server.create_clinic(name="Praxis am See")
    others_doctor, _ = live_server.add_user(other, "doctor")
    intruder = live_server.enroll(other, "desk")
    own_patient = registered(live_server, intruder, other)
    before = live_server.counts(victim.clinic_id)
    audit = {
        **patient_op(other),
        "entity": "audit_event",
        "data": {
            "clinic_id": other,
            "at": tomorrow_at(8).isoformat(),
            "actor_id": None,
            "actor_role": "kiosk",
            "device_id": None,
            "patient_id": None,
            "action": "read_history",
            "entity": "patient",
            "entity_id": victims_patient,
            "detail": "",
        },
    }
    attempts = [
        ("data.entity_id", audit),
        ("data.clinician_id", appointment_op(other, victim.doctor_id, victims_patient, 10)),
        ("data.patient_id", appointment_op(other, others_doctor, victims_patient, 10)),
        ("data.clinician_id", appointment_op(other, victim.doctor_id, own_patient, 10)),
    ]
    results = push(live_server, intruder, [op for _, op in attempts])["results"]
    for (field, _), result in zip(attempts, results, strict=True):
        assert result["status"] == "rejected", result
        assert result["field"] == field and "another clinic" in result["error"]
    assert live_server.counts(victim.clinic_id) == before
    # The victim's own booking of that slot is not a conflict.
    own = push(
        live_server, victim.desk, [appointment_op(victim.clinic_id, victim.doctor_id, victims_patient, 10)]
    )
    assert own["results"][0]["status"] == "applied" and own["results"][0]["conflict_id"] is None


def test_op_ids_are_answered_per_clinic(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    first = patient_op(new_clinic.clinic_id, full_name="Alma Erste")
    assert push(live_server, new_clinic.desk, [first])["results"][0]["status"] == "applied"
    other = live_server.create_clinic(name="Praxis am See")
    their_desk = live_server.enroll(other, "desk")
    same_id = patient_op(other, full_name="Berta Zweite")
    same_id["op_id"] = first["op_id"]
    theirs = push(live_server, their_desk, [same_id])["results"][0]
    assert theirs["status"] == "applied" and theirs["duplicate"] is False, theirs
    assert (live_server.row("patient", same_id["entity_id"]) or {}).get("clinic_id") == other
    again = push(live_server, new_clinic.desk, [first])["results"][0]
    assert again["duplicate"] is True and again["status"] == "applied"


# -- staff accounts through an administrator's requests -----------------------------------------


def staff_url(server: LiveServer, user_id: str = "") -> str:
    return server.url("/v1/admin/clinicians" + (f"/{user_id}" if user_id else ""))


def test_an_admin_manages_staff_accounts_and_devices_pull_them(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    _, admin_name = live_server.add_user(new_clinic.clinic_id, "admin")
    boss = live_server.user_session(new_clinic.desk, admin_name)
    nina_name = f"nina.{new_id()[-8:]}"
    made = boss.post(
        staff_url(live_server),
        json={"username": nina_name, "name": "Nina Neu", "role": "nurse", "password": "first password"},
    )
    assert made.status_code == 201, made.text
    nina = made.json()
    assert nina["role"] == "nurse" and nina["active"] is True and "password_hash" not in nina
    changes, _ = pull_all(live_server, live_server.http(new_clinic.desk.token))
    assert nina["id"] in {c["id"] for c in changes if c["entity"] == "clinician"}
    signed_in = live_server.login(new_clinic.desk, nina_name, "first password")
    assert signed_in.status_code == 200, signed_in.text
    session = live_server.http(signed_in.json()["token"])
    assert session.get(live_server.url("/v1/sync/pull")).status_code == 200

    raised = boss.patch(
        staff_url(live_server, nina["id"]), json={"role": "doctor", "password": "second password"}
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["role"] == "doctor" and raised.json()["version"] == nina["version"] + 1
    assert session.get(live_server.url("/v1/sync/pull")).status_code == 401  # signed out: sign in again
    assert live_server.login(new_clinic.desk, nina_name, "first password").status_code == 401
    assert live_server.login(new_clinic.desk, nina_name, "second password").json()["role"] == "doctor"

    gone = boss.patch(staff_url(live_server, nina["id"]), json={"active": False})
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert live_server.login(new_clinic.desk, nina_name, "second password").status_code == 401


def test_only_an_admins_session_manages_staff(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    reception_id, reception_name = live_server.add_user(new_clinic.clinic_id, "reception")
    admin_id, admin_name = live_server.add_user(new_clinic.clinic_id, "admin")
    raise_me = {"role": "admin"}
    for http in (
        live_server.http(new_clinic.desk.token),  # a desk token alone
        live_server.user_session(new_clinic.desk, reception_name),
        live_server.user_session(new_clinic.desk, new_clinic.doctor_username),
    ):
        answer = http.patch(staff_url(live_server, reception_id), json=raise_me)
        assert answer.status_code == 403, answer.text
        made = http.post(
            staff_url(live_server),
            json={"username": "x.y", "name": "X Y", "role": "admin", "password": "12345678"},
        )
        assert made.status_code == 403
    assert (live_server.row("clinician", reception_id) or {})["role"] == "reception"
    boss = live_server.user_session(new_clinic.desk, admin_name)
    answer = boss.patch(staff_url(live_server, reception_id), json={"role": "superuser"})
    assert answer.status_code == 422 and answer.json()["field"] == "role"
    # An admin of another clinic does not find this clinic's staff.
    other = live_server.create_clinic(name="Praxis am See")
    their_admin_id, their_admin = live_server.add_user(other, "admin")
    their_boss = live_server.user_session(live_server.enroll(other, "desk"), their_admin)
    answer = their_boss.patch(staff_url(live_server, reception_id), json=raise_me)
    assert answer.status_code == 404
    # A clinic's last active admin stays one.
    for change in ({"active": False}, {"role": "doctor"}):
        answer = their_boss.patch(staff_url(live_server, their_admin_id), json=change)
        assert answer.status_code == 403 and answer.json()["field"] == "role"
    assert (live_server.row("clinician", admin_id) or {})["role"] == "admin"


def test_an_enrolled_desk_makes_no_staff_account_of_its_own(desk: Device) -> None:
    """The server would refuse the op: the desk says so at once, and journals nothing."""
    before = len(desk.journal())
    boss = Actor(Role.ADMIN, name="admin")
    with (
        pytest.raises(NotAllowed, match="managed on the clinic's server"),
        desk.store.unit_of_work(actor=boss) as uow,
    ):
        clinic_service.add_clinician(uow, actor=boss, name="Nina Neu", username="nina", role=Role.NURSE)
    assert len(desk.journal()) == before


def test_a_desk_manages_staff_through_its_client(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    """What an admin screen on a desk calls: the sync client, with the admin's session token."""
    _, admin_name = live_server.add_user(new_clinic.clinic_id, "admin")
    token = live_server.login(new_clinic.desk, admin_name).json()["token"]
    username = f"omar.{new_id()[-8:]}"
    with fast_client(live_server.base_url, token) as client:
        made = client.add_clinician(
            NewClinician(username=username, name="Omar Ali", role="reception", password="a long password")
        )
        changed = client.change_clinician(made.id, ClinicianChanges(room="Front desk"))
    assert (made.role, changed.room, changed.version) == ("reception", "Front desk", made.version + 1)
    assert live_server.login(new_clinic.desk, username, "a long password").status_code == 200
