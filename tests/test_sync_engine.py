"""The device's sync engine against the real server (uvicorn on 127.0.0.1, a SQLite file):
push then pull between devices, rebase, the cursor, foreign keys, seats, refused creates, clocks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from desktop.domain.english import english
from desktop.domain.roles import Role
from desktop.services import booking, patients
from desktop.services.common import Actor
from desktop.store.changes import Changes, Origin
from desktop.store.models import ENTITY_MODELS, Availability, JournalOp
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import Offline
from desktop.sync.protocol import MAX_PULL_LIMIT
from desktop.sync.report import Progress
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server` and `template`)
    LiveServer,
    device_template,
    live_server,
    server_database_url,
)
from tests.sync_support import (
    RECEPTION,
    Device,
    assert_converged,
    book,
    local_rows,
    new_device,
    register,
    set_hours,
    wait_for,
)

MakeDevice = Callable[..., Device]
SHARED = ("clinic", "clinician", "availability", "patient", "appointment", "queue_token")


class Crash(Exception):
    pass


@pytest.fixture
def server(request: pytest.FixtureRequest) -> LiveServer:
    """The shared live server (tests.fixtures.server), under a name that does not shadow the import."""
    found: LiveServer = request.getfixturevalue("live_server")
    return found


@pytest.fixture
def template(request: pytest.FixtureRequest) -> Path:
    found: Path = request.getfixturevalue("device_template")
    return found


@pytest.fixture
def clinic_id(server: LiveServer) -> str:
    return server.create_clinic()


@pytest.fixture
def doctor_id(server: LiveServer, clinic_id: str) -> str:
    return server.add_user(clinic_id, "doctor")[0]


@pytest.fixture
def make_device(server: LiveServer, clinic_id: str, tmp_path: Path, template: Path) -> Any:
    made: list[Device] = []

    def make(kind: str, name: str | None = None, **engine_options: Any) -> Device:
        device = new_device(
            server,
            clinic_id,
            kind,
            tmp_path / (name or f"{kind}-{len(made)}"),
            template,
            **engine_options,
        )
        made.append(device)
        return device

    yield make
    for device in made:
        device.client.close()
        device.store.close()


@pytest.fixture
def desk(make_device: MakeDevice, doctor_id: str) -> Device:
    """A desk that has pulled the clinic and set the doctor's hours (pushed)."""
    device = make_device("desk", "desk")
    device.sync()
    set_hours(device, doctor_id)
    report = device.sync()
    assert report.applied == 7 and report.rejected == 0
    return device


def test_push_then_pull_round_trip_between_a_kiosk_and_a_desk(
    server: LiveServer, desk: Device, make_device: MakeDevice, doctor_id: str
) -> None:
    kiosk = make_device("kiosk", "kiosk")
    first = kiosk.sync()
    assert first.pushed == 0 and first.pulled >= 9  # the clinic, the doctor, the seven hours
    patient_id = register(kiosk, "Maria Lopez")
    appointment_id = book(kiosk, patient_id, doctor_id, 10)
    pushed = kiosk.sync()
    assert pushed.pushed == len(kiosk.journal()) and pushed.applied == pushed.pushed
    assert {op.status for op in kiosk.journal()} == {"applied"}
    assert all(op.result and op.result["status"] == "applied" for op in kiosk.journal())
    assert kiosk.row("appointment", appointment_id).version == 1

    pulled = desk.sync()
    assert pulled.pushed == 0 and pulled.pulled >= 2
    assert desk.row("patient", patient_id).full_name == "Maria Lopez"
    assert desk.row("appointment", appointment_id).status == "confirmed"

    with desk.store.unit_of_work() as uow:
        booking.cancel(uow, actor=RECEPTION, appointment_id=appointment_id, reason="Rang to cancel")
    assert desk.sync().applied >= 1
    kiosk.sync()
    assert kiosk.row("appointment", appointment_id).status == "cancelled"
    for device in (desk, kiosk):
        device.sync()
        assert_converged(server, device, SHARED)
    assert_converged(server, desk, ("consultation", "audit_event", "sync_conflict"))


