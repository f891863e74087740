"""Pushes applied together: ops of one push (or of pushes applied in one transaction) that book the
same seat, register the same person or refer to rows of the same push; and concurrent pushes of a
clinic, applied together by its writer (server_stub.pushes) and each answered on its own.

The server's first pass over a push keeps new rows in memory and answers seat and duplicate
questions from what it read ahead (server_stub.lookups); these tests hold it to what op-by-op
application would answer."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import select

from desktop.domain.ids import new_id
from desktop.domain.roles import Role
from desktop.services import booking, patients
from desktop.services.common import KIOSK, Actor
from desktop.store.local import LocalStore
from server_stub.db import COPY_MIN_ROWS
from server_stub.models import AppliedOp
from tests.fixtures.server import (  # noqa: F401
    ClinicOnServer,
    Enrolled,
    LiveServer,
    device_store,
    device_template,
    journal_ops,
    last_seq,
    live_server,
    new_clinic,
    patient_op,
    push,
    seed_store,
    server_database_url,
    tomorrow_at,
)
from tests.test_server_sync import book_walk_up, kiosk

RECEPTION = Actor(Role.RECEPTION, name="reception")


def statuses(answer: dict[str, Any]) -> list[str]:
    return [r["status"] for r in answer["results"]]


def test_two_bookings_of_one_seat_in_one_push_the_second_loses(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    one, one_store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    _, two_store = kiosk(live_server, new_clinic, device_store, "kiosk-2")
    first = book_walk_up(one_store, new_clinic, "Ana Silva", 10)
    second = book_walk_up(two_store, new_clinic, "Ben Okafor", 10)  # offline: the same seat
    answer = push(live_server, one, journal_ops(one_store) + journal_ops(two_store))
    assert Counter(statuses(answer)) == {"applied": len(answer["results"]) - 1, "conflict": 1}
    assert live_server.row("appointment", first)["status"] == "confirmed"  # type: ignore[index]
    lost = live_server.row("appointment", second)
    assert lost is not None and lost["status"] == "conflict" and lost["seat"] is None
    conflict_id = next(r["conflict_id"] for r in answer["results"] if r["status"] == "conflict")
    conflict = live_server.row("sync_conflict", conflict_id)
    assert conflict is not None and conflict["other_id"] == first and conflict["suggestion"]["starts_at"]


def test_a_cancelled_booking_frees_its_seat_for_the_next_op_of_the_push(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    desk, store = new_clinic.desk, new_clinic.desk_store
    mark = last_seq(store)
    first = book_walk_up(store, new_clinic, "Ana Silva", 11, actor=RECEPTION)
    assert set(statuses(push(live_server, desk, journal_ops(store, after=mark)))) == {"applied"}
    mark = last_seq(store)
    with store.unit_of_work() as uow:
        booking.cancel(uow, actor=RECEPTION, appointment_id=first, reason="Could not come")
    second = book_walk_up(store, new_clinic, "Ben Okafor", 11, actor=RECEPTION)
    # The desk did not take the first push's answers in: its cancel is merged on the server's row.
    assert set(statuses(push(live_server, desk, journal_ops(store, after=mark)))) <= {"applied", "merged"}
    assert live_server.row("appointment", first)["status"] == "cancelled"  # type: ignore[index]
    assert live_server.row("appointment", second)["seat"] == 1  # type: ignore[index]


def register(store: LocalStore, name: str) -> str:
    with store.unit_of_work() as uow:
        patient = patients.register(uow, actor=KIOSK, full_name=name, birth_date=date(1975, 3, 9), phone=None)
        return patient.id


def test_the_same_person_registered_twice_in_one_push_is_flagged_once(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    one, one_store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    _, two_store = kiosk(live_server, new_clinic, device_store, "kiosk-2")
    first = register(one_store, "Carla Mendes")
    second = register(two_store, "carla  MENDES")  # the same name key
    answer = push(live_server, one, journal_ops(one_store) + journal_ops(two_store))
    flagged = [r for r in answer["results"] if r["conflict_id"]]
    assert set(statuses(answer)) == {"applied"} and len(flagged) == 1
    conflict = live_server.row("sync_conflict", flagged[0]["conflict_id"])
    assert conflict is not None and conflict["entity_id"] == second
    assert conflict["suggestion"] == {"action": "merge", "survivor_id": first, "duplicate_id": second}


def test_an_op_refused_when_its_row_is_written_leaves_the_others_applied(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    """The first pass writes new rows a table at a time, after the ops; a foreign key that fails
    there is found, and the push applied again op by op: only that op is refused."""
    one, store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    before = live_server.counts(new_clinic.clinic_id)
    appointment = book_walk_up(store, new_clinic, "Dara Kim", 12)
    kept = book_walk_up(store, new_clinic, "Gita Rao", 13)  # written with it, by the same statement
    ops = journal_ops(store)
    booked = next(op for op in ops if op["entity_id"] == appointment)
    booked["data"] = {**booked["data"], "patient_id": new_id()}  # no such patient
    ops += [patient_op(new_clinic.clinic_id, full_name="Eli Novak", name_key="eli novak")]
    answer = push(live_server, one, ops)
    refused = [(op["entity"], r["error"]) for op, r in zip(ops, answer["results"], strict=True) if r["error"]]
    assert refused == [("appointment", "It refers to a record the server does not have.")]
    assert statuses(answer).count("applied") == len(ops) - 1
    assert live_server.row("appointment", appointment) is None
    assert live_server.row("appointment", kept) is not None
    after = live_server.counts(new_clinic.clinic_id)
    assert after["patient"] == before["patient"] + 3  # Dara Kim, Gita Rao and Eli Novak
    assert after["appointment"] == before["appointment"] + 1
    assert after["applied_op"] == before["applied_op"] + len(ops)  # the refusals are answers too


def reminder_op(clinic_id: str, appointment_id: str, patient_id: str, hour: int) -> dict[str, Any]:
    return {
        "op_id": new_id(),
        "entity": "reminder",
        "entity_id": new_id(),
        "action": "create",
        "base_version": 0,
        "data": {
            "clinic_id": clinic_id,
            "appointment_id": appointment_id,
            "patient_id": patient_id,
            "channel": "sms",
            "due_at": tomorrow_at(hour % 24, hour // 24).isoformat(),
            "status": "pending",
        },
        "hlc": "1767225600000-0000-0190f2a4-7b1c-7d3e-8f00-123456789abc",
        "actor": "kiosk",
    }


def test_a_row_refused_in_a_large_push_leaves_the_others_applied(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    """In a push of many ops, a table's new rows are written together (on PostgreSQL by one COPY,
    db.insert_rows); a foreign key refused there fails them all, and the push is applied again
    op by op: only the op naming no such appointment is refused."""
    one, store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    appointment = book_walk_up(store, new_clinic, "Hana Ito", 12)
    ops = journal_ops(store)
    patient = next(op["entity_id"] for op in ops if op["entity"] == "patient")
    clinic = new_clinic.clinic_id
    reminders = [reminder_op(clinic, appointment, patient, n) for n in range(COPY_MIN_ROWS + 10)]
    reminders[COPY_MIN_ROWS // 2]["data"]["appointment_id"] = new_id()  # no such appointment
    ops += reminders
    before = live_server.counts(clinic)
    answer = push(live_server, one, ops)
    refused = [(op["entity"], r["error"]) for op, r in zip(ops, answer["results"], strict=True) if r["error"]]
    assert refused == [("reminder", "It refers to a record the server does not have.")]
    after = live_server.counts(clinic)
    assert after["reminder"] == before["reminder"] + len(reminders) - 1
    assert after["appointment"] == before["appointment"] + 1
    assert after["applied_op"] == before["applied_op"] + len(ops)


def test_concurrent_pushes_are_each_answered_and_applied_once(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    """Kiosks push at once, one of them twice the same push (a retry), one with another device's
    id and one with no valid token: the good pushes are applied once each, the bad ones refused,
    and pushes that waited for the clinic's writer were applied together."""
    kiosks = [kiosk(live_server, new_clinic, device_store, f"kiosk-{n}") for n in range(6)]
    pushes: list[tuple[Enrolled, str, list[dict[str, Any]]]] = []
    for n, (device, store) in enumerate(kiosks):
        book_walk_up(store, new_clinic, f"Walk-in {n}", 13 + n // 4, actor=KIOSK)
        pushes.append((device, device.device_id, journal_ops(store)))
    pushes.append(pushes[0])  # a retry, sent at the same time as the first
    first_device = pushes[0][0]
    pushes.append((first_device, kiosks[1][0].device_id, pushes[1][2]))  # names another device
    nobody = Enrolled(new_id(), "forged-token", new_clinic.clinic_id, "Z", "kiosk")
    pushes.append((nobody, nobody.device_id, pushes[2][2]))
    start = threading.Barrier(len(pushes))
    answers: dict[int, tuple[int, dict[str, Any]]] = {}

    def send(at: int, device: Enrolled, device_id: str, ops: list[dict[str, Any]]) -> None:
        http = live_server.http(device.token)
        start.wait(timeout=30)
        body = {"device_id": device_id, "ops": ops}
        answer = http.post(live_server.url("/v1/sync/push"), json=body, timeout=60)
        answers[at] = (answer.status_code, answer.json())

    threads = [threading.Thread(target=send, args=(at, *p)) for at, p in enumerate(pushes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    good = range(len(kiosks))
    for at in good:
        code, body = answers[at]
        assert code == 200 and len(body["results"]) == len(pushes[at][2]), body
        assert {r["status"] for r in body["results"]} <= {"applied", "conflict"}
    retry_code, retry = answers[len(kiosks)]
    assert retry_code == 200
    first_results = answers[0][1]["results"]
    assert [r["version"] for r in retry["results"]] == [r["version"] for r in first_results]
    assert all(a["duplicate"] or b["duplicate"] for a, b in zip(retry["results"], first_results, strict=True))
    assert answers[len(kiosks) + 1][0] == 403 and answers[len(kiosks) + 1][1]["field"] == "device_id"
    assert answers[len(kiosks) + 2][0] == 401

    op_ids = [op["op_id"] for at in good for op in pushes[at][2]]
    with live_server.engine.connect() as conn:
        query = select(AppliedOp.op_id, AppliedOp.applied_at).where(AppliedOp.op_id.in_(op_ids))
        applied = conn.execute(query).all()
    assert sorted(op_id for op_id, _ in applied) == sorted(op_ids)  # each op answered and stored once
    transactions = {applied_at for _, applied_at in applied}
    assert len(transactions) < len(kiosks)  # some pushes waited and were applied together


def test_a_human_code_drawn_twice_offline_gets_a_new_code_on_the_server(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    """Two devices drew the same code offline: the later record is kept under a new code, and the
    change is in the conflict log; within one push too."""
    one, one_store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    two, two_store = kiosk(live_server, new_clinic, device_store, "kiosk-2")
    first = book_walk_up(one_store, new_clinic, "Ana Silva", 14)
    second = book_walk_up(two_store, new_clinic, "Ben Okafor", 15)
    ones = journal_ops(one_store)
    taken = next(op["data"]["code"] for op in ones if op["entity"] == "appointment")
    twos = journal_ops(two_store)
    for op in twos:
        if op["entity"] == "appointment":
            op["data"] = {**op["data"], "code": taken}
    same_person_code = [
        patient_op(new_clinic.clinic_id, full_name=name, name_key=name.lower(), code="PAT-SAME1")
        for name in ("Cleo Park", "Dev Rao")
    ]
    assert set(statuses(push(live_server, one, ones))) == {"applied"}
    answer = push(live_server, two, twos + same_person_code)
    assert set(statuses(answer)) == {"applied"}

    kept = live_server.row("appointment", first)
    recoded = live_server.row("appointment", second)
    assert kept is not None and recoded is not None
    assert kept["code"] == taken and recoded["code"] != taken and recoded["code"].startswith("APT-")
    assert recoded["status"] == "confirmed" and recoded["seat"] == 1
    cleo, dev = (live_server.row("patient", op["entity_id"]) for op in same_person_code)
    assert cleo is not None and dev is not None
    assert cleo["code"] == "PAT-SAME1" and dev["code"] != "PAT-SAME1"
    flagged = {r["conflict_id"] for r in answer["results"] if r["conflict_id"]}
    logged = [live_server.row("sync_conflict", c) for c in flagged]
    by_entity = {c["entity_id"]: c for c in logged if c is not None and c["field"] == "code"}
    assert by_entity[second]["ours"] == taken and by_entity[second]["theirs"] == recoded["code"]
    assert by_entity[second]["resolution"] == "server_won"
    assert by_entity[same_person_code[1]["entity_id"]]["theirs"] == dev["code"]

    # Not a double booking: a desk cannot cancel the appointment from this record; it can close it.
    staff = live_server.user_session(new_clinic.desk, new_clinic.doctor_username)
    resolve = live_server.url(f"/v1/conflicts/{by_entity[second]['id']}/resolve")
    refused = staff.post(resolve, json={"choice": "cancel"})
    assert refused.status_code == 422 and "double bookings only" in refused.json()["detail"]
    assert live_server.row("appointment", second)["status"] == "confirmed"  # type: ignore[index]
    assert staff.post(resolve, json={"choice": "dismiss"}).status_code == 200
