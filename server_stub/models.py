"""Server-only tables. The synced entity tables are the device's own models (desktop.store.models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from desktop.store.models import NAMING
from desktop.store.types import UTCDateTime, utcnow

ID = String(36)


class ServerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Device(ServerBase):
    __tablename__ = "server_device"
    __table_args__ = (UniqueConstraint("clinic_id", "letter"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))
    letter: Mapped[str] = mapped_column(String(1))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class EnrollmentCode(ServerBase):
    """A one-time code an admin hands to a new device; stored hashed, used once, expires."""

    __tablename__ = "enrollment_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID)
    kind: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[str | None] = mapped_column(ID)


class UserSession(ServerBase):
    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    device_id: Mapped[str] = mapped_column(ID)
    role: Mapped[str] = mapped_column(String(12))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthThrottle(ServerBase):
    """Failed sign-ins and enrolments per key (a username, a device, an address), and its lock-out.

    In the database so that every server process on it counts the same failures (throttle.py)."""

    __tablename__ = "auth_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppliedOp(ServerBase):
    """Every op the server has answered, with its answer: a second delivery gets the same answer.
    Answered per clinic: an op id another clinic's device sent is a new op here, never its answer."""

    __tablename__ = "applied_op"

    clinic_id: Mapped[str] = mapped_column(ID, primary_key=True)
    op_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ID)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeLog(ServerBase):
    """The clinic's changes feed: one entry per row, its latest change; `seq` is what pull reads."""

    __tablename__ = "change_log"
    __table_args__ = (
        UniqueConstraint("entity", "entity_id"),
        Index("ix_change_log_clinic_seq", "clinic_id", "seq"),
        # A row's entry is replaced on each change; AUTOINCREMENT stops SQLite from handing the
        # deleted top seq out again, which would hide the change from devices already past it.
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    clinic_id: Mapped[str] = mapped_column(ID)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(ID)


class RowChange(ServerBase):
    """Which fields each revision of a row changed, by which device, at which clock: the merge base."""

    __tablename__ = "row_change"

    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str | None] = mapped_column(ID)
    hlc: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON)


class ClinicLock(ServerBase):
    """One row per clinic, locked `FOR UPDATE` by every writer on PostgreSQL so that change-log
    seqs of a clinic commit in the order they were assigned (SYNC.md, point 7)."""

    __tablename__ = "clinic_lock"

    clinic_id: Mapped[str] = mapped_column(ID, primary_key=True)


class ReminderDelivery(ServerBase):
    """The dispatcher's hold on one reminder (server only; devices see the reminder's status).

    A dispatcher claims a due reminder by taking its lease (`lease_owner`, `lease_until`) in a
    transaction of its own before it talks to the SMTP server or the gateway, and gives it back
    with the outcome. A lease that expired while `sending` is true is a dispatcher that died
    mid-send: the message may have gone out (docs/reminders.md, "Never twice")."""

    __tablename__ = "reminder_delivery"
    __table_args__ = (Index("ix_reminder_delivery_lease", "done", "lease_until"),)

    reminder_id: Mapped[str] = mapped_column(ID, primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ID)
    message_id: Mapped[str] = mapped_column(String(200))  # the same on every attempt
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderAttempt(ServerBase):
    """Every attempt to send a reminder and how it ended: sent, retrying (with when), failed."""

    __tablename__ = "reminder_attempt"
    __table_args__ = (Index("ix_reminder_attempt_finished", "finished_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    reminder_id: Mapped[str] = mapped_column(ID, index=True)
    clinic_id: Mapped[str] = mapped_column(ID)
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    dispatcher: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))  # sent | retrying | failed | None: under way
    error: Mapped[str] = mapped_column(String(300), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DispatcherBeat(ServerBase):
    """Each running dispatcher's heartbeat and health, for `clinic server status`."""

    __tablename__ = "dispatcher_beat"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)  # host:pid:start
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email: Mapped[str] = mapped_column(String(300), default="")  # "ok", "not configured: ...", an error
    sms: Mapped[str] = mapped_column(String(300), default="")
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