def test_every_pulled_page_announces_its_rows_on_the_change_feed(
    desk: Device, make_device: MakeDevice, doctor_id: str
) -> None:
    kiosk = make_device("kiosk", "kiosk", page_size=2)
    kiosk.sync()
    heard: list[Changes] = []
    kiosk.store.on_commit(heard.append)
    desk_heard: list[Changes] = []
    desk.store.on_commit(desk_heard.append)
    patient_id = register(desk, "Maria Lopez")
    appointment_id = book(desk, patient_id, doctor_id, 10)
    assert [c.origin for c in desk_heard] == [Origin.LOCAL, Origin.LOCAL]
    assert desk_heard[0].ids_of("patient") == {patient_id}
    assert desk_heard[1].ids_of("appointment") == {appointment_id}
    desk.sync()

    report = kiosk.sync()
    assert report.pages >= 2 and len(heard) >= 2  # one announcement a page, after its commit
    assert {c.origin for c in heard} == {Origin.PULL}
    assert all(sum(len(ids) for ids in c.ids.values()) <= 2 for c in heard)
    pulled = [(e, i) for c in heard for e, ids in c.ids.items() for i in ids]
    assert ("patient", patient_id) in pulled and ("appointment", appointment_id) in pulled


def test_a_devices_own_edits_before_its_first_sync_are_applied_not_counted_as_merges(
    desk: Device, make_device: MakeDevice
) -> None:
    kiosk = make_device("desk", "kiosk")  # a second desk (a kiosk may not edit a patient's details)
    kiosk.sync()
    patient_id = register(kiosk, "Maria Lopez")
    for address in ("1 Main St", "2 Main St", "3 Main St"):  # all on version 0: never synced yet
        with kiosk.store.unit_of_work() as uow:
            patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, address=address)
    report = kiosk.sync()
    assert report.merged == 0 and report.conflicts == 0
    assert report.applied == report.pushed >= 4
    assert "merged 0" in report.summary()

    # Another device's edit of the same row in between is a real merge, and is counted as one.
    desk.sync()
    with desk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, phone="+919812345678")
    with kiosk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, allergies="penicillin")
    desk.sync()
    assert kiosk.sync().merged == 1
    assert desk.sync().pulled >= 1
    assert desk.row("patient", patient_id).allergies == "penicillin"
    assert desk.row("patient", patient_id).phone == kiosk.row("patient", patient_id).phone


def test_rebase_keeps_pending_local_edits_over_pulled_rows(
    server: LiveServer, desk: Device, make_device: MakeDevice
) -> None:
    kiosk = make_device("desk", "kiosk")  # a second desk (a kiosk may not edit a patient's details)
    kiosk.sync()
    patient_id = register(kiosk, "Jonas Berg")
    kiosk.sync()
    desk.sync()
    # The other desk changes the address, this desk the phone of the same patient.
    with kiosk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, address="Parkweg 3")
    kiosk.sync()

    register(desk, "Someone Else", actor=RECEPTION)  # so that the desk has something to push

    def edit_during_push(progress: Progress) -> None:
        if progress.stage == "push":  # made while syncing: pushed next time, rebased now
            with desk.store.unit_of_work() as uow:
                patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, phone="+49 30 1234567")

    report = desk.sync(progress=edit_during_push)
    assert report.rebased == 1
    row = desk.row("patient", patient_id)
    assert row.address == "Parkweg 3"  # the server's change
    assert row.phone == "+49301234567"  # our pending change, kept on top
    assert row.version == server.row("patient", patient_id)["version"]  # type: ignore[index]
    pending = [op for op in desk.journal() if op.status == "pending" and op.entity == "patient"]
    assert [op.entity_id for op in pending] == [patient_id]

    report = desk.sync()
    assert report.pushed == 2 and report.merged == 1  # the phone (on a stale version) and its audit event
    merged = server.row("patient", patient_id)
    assert merged is not None and (merged["address"], merged["phone"]) == ("Parkweg 3", "+49301234567")
    kiosk.sync()
    for device in (desk, kiosk):
        assert_converged(server, device, SHARED)


