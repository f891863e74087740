"""Call signalling rooms (`WS /v1/calls/{appointment_id}`, design/CALLS.md): who may join a call,
and the two seats of each room.

A room is an appointment id with two seats: the appointment's doctor, signed in on a desk, and the
patient's device, a kiosk of the clinic. The appointment must be a telehealth one that is
accepted (confirmed, checked in or in consultation). Everyone else is refused the same way whether
or not the appointment exists, so a third party learns nothing about calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select

from desktop.domain.appointments import AppointmentStatus, AppointmentType
from desktop.store.models import Appointment
from server_stub.access import Caller

CALLABLE_STATUSES = frozenset(
    {AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CONSULTATION}
)
DOCTOR, PATIENT = "doctor", "patient"

_a = Appointment.__table__.c
_APPOINTMENT = select(_a.clinic_id, _a.clinician_id, _a.kind, _a.status, _a.deleted).where(
    _a.id == bindparam("b_id")
)


def role_in_call(conn: Connection, caller: Caller, appointment_id: str) -> str | None:
    """`doctor` or `patient` when the caller may join this appointment's call, else None."""
    row = conn.execute(_APPOINTMENT, {"b_id": appointment_id}).first()
    if (
        row is None
        or row.deleted
        or row.clinic_id != caller.clinic_id
        or row.kind != AppointmentType.TELEHEALTH
        or row.status not in CALLABLE_STATUSES
    ):
        return None
    if caller.kind == "desk" and caller.user_id is not None and caller.user_id == row.clinician_id:
        return DOCTOR
    if caller.kind == "kiosk" and caller.user_id is None:
        return PATIENT
    return None


class Peer(Protocol):
    """One side's socket, as the room needs it."""

    async def send_json(self, data: Any) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass
class Seat:
    peer: Peer
    media_up: bool  # the side still has live media from before (it reconnected its socket only)


@dataclass
class Room:
    seats: dict[str, Seat] = field(default_factory=dict)


OTHER = {DOCTOR: PATIENT, PATIENT: DOCTOR}
REPLACED = 4409  # a newer connection took this seat (the same side reconnected)


class CallRooms:
    """The rooms of this server process. Every change happens on the event loop, under one lock."""

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()

    async def join(self, appointment_id: str, role: str, peer: Peer, *, media_up: bool) -> None:
        async with self._lock:
            room = self._rooms.setdefault(appointment_id, Room())
            old = room.seats.get(role)
            room.seats[role] = Seat(peer, media_up)
            other = room.seats.get(OTHER[role])
        if old is not None:
            await _quietly(old.peer.close(REPLACED, "replaced by a newer connection"))
        await peer.send_json(
            {
                "type": "joined",
                "role": role,
                "peer_present": other is not None,
                "peer_media_up": bool(other and other.media_up),
            }
        )
        if other is None:
            await peer.send_json({"type": "waiting"})
        else:
            await _quietly(other.peer.send_json({"type": "peer_joined", "peer_media_up": media_up}))

    async def leave(self, appointment_id: str, role: str, peer: Peer) -> None:
        async with self._lock:
            room = self._rooms.get(appointment_id)
            if room is None or (seat := room.seats.get(role)) is None or seat.peer is not peer:
                return  # replaced meanwhile: the newer connection holds the seat
            del room.seats[role]
            other = room.seats.get(OTHER[role])
            if not room.seats:
                del self._rooms[appointment_id]
        if other is not None:
            await _quietly(other.peer.send_json({"type": "peer_left"}))

    async def relay(self, appointment_id: str, role: str, message: dict[str, Any]) -> bool:
        """Hand `message` to the other side; False when no one is there to receive it."""
        room = self._rooms.get(appointment_id)
        other = room.seats.get(OTHER[role]) if room else None
        if other is None:
            return False
        return await _quietly(other.peer.send_json(message))

    def occupied(self) -> int:
        return len(self._rooms)


async def _quietly(awaitable: Any) -> bool:
    """A send or close to a socket that may have gone meanwhile: that side's own handler cleans up."""
    try:
        await awaitable
    except (RuntimeError, OSError, ConnectionError):
        return False
    return True
