"""Who may do what. Kiosk sessions act as `kiosk`; the server and CLI tools act as `system`."""

from __future__ import annotations

from enum import StrEnum

from desktop.domain.errors import NotAllowed


class Role(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    RECEPTION = "reception"
    ADMIN = "admin"
    KIOSK = "kiosk"
    BOARD = "board"
    SYSTEM = "system"


_STAFF = frozenset({Role.DOCTOR, Role.NURSE, Role.RECEPTION, Role.ADMIN, Role.SYSTEM})
_CLINICAL = frozenset({Role.DOCTOR, Role.NURSE, Role.SYSTEM})

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
    "prescription.write": frozenset({Role.DOCTOR, Role.SYSTEM}),
    "chat.write": _CLINICAL | {Role.KIOSK},
    "conflict.resolve": frozenset({Role.DOCTOR, Role.NURSE, Role.ADMIN, Role.SYSTEM}),
    "clinic.setup": frozenset({Role.ADMIN, Role.SYSTEM}),
}

_DESCRIPTIONS = {
    "patient.read_history": "see a patient's history",
    "prescription.write": "write prescriptions",
    "consultation.write": "write consultation notes",
}


def require(role: str, permission: str) -> None:
    if Role(role) not in PERMISSIONS[permission]:
        what = _DESCRIPTIONS.get(permission, permission.replace(".", ": ").replace("_", " "))
        raise NotAllowed(f"Your role ({role}) may not {what}.")