def test_rebase_keeps_a_pending_tombstone(server: LiveServer, desk: Device, make_device: MakeDevice) -> None:
    other = make_device("desk", "other-desk")
    other.sync()
    rule_id = next(iter(local_rows(other.store, "availability")))
    with other.store.unit_of_work() as uow:
        uow.session.get(Availability, rule_id).note = "Room 2 on Mondays"  # type: ignore[union-attr]
    other.sync()
    register(desk, "Tomb Stone", actor=RECEPTION)

    def drop_rule_during_push(progress: Progress) -> None:
        if progress.stage == "push":
            with desk.store.unit_of_work() as uow:
                uow.session.get(Availability, rule_id).deleted = True  # type: ignore[union-attr]

    assert desk.sync(progress=drop_rule_during_push).rebased == 1
    row = desk.row("availability", rule_id)
    assert row.deleted is True and row.note == "Room 2 on Mondays"
    desk.sync()
    assert server.row("availability", rule_id)["deleted"] is True  # type: ignore[index]
    other.sync()
    assert_converged(server, desk, SHARED)
    assert_converged(server, other, SHARED)


def test_the_cursor_is_saved_with_each_page_so_a_crash_neither_skips_nor_repeats(
    server: LiveServer, desk: Device, make_device: MakeDevice, clinic_id: str
) -> None:
    for n in range(25):
        register(desk, f"Patient {chr(65 + n)}nders", actor=RECEPTION)
    desk.sync()
    fresh = make_device("desk", "fresh", page_size=10)
    seen: list[int] = []

    def crash_on_third_page(progress: Progress) -> None:
        if progress.stage == "pull":
            seen.append(progress.done)
            if len(seen) == 2:
                raise Crash  # the app dies right after the second page committed

    with pytest.raises(Crash):
        fresh.engine.sync_once(progress=crash_on_third_page)
    cursor_after_crash = fresh.state().pull_cursor
    assert seen == [10, 20] and cursor_after_crash > 0
    assert sum(len(local_rows(fresh.store, e)) for e in ENTITY_MODELS) == 20  # two pages, committed

    fresh.reopen(page_size=10)
    assert fresh.state().pull_cursor == cursor_after_crash
    rest = fresh.sync()
    total = server.counts(clinic_id)["change_log"]
    assert 20 + rest.pulled == total  # no change pulled twice, none skipped
    assert_converged(server, fresh, (*SHARED, "audit_event"))


def test_rows_that_arrive_before_the_rows_they_refer_to_are_applied(
    server: LiveServer, desk: Device, make_device: MakeDevice, doctor_id: str
) -> None:
    kiosk = make_device("kiosk", "kiosk")
    kiosk.sync()
    patient_id = register(kiosk, "Ada Brandt")
    appointment_id = book(kiosk, patient_id, doctor_id, 11)
    kiosk.sync()
    # The patient changes later (at the desk): its one entry in the feed moves behind the appointment's.
    desk.sync()
    with desk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, email="ada@example.org")
    desk.sync()

    fresh = make_device("desk", "fresh", page_size=1)  # one change per page, one transaction each
    order: list[str] = []
    fresh.sync(progress=lambda p: order.append(p.stage))
    assert fresh.row("appointment", appointment_id).patient_id == patient_id
    assert fresh.row("patient", patient_id).email == "ada@example.org"
    with fresh.store.db.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # restored on the pool
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert_converged(server, fresh, SHARED)


def test_a_pulled_appointment_takes_its_seat_from_a_stale_local_one(
    server: LiveServer, desk: Device, make_device: MakeDevice, doctor_id: str
) -> None:
    one = make_device("kiosk", "kiosk-1", page_size=1)
    two = make_device("kiosk", "kiosk-2", page_size=1)
    one.sync()
    two.sync()
    winner = book(one, register(one, "Ana Silva"), doctor_id, 9)
    loser = book(two, register(two, "Ben Okafor", birth=datetime(1990, 1, 2).date()), doctor_id, 9)  # offline
    assert one.row("appointment", winner).seat == two.row("appointment", loser).seat == 1
    one.sync()

    report = two.sync()  # pushes the loser (a conflict), then pulls the winner holding seat 1
    assert report.conflicts == 1 and report.errors == []
    mine = two.row("appointment", loser)
    assert (mine.status, mine.seat) == ("conflict", None)
    theirs = two.row("appointment", winner)
    assert (theirs.status, theirs.seat) == ("confirmed", 1)
    assert_converged(server, two, SHARED)

    # A booking made during the sync, still pending: it yields its seat to the server's row.
    three = make_device("kiosk", "kiosk-3")
    three.sync()
    patient = register(three, "Cem Yilmaz", birth=datetime(1970, 3, 4).date())
    book(three, patient, doctor_id, 12)
    one_more = book(one, register(one, "Dana Weiss", birth=datetime(1971, 3, 4).date()), doctor_id, 13)
    one.sync()
    late: list[str] = []

    def book_during_push(progress: Progress) -> None:
        if progress.stage == "push" and not late:
            late.append(book(three, patient, doctor_id, 13))  # the slot one_more has on the server

    three.sync(progress=book_during_push)
    assert three.row("appointment", one_more).seat == 1
    pending = three.row("appointment", late[0])
    assert pending.seat is None and pending.status == "confirmed"
    report = three.sync()
    assert report.conflicts == 1
    assert three.row("appointment", late[0]).status == "conflict"


