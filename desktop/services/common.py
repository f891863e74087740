"""What every service needs: who is acting, the clinic, and lookups with readable errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from types import MappingProxyType
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from desktop.domain.errors import NotFound
from desktop.domain.ids import human_code
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role
from desktop.store.models import Clinic, Clinician, DeviceState, Patient, Synced
from desktop.store.prepared import Prepared
from desktop.store.reference import cached

M = TypeVar("M", bound=Synced)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action: a signed-in staff member, the kiosk, or the system itself."""

    role: Role
    user_id: str | None = None
    name: str = ""


SYSTEM = Actor(Role.SYSTEM, name="system")
KIOSK = Actor(Role.KIOSK, name="kiosk")


def get(session: Session, model: type[M], row_id: str | None) -> M:
    """The live (not tombstoned) row, or NotFound naming what was looked for."""
    row = session.get(model, row_id) if row_id else None
    if row is None or row.deleted:
        raise _not_found(model)
    return row


@dataclass(frozen=True, slots=True)
class PatientBrief:
    """What a booking or a token needs of a patient: one row's columns, no ORM object."""

    id: str
    full_name: str
    birth_date: date
    phone: str | None
    email: str | None
    merged_into: str | None


# Built once, on table columns: a third of the cost of `session.get`, which builds its statement
# each time and loads an object. A table-column statement does not autoflush, hence the flush.
_p = Patient.__table__.c
_PATIENT_BRIEF = Prepared(
    select(_p.id, _p.full_name, _p.birth_date, _p.phone, _p.email, _p.merged_into).where(
        _p.id == bindparam("id"), _p.deleted.is_(False)
    )
)


def patient_brief(session: Session, patient_id: str | None) -> PatientBrief:
    """A live (not tombstoned) patient, or NotFound as `get` gives it."""
    session.flush()  # a patient added or changed in this unit of work is read as it is now
    row = _PATIENT_BRIEF.first(session, {"id": patient_id}) if patient_id else None
    if row is None:
        raise _not_found(Patient)
    return PatientBrief(*row)


def _not_found(model: type[Synced]) -> NotFound:
    return NotFound(Reason.of("not_found", entity=model.__entity__), field=f"{model.__entity__}_id")


def unused_code(session: Session, model: type[M], prefix: str) -> str:
    """A human code (`APT-7K3Q9`) no row of `model` on this device has yet.

    Five random characters give ~33 million codes: a busy clinic draws a taken one now and then,
    so draw again rather than fail the booking. (Two devices drawing the same code offline is
    far rarer; the server gives the later record a new code and logs it as a conflict.)
    """
    query = _code_taken(model)
    while True:
        code = human_code(prefix)
        if query.first(session, {"code": code}) is None:
            return code


@cache
def _code_taken(model: type[Synced]) -> Prepared:
    column = model.code  # type: ignore[attr-defined]
    return Prepared(select(column).where(column == bindparam("code")).limit(1))


# Reference data, read through the store's cache (desktop/store/reference.py): plain values, read
# again only after one of their rows changed.


@dataclass(frozen=True, slots=True)
class ClinicInfo:
    """The device's clinic: its settings as services read them."""

    id: str
    name: str
    timezone: str
    region: str
    min_notice_minutes: int
    holidays: tuple[str, ...]  # ISO dates


@dataclass(frozen=True, slots=True)
class ClinicianInfo:
    """A staff member (never their password hash)."""

    id: str
    clinic_id: str
    name: str
    role: str
    room: str
    active: bool


_CLINIC_COLUMNS = (
    Clinic.id,
    Clinic.name,
    Clinic.timezone,
    Clinic.region,
    Clinic.min_notice_minutes,
    Clinic.holidays,
)
_DEVICE_CLINIC = (
    select(*_CLINIC_COLUMNS).join(DeviceState, DeviceState.clinic_id == Clinic.id).where(DeviceState.id == 1)
)
_ANY_CLINIC = select(*_CLINIC_COLUMNS).where(Clinic.deleted.is_(False)).limit(1)
_LETTER = select(DeviceState.letter).where(DeviceState.id == 1)
_STAFF = select(
    Clinician.id, Clinician.clinic_id, Clinician.name, Clinician.role, Clinician.room, Clinician.active
).where(Clinician.deleted.is_(False))


def _load_clinic(session: Session) -> ClinicInfo | None:
    row = session.execute(_DEVICE_CLINIC).first() or session.execute(_ANY_CLINIC).first()
    if row is None:
        return None
    clinic_id, name, timezone, region, min_notice, holidays = row
    return ClinicInfo(clinic_id, name, timezone, region, min_notice, tuple(holidays or ()))


def current_clinic(session: Session) -> ClinicInfo:
    """The clinic this device belongs to (the only one, on a device)."""
    clinic = cached(session, _load_clinic)
    if clinic is None:
        raise NotFound(Reason.of("clinic.not_set_up"))
    return clinic


def _load_letter(session: Session) -> str:
    return session.scalar(_LETTER) or "A"


def device_letter(session: Session) -> str:
    """This device's letter, the first character of the queue tokens it issues."""
    return cached(session, _load_letter)


def _load_staff(session: Session) -> Mapping[str, ClinicianInfo]:
    return MappingProxyType({row.id: ClinicianInfo(*row) for row in session.execute(_STAFF)})


def clinician(session: Session, clinician_id: str | None) -> ClinicianInfo:
    """A live (not tombstoned) staff member, or NotFound as `get` gives it."""
    found = cached(session, _load_staff).get(clinician_id) if clinician_id else None
    if found is None:
        raise _not_found(Clinician)
    return found


def clinic_zone(clinic: ClinicInfo) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def local_day(clinic: ClinicInfo, at: datetime) -> date:
    return at.astimezone(clinic_zone(clinic)).date()


def local_time_text(clinic: ClinicInfo, at: datetime) -> str:
    """How staff read a time: `Mon 3 Mar 10:30` in the clinic's zone."""
    local = at.astimezone(clinic_zone(clinic))
    return f"{local:%a} {local.day} {local:%b %H:%M}"
