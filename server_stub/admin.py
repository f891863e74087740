"""The server administrator's use cases: clinics, staff, enrolment codes, devices.

Used by `clinic server ...` (server_stub/cli.py), the admin routes (`/v1/admin/...`, an admin
clinician's session) and the tests. Staff accounts, their roles and passwords change only here,
never by a device's pushed op (docs/server.md, "Security model"); devices receive them by pull.
Each function works inside the caller's transaction; synced rows are written through `RowWriter`,
so devices pull them. Input is checked with the same rules as the desktop's set-up
(desktop.domain.staff): errors are typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import InvalidInput, NotAllowed, NotFound
from desktop.domain.ids import new_id
from desktop.domain.staff import check_clinic, check_clinician, hash_password
from desktop.store.models import Clinic, Clinician
from server_stub import access
from server_stub.models import Device, UserSession
from server_stub.rows import RowWriter

DEVICE_KINDS = ("kiosk", "desk", "board")
MAX_CODE_TTL_HOURS = 30 * 24


@dataclass(frozen=True)
class Admin:
    """What every admin action needs: the transaction, the time, and a clock for the rows it writes."""

    conn: Connection
    now: datetime
    clock: HybridLogicalClock

    def writer(self, clinic_id: str) -> RowWriter:
        return RowWriter(self.conn, clinic_id=clinic_id, clock=self.clock, now=self.now)


def create_clinic(admin: Admin, *, name: str, timezone: str, region: str, address: str = "") -> str:
    name, region = check_clinic(name=name, timezone=timezone, region=region)
    clinic_id = new_id()
    row = {
        "id": clinic_id,
        "name": name,
        "timezone": timezone,
        "region": region,
        "address": " ".join(address.split()),
        "phone": None,
        "min_notice_minutes": 0,
        "holidays": [],
    }
    admin.writer(clinic_id).insert(Clinic, row, device_id=None, hlc=admin.clock.now())
    return clinic_id


def clinic_or_only(admin: Admin, clinic_id: str | None) -> str:
    """The clinic named, or the server's only clinic when none is named."""
    table = Clinic.__table__
    if clinic_id:
        found = admin.conn.scalar(
            select(table.c.id).where(table.c.id == clinic_id, table.c.deleted.is_(False))
        )
        if found is None:
            raise NotFound(f"There is no clinic {clinic_id} on this server.", field="clinic")
        return str(found)
    ids = list(admin.conn.scalars(select(table.c.id).where(table.c.deleted.is_(False)).limit(2)))
    if not ids:
        raise NotFound(
            "This server has no clinic yet: run `clinic server create-clinic` first.", field="clinic"
        )
    if len(ids) > 1:
        raise InvalidInput("This server has several clinics: say which one with --clinic ID.", field="clinic")
    return str(ids[0])


def add_user(
    admin: Admin,
    *,
    clinic_id: str | None,
    username: str,
    name: str,
    role: str,
    password: str,
    specialty: str = "",
    room: str = "",
) -> str:
    """A clinician who can sign in on the clinic's desks (and offline, once a desk has synced)."""
    clinic_id = clinic_or_only(admin, clinic_id)
    name, username, staff_role = check_clinician(name=name, username=username, role=role)
    table = Clinician.__table__
    if admin.conn.scalar(select(table.c.id).where(table.c.username == username)):
        raise InvalidInput(f"The username '{username}' is taken.", field="username")
    user_id = new_id()
    row = {
        "id": user_id,
        "clinic_id": clinic_id,
        "name": name,
        "username": username,
        "role": staff_role.value,
        "specialty": specialty.strip(),
        "room": room.strip(),
        "password_hash": hash_password(password),
        "active": True,
    }
    admin.writer(clinic_id).insert(Clinician, row, device_id=None, hlc=admin.clock.now())
    return user_id


def user_named(admin: Admin, *, clinic_id: str | None, username: str) -> tuple[str, str]:
    """(clinic id, user id) of the staff member with this username, in the clinic named (or the
    server's only clinic)."""
    clinic_id = clinic_or_only(admin, clinic_id)
    table = Clinician.__table__
    user_id = admin.conn.scalar(
        select(table.c.id).where(
            table.c.clinic_id == clinic_id,
            table.c.username == username.strip().lower(),
            table.c.deleted.is_(False),
        )
    )
    if user_id is None:
        raise NotFound(f"No staff member '{username}' in this clinic.", field="username")
    return clinic_id, str(user_id)


