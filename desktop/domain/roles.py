"""Who may do what: the one permission table, used by the device's services and by the server.

`PERMISSIONS` says which roles hold each permission (`entity.action`). Services check it with
`require` before they act; the server checks every pushed op with `op_permission`, which names
the permission an op needs from what it does to its row (never from the label a device gave
it), and `may`.

Kiosk sessions act as `kiosk`; the device's own bookkeeping and local set-up tools act as
`system`. On the wire an op's actor is a clinician's id, `kiosk` or `system` (`wire_actor`).
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from desktop.domain.appointments import AppointmentStatus, AppointmentType
from desktop.domain.errors import NotAllowed
from desktop.domain.queue import TokenStatus


class Role(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    RECEPTION = "reception"
    ADMIN = "admin"
    KIOSK = "kiosk"
    BOARD = "board"
    SYSTEM = "system"


_STAFF = frozenset({Role.DOCTOR, Role.NURSE, Role.RECEPTION, Role.ADMIN, Role.SYSTEM})
# Clinical records are written by a named clinician, never by a device on its own (`system`).
_CLINICAL = frozenset({Role.DOCTOR, Role.NURSE})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "patient.register": _STAFF | {Role.KIOSK},
    "patient.edit": _STAFF,
    "patient.read_history": _CLINICAL | {Role.ADMIN},
    "patient.merge": frozenset({Role.DOCTOR, Role.ADMIN, Role.SYSTEM}),
    "appointment.book": _STAFF | {Role.KIOSK},
    "appointment.decide": _STAFF,  # accept / reject requests
    "appointment.check_in": _STAFF | {Role.KIOSK},
    "appointment.manage": _STAFF,  # cancel, reschedule, no-show, recurring
    "availability.edit": frozenset({Role.DOCTOR, Role.ADMIN, Role.SYSTEM}),
    "queue.issue": _STAFF | {Role.KIOSK},
    "queue.call": _STAFF,
    "consultation.write": _CLINICAL,
    "prescription.write": frozenset({Role.DOCTOR}),
    "chat.write": _CLINICAL | {Role.KIOSK},
    "audit.record": _STAFF | {Role.KIOSK},  # every action that may be taken leaves its trace
    "conflict.resolve": frozenset({Role.DOCTOR, Role.NURSE, Role.ADMIN, Role.SYSTEM}),
    # The clinic's settings (holidays, notice...), changed on a desk and synced: an admin's.
    "clinic.setup": frozenset({Role.ADMIN}),
    # A device's own set-up before it joins a server (`clinic init`, `clinic demo-data`): the
    # clinic and its staff. Never by a pushed op: on a server, clinics and staff accounts are the
    # server administrator's (server_stub/admin.py, `/v1/admin/...`).
    "clinic.create": frozenset({Role.ADMIN, Role.SYSTEM}),
    "staff.manage": frozenset({Role.ADMIN, Role.SYSTEM}),
}

# Which permission an appointment's new status needs (booking.transition and the server alike).
STATUS_PERMISSION: dict[AppointmentStatus, str] = {
    AppointmentStatus.CONFIRMED: "appointment.decide",
    AppointmentStatus.REJECTED: "appointment.decide",
    AppointmentStatus.CHECKED_IN: "appointment.check_in",
    AppointmentStatus.IN_CONSULTATION: "consultation.write",
    AppointmentStatus.COMPLETED: "consultation.write",
    AppointmentStatus.CANCELLED: "appointment.manage",
    AppointmentStatus.NO_SHOW: "appointment.manage",
    AppointmentStatus.RESCHEDULED: "appointment.manage",
}
# What a patient books for themselves at the kiosk (no requests, emergencies or follow-ups).
KIOSK_BOOKS = frozenset({AppointmentType.KIOSK, AppointmentType.WALK_IN})
# A waiting patient may give their token back at the kiosk; calling patients is staff's.
_TOKEN_STATUS_PERMISSION = {TokenStatus.CANCELLED.value: "queue.issue"}

# What a pushed op needs, per entity: (create, any other change). None: never by an op.
_OP_PERMISSIONS: dict[str, tuple[str | None, str | None]] = {
    "clinic": (None, "clinic.setup"),
    "clinician": (None, None),  # credentials and roles are the server's (see docs/server.md)
    "availability": ("availability.edit", "availability.edit"),
    "patient": ("patient.register", "patient.edit"),
    "appointment": ("appointment.book", "appointment.manage"),
    "waitlist_entry": ("appointment.book", "appointment.book"),
    "queue_token": ("queue.issue", "queue.call"),
    "consultation": ("consultation.write", "consultation.write"),
    "chat_message": ("chat.write", None),
    "prescription": ("prescription.write", "prescription.write"),
    "reminder": ("appointment.book", "appointment.manage"),
    "audit_event": ("audit.record", None),
    "sync_conflict": (None, "conflict.resolve"),
}
_REPOINTING = frozenset({"patient_id"})  # a merge moves a patient's records to the survivor

_DESCRIPTIONS = {
    "patient.read_history": "see a patient's history",
    "prescription.write": "write prescriptions",
    "consultation.write": "write consultation notes",
    "clinic.setup": "change the clinic's settings",
    "clinic.create": "set a clinic up",
    "staff.manage": "manage staff accounts",
}


def may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]  # a Role is its name: "doctor" in {Role.DOCTOR}


def describe(permission: str) -> str:
    """What a permission lets one do, as staff read it: `write prescriptions`."""
    return _DESCRIPTIONS.get(permission, permission.replace(".", ": ").replace("_", " "))


def require(role: str, permission: str) -> None:
    if Role(role) not in PERMISSIONS[permission]:
        raise NotAllowed(f"Your role ({role}) may not {describe(permission)}.")


def op_permission(
    entity: str,
    *,
    creating: bool,
    fields: Collection[str],
    status: str | None = None,
    initial_status: str | None = None,
) -> list[str] | None:
    """The permissions a pushed op needs, from what it does: creates a row of `entity`, or changes
    `fields` of one (`status`: the status it sets, if any; `initial_status`: for a created
    appointment, the status its kind starts in). None: no one may do this by an op."""
    create, change = _OP_PERMISSIONS[entity]
    if creating:
        if create is None:
            return None
        needed = [create]
        if entity == "appointment" and status is not None and status != initial_status:
            needed += _status_permission(status)
        return needed
    if change is None:
        return None
    if fields and set(fields) <= _REPOINTING and entity != "patient":
        return ["patient.merge"]
    if entity == "patient" and "merged_into" in fields:
        return ["patient.merge"]
    if entity == "appointment" and "status" in fields and status is not None:
        extra = set(fields) - {"status", "status_note"}
        return _status_permission(status) + (["appointment.manage"] if extra else [])
    if entity == "queue_token" and status in _TOKEN_STATUS_PERMISSION and set(fields) <= {"status"}:
        return [_TOKEN_STATUS_PERMISSION[status]]
    return [change]


def _status_permission(status: str) -> list[str]:
    try:
        return [STATUS_PERMISSION.get(AppointmentStatus(status), "appointment.manage")]
    except ValueError:
        return ["appointment.manage"]  # an unknown status is refused by validation


# -- actors on the wire -----------------------------------------------------------------------

KIOSK_ACTOR = Role.KIOSK.value
SYSTEM_ACTOR = Role.SYSTEM.value
ACTOR_PATTERN = r"^(kiosk|system|[0-9a-fA-F-]{32,36})$"


def wire_actor(role: str, user_id: str | None) -> str:
    """Who an op says made it: the signed-in clinician's id, `kiosk`, or `system`."""
    if user_id:
        return user_id
    return KIOSK_ACTOR if role == Role.KIOSK else SYSTEM_ACTOR
