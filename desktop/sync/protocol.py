"""The wire format of sync v1 (docs/sync.md), defined once and used by the device and the server."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from desktop.domain.roles import ACTOR_PATTERN

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = frozenset({1})
PROTOCOL_HEADER = "X-Clinic-Protocol"
MAX_OPS_PER_PUSH = 1000
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 1000
MAX_SEQ = 2**63 - 1  # a change-log seq is a 64-bit integer: a cursor above it names no change
CLOCK_SKEW_WARNING_MS = 5 * 60 * 1000
LIVE_PATH = "/v1/sync/live"  # the websocket that tells devices to pull (docs/sync.md, "Live updates")

# Ids are UUIDs as `str(uuid)` writes them (desktop.domain.ids.new_id): lower-case, 8-4-4-4-12.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ID_PATTERN = rf"^{UUID}$"
# `<ms since epoch, 13 digits>-<counter, 4 digits>-<node>`: the node is the device's id, or the
# server's own (SERVER_NODE: the max UUID, so the server's stamp wins a tie, as it always has).
HLC_PATTERN = rf"^\d{{13}}-\d{{4}}-{UUID}$"
SERVER_NODE = "ffffffff-ffff-ffff-ffff-ffffffffffff"
ACTION_PATTERN = r"^[a-z][a-z_]{0,29}$"
# One op's `data`: at most this much JSON, nested at most this deep (a prescription's medicines are
# 3 levels: data, the list, a medicine). A deeper or larger op is malformed, refused whole.
MAX_OP_BYTES = 256 * 1024
MAX_DATA_DEPTH = 8
# Any date or moment a clinic writes (an appointment, a birth, a holiday) falls in these years.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2199, 12, 31)

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


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


# Text a device sends that the server stores or looks up: PostgreSQL refuses NUL in text.
PlainText = Annotated[str, AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Op(Strict):
    """One journaled change (SYNC.md: the journal). Strict: `"1"` is not a version."""

    model_config = ConfigDict(extra="forbid", strict=True)

    op_id: str = Field(pattern=ID_PATTERN)
    entity: Entity
    entity_id: str = Field(pattern=ID_PATTERN)
    action: str = Field(pattern=ACTION_PATTERN)
    base_version: int = Field(ge=0, le=2**31 - 1)
    data: dict[str, Any]
    hlc: str = Field(pattern=HLC_PATTERN)
    # Who made it: the signed-in clinician's id, `kiosk` or `system`; the server checks its role.
    actor: str = Field(pattern=ACTOR_PATTERN)

    @field_validator("data")
    @classmethod
    def _bounded(cls, data: dict[str, Any]) -> dict[str, Any]:
        depth = json_depth(data)
        if depth > MAX_DATA_DEPTH:
            raise ValueError(f"nested {depth} levels deep; at most {MAX_DATA_DEPTH} are allowed")
        try:
            size = len(orjson.dumps(data))
        except orjson.JSONEncodeError:  # an integer past 64 bits, the only JSON orjson cannot write
            raise ValueError("holds a number too large to store") from None
        if size > MAX_OP_BYTES:
            raise ValueError(f"{size // 1024} KiB of data; at most {MAX_OP_BYTES // 1024} KiB are allowed")
        return data


_CONTAINERS = (dict, list)


def json_depth(value: Any, limit: int = MAX_DATA_DEPTH) -> int:
    """How deep a JSON value nests (a scalar is 0, `{}` is 1), counted without recursion and only
    up to `limit + 1`: a value nested thousands of levels deep costs no more than one just too deep."""
    deepest = 0
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    while level and deepest <= limit:
        deepest += 1
        inner: list[Any] = []
        for each in level:
            for item in each.values() if isinstance(each, dict) else each:
                if isinstance(item, _CONTAINERS):
                    inner.append(item)
        level = inner
    return deepest


class PushRequest(Strict):
    model_config = ConfigDict(extra="forbid", strict=True)

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
    code: PlainText = Field(min_length=4, max_length=64)
    name: PlainText = Field(min_length=1, max_length=80)
    kind: DeviceKind


class EnrollResponse(Strict):
    device_id: str
    token: str
    clinic_id: str
    letter: str


class LoginRequest(Strict):
    username: PlainText = Field(min_length=1, max_length=60)
    password: PlainText = Field(min_length=1, max_length=200)


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
    note: PlainText = Field(default="", max_length=300)
    starts_at: datetime | None = None  # for `rebook`

    @field_validator("starts_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not EARLIEST_DAY <= value.date() <= LATEST_DAY:
            raise ValueError(f"must be between {EARLIEST_DAY.year} and {LATEST_DAY.year}")
        return value


class Health(Strict):
    status: Literal["ok"]
    version: str
    protocol: int
    time: datetime


class ErrorBody(Strict):
    detail: str
    field: str | None = None


class LiveNotice(Strict):
    """What the live channel sends a device: the newest seq of its clinic's change log that this
    kind of device may pull. Sent on connecting and after changes; a device whose pull cursor is at
    or past it has nothing to pull."""

    seq: int = Field(ge=0)
