"""`WS /v1/calls/{appointment_id}`: call signalling (design/CALLS.md, server_stub/calls.py).

The first message is `{"type":"auth","token":...,"media_up":bool}` within AUTH_TIMEOUT_S; the
server answers `joined` (role, whether the peer is present) or closes with 4401 (no valid token)
or 4403 (not this call's doctor or patient device, or no such call: the same answer). Then
`offer`, `answer` and `bye` are relayed to the other side; `waiting`, `peer_joined` and `peer_left`
tell each side who is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from server_stub import access
from server_stub.calls import role_in_call
from server_stub.deps import ServerState

router = APIRouter(tags=["calls"])

AUTH_TIMEOUT_S = 10.0
MAX_MESSAGE_CHARS = 64 * 1024  # an SDP with every candidate is a few kB
RELAYED = frozenset({"offer", "answer", "bye"})
UNAUTHORISED, FORBIDDEN, TOO_BIG = 4401, 4403, 1009
NOT_YOURS = "This call is not open to this device or user."


def _admit(state: ServerState, token: str | None, appointment_id: str) -> tuple[int, str] | str:
    """The role in the call, or the close code and reason."""
    with state.read_engine.connect() as conn, conn.begin():
        try:
            caller = access.authenticate(conn, token, now=state.now())
        except access.Unauthorised as exc:
            return UNAUTHORISED, str(exc)[:120]
        role = role_in_call(conn, caller, appointment_id)
    return role if role is not None else (FORBIDDEN, NOT_YOURS)


async def _receive(websocket: WebSocket) -> dict[str, Any] | None:
    """The next message as a JSON object; None for one that is not (it is ignored)."""
    text = await websocket.receive_text()
    if len(text) > MAX_MESSAGE_CHARS:
        raise OverflowError
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


@router.websocket("/calls/{appointment_id}")
async def call_signalling(websocket: WebSocket, appointment_id: str) -> None:
    state: ServerState = websocket.app.state.server
    rooms = state.calls
    await websocket.accept()
    try:
        first = await asyncio.wait_for(_receive(websocket), AUTH_TIMEOUT_S)
    except (TimeoutError, OverflowError, WebSocketDisconnect):
        await _close(websocket, UNAUTHORISED, "Authenticate first.")
        return
    if not first or first.get("type") != "auth" or not isinstance(first.get("token"), str):
        await _close(websocket, UNAUTHORISED, "Authenticate first.")
        return
    admitted = await run_in_threadpool(_admit, state, first["token"], appointment_id[:64])
    if isinstance(admitted, tuple):
        await _close(websocket, *admitted)
        return
    role = admitted
    await rooms.join(appointment_id, role, websocket, media_up=first.get("media_up") is True)
    try:
        while True:
            message = await _receive(websocket)
            if message is None or message.get("type") not in RELAYED:
                await websocket.send_json({"type": "error", "detail": "Unknown message; not relayed."})
                continue
            delivered = await rooms.relay(appointment_id, role, message)
            if not delivered and message["type"] != "bye":
                await websocket.send_json({"type": "error", "detail": "The other side is not here."})
    except OverflowError:
        await _close(websocket, TOO_BIG, "Message too large.")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await rooms.leave(appointment_id, role, websocket)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the client
        await websocket.close(code, reason)
