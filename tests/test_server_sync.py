"""Push and pull through HTTP against the real server: ops come from real device stores' journals."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import delete, insert
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.roles import Role
from desktop.services import booking, consultations, patients, prescriptions
from desktop.services.common import KIOSK, Actor
from desktop.store.codec import encode
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, Appointment
from desktop.store.types import UTCDateTime
from server_stub.models import ChangeLog
from server_stub.pull import _layout, utc_iso_from_sqlite
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
    pull_all,
    push,
    seed_store,
    server_database_url,
    tomorrow_at,
)

MEDICINE = {"name": "Paracetamol", "strength": "500 mg", "dose": "1 tablet", "route": "oral",
            "frequency": "3x a day", "duration": "5 days"}  # fmt: skip


def kiosk(
    server: LiveServer, clinic: ClinicOnServer, make_store: Any, name: str
) -> tuple[Enrolled, LocalStore]:
    device = server.enroll(clinic.clinic_id, "kiosk", name=name)
    store = make_store(name)
    seed_store(store, server, device)
    return device, store


def book_walk_up(
    store: LocalStore, clinic: ClinicOnServer, name: str, hour: int, actor: Actor = KIOSK
) -> str:
    """Register a patient and book them with the doctor tomorrow at `hour`: the kiosk's flow."""
    with store.unit_of_work(actor=actor) as uow:
        patient = patients.register(
            uow, actor=actor, full_name=name, birth_date=date(1980, 5, 17), phone=None
        )
        appointment = booking.book(
            uow,
            actor=actor,
            patient_id=patient.id,
            clinician_id=clinic.doctor_id,
            starts_at=tomorrow_at(hour),
        )
        return appointment.id


def by_id(changes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in changes}


def test_push_then_pull_round_trip(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    desk = new_clinic
    mark = last_seq(desk.desk_store)
    appointment_id = book_walk_up(desk.desk_store, desk, "Maria Lopez", 10, actor=Actor(Role.RECEPTION))
    ops = journal_ops(desk.desk_store, after=mark)
    assert {op["entity"] for op in ops} >= {"patient", "appointment", "audit_event"}
    answer = push(live_server, desk.desk, ops)
    assert [r["op_id"] for r in answer["results"]] == [op["op_id"] for op in ops]
    assert {r["status"] for r in answer["results"]} == {"applied"}
    assert all(r["version"] == 1 and not r["duplicate"] for r in answer["results"])
    assert answer["server_time"]

    device, store = kiosk(live_server, desk, device_store, "kiosk-1")
    with store.reading() as session:
        pulled = session.get(Appointment, appointment_id)
        assert pulled is not None and pulled.version == 1 and pulled.status == "confirmed"
        assert pulled.starts_at == tomorrow_at(10)

    changes, cursor = pull_all(live_server, live_server.http(device.token))
    assert pull_all(live_server, live_server.http(device.token), since=cursor) == ([], cursor)
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Times, dates and the rest come back as the device wrote them in its op.
    (booked,) = [op for op in ops if op["entity"] == "appointment"]
    (sent,) = [c for c in changes if c["id"] == appointment_id]
    assert sent["data"] == booked["data"]
    assert sent["data"]["starts_at"] == tomorrow_at(10).astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 3, 2, 8, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, 5, 120, tzinfo=UTC)],
)
def test_a_time_kept_as_text_by_sqlite_is_sent_as_the_device_encodes_it(moment: datetime) -> None:
    stored = UTCDateTime().dialect_impl(sqlite_dialect()).bind_processor(sqlite_dialect())(moment)
    assert utc_iso_from_sqlite(stored) == encode(moment)
    assert utc_iso_from_sqlite(stored.split(".")[0]) == encode(moment.replace(microsecond=0))


