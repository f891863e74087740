"""A clinic's set-up rules shared by the device and the server: clinic settings, staff, passwords."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from desktop.domain.errors import InvalidInput
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role

STAFF_ROLES = (Role.DOCTOR, Role.NURSE, Role.RECEPTION, Role.ADMIN)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput(Reason.of("staff.short_password"), field="password")
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
        raise InvalidInput(Reason.of("clinic.name_missing"), field="name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(Reason.of("clinic.unknown_zone", zone=timezone), field="timezone") from None
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(Reason.of("clinic.unknown_region", region=region), field="region")
    if not 0 <= min_notice_minutes <= 7 * 24 * 60:
        raise InvalidInput(Reason.of("clinic.bad_notice"), field="min_notice_minutes")
    return name, region


def check_clinician(*, name: str, username: str, role: str) -> tuple[str, str, Role]:
    """A staff member's name, username (lower-case) and role as stored, or InvalidInput."""
    name = " ".join(name.split())
    username = username.strip().lower()
    if not name:
        raise InvalidInput(Reason.of("staff.name_missing"), field="name")
    if not username or not username.replace(".", "").replace("_", "").isalnum():
        raise InvalidInput(Reason.of("staff.bad_username"), field="username")
    if role not in {r.value for r in STAFF_ROLES}:
        raise InvalidInput(Reason.of("staff.unknown_role", role=role), field="role")
    return name, username, Role(role)