def test_a_refused_create_is_tombstoned_locally_without_journaling(
    server: LiveServer, desk: Device, make_device: MakeDevice, doctor_id: str
) -> None:
    kiosk = make_device("kiosk", "kiosk")
    kiosk.sync()
    with kiosk.store.unit_of_work() as uow:  # a kiosk may not change calendars: the server refuses
        rule = uow.add(
            Availability(
                clinic_id=kiosk.enrolled.clinic_id, clinician_id=doctor_id, kind="leave", note="made up"
            )
        )
    ops_before = len(kiosk.journal())
    heard: list[Changes] = []
    kiosk.store.on_commit(heard.append)
    report = kiosk.sync()
    assert report.rejected == 1 and len(report.errors) == 1 and report.errors[0].code == "sync.refused"
    assert "kiosk" in english(report.errors[0]) and report.errors[0]["id"] == rule.id
    assert Changes.of(Origin.PULL, [("availability", rule.id)]) in heard  # screens hear it is gone
    op = kiosk.journal()[-1]
    assert op.status == "rejected" and op.result is not None and op.result["conflict_id"]
    assert kiosk.row("availability", rule.id).deleted is True
    assert len(kiosk.journal()) == ops_before  # the tombstone itself was not journaled
    assert server.row("availability", rule.id) is None
    conflict = server.row("sync_conflict", op.result["conflict_id"])
    assert conflict is not None and conflict["ours"]["note"] == "made up"  # nothing lost


def test_ops_left_sent_by_a_crash_are_sent_again_and_answered_once(
    server: LiveServer, desk: Device, clinic_id: str
) -> None:
    register(desk, "Eva Graf", actor=RECEPTION)
    ops = [op for op in desk.journal() if op.status == "pending"]

    def crash_after_the_server_committed(progress: Progress) -> None:
        raise Crash  # the answer is lost: the ops stay `sent`

    with pytest.raises(Crash):
        desk.engine.sync_once(progress=crash_after_the_server_committed)
    assert {op.status for op in desk.journal() if op.seq >= ops[0].seq} == {"applied"}
    # Worse: the crash came before the answer was recorded.
    register(desk, "Finn Graf", actor=RECEPTION)
    before = server.counts(clinic_id)["applied_op"]
    real_push = desk.client.push

    def push_then_die(request: Any) -> Any:
        real_push(request)
        raise Crash

    desk.client.push = push_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        desk.engine.sync_once()
    desk.client.push = real_push  # type: ignore[method-assign]
    sent = [op for op in desk.journal() if op.status == "sent"]
    assert sent and server.counts(clinic_id)["applied_op"] == before + len(sent)
    report = desk.sync()
    assert report.duplicates == len(sent) and report.applied == len(sent)
    assert server.counts(clinic_id)["applied_op"] == before + len(sent)  # exactly once
    assert {op.status for op in desk.journal()} == {"applied"}


