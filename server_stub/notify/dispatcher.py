"""The dispatcher: sends due reminders, records every attempt, never sends one twice.

One round (`Dispatcher.run_once`):

1. **claim** (one transaction): the due reminders of channels that are configured, not held by a
   live lease, are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's writers are serial),
   their delivery rows re-read after the lock, and a lease taken on each (`reminder_delivery`).
2. per message, **mark** (one transaction): `sending = true` and a fresh lease, only if the lease is
   still this dispatcher's for this attempt; else the message is left to whoever holds it. The
   attempt is written as under way.
3. **send** (no transaction open): SMTP or the gateway, with the message's stable id; a batch is
   sent in a few lanes at once, each lane one message after another.
4. **record** (with the lane's next mark, the clinic's lock): the attempt's outcome, the delivery
   row (done, or the next attempt's time), and the reminder's synced row through `RowWriter`, so
   the devices pull its status like any change.

A dispatcher killed between 3 and 4 leaves `sending = true` under a lease that expires; the next
claim sends the message again with the same Message-ID / Idempotency-Key (docs/reminders.md).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.engine import RowMapping

from desktop.domain.appointments import AppointmentStatus, AppointmentType
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.reminders import (
    OPEN_STATUSES,
    Channel,
    MessageFacts,
    MessageKind,
    ReminderStatus,
    render,
    retry_delay,
    sms_size,
)
from desktop.store.models import Appointment, Clinic, Clinician, Patient, QueueToken, Reminder
from desktop.store.types import utcnow
from server_stub.db import pipelined
from server_stub.models import DispatcherBeat, ReminderAttempt, ReminderDelivery
from server_stub.notify.compose import email_message
from server_stub.notify.settings import NotifySettings
from server_stub.notify.transports import SendFailed, SmsTransport, SmtpTransport
from server_stub.rows import RowWriter

log = logging.getLogger(__name__)

WriteGate = Callable[[], AbstractContextManager[object]]
Record = Callable[[Connection], None]  # writes one message's outcome
# A visit's messages wait, unclaimed, while it is an unanswered request or lost a double booking.
WAITING_APPOINTMENT = (AppointmentStatus.REQUESTED.value, AppointmentStatus.CONFLICT.value)
ABOUT_THE_VISIT = (MessageKind.CONFIRMATION.value, MessageKind.REMINDER.value)
BEATS_KEPT = timedelta(days=7)


@dataclass
class Health:
    """What `clinic server status` shows of this dispatcher (written to `dispatcher_beat`)."""

    email: str = ""
    sms: str = ""
    sent: int = 0
    failed: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class Item:
    """A claimed reminder and everything its message needs."""

    reminder_id: str
    clinic_id: str
    channel: str
    kind: str
    due_at: datetime
    attempt: int
    message_id: str
    language: str
    to: str
    patient_name: str
    facts: MessageFacts
    ends_at: datetime | None
    uid: str
    sequence: int
    drop: tuple[str, str] | None = None  # (status, reason): settled without sending


@dataclass
class RoundResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0
    skipped: int = 0  # lost the lease to another dispatcher before sending
    lags_s: list[float] = field(default_factory=list)  # due -> handed to SMTP / the gateway

    def add(self, other: RoundResult) -> None:
        for name in ("claimed", "sent", "retrying", "failed", "dropped", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lags_s += other.lags_s


def dispatcher_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: NotifySettings,
        *,
        now: Callable[[], datetime] = utcnow,
        clock: HybridLogicalClock | None = None,
        gate: WriteGate = nullcontext,
        name: str | None = None,
    ):
        self.engine = engine
        self.settings = settings
        self.now = now
        self.clock = clock or HybridLogicalClock("server")
        self.gate = gate
        self.name = name or dispatcher_name()
        self.started_at = now()
        self.health = Health(
            email=settings.email_problem or "ok (nothing sent yet)",
            sms=settings.sms_problem or "ok (nothing sent yet)",
        )
        self._postgres = engine.dialect.name == "postgresql"
        self._health_lock = threading.Lock()

    @property
    def channels(self) -> list[str]:
        out = []
        if self.settings.email_problem is None:
            out.append(Channel.EMAIL.value)
        if self.settings.sms_problem is None:
            out.append(Channel.SMS.value)
        return out

    # -- one round ------------------------------------------------------------------------------

    def run_once(self) -> RoundResult:
        """Claim a batch of due messages, send them, record each outcome.

        The batch is dealt round-robin to `dispatch_senders` lanes, each a thread with its own SMTP
        connection sending its messages one after another: a message's wait for the SMTP server or
        the database overlaps with the other lanes' work. Each lane records a message's outcome
        before it marks its next one, so at most one message per lane is ever in doubt."""
        result = RoundResult()
        channels = self.channels
        if channels:
            items = self._write(lambda conn: self._claim(conn, channels))
            result.claimed = len(items)
            senders = self.settings.dispatch_senders
            lanes = [lane for lane in (items[n::senders] for n in range(senders)) if lane]
            if len(lanes) == 1:
                parts = [self._send_lane(lanes[0])]
            elif lanes:
                with ThreadPoolExecutor(len(lanes), thread_name_prefix="clinic-sender") as pool:
                    parts = list(pool.map(self._send_lane, lanes))
            for part in parts if lanes else []:
                result.add(part)
        self._write(self._beat)
        return result

    def _send_lane(self, items: list[Item]) -> RoundResult:
        result = RoundResult()
        outcome: Record | None = None
        with SmtpTransport(self.settings) as smtp, SmsTransport(self.settings) as sms:
            for item in items:
                outcome = self._deliver(item, smtp, sms, result, outcome)
        if outcome is not None:
            self._write(outcome)
        return result

    def _write(self, body: Callable[[Connection], Any]) -> Any:
        with self.gate(), self.engine.begin() as conn:
            return body(conn)

    def _deliver(
        self, item: Item, smtp: SmtpTransport, sms: SmsTransport, result: RoundResult, before: Record | None
    ) -> Record | None:
        """Send one message. The outcome of the one `before` it is written in the same transaction
        as this one's mark, before this one is sent (one commit per message, not two): whatever
        happens to this message, the one before is already recorded. Returns this one's outcome,
        to be written the same way."""

        def then(record: Record) -> Callable[[Connection], Any]:
            def both(conn: Connection) -> Any:
                if before is not None:
                    before(conn)
                return record(conn)

            return both

        if item.drop is not None:
            status, reason = item.drop
            self._write(then(lambda conn: self._record(conn, item, status, reason)))
            result.dropped += 1
            return None
        if not self._write(then(lambda conn: self._mark_sending(conn, item))):
            result.skipped += 1
            return None
        handed_at = self.now()
        try:
            if item.channel == Channel.EMAIL.value:
                smtp.send(email_message(item, self.settings.smtp_from, stamp=self.now()))
            else:
                self._send_sms(sms, item)
        except SendFailed as exc:
            reason = exc.reason
            outcome = self._outcome_of_failure(item)
            self._note_failure(item, reason, final=outcome == ReminderStatus.FAILED.value)
            if outcome == ReminderStatus.FAILED.value:
                result.failed += 1
            else:
                result.retrying += 1
            return lambda conn: self._record(conn, item, outcome, reason)
        sent_at = self.now()
        result.lags_s.append(max(0.0, (handed_at - item.due_at).total_seconds()))
        result.sent += 1
        with self._health_lock:
            self.health.sent += 1
            if item.channel == Channel.EMAIL.value:
                self.health.email = f"ok: last sent {sent_at:%Y-%m-%d %H:%M:%S} UTC"
            else:
                self.health.sms = f"ok: last sent {sent_at:%Y-%m-%d %H:%M:%S} UTC"
        return lambda conn: self._record(conn, item, ReminderStatus.SENT.value, "")

    def _outcome_of_failure(self, item: Item) -> str:
        if item.attempt >= self.settings.dispatch_max_attempts:
            return ReminderStatus.FAILED.value
        return ReminderStatus.RETRYING.value

    def _note_failure(self, item: Item, reason: str, *, final: bool) -> None:
        text = f"{item.channel} to reminder {item.reminder_id}: {reason}"
        with self._health_lock:
            if item.channel == Channel.EMAIL.value:
                self.health.email = f"failing: {reason}"
            else:
                self.health.sms = f"failing: {reason}"
            self.health.last_error = text[:300]
            if final:
                self.health.failed += 1
        log.warning(
            "Reminder not sent (attempt %d%s): %s", item.attempt, ", giving up" if final else "", text
        )

    # -- the messages ---------------------------------------------------------------------------

    def _send_sms(self, sms: SmsTransport, item: Item) -> None:
        text = render(item.kind, Channel.SMS, item.language, item.facts).body
        size = sms_size(text)
        if size.parts > 1:
            log.info(
                "Reminder %s is an SMS of %d parts (%d %s characters)",
                item.reminder_id,
                size.parts,
                size.length,
                size.encoding,
            )
        sms.send(to=item.to, body=text, key=item.message_id)

    # -- 1. claim -------------------------------------------------------------------------------

    def _claim(self, conn: Connection, channels: list[str]) -> list[Item]:
        now = self.now()
        r, d, a = Reminder, ReminderDelivery, Appointment
        query = (
            select(r.id)
            .outerjoin(d, d.reminder_id == r.id)
            .outerjoin(a, a.id == r.appointment_id)
            .where(
                r.status.in_(OPEN_STATUSES),
                r.deleted.is_(False),
                r.due_at <= now,
                or_(r.next_attempt_at.is_(None), r.next_attempt_at <= now),
                r.channel.in_(channels),
                or_(
                    d.reminder_id.is_(None),
                    and_(d.done.is_(False), or_(d.lease_until.is_(None), d.lease_until < now)),
                ),
                ~and_(r.kind.in_(ABOUT_THE_VISIT), a.status.in_(WAITING_APPOINTMENT)),
            )
            .order_by(r.due_at)
            .limit(self.settings.dispatch_batch)
        )
        if self._postgres:
            query = query.with_for_update(of=r.__table__, skip_locked=True)
        ids = list(conn.scalars(query))
        if not ids:
            return []
        # Re-read the leases now that the rows are locked: a dispatcher that claimed one of them
        # and committed after this statement's snapshot was taken is seen here.
        leases = {
            row.reminder_id: row
            for row in conn.execute(
                select(d).where(d.reminder_id.in_(ids)).with_for_update()
                if self._postgres
                else select(d).where(d.reminder_id.in_(ids))
            )
        }
        rows = Batch.read(conn, ids)
        items: list[Item] = []
        lease_until = now + timedelta(seconds=self.settings.dispatch_lease_s)
        for reminder_id in ids:
            held = leases.get(reminder_id)
            if held is not None and (held.done or (held.lease_until is not None and held.lease_until >= now)):
                continue
            if held is None:
                item = self._item(conn, rows, reminder_id, 1, self._message_id(reminder_id), now)
                conn.execute(
                    d.__table__.insert().values(
                        reminder_id=reminder_id,
                        clinic_id=item.clinic_id,
                        message_id=item.message_id,
                        attempts=1,
                        lease_owner=self.name,
                        lease_until=lease_until,
                        sending=False,
                        done=False,
                    )
                )
                items.append(item)
            else:
                attempt = held.attempts + 1
                message_id = held.message_id
                if held.sending:  # its dispatcher died mid-send (docs/reminders.md, "Never twice")
                    conn.execute(
                        update(ReminderAttempt)
                        .where(ReminderAttempt.reminder_id == reminder_id, ReminderAttempt.outcome.is_(None))
                        .values(
                            outcome="unknown",
                            finished_at=now,
                            error="The dispatcher stopped mid-send; sent again with the same id.",
                        )
                    )
                conn.execute(
                    update(d)
                    .where(d.reminder_id == reminder_id)
                    .values(attempts=attempt, lease_owner=self.name, lease_until=lease_until, sending=False)
                )
                items.append(self._item(conn, rows, reminder_id, attempt, message_id, now))
        return items

    def _message_id(self, reminder_id: str) -> str:
        domain = self.settings.smtp_from.rpartition("@")[2] or "clinicdesk.invalid"
        return f"<reminder-{reminder_id}@{domain}>"

    def _item(
        self, conn: Connection, rows: Batch, reminder_id: str, attempt: int, message_id: str, now: datetime
    ) -> Item:
        rem = rows.reminders[reminder_id]
        clinic = rows.clinics[rem["clinic_id"]]
        patient = rows.patients[rem["patient_id"]]
        appt = rows.appointments.get(rem["appointment_id"])
        token = rows.tokens.get(rem["queue_token_id"])
        doctor = rows.doctors.get((appt or token or {}).get("clinician_id"))
        root, hops = _visit_root(conn, appt["id"]) if appt else (reminder_id, 0)
        channel = rem["channel"]
        to = (patient["email"] if channel == Channel.EMAIL.value else patient["phone"]) or ""
        facts = MessageFacts(
            clinic_name=clinic["name"],
            zone=clinic["timezone"],
            doctor=doctor["name"] if doctor else "",
            starts_at=appt["starts_at"] if appt else None,
            room=(token["room"] if token and token["room"] else doctor["room"] if doctor else ""),
            telehealth=bool(appt and appt["kind"] == AppointmentType.TELEHEALTH.value),
            code=appt["code"] if appt else "",
            token=token["code"] if token else "",
            position=clinic["queue_notify_position"],
        )
        item = Item(
            reminder_id=reminder_id,
            clinic_id=rem["clinic_id"],
            channel=channel,
            kind=rem["kind"],
            due_at=rem["due_at"],
            attempt=attempt,
            message_id=message_id,
            language=patient["preferred_language"] or "en",
            to=to,
            patient_name=patient["full_name"],
            facts=facts,
            ends_at=appt["ends_at"] if appt else None,
            uid=f"{root}@clinicdesk",
            sequence=1000 * hops + _earlier_messages(conn, rem),
        )
        drop = _verdict(conn, rem, patient, appt, token, to, now)
        return replace(item, drop=drop) if drop else item

    # -- 2. mark --------------------------------------------------------------------------------

    def _mark_sending(self, conn: Connection, item: Item) -> bool:
        now = self.now()
        d = ReminderDelivery
        taken = conn.execute(
            update(d)
            .where(
                d.reminder_id == item.reminder_id,
                d.lease_owner == self.name,
                d.attempts == item.attempt,
                d.done.is_(False),
            )
            .values(sending=True, lease_until=now + timedelta(seconds=self.settings.dispatch_lease_s))
        ).rowcount
        if taken != 1:
            return False
        conn.execute(
            ReminderAttempt.__table__.insert().values(
                reminder_id=item.reminder_id,
                clinic_id=item.clinic_id,
                attempt=item.attempt,
                channel=item.channel,
                dispatcher=self.name,
                started_at=now,
                error="",
            )
        )
        return True

    # -- 4. record ------------------------------------------------------------------------------

    def _record(self, conn: Connection, item: Item, outcome: str, reason: str) -> None:
        """The outcome: the attempt, the delivery row, and the reminder's synced row (version, merge
        base, change log). After the clinic's lock and the row are read, every write goes in one
        round trip on PostgreSQL (`pipelined`): the lock is held for as short a time as can be."""
        now = self.now()
        writer = RowWriter(conn, clinic_id=item.clinic_id, clock=self.clock, now=now, deferred=True)
        current = writer.get(Reminder, item.reminder_id)
        next_at = None
        if outcome == ReminderStatus.RETRYING.value:
            s = self.settings
            next_at = now + retry_delay(
                item.attempt, base_s=s.dispatch_retry_base_s, cap_s=s.dispatch_retry_cap_s
            )
        sending = item.drop is None
        changes: dict[str, Any] = {"last_error": reason[:300]}
        if sending:
            changes["attempts"] = item.attempt
        # A device's cancel made meanwhile stands, unless the message went out anyway.
        if current is not None and (
            current["status"] in OPEN_STATUSES or outcome == ReminderStatus.SENT.value
        ):
            changes["status"] = outcome
            changes["next_attempt_at"] = next_at
        if outcome == ReminderStatus.SENT.value:
            changes["sent_at"] = now
        with pipelined(conn):
            if sending:
                conn.execute(
                    update(ReminderAttempt)
                    .where(
                        ReminderAttempt.reminder_id == item.reminder_id,
                        ReminderAttempt.attempt == item.attempt,
                        ReminderAttempt.outcome.is_(None),
                    )
                    .values(outcome=outcome, finished_at=now, error=reason[:300], next_attempt_at=next_at)
                )
            conn.execute(
                update(ReminderDelivery)
                .where(ReminderDelivery.reminder_id == item.reminder_id)
                .values(
                    sending=False,
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=next_at,
                    done=outcome != ReminderStatus.RETRYING.value,
                    attempts=item.attempt if sending else item.attempt - 1,
                )
            )
            if current is not None:
                writer.update(Reminder, current, changes, device_id=None, hlc=self.clock.now())
                writer.flush()

    # -- health ---------------------------------------------------------------------------------

    def _beat(self, conn: Connection) -> None:
        h = self.health
        values = {
            "beat_at": self.now(),
            "email": h.email[:300],
            "sms": h.sms[:300],
            "sent": h.sent,
            "failed": h.failed,
            "last_error": h.last_error[:300],
        }
        done = conn.execute(update(DispatcherBeat).where(DispatcherBeat.name == self.name).values(**values))
        if done.rowcount == 0:  # this dispatcher's first beat: forget those silent for a week
            conn.execute(
                DispatcherBeat.__table__.delete().where(DispatcherBeat.beat_at < self.now() - BEATS_KEPT)
            )
            conn.execute(
                DispatcherBeat.__table__.insert().values(name=self.name, started_at=self.started_at, **values)
            )

    def report_broken(self, problem: str) -> None:
        """Settings that stop any sending: said in this dispatcher's health row."""
        self.health = Health(email=problem, sms=problem, last_error=problem)
        try:
            self._write(self._beat)
        except Exception:  # the database itself is unusable: the server says so elsewhere
            log.exception("Could not record the dispatcher's health")

    # -- the loop -------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds until `stop` is set: at once while there is more to send, else every interval.
        An unexpected error is logged and kept in the health row; the loop goes on after a pause."""
        pause = self.settings.dispatch_interval_s
        while not stop.is_set():
            try:
                result = self.run_once()
                pause = self.settings.dispatch_interval_s
                if result.claimed >= self.settings.dispatch_batch:
                    continue
            except Exception as exc:  # never the server's end: reported in status and the log
                log.exception("The reminder dispatcher failed; it tries again shortly")
                self.health.last_error = f"dispatcher error: {type(exc).__name__}: {exc}"[:300]
                pause = min(pause * 2, 60.0)
            stop.wait(pause)


@dataclass(frozen=True)
class Batch:
    """The rows a claimed batch's messages need, read a query per table."""

    reminders: dict[str, RowMapping]
    patients: dict[str, RowMapping]
    clinics: dict[str, RowMapping]
    appointments: dict[str | None, RowMapping]
    tokens: dict[str | None, RowMapping]
    doctors: dict[str | None, RowMapping]

    @classmethod
    def read(cls, conn: Connection, reminder_ids: list[str]) -> Batch:
        def by_id(model: Any, ids: set[Any], *columns: Any) -> dict[Any, RowMapping]:
            ids.discard(None)
            if not ids:
                return {}
            query = select(*columns) if columns else select(model.__table__)
            rows = conn.execute(query.where(model.id.in_(sorted(ids)))).mappings()
            return {row["id"]: row for row in rows}

        reminders = by_id(Reminder, set(reminder_ids))
        values = list(reminders.values())
        appointments = by_id(Appointment, {r["appointment_id"] for r in values})
        tokens = by_id(QueueToken, {r["queue_token_id"] for r in values})
        doctor_ids = {row["clinician_id"] for row in (*appointments.values(), *tokens.values())}
        return cls(
            reminders=reminders,
            patients=by_id(Patient, {r["patient_id"] for r in values}),
            clinics=by_id(Clinic, {r["clinic_id"] for r in values}),
            appointments=appointments,
            tokens=tokens,
            doctors=by_id(Clinician, doctor_ids, Clinician.id, Clinician.name, Clinician.room),
        )


