"""What every service needs: who is acting, the clinic, and lookups with readable errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.errors import NotFound
from desktop.domain.ids import human_code
from desktop.domain.roles import Role
from desktop.store.models import Clinic, DeviceState, Synced

M = TypeVar("M", bound=Synced)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action: a signed-in staff member, the kiosk, or the system itself."""

    role: Role
    user_id: str | None = None
    name: str = ""


SYSTEM = Actor(Role.SYSTEM, name="system")
KIOSK = Actor(Role.KIOSK, name="kiosk")

_NAMES = {
    "patient": "patient",
    "appointment": "appointment",
    "clinician": "staff member",
    "queue_token": "queue token",
    "consultation": "consultation",
    "prescription": "prescription",
    "waitlist_entry": "waiting-list entry",
    "availability": "availability rule",
    "sync_conflict": "conflict",
}


def get(session: Session, model: type[M], row_id: str | None) -> M:
    """The live (not tombstoned) row, or NotFound naming what was looked for."""
    row = session.get(model, row_id) if row_id else None
    if row is None or row.deleted:
        what = _NAMES.get(model.__entity__, model.__entity__)
        raise NotFound(f"No such {what}.", field=f"{model.__entity__}_id")
    return row


def unused_code(session: Session, model: type[M], prefix: str) -> str:
    """A human code (`APT-7K3Q9`) no row of `model` on this device has yet.

    Five random characters give ~33 million codes: a busy clinic draws a taken one now and then,
    so draw again rather than fail the booking. (Two devices drawing the same code offline is
    far rarer; the server refuses the second and keeps it in the conflict log.)
    """
    column = model.code  # type: ignore[attr-defined]
    while True:
        code = human_code(prefix)
        if session.scalar(select(column).where(column == code).limit(1)) is None:
            return code


def current_clinic(session: Session) -> Clinic:
    """The clinic this device belongs to (the only one, on a device)."""
    state = session.get(DeviceState, 1)
    # The identity map holds rows weakly: without this the device row is read again (a SELECT)
    # on every call, several times per unit of work. Sessions here last one transaction.
    session.info["device_state"] = state
    clinic = session.get(Clinic, state.clinic_id) if state and state.clinic_id else None
    if clinic is None:
        clinic = session.scalars(select(Clinic).where(Clinic.deleted.is_(False)).limit(1)).first()
    if clinic is None:
        raise NotFound("This device is not set up for a clinic yet. Run `clinic init`.")
    return clinic


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def local_day(clinic: Clinic, at: datetime) -> date:
    return at.astimezone(clinic_zone(clinic)).date()


def local_time_text(clinic: Clinic, at: datetime) -> str:
    """How staff read a time: `Mon 3 Mar 10:30` in the clinic's zone."""
    local = at.astimezone(clinic_zone(clinic))
    return f"{local:%a} {local.day} {local:%b %H:%M}"