def test_chunks_respect_the_op_and_byte_limits(server: LiveServer, desk: Device, clinic_id: str) -> None:
    for n in range(12):
        register(desk, f"Chunk {chr(65 + n)}ero", actor=RECEPTION)
    pending = len([op for op in desk.journal() if op.status == "pending"])
    sizes: list[int] = []
    real_push = desk.client.push
    desk.client.push = lambda request: (sizes.append(len(request.ops)), real_push(request))[1]  # type: ignore[method-assign]
    progress: list[Progress] = []
    desk.engine = SyncEngine(desk.store, desk.client, max_ops=5)
    report = desk.sync(progress=progress.append)
    assert sum(sizes) == pending == report.pushed and max(sizes) <= 5
    assert [p.done for p in progress if p.stage == "push"][-1] == pending

    for n in range(6):
        register(desk, f"Bytes {chr(65 + n)}ero", actor=RECEPTION)
    sizes.clear()
    desk.engine = SyncEngine(desk.store, desk.client, max_bytes=8 * 1024)  # 4 KiB of ops a push
    report = desk.sync()
    assert len(sizes) >= 2 and report.applied == sum(sizes) == 12


def test_chunks_go_one_at_a_time_in_journal_order(desk: Device) -> None:
    """The next chunk is read while the server applies one, but sent only once that one is answered."""
    for n in range(5):
        register(desk, f"Order {chr(65 + n)}ero", actor=RECEPTION)
    order = [op.op_id for op in desk.journal() if op.status == "pending"]
    sent: list[str] = []
    in_flight = threading.Semaphore(1)
    real_push = desk.client.push

    def one_at_a_time(request: Any) -> Any:
        assert in_flight.acquire(blocking=False), "two pushes at once"
        try:
            sent.extend(op.op_id for op in request.ops)
            time.sleep(0.01)
            return real_push(request)
        finally:
            in_flight.release()

    desk.client.push = one_at_a_time  # type: ignore[method-assign]
    desk.engine = SyncEngine(desk.store, desk.client, max_ops=3)
    report = desk.sync()
    assert report.pushed == len(order) and sent == order
    assert {op.status for op in desk.journal()} == {"applied"}


def test_a_local_error_mid_push_waits_for_the_push_in_flight_and_the_next_sync_sends_again(
    desk: Device,
) -> None:
    for n in range(6):
        register(desk, f"Again {chr(65 + n)}ero", actor=RECEPTION)
    real_push, real_next = desk.client.push, desk.engine.outbox.next_chunk
    pushes_ended: list[int] = []

    def slow_push(request: Any) -> Any:
        time.sleep(0.2)  # still in flight when the next chunk fails to read
        answer = real_push(request)
        pushes_ended.append(len(request.ops))
        return answer

    calls: list[int] = []

    def second_chunk_fails(*args: Any, **kwargs: Any) -> Any:
        if calls and not pushes_ended:
            raise Crash
        calls.append(1)
        return real_next(*args, **kwargs)

    desk.client.push = slow_push  # type: ignore[method-assign]
    desk.engine = SyncEngine(desk.store, desk.client, max_ops=4)
    desk.engine.outbox.next_chunk = second_chunk_fails  # type: ignore[method-assign]
    with pytest.raises(Crash):
        desk.engine.sync_once()
    assert pushes_ended == [4]  # waited for, not left running behind the error
    assert not [t for t in threading.enumerate() if t.name.startswith("sync-push")]
    desk.client.push = real_push  # type: ignore[method-assign]
    desk.engine.outbox.next_chunk = real_next  # type: ignore[method-assign]
    desk.sync()
    assert {op.status for op in desk.journal()} == {"applied"}  # the first chunk's answers too


def test_cancel_between_chunks_keeps_what_was_done(desk: Device) -> None:
    for n in range(6):
        register(desk, f"Cancel {chr(65 + n)}ero", actor=RECEPTION)
    desk.engine = SyncEngine(desk.store, desk.client, max_ops=4)
    chunks: list[Progress] = []

    def stop_after_first() -> bool:
        return bool(chunks)

    report = desk.sync(progress=chunks.append, cancel=stop_after_first)
    # The second chunk left while the first one's answers were recorded: it is kept, no third.
    assert report.cancelled and report.pushed == 8 and report.stage == "push"
    assert len([op for op in desk.journal() if op.status == "pending"]) == 12 - 8
    assert not [op for op in desk.journal() if op.status == "sent"]
    answered = {op.entity_id for op in desk.journal() if op.status == "applied" and op.entity == "patient"}
    assert answered and all(desk.row("patient", i).version == 1 for i in answered)  # known, not pulled yet
    assert desk.sync().pushed == 12 - 8