def _verdict(
    conn: Connection,
    rem: RowMapping,
    patient: RowMapping,
    appt: RowMapping | None,
    token: RowMapping | None,
    to: str,
    now: datetime,
) -> tuple[str, str] | None:
    """Whether a due message is still to be sent: None, or (status, reason) to settle it with."""
    cancelled, failed = ReminderStatus.CANCELLED.value, ReminderStatus.FAILED.value
    if not patient["notify_consent"]:
        return cancelled, "The patient opted out of messages."
    if not to:
        what = "e-mail address" if rem["channel"] == Channel.EMAIL.value else "phone number"
        return failed, f"The patient has no {what}."
    kind = rem["kind"]
    if kind == MessageKind.TURN_NEAR.value:
        if token is None or token["status"] != "waiting":
            return cancelled, "The patient is no longer waiting."
        return None
    if appt is None or appt["deleted"]:
        return cancelled, "The appointment is gone."
    status = appt["status"]
    if kind == MessageKind.CANCELLATION.value:
        if status != AppointmentStatus.CANCELLED.value:
            return cancelled, f"The appointment is {status}, not cancelled."
        told = conn.scalar(
            select(func.count()).where(
                Reminder.appointment_id == appt["id"],
                Reminder.channel == rem["channel"],
                Reminder.kind.in_(ABOUT_THE_VISIT),
                Reminder.status == ReminderStatus.SENT.value,
            )
        )
        return None if told else (cancelled, "Nothing had been sent about this appointment.")
    if status != AppointmentStatus.CONFIRMED.value:
        return cancelled, f"The appointment is {status}."
    if appt["starts_at"] <= now:
        return cancelled, "Too late: the appointment has begun."
    return None


