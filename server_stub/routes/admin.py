"""`/v1/admin/clinicians`: staff accounts, changed only by an administrator of the clinic.

A clinician's session token of role admin, on a desk. Devices never create or change staff
accounts, roles or passwords by a pushed op (server_stub/authorise.py); they receive them by pull.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from desktop.domain.roles import require
from desktop.sync.protocol import ID_PATTERN, ClinicianChanges, ErrorBody, NewClinician, StaffMember
from server_stub import access, admin
from server_stub.deps import State, WriteConn, WritingCaller
from server_stub.errors import ApiError

router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 404, 422, 426)}


def _acting_admin(caller: access.Caller, conn: WriteConn, state: State) -> admin.Admin:
    if caller.user_id is None or caller.role is None:
        raise ApiError(403, "Sign in as an administrator to manage staff accounts.")
    if caller.kind != "desk":
        raise ApiError(403, f"Staff accounts are managed on a desk, not on a {caller.kind}.")
    require(caller.role, "staff.manage")
    return admin.Admin(conn, state.now(), state.clock)


@router.post("/clinicians", response_model=StaffMember, status_code=201, responses=ERRORS)
def add_clinician(body: NewClinician, caller: WritingCaller, conn: WriteConn, state: State) -> StaffMember:
    """A new staff account of the administrator's clinic; devices receive it on their next pull."""
    boss = _acting_admin(caller, conn, state)
    user_id = admin.add_user(boss, clinic_id=caller.clinic_id, **body.model_dump())
    return StaffMember(**admin.staff_member(boss, user_id=user_id))


@router.patch("/clinicians/{user_id}", response_model=StaffMember, responses=ERRORS)
def change_clinician(
    user_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: ClinicianChanges,
    caller: WritingCaller,
    conn: WriteConn,
    state: State,
) -> StaffMember:
    """Change a staff member's name, role, active flag, password, specialty or room. A new role, a
    deactivation or a new password ends their sessions; the last active admin stays one."""
    boss = _acting_admin(caller, conn, state)
    admin.update_user(
        boss, clinic_id=caller.clinic_id, user_id=user_id, **body.model_dump(exclude_unset=True)
    )
    return StaffMember(**admin.staff_member(boss, user_id=user_id))
