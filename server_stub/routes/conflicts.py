"""`GET /v1/conflicts` and `POST /v1/conflicts/{id}/resolve`: the clinic's conflict log, on desks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from desktop.sync.protocol import ID_PATTERN, ErrorBody, ResolveRequest
from server_stub import conflicts
from server_stub.deps import MAX_SEQ, ReadConn, ReadingCaller, State, WriteConn, WritingCaller, require_desk
from server_stub.fastjson import FastJSONResponse

router = APIRouter(prefix="/conflicts", tags=["conflicts"])
ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 426)}


class Conflict(BaseModel):
    """A `sync_conflict` row as a desk receives it (the same fields a pull carries), with its seq."""

    seq: int
    id: str
    version: int
    hlc: str
    clinic_id: str
    entity: str
    entity_id: str
    other_id: str | None
    field: str | None
    ours: Any
    theirs: Any
    resolution: str
    detail: str
    suggestion: dict[str, Any] | None
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    choice: str | None
    note: str
    deleted: bool


class ConflictPage(BaseModel):
    conflicts: list[Conflict]
    next: int
    more: bool


@router.get("", response_model=ConflictPage, responses=ERRORS)
def list_conflicts(
    caller: ReadingCaller,
    conn: ReadConn,
    since: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="Change-log seq: only conflicts changed after it.")
    ] = 0,
    status: conflicts.Status = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """The clinic's conflicts in change order; open ones unless `status` says otherwise. Desks only."""
    require_desk(caller)
    page = conflicts.list_conflicts(conn, clinic_id=caller.clinic_id, since=since, status=status, limit=limit)
    return FastJSONResponse(page)


@router.post("/{conflict_id}/resolve", response_model=Conflict, responses=ERRORS)
def resolve(
    conflict_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: ResolveRequest,
    caller: WritingCaller,
    conn: WriteConn,
    state: State,
) -> Response:
    """Resolve with a clinician's session token (doctor, nurse or admin) on a desk.

    `cancel` cancels a double booking's loser; `rebook` moves it to `starts_at` if that slot is
    free (else 409); `merge` folds a duplicate patient into the other record; `keep_device` writes
    the device's value of the contested field; `keep_server` and `dismiss` close the record."""
    require_desk(caller)
    resolved = conflicts.resolve(conn, caller, conflict_id, body, now=state.now(), clock=state.clock)
    return FastJSONResponse(resolved)