def test_a_wrong_clock_is_measured_and_warned_about(desk: Device) -> None:
    slow = SyncEngine(desk.store, desk.client, wall_clock=lambda: datetime.now(UTC) - timedelta(minutes=9))
    register(desk, "Gita Hahn", actor=RECEPTION)
    report = slow.sync_once()
    assert report.clock_skew_ms is not None and 8 * 60_000 < report.clock_skew_ms < 10 * 60_000
    assert report.clock_warning and "9 minutes behind" in english(report.clock_warning)
    assert (report.clock_warning["minutes"], report.clock_warning["behind"]) == (9, True)
    assert desk.state().clock_skew_ms == report.clock_skew_ms
    fine = SyncEngine(desk.store, desk.client).sync_once()  # nothing to push: /health is asked
    assert fine.clock_skew_ms is not None and abs(fine.clock_skew_ms) < 60_000 and fine.clock_warning is None


def test_pulled_clock_stamps_move_the_device_clock_forward(desk: Device, make_device: MakeDevice) -> None:
    kiosk = make_device("kiosk", "kiosk")
    kiosk.sync()
    # Within the server's margin (CLOCK_MARGIN, 10 minutes): further ahead, the op is refused.
    five_minutes_ahead = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp() * 1000)
    ahead = f"{five_minutes_ahead:013d}-0000-{kiosk.enrolled.device_id}"
    patient_id = register(kiosk, "Hana Imhof")
    with kiosk.store.db.writer.begin() as conn:  # a device whose clock runs five minutes fast
        conn.execute(text("UPDATE sync_journal SET hlc = :h"), {"h": ahead})
    kiosk.sync()
    desk.sync()
    with desk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=Actor(Role.RECEPTION), patient_id=patient_id, address="Hof 1")
    with desk.store.reading() as session:
        last = session.scalars(select(JournalOp).order_by(JournalOp.seq.desc())).first()
    assert last is not None and last.hlc > ahead  # ordered after what it has seen


class WatchedPulls:
    """Wraps a device client's `pull`: which cursors were asked for, on which thread, how many at once."""

    def __init__(self, device: Device, fail_on: Callable[[int], None] | None = None):
        self.real = device.client.pull
        self.fail_on = fail_on or (lambda _n: None)
        self.asked: list[tuple[int, str]] = []
        self.limits: list[int] = []  # the page size of every request
        self.answered: list[int] = []  # the `next` of every page that came back
        self.in_flight = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        device.client.pull = self  # type: ignore[method-assign]

    def __call__(self, since: int, limit: int) -> Any:
        with self.lock:
            self.asked.append((since, threading.current_thread().name))
            self.limits.append(limit)
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
            n = len(self.asked)
        try:
            self.fail_on(n)
            page = self.real(since, limit)
            with self.lock:
                self.answered.append(page.next)
            return page
        finally:
            with self.lock:
                self.in_flight -= 1


def pull_helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sync-pull")]


@pytest.fixture
def feed(server: LiveServer, desk: Device, clinic_id: str) -> int:
    """45 patients on the server; the size of the clinic's changes feed."""
    for n in range(45):
        register(desk, f"Feed {chr(65 + n % 26)}{chr(97 + n // 26)}son", actor=RECEPTION)
    desk.sync()
    return server.counts(clinic_id)["change_log"]


def test_a_fresh_device_asks_for_the_largest_pages_the_server_gives(
    make_device: MakeDevice, feed: int
) -> None:
    fresh = make_device("desk", "fresh")
    pulls = WatchedPulls(fresh)
    report = fresh.sync()
    assert report.pulled == feed and report.pages == 1
    assert pulls.limits == [MAX_PULL_LIMIT]


def test_the_next_page_is_fetched_ahead_and_pages_are_applied_in_order(
    server: LiveServer, make_device: MakeDevice, feed: int
) -> None:
    fresh = make_device("desk", "fresh", page_size=10)
    pulls = WatchedPulls(fresh)
    cursors: list[int] = []

    def cursor_after_each_page(progress: Progress) -> None:
        if progress.stage == "pull":
            cursors.append(fresh.state().pull_cursor)  # committed with the page

    report = fresh.sync(progress=cursor_after_each_page)
    assert report.pulled == feed and report.pages == len(pulls.asked) >= 5
    asked = [since for since, _ in pulls.asked]
    assert asked == [0, *cursors[:-1]] and cursors == sorted(cursors)  # each page from the last's `next`
    assert all(name.startswith("sync-pull") for _, name in pulls.asked[1:])  # fetched ahead
    assert pulls.most_at_once == 1  # the client is never used by two threads at once
    assert not pull_helpers()
    assert_converged(server, fresh, (*SHARED, "audit_event"))