def test_pull_pages_follow_the_cursor(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    http = live_server.http(new_clinic.desk.token)
    everything, _ = pull_all(live_server, http)
    pages: list[dict[str, Any]] = []
    since = 0
    while True:
        page = http.get(live_server.url("/v1/sync/pull"), params={"since": since, "limit": 3}).json()
        assert len(page["changes"]) <= 3
        pages += page["changes"]
        since = page["next"]
        if not page["more"]:
            break
    assert pages == everything
    too_many = http.get(live_server.url("/v1/sync/pull"), params={"limit": 5001})
    assert too_many.status_code == 422 and too_many.json()["field"] == "limit"


def test_replaying_a_push_changes_nothing(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    mark = last_seq(new_clinic.desk_store)
    book_walk_up(new_clinic.desk_store, new_clinic, "Jon Berg", 11, actor=Actor(Role.RECEPTION))
    ops = journal_ops(new_clinic.desk_store, after=mark)
    first = push(live_server, new_clinic.desk, ops)
    before = live_server.counts(new_clinic.clinic_id)
    _, cursor = pull_all(live_server, live_server.http(new_clinic.desk.token))

    again = push(live_server, new_clinic.desk, ops)
    assert [{**r, "duplicate": False} for r in again["results"]] == first["results"]
    assert all(r["duplicate"] for r in again["results"])
    assert live_server.counts(new_clinic.clinic_id) == before
    assert pull_all(live_server, live_server.http(new_clinic.desk.token), since=cursor)[0] == []


def test_double_booking_loser_is_a_conflict_listed_on_desks(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    one, one_store = kiosk(live_server, new_clinic, device_store, "kiosk-1")
    two, two_store = kiosk(live_server, new_clinic, device_store, "kiosk-2")
    first = book_walk_up(one_store, new_clinic, "Ana Silva", 9)
    second = book_walk_up(two_store, new_clinic, "Ben Okafor", 9)  # offline: same slot
    assert {r["status"] for r in push(live_server, one, journal_ops(one_store))["results"]} == {"applied"}
    results = push(live_server, two, journal_ops(two_store))["results"]
    lost = next(r for r in results if r["status"] == "conflict")
    assert lost["conflict_id"]
    assert live_server.row("appointment", second)["status"] == "conflict"  # type: ignore[index]
    assert live_server.row("appointment", first)["status"] == "confirmed"  # type: ignore[index]

    listed = live_server.http(new_clinic.desk.token).get(live_server.url("/v1/conflicts")).json()
    conflict = next(c for c in listed["conflicts"] if c["id"] == lost["conflict_id"])
    assert conflict["entity"] == "appointment" and conflict["entity_id"] == second
    assert conflict["other_id"] == first and conflict["resolution"] == "server_won"
    assert conflict["suggestion"]["starts_at"]  # the next free slot
    assert conflict["resolved_at"] is None and listed["next"] >= conflict["seq"]

    # The loser's kiosk learns on its next pull.
    changes, _ = pull_all(live_server, live_server.http(two.token))
    assert by_id(changes)[second]["data"]["status"] == "conflict"


def test_kiosks_and_boards_pull_only_what_they_need(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    doctor = new_clinic.doctor
    mark = last_seq(new_clinic.desk_store)
    appointment_id = book_walk_up(new_clinic.desk_store, new_clinic, "Lea Wolf", 12, actor=doctor)
    with new_clinic.desk_store.unit_of_work(actor=doctor) as uow:
        visit = consultations.start(
            uow, actor=doctor, clinician_id=new_clinic.doctor_id, appointment_id=appointment_id
        )
        consultations.add_chat_message(
            uow, actor=doctor, consultation_id=visit.id, body="Hello", sender_role="doctor"
        )
        prescriptions.draft(
            uow,
            actor=doctor,
            patient_id=visit.patient_id,
            clinician_id=new_clinic.doctor_id,
            diagnosis="Flu",
            medicines=[MEDICINE],
            consultation_id=visit.id,
        )
    results = push(live_server, new_clinic.desk, journal_ops(new_clinic.desk_store, after=mark))["results"]
    # Edits of rows this push creates sit on version 0, but no other device touched those rows:
    # they are applied, not merged, and never conflicts.
    assert {r["status"] for r in results} == {"applied"}, results
    assert not any(r["conflict_id"] for r in results)

    desk_changes, _ = pull_all(live_server, live_server.http(new_clinic.desk.token))
    desk_entities = {c["entity"] for c in desk_changes}
    assert {"consultation", "chat_message", "prescription", "audit_event"} <= desk_entities
    assert all(c["data"]["password_hash"] for c in desk_changes if c["entity"] == "clinician")

    kiosk_device = live_server.enroll(new_clinic.clinic_id, "kiosk")
    kiosk_changes, _ = pull_all(live_server, live_server.http(kiosk_device.token))
    kiosk_entities = {c["entity"] for c in kiosk_changes}
    assert not kiosk_entities & {
        "consultation",
        "chat_message",
        "prescription",
        "audit_event",
        "sync_conflict",
    }
    assert {"clinic", "clinician", "patient", "appointment"} <= kiosk_entities
    clinicians = [c for c in kiosk_changes if c["entity"] == "clinician"]
    assert clinicians and all("password_hash" not in c["data"] for c in clinicians)

    board = live_server.enroll(new_clinic.clinic_id, "board")
    board_entities = {c["entity"] for c in pull_all(live_server, live_server.http(board.token))[0]}
    assert board_entities <= {"clinic", "clinician", "queue_token"}


def test_a_push_naming_another_device_is_403_and_writes_nothing(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    other = live_server.enroll(new_clinic.clinic_id, "kiosk")
    mark = last_seq(new_clinic.desk_store)
    book_walk_up(new_clinic.desk_store, new_clinic, "Ida Roth", 13, actor=Actor(Role.RECEPTION))
    before = live_server.counts(new_clinic.clinic_id)
    answer = live_server.http(new_clinic.desk.token).post(
        live_server.url("/v1/sync/push"),
        json={"device_id": other.device_id, "ops": journal_ops(new_clinic.desk_store, after=mark)},
    )
    assert answer.status_code == 403 and answer.json()["field"] == "device_id"
    assert live_server.counts(new_clinic.clinic_id) == before


def test_another_clinics_device_cannot_see_or_change_this_clinics_rows(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    mark = last_seq(new_clinic.desk_store)
    appointment_id = book_walk_up(
        new_clinic.desk_store, new_clinic, "Olga Marx", 14, actor=Actor(Role.RECEPTION)
    )
    push(live_server, new_clinic.desk, journal_ops(new_clinic.desk_store, after=mark))
    appointment = live_server.row("appointment", appointment_id)
    assert appointment is not None

    other_clinic = live_server.create_clinic(name="Rival")
    intruder = live_server.enroll(other_clinic, "desk")
    seen, _ = pull_all(live_server, live_server.http(intruder.token))
    assert {c["id"] for c in seen} == {other_clinic}  # its own clinic row, nothing of ours
    assert live_server.http(intruder.token).get(live_server.url("/v1/conflicts")).json()["conflicts"] == []

    ours = live_server.counts(new_clinic.clinic_id)
    forged = {
        "op_id": "01a1ffed-0000-7000-8000-000000000001",
        "entity": "appointment",
        "entity_id": appointment_id,
        "action": "transition",
        "base_version": appointment["version"],
        "data": {"status": "cancelled"},
        "hlc": HybridLogicalClock(intruder.device_id).now(),  # the latest change: it would win
        "actor": "system",
    }
    result = push(live_server, intruder, [forged])["results"][0]
    assert result["status"] == "rejected" and "another clinic" in result["error"]
    assert live_server.row("appointment", appointment_id) == appointment
    assert live_server.counts(new_clinic.clinic_id) == ours
    # The refusal is logged in the intruder's own clinic, and our row does not enter its feed.
    seen_after, _ = pull_all(live_server, live_server.http(intruder.token))
    assert appointment_id not in {c["id"] for c in seen_after}
    assert {c["entity"] for c in seen_after} == {"clinic", "sync_conflict"}


def test_a_feed_entry_naming_another_clinics_row_sends_nothing(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    """The pull checks each row's clinic, not only the feed's: a wrong entry leaks nothing."""
    other_clinic = live_server.create_clinic(name="Elsewhere")
    _, cursor = pull_all(live_server, live_server.http(new_clinic.desk.token))
    with live_server.engine.begin() as conn:  # the other clinic's row, announced in this clinic's feed
        conn.execute(delete(ChangeLog).where(ChangeLog.entity_id == other_clinic))
        conn.execute(
            insert(ChangeLog).values(clinic_id=new_clinic.clinic_id, entity="clinic", entity_id=other_clinic)
        )
    changes, after = pull_all(live_server, live_server.http(new_clinic.desk.token), since=cursor)
    assert changes == [] and after > cursor


def test_pull_reads_rows_by_primary_key(live_server: LiveServer) -> None:
    """Not through an index on clinic_id, which would read every row of the clinic for each page."""
    if live_server.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    for entity in ENTITY_MODELS:
        query = _layout(entity, "desk", "sqlite").query.params(b_ids=["a", "b"])
        sql = query.compile(dialect=live_server.engine.dialect, compile_kwargs={"literal_binds": True})
        with live_server.engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
        assert len(plan) == 1 and "autoindex" in plan[0][-1] and "(id=?)" in plan[0][-1], (entity, plan)


def test_gzip_request_and_response_bodies(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    mark = last_seq(new_clinic.desk_store)
    book_walk_up(new_clinic.desk_store, new_clinic, "Zoe Hart", 15, actor=Actor(Role.RECEPTION))
    body = {"device_id": new_clinic.desk.device_id, "ops": journal_ops(new_clinic.desk_store, after=mark)}
    http = live_server.http(new_clinic.desk.token)
    answer = http.post(
        live_server.url("/v1/sync/push"),
        data=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert {r["status"] for r in answer.json()["results"]} == {"applied"}

    raw = requests.get(
        live_server.url("/v1/sync/pull"),
        headers={**http.headers, "Accept-Encoding": "gzip"},
        stream=True,
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw.raw.read()))["changes"]


def test_a_board_only_displays_its_pushes_are_refused(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    """A waiting-room board has no business changing records: every op it sends is refused."""
    mark = last_seq(new_clinic.desk_store)
    book_walk_up(new_clinic.desk_store, new_clinic, "Ida Board", 12, actor=Actor(Role.RECEPTION))
    ops = journal_ops(new_clinic.desk_store, after=mark)
    board = live_server.enroll(new_clinic.clinic_id, "board")
    before = live_server.counts(new_clinic.clinic_id)
    answers = push(live_server, board, ops)["results"]
    assert {a["status"] for a in answers} == {"rejected"}
    assert all("board" in a["error"] and a["field"] == "entity" for a in answers)
    after = live_server.counts(new_clinic.clinic_id)
    assert after["patient"] == before["patient"] and after["appointment"] == before["appointment"]
