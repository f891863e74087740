"""Setting a clinic up: the clinic itself, its staff, holidays."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from desktop.domain.errors import InvalidInput, NotAllowed
from desktop.domain.roles import Role, require
from desktop.services.common import Actor, current_clinic, get
from desktop.store.models import Clinic, Clinician, DeviceState
from desktop.store.uow import UnitOfWork

STAFF_ROLES = (Role.DOCTOR, Role.NURSE, Role.RECEPTION, Role.ADMIN)
_ENROLLED = select(DeviceState.server_url.is_not(None)).where(DeviceState.id == 1)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("Passwords need at least 8 characters.", field="password")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_clinic(*, name: str, timezone: str, region: str, min_notice_minutes: int = 0) -> tuple[str, str]:
    """A clinic's settings as stored (name with spaces folded, region upper-case), or InvalidInput."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("The clinic needs a name.", field="name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone '{timezone}'.", field="timezone") from None
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"Unknown country code '{region}'.", field="region")
    if not 0 <= min_notice_minutes <= 7 * 24 * 60:
        raise InvalidInput("Minimum notice must be between 0 and 7 days.", field="min_notice_minutes")
    return name, region


def check_clinician(*, name: str, username: str, role: str) -> tuple[str, str, Role]:
    """A staff member's name, username (lower-case) and role as stored, or InvalidInput."""
    name = " ".join(name.split())
    username = username.strip().lower()
    if not name:
        raise InvalidInput("Enter the staff member's name.", field="name")
    if not username or not username.replace(".", "").replace("_", "").isalnum():
        raise InvalidInput("Usernames use letters, digits, dots and underscores.", field="username")
    if role not in {r.value for r in STAFF_ROLES}:
        raise InvalidInput(f"Unknown staff role '{role}'.", field="role")
    return name, username, Role(role)


def create_clinic(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    timezone: str,
    region: str = "IN",
    address: str = "",
    min_notice_minutes: int = 0,
) -> Clinic:
    """Create the clinic and make it this device's clinic (a device's own set-up, before it joins a
    server: a server's clinics are made by its administrator)."""
    require(actor.role, "clinic.create")
    name, region = check_clinic(
        name=name, timezone=timezone, region=region, min_notice_minutes=min_notice_minutes
    )
    clinic = uow.add(
        Clinic(
            name=name,
            timezone=timezone,
            region=region,
            address=address,
            min_notice_minutes=min_notice_minutes,
            holidays=[],
        )
    )
    state = uow.session.get(DeviceState, 1)
    if state is not None:
        state.clinic_id = clinic.id
    return clinic


def set_holidays(uow: UnitOfWork, *, actor: Actor, holidays: list[date]) -> Clinic:
    require(actor.role, "clinic.setup")
    clinic = get(uow.session, Clinic, current_clinic(uow.session).id)
    clinic.holidays = sorted({d.isoformat() for d in holidays})
    return clinic


def add_clinician(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    username: str,
    role: Role,
    specialty: str = "",
    room: str = "",
    password: str | None = None,
) -> Clinician:
    """A staff member of a device set up on its own. On a server, staff accounts are the
    administrator's (server_stub/admin.py): an op that makes or changes one is refused."""
    require(actor.role, "staff.manage")
    if uow.session.scalar(_ENROLLED):
        raise NotAllowed(
            "Staff accounts are managed on the clinic's server: ask its administrator.", field="username"
        )
    clinic = current_clinic(uow.session)
    name, username, role = check_clinician(name=name, username=username, role=role)
    taken = uow.session.scalar(select(Clinician.id).where(Clinician.username == username))
    if taken:
        raise InvalidInput(f"The username '{username}' is taken.", field="username")
    return uow.add(
        Clinician(
            clinic_id=clinic.id,
            name=name,
            username=username,
            role=role.value,
            specialty=specialty,
            room=room,
            password_hash=hash_password(password) if password else None,
            active=True,
        )
    )
