"""Setting a clinic up: the clinic itself, its staff, holidays."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from desktop.domain.errors import InvalidInput, NotAllowed
from desktop.domain.reasons import Reason
from desktop.domain.roles import Role, require
from desktop.domain.staff import check_clinic, check_clinician, hash_password
from desktop.services.common import Actor, current_clinic, get
from desktop.services.records import ClinicianRecord, ClinicRecord, record_of
from desktop.store.models import Clinic, Clinician, DeviceState
from desktop.store.uow import UnitOfWork

_ENROLLED = select(DeviceState.server_url.is_not(None)).where(DeviceState.id == 1)


def create_clinic(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    timezone: str,
    region: str = "IN",
    address: str = "",
    min_notice_minutes: int = 0,
) -> ClinicRecord:
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
    return record_of(ClinicRecord, clinic)


def set_holidays(uow: UnitOfWork, *, actor: Actor, holidays: list[date]) -> ClinicRecord:
    require(actor.role, "clinic.setup")
    clinic = get(uow.session, Clinic, current_clinic(uow.session).id)
    clinic.holidays = sorted({d.isoformat() for d in holidays})
    return record_of(ClinicRecord, clinic)


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
    password_hash: str | None = None,
) -> ClinicianRecord:
    """A staff member of a device set up on its own. On a server, staff accounts are the
    administrator's (server_stub/admin.py): an op that makes or changes one is refused.
    `password_hash`: one already hashed (the demo gives every account the same one)."""
    require(actor.role, "staff.manage")
    if uow.session.scalar(_ENROLLED):
        raise NotAllowed(Reason.of("staff.managed_on_server"), field="username")
    clinic = current_clinic(uow.session)
    name, username, role = check_clinician(name=name, username=username, role=role)
    taken = uow.session.scalar(select(Clinician.id).where(Clinician.username == username))
    if taken:
        raise InvalidInput(Reason.of("staff.username_taken", username=username), field="username")
    row = uow.add(
        Clinician(
            clinic_id=clinic.id,
            name=name,
            username=username,
            role=role.value,
            specialty=specialty,
            room=room,
            password_hash=hash_password(password) if password else password_hash,
            active=True,
        )
    )
    return record_of(ClinicianRecord, row)
