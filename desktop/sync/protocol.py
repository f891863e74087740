"""The wire format of sync v1 (docs/sync.md), defined once and used by the device and the server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from desktop.domain.roles import ACTOR_PATTERN

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = frozenset({1})
PROTOCOL_HEADER = "X-Clinic-Protocol"
MAX_OPS_PER_PUSH = 1000
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 1000
CLOCK_SKEW_WARNING_MS = 5 * 60 * 1000

ID_PATTERN = r"^[0-9a-fA-F-]{32,36}$"
HLC_PATTERN = r"^\d{13}-\d{4}-[0-9a-fA-F-]{1,36}$"

Entity = Literal[
    "clinic",
    "clinician",
    "availability",
    "patient",
    "appointment",
    "waitlist_entry",
    "queue_token",
    "consultation",
    "chat_message",
    "prescription",
    "reminder",
    "audit_event",
    "sync_conflict",
]
DeviceKind = Literal["kiosk", "desk", "board"]
# What a device kind never receives (SYNC.md: a kiosk gets no chat, prescriptions or histories), nor
# keeps: a data dir that holds such rows is not enrolled as that kind (desktop/sync/cli.py).
HIDDEN: dict[str, frozenset[str]] = {
    "desk": frozenset(),
    "kiosk": frozenset({"chat_message", "prescription", "consultation", "audit_event", "sync_conflict"}),
    "board": frozenset(get_args(Entity)) - {"clinic", "clinician", "queue_token"},
}
# Fields only desks receive: clinicians' password hashes, for offline sign-in.
DESK_ONLY_FIELDS = {"clinician": frozenset({"password_hash"})}
OpStatus = Literal["applied", "merged", "conflict", "rejected"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Op(Strict):
    """One journaled change (SYNC.md: the journal)."""

    op_id: str = Field(pattern=ID_PATTERN)
    entity: Entity
    entity_id: str = Field(pattern=ID_PATTERN)
    action: str = Field(min_length=1, max_length=30)
    base_version: int = Field(ge=0)
    data: dict[str, Any]
    hlc: str = Field(pattern=HLC_PATTERN)
    # Who made it: the signed-in clinician's id, `kiosk` or `system`; the server checks its role.
    actor: str = Field(pattern=ACTOR_PATTERN)


class PushRequest(Strict):
    device_id: str = Field(pattern=ID_PATTERN)
    ops: list[Op] = Field(max_length=MAX_OPS_PER_PUSH)


class OpResult(Strict):
    op_id: str
    status: OpStatus
    version: int | None = None
    conflict_id: str | None = None
    error: str | None = None
    field: str | None = None
    duplicate: bool = False  # answered from the stored result of an earlier delivery


class PushResponse(Strict):
    results: list[OpResult]
    server_time: datetime


class Change(Strict):
    seq: int
    entity: Entity
    id: str
    version: int
    hlc: str
    deleted: bool
    data: dict[str, Any]


class PullResponse(Strict):
    changes: list[Change]
    next: int
    more: bool


class EnrollRequest(Strict):
    code: str = Field(min_length=4, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    kind: DeviceKind


class EnrollResponse(Strict):
    device_id: str
    token: str
    clinic_id: str
    letter: str


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class LoginResponse(Strict):
    user_id: str
    role: str
    token: str
    expires_at: datetime


StaffRole = Literal["doctor", "nurse", "reception", "admin"]


class NewClinician(Strict):
    """`POST /v1/admin/clinicians`: a staff account of the admin's clinic."""

    username: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=120)
    role: StaffRole
    password: str = Field(min_length=8, max_length=200)
    specialty: str = Field(default="", max_length=60)
    room: str = Field(default="", max_length=30)


class ClinicianChanges(Strict):
    """`PATCH /v1/admin/clinicians/{id}`: only what is given changes."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    role: StaffRole | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    specialty: str | None = Field(default=None, max_length=60)
    room: str | None = Field(default=None, max_length=30)


class StaffMember(Strict):
    """A staff account as the admin routes answer it (never its password hash)."""

    id: str
    clinic_id: str
    username: str
    name: str
    role: StaffRole
    specialty: str
    room: str
    active: bool
    version: int


class ResolveRequest(Strict):
    choice: Literal["keep_server", "keep_device", "merge", "rebook", "cancel", "dismiss"]
    note: str = Field(default="", max_length=300)
    starts_at: datetime | None = None  # for `rebook`


class Health(Strict):
    status: Literal["ok"]
    version: str
    protocol: int
    time: datetime


class ErrorBody(Strict):
    detail: str
    field: str | None = None
