"""Helpers the tests share: a movable clock, local-time conversion, row and journal counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from desktop.domain.roles import Role
from desktop.services.common import Actor
from desktop.store.local import LocalStore
from desktop.store.models import JournalOp

# The clinic's administrator on a device set up on its own (clinic settings are an admin's).
ADMIN = Actor(Role.ADMIN, name="Clinic admin")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Monday 2 March 2026, 07:00 in Berlin: before the doctors' hours start.
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
MONDAY = date(2026, 3, 2)


class Clock:
    """A wall clock the tests set and move; the store reads it by calling it."""

    def __init__(self, at: datetime = START):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        assert at.tzinfo is not None
        self.at = at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@dataclass(frozen=True)
class ClinicSetup:
    clinic_id: str
    tz: ZoneInfo
    doctor_a: str
    doctor_b: str
    reception: str

    @property
    def doctor(self) -> Actor:
        """Dr. Weber (doctor A), signed in at her desk."""
        return Actor(Role.DOCTOR, user_id=self.doctor_a, name="Dr. Anna Weber")

    @property
    def desk(self) -> Actor:
        """The receptionist."""
        return Actor(Role.RECEPTION, user_id=self.reception, name="Rita Desk")


def local(day: date, hour: int, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    """A wall-clock time in the clinic's zone, as the aware UTC datetime the store keeps."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def count(store: LocalStore, model: Any, *where: Any) -> int:
    with store.reading() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def journal(store: LocalStore) -> list[JournalOp]:
    with store.reading() as session:
        return list(session.scalars(select(JournalOp).order_by(JournalOp.seq)))