def _visit_root(conn: Connection, appointment_id: str) -> tuple[str, int]:
    """The first appointment of a chain of reschedules (one calendar event for the whole visit),
    and how many times it was moved since."""
    current, hops = appointment_id, 0
    for _ in range(50):
        previous = conn.scalar(select(Appointment.rescheduled_from).where(Appointment.id == current))
        if not previous:
            break
        current, hops = previous, hops + 1
    return current, hops


def _earlier_messages(conn: Connection, rem: RowMapping) -> int:
    """How many of the appointment's messages come before this one (by due time, then id, which is
    time-ordered): the invitation's SEQUENCE grows with every message about the visit."""
    return (
        conn.scalar(
            select(func.count()).where(
                Reminder.appointment_id == rem["appointment_id"],
                or_(
                    Reminder.due_at < rem["due_at"],
                    and_(Reminder.due_at == rem["due_at"], Reminder.id < rem["id"]),
                ),
            )
        )
        or 0
    )


def wait_until_idle(dispatcher: Dispatcher, *, timeout_s: float) -> RoundResult:
    """Rounds until one claims nothing (tests, the benchmark); the rounds' results summed."""
    total = RoundResult()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = dispatcher.run_once()
        total.add(result)
        if result.claimed == 0:
            return total
    raise TimeoutError("the dispatcher still had messages to send")
