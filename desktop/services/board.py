"""What the waiting-room board shows: tokens being called and the next few per room.

Token codes and rooms only: a board is a public screen, so nothing here carries a patient's name,
age or anything else about them. Plain frozen data, safe to hand to the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.domain.queue import TokenStatus
from desktop.services import queue
from desktop.services.common import clinician, current_clinic, local_day
from desktop.store.models import QueueToken

CALLING = 4  # tokens shown as "being called"
NEXT_PER_ROOM = 3
ANY_ROOM = ""  # the room of tokens waiting for whichever doctor is free first


@dataclass(frozen=True, slots=True)
class CalledToken:
    token_id: str
    code: str
    room: str
    called_at: datetime  # a recall moves it: each (token_id, called_at) is announced once


@dataclass(frozen=True, slots=True)
class RoomQueue:
    room: str  # ANY_ROOM for tokens that any doctor may call
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BoardView:
    clinic_name: str
    timezone: str
    called: tuple[CalledToken, ...]  # the newest call first
    upcoming: tuple[RoomQueue, ...]  # rooms in order, then ANY_ROOM


def board_view(
    session: Session, *, now: datetime, calling: int = CALLING, next_per_room: int = NEXT_PER_ROOM
) -> BoardView:
    clinic = current_clinic(session)
    called = session.scalars(
        select(QueueToken)
        .where(
            QueueToken.clinic_id == clinic.id,
            QueueToken.day == local_day(clinic, now),
            QueueToken.status == TokenStatus.CALLED.value,
            QueueToken.deleted.is_(False),
        )
        .order_by(QueueToken.called_at.desc())
        .limit(calling)
    )
    rooms: dict[str, list[str]] = {}
    for position in queue.view(session, now=now):
        token = position.token
        room = token.room or (clinician(session, token.clinician_id).room if token.clinician_id else ANY_ROOM)
        codes = rooms.setdefault(room, [])
        if len(codes) < next_per_room:
            codes.append(token.code)
    order = sorted(rooms, key=lambda room: (room == ANY_ROOM, _natural(room)))
    return BoardView(
        clinic_name=clinic.name,
        timezone=clinic.timezone,
        called=tuple(
            CalledToken(t.id, t.code, t.room, t.called_at) for t in called if t.called_at is not None
        ),
        upcoming=tuple(RoomQueue(room, tuple(rooms[room])) for room in order),
    )


def _natural(room: str) -> tuple[str, int, str]:
    """ "Room 2" before "Room 10"."""
    head = room.rstrip("0123456789")
    tail = room[len(head) :]
    return (head, int(tail) if tail else -1, room)