def update_user(
    admin: Admin,
    *,
    clinic_id: str,
    user_id: str,
    name: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    specialty: str | None = None,
    room: str | None = None,
) -> None:
    """Change a staff member of `clinic_id`: what is given, checked as `add_user` checks it. A new
    role, a deactivation or a new password ends the member's sessions (they sign in again, as what
    they are now). The clinic's last active administrator stays one."""
    table = Clinician.__table__
    current = (
        admin.conn.execute(
            select(table).where(
                table.c.id == user_id, table.c.clinic_id == clinic_id, table.c.deleted.is_(False)
            )
        )
        .mappings()
        .first()
    )
    if current is None:
        raise NotFound("No such staff member in this clinic.", field="user_id")
    checked_name, _, checked_role = check_clinician(
        name=current["name"] if name is None else name,
        username=current["username"],
        role=current["role"] if role is None else role,
    )
    wanted = {
        "name": checked_name,
        "role": checked_role.value,
        "active": current["active"] if active is None else active,
        "specialty": current["specialty"] if specialty is None else specialty.strip(),
        "room": current["room"] if room is None else room.strip(),
    }
    changes = {key: value for key, value in wanted.items() if value != current[key]}
    if password is not None:
        changes["password_hash"] = hash_password(password)
    if not changes:
        return
    stays_admin = wanted["role"] == "admin" and wanted["active"]
    if current["role"] == "admin" and current["active"] and not stays_admin:
        others = admin.conn.scalar(
            select(func.count()).where(
                table.c.clinic_id == clinic_id,
                table.c.role == "admin",
                table.c.active.is_(True),
                table.c.deleted.is_(False),
                table.c.id != user_id,
            )
        )
        if not others:
            raise NotAllowed("The clinic's last active administrator must stay one.", field="role")
    admin.writer(clinic_id).update(Clinician, current, changes, device_id=None, hlc=admin.clock.now())
    if changes.keys() & {"role", "active", "password_hash"}:
        admin.conn.execute(delete(UserSession).where(UserSession.user_id == user_id))


def staff_member(admin: Admin, *, user_id: str) -> dict[str, Any]:
    """A staff account's public fields (never its password hash)."""
    table = Clinician.__table__
    fields = ("id", "clinic_id", "username", "name", "role", "specialty", "room", "active", "version")
    row = (
        admin.conn.execute(select(*(table.c[f] for f in fields)).where(table.c.id == user_id))
        .mappings()
        .one()
    )
    return dict(row)


def enrolment_code(admin: Admin, *, kind: str, clinic_id: str | None = None, ttl_hours: float = 24) -> str:
    """A one-time code that enrols one device of `kind` until it expires."""
    if kind not in DEVICE_KINDS:
        raise InvalidInput("A device is a kiosk, a desk or a board.", field="kind")
    if not 0 < ttl_hours <= MAX_CODE_TTL_HOURS:
        raise InvalidInput(
            f"A code must live more than 0 and at most {MAX_CODE_TTL_HOURS} hours.", field="ttl_hours"
        )
    clinic_id = clinic_or_only(admin, clinic_id)
    expires_at = admin.now + timedelta(hours=ttl_hours)
    return access.issue_code(admin.conn, clinic_id=clinic_id, kind=kind, expires_at=expires_at)


def revoke_device(admin: Admin, *, device_id: str) -> None:
    """The device's token and its clinicians' sessions stop working at once."""
    if not access.revoke(admin.conn, device_id):
        raise NotFound(f"There is no device {device_id} on this server.", field="device")


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    clinic_id: str
    name: str
    kind: str
    letter: str
    enrolled_at: datetime
    last_seen_at: datetime | None
    revoked: bool


def list_devices(admin: Admin, *, clinic_id: str | None = None) -> list[DeviceInfo]:
    query = select(Device).order_by(Device.clinic_id, Device.letter)
    if clinic_id:
        query = query.where(Device.clinic_id == clinic_id)
    return [
        DeviceInfo(
            r.id, r.clinic_id, r.name, r.kind, r.letter, r.enrolled_at, r.last_seen_at, bool(r.revoked)
        )
        for r in admin.conn.execute(query)
    ]
