"""`POST /v1/sync/push` and `GET /v1/sync/pull`: the device's journal up, the clinic's changes down."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from desktop.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_PULL_LIMIT,
    ErrorBody,
    PullResponse,
    PushRequest,
    PushResponse,
)
from server_stub import access
from server_stub.deps import MAX_SEQ, Bearer, ReadConn, ReadingCaller, ServerState, State
from server_stub.fastjson import FastJSONResponse
from server_stub.pull import pull_page

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sync", tags=["sync"])
ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 413, 422, 426)}


@router.post("/push", response_model=PushResponse, responses=ERRORS)
async def push_ops(body: PushRequest, state: State, credentials: Bearer) -> Response:
    """Apply the ops in order, each whole or not at all; answered after the transaction commits.

    Retries are harmless: an op seen before is answered from its stored result (`duplicate`).
    Pushes of a clinic that arrive while another is being applied are applied together (pushes.py)."""
    token = credentials.credentials if credentials else None
    answer = await state.pushes.push(state, token, body)
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/pull", response_model=PullResponse, responses=ERRORS)
def pull(
    caller: ReadingCaller,
    conn: ReadConn,
    state: State,
    since: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="The `next` of the previous page; 0 at first.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = DEFAULT_PULL_LIMIT,
) -> Response:
    """The clinic's changes after `since`, in seq order, as much as this kind of device may see."""
    page = pull_page(conn, clinic_id=caller.clinic_id, kind=caller.kind, since=since, limit=limit)
    now = state.now()
    stale = access.seen_long_ago(caller, now)
    # After the answer is sent and the read transaction has ended; a busy database skips it.
    later = BackgroundTask(_mark_seen, state, caller.device_id, now) if stale else None
    return FastJSONResponse(page, background=later)


async def _mark_seen(state: ServerState, device_id: str, now: datetime) -> None:
    async with state.write_turns:  # a writer like any other (deps.write_turn)
        await run_in_threadpool(_record_seen, state, device_id, now)


def _record_seen(state: ServerState, device_id: str, now: datetime) -> None:
    try:
        with state.engine.begin() as conn:
            access.mark_seen(conn, device_id, now)
    except OperationalError:
        log.warning("could not record when device %s was last seen", device_id, exc_info=True)
