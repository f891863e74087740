"""What every service needs: who is acting, the clinic, and lookups with readable errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select
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
    query = _code_taken(model)
    while True:
        code = human_code(prefix)
        if session.scalar(query, {"code": code}) is None:
            return code


@cache
def _code_taken(model: type[Synced]) -> Select[tuple[str]]:
    column = model.code  # type: ignore[attr-defined]
    return select(column).where(column == bindparam("code")).limit(1)


# Built once: a statement used again skips SQLAlchemy's construction and cache-key work (~130 µs
# of a small query here). Every unit of work needs the clinic, most of them several times.
_DEVICE_AND_CLINIC = (
    select(DeviceState, Clinic)
    .outerjoin(Clinic, Clinic.id == DeviceState.clinic_id)
    .where(DeviceState.id == 1)
)
_ANY_CLINIC = select(Clinic).where(Clinic.deleted.is_(False)).limit(1)
_CLINIC_KEY = "clinic"  # session.info; sessions here last one transaction


def current_clinic(session: Session) -> Clinic:
    """The clinic this device belongs to (the only one, on a device); read once per session."""
    clinic: Clinic | None = session.info.get(_CLINIC_KEY)
    if clinic is not None:
        return clinic
    row = session.execute(_DEVICE_AND_CLINIC).first()
    state, clinic = row if row is not None else (None, None)
    # The identity map holds rows weakly: kept here, `session.get(DeviceState, 1)` costs no SELECT.
    session.info["device_state"] = state
    if clinic is None:
        clinic = session.scalars(_ANY_CLINIC).first()
    if clinic is None:
        raise NotFound("This device is not set up for a clinic yet. Run `clinic init`.")
    session.info[_CLINIC_KEY] = clinic
    return clinic


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def local_day(clinic: Clinic, at: datetime) -> date:
    return at.astimezone(clinic_zone(clinic)).date()


def local_time_text(clinic: Clinic, at: datetime) -> str:
    """How staff read a time: `Mon 3 Mar 10:30` in the clinic's zone."""
    local = at.astimezone(clinic_zone(clinic))
    return f"{local:%a} {local.day} {local:%b %H:%M}"
