"""What `clinic server status` says of reminders: the dispatchers' health, the queue of due
messages, the last failures, and whether this machine's settings can send at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from desktop.domain.reminders import OPEN_STATUSES, ReminderStatus
from desktop.store.models import Reminder
from server_stub.models import DispatcherBeat, ReminderAttempt
from server_stub.notify.settings import NotifySettings

FAILURES_SHOWN = 5


@dataclass(frozen=True)
class DispatcherHealth:
    name: str
    alive: bool
    beat_at: datetime
    email: str
    sms: str
    sent: int
    failed: int
    last_error: str


@dataclass(frozen=True)
class Failure:
    at: datetime
    channel: str
    reminder_id: str
    attempt: int
    outcome: str
    error: str


@dataclass(frozen=True)
class DispatchStatus:
    dispatchers: list[DispatcherHealth]
    due: dict[str, int]  # channel -> messages due now and not sent
    oldest_due: datetime | None
    retrying: int
    scheduled: int  # open, due later
    failures: list[Failure]
    email_problem: str | None
    sms_problem: str | None

    @property
    def healthy(self) -> bool:
        return any(d.alive for d in self.dispatchers) and not (self.email_problem and self.sms_problem)


def dispatch_status(conn: Connection, *, now: datetime, settings: NotifySettings) -> DispatchStatus:
    alive_after = now - timedelta(seconds=max(30.0, 5 * settings.dispatch_interval_s))
    beats = conn.execute(select(DispatcherBeat).order_by(DispatcherBeat.beat_at.desc()).limit(10)).all()
    dispatchers = [
        DispatcherHealth(
            b.name, b.beat_at >= alive_after, b.beat_at, b.email, b.sms, b.sent, b.failed, b.last_error
        )
        for b in beats
    ]
    open_now = (Reminder.status.in_(OPEN_STATUSES), Reminder.deleted.is_(False))
    due_rows = conn.execute(
        select(Reminder.channel, func.count(), func.min(Reminder.due_at))
        .where(*open_now, Reminder.due_at <= now)
        .group_by(Reminder.channel)
    ).all()
    retrying = conn.scalar(select(func.count()).where(Reminder.status == ReminderStatus.RETRYING.value)) or 0
    scheduled = conn.scalar(select(func.count()).where(*open_now, Reminder.due_at > now)) or 0
    attempts = conn.execute(
        select(ReminderAttempt)
        .where(ReminderAttempt.outcome.in_(("failed", "retrying", "unknown")))
        .order_by(ReminderAttempt.id.desc())
        .limit(FAILURES_SHOWN)
    ).all()
    failures = [
        Failure(a.finished_at or a.started_at, a.channel, a.reminder_id, a.attempt, a.outcome or "", a.error)
        for a in attempts
    ]
    oldest = min((row[2] for row in due_rows), default=None)
    return DispatchStatus(
        dispatchers=dispatchers,
        due={channel: count for channel, count, _ in due_rows},
        oldest_due=oldest,
        retrying=retrying,
        scheduled=scheduled,
        failures=failures,
        email_problem=settings.email_problem,
        sms_problem=settings.sms_problem,
    )


def status_lines(status: DispatchStatus, *, now: datetime) -> list[str]:
    def ago(at: datetime) -> str:
        seconds = int((now - at).total_seconds())
        return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"

    lines = ["Reminders"]
    lines.append(f"  e-mail settings: {status.email_problem or 'ok'}")
    lines.append(f"  SMS settings:    {status.sms_problem or 'ok'}")
    if not status.dispatchers:
        lines.append("  dispatcher: none has run on this database (is `clinic server run` up?)")
    for d in status.dispatchers:
        state = "running" if d.alive else "stopped"
        lines.append(
            f"  dispatcher {d.name}: {state}, last beat {ago(d.beat_at)}, {d.sent} sent, {d.failed} failed"
        )
        lines.append(f"    e-mail: {d.email}")
        lines.append(f"    SMS:    {d.sms}")
        if d.last_error:
            lines.append(f"    last error: {d.last_error}")
    due = ", ".join(f"{n} {channel}" for channel, n in sorted(status.due.items())) or "none"
    oldest = f" (oldest due {ago(status.oldest_due)})" if status.oldest_due else ""
    lines.append(
        f"  due now: {due}{oldest}; retrying: {status.retrying}; scheduled later: {status.scheduled}"
    )
    if status.failures:
        lines.append("  last failures:")
        for f in status.failures:
            lines.append(
                f"    {f.at:%Y-%m-%d %H:%M:%S} UTC  {f.channel:<5} {f.reminder_id}  attempt {f.attempt} "
                f"{f.outcome}: {f.error}"
            )
    return lines