def test_a_page_that_fails_to_apply_keeps_the_last_cursor_and_the_page_fetched_ahead_is_not_applied(
    server: LiveServer, make_device: MakeDevice, feed: int
) -> None:
    fresh = make_device("desk", "fresh", page_size=10)
    pulls = WatchedPulls(fresh)
    real_apply = fresh.engine._apply
    applied: list[int] = []

    def apply_fails_on_the_second_page(page: Any, since: int) -> int:
        if applied:
            wait_for(lambda: len(pulls.answered) >= 3, timeout=10)  # the third page, fetched ahead
            raise Crash
        applied.append(page.next)
        return real_apply(page, since)

    fresh.engine._apply = apply_fails_on_the_second_page  # type: ignore[method-assign]
    with pytest.raises(Crash):
        fresh.engine.sync_once()
    assert len(pulls.asked) == 3 and len(pulls.answered) == 3  # page 3 was fetched...
    assert fresh.state().pull_cursor == applied[0]  # ...but only page 1 was applied
    assert sum(len(local_rows(fresh.store, e)) for e in ENTITY_MODELS) == 10
    assert not pull_helpers() and pulls.in_flight == 0

    fresh.reopen(page_size=10)
    rest = fresh.sync()
    assert 10 + rest.pulled == feed  # resumed after page 1: nothing skipped, nothing twice
    assert_converged(server, fresh, (*SHARED, "audit_event"))


def test_a_cancel_throws_the_page_fetched_ahead_away(
    server: LiveServer, make_device: MakeDevice, feed: int
) -> None:
    fresh = make_device("desk", "fresh", page_size=10)
    pulls = WatchedPulls(fresh)
    pages: list[Progress] = []

    def after_two_pages() -> bool:
        if len(pages) < 2:
            return False
        wait_for(lambda: len(pulls.asked) >= 3, timeout=10)  # the third page is being fetched ahead
        return True

    report = fresh.sync(progress=pages.append, cancel=after_two_pages)
    assert report.cancelled and report.stage == "pull" and report.pages == 2 and report.pulled == 20
    assert len(pulls.asked) == 3 and fresh.state().pull_cursor == pulls.answered[1]
    assert sum(len(local_rows(fresh.store, e)) for e in ENTITY_MODELS) == 20
    assert not pull_helpers() and pulls.in_flight == 0
    assert fresh.sync().pulled == feed - 20
    assert_converged(server, fresh, (*SHARED, "audit_event"))


def test_a_network_failure_while_fetching_ahead_is_reported_as_when_the_page_is_asked_for(
    server: LiveServer, make_device: MakeDevice, feed: int
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens here once closed
    fresh = make_device("desk", "fresh", page_size=10)
    up = fresh.client.base_url

    def cable_pulled_before_the_second_page(n: int) -> None:
        if n == 2:
            fresh.client.base_url = dead

    pulls = WatchedPulls(fresh, fail_on=cable_pulled_before_the_second_page)
    report = fresh.sync(allow_error=True)
    assert pulls.asked[1][1].startswith("sync-pull")  # the failed request was the one fetched ahead
    assert isinstance(report.error, Offline) and report.stage == "pull"
    assert report.errors == [report.error.reason] and dead in report.error.message
    assert report.pages == 1 and report.pulled == 10 and not report.cancelled
    assert fresh.state().pull_cursor == pulls.answered[0]
    assert not pull_helpers()
    with pytest.raises(Offline) as asked_directly:  # what asking for that page at once would say
        fresh.client.pull(pulls.answered[0], 10)
    assert asked_directly.value.message == report.error.message

    fresh.client.base_url = up
    assert fresh.sync().pulled == feed - 10
    assert_converged(server, fresh, (*SHARED, "audit_event"))
