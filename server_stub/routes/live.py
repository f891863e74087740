"""`WS /v1/sync/live`: the device hears, at once, that its clinic has changes it may pull.

The handshake is checked before the connection is accepted: the protocol header (else 426) and the
device's bearer token (else 401), the same headers as every other call, answered as plain HTTP with
the usual `{"detail"}` body. Then the server sends `{"seq": n}` (protocol.LiveNotice): at once, and
after each change of the clinic that this kind of device may pull. The device sends nothing; the
server reads only to see it go. Pings are uvicorn's (every 20 s); a token that stops working (a
revoked device, an expired session) closes the connection with 1008 within RECHECK_EVERY_S.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from desktop.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, LiveNotice
from server_stub import access
from server_stub.deps import ServerState
from server_stub.errors import error_response
from server_stub.live import Listener
from server_stub.middleware import ProtocolGate

router = APIRouter(prefix="/sync", tags=["sync"])


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    state: ServerState = websocket.app.state.server
    problem = ProtocolGate.problem(websocket.headers.get(PROTOCOL_HEADER))
    if problem is not None:
        answer = error_response(426, problem)
        answer.headers["Upgrade"] = f"clinicdesk-sync/{PROTOCOL_VERSION}"
        await websocket.send_denial_response(answer)
        return
    token = _bearer(websocket.headers.get("authorization"))
    try:
        caller = await run_in_threadpool(_authenticate, state, token)
    except access.Unauthorised as exc:
        await websocket.send_denial_response(error_response(401, exc.message))
        return
    await websocket.accept()
    assert token is not None
    with state.live.listening(caller, token) as listener:
        gone = asyncio.create_task(_until_gone(websocket, listener.wake))
        try:
            await _tell(websocket, state, listener, gone)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone


async def _tell(
    websocket: WebSocket, state: ServerState, listener: Listener, gone: asyncio.Task[None]
) -> None:
    """Send the newest seq each time the hub wakes this listener, until the device goes."""
    while True:
        await listener.wake.wait()
        listener.wake.clear()
        if gone.done():
            return
        if listener.closing is not None:
            code, reason = listener.closing
            # A close frame's reason is 123 bytes at most.
            await websocket.close(code, reason.encode()[:120].decode(errors="ignore"))
            return
        seq = state.live.seq_for(listener)
        if seq > listener.told:
            listener.told = seq
            try:
                await websocket.send_text(LiveNotice(seq=seq).model_dump_json())
            except (WebSocketDisconnect, RuntimeError, OSError):
                return


async def _until_gone(websocket: WebSocket, wake: asyncio.Event) -> None:
    """Read (and ignore) whatever the device sends until it disconnects; then wake the sender."""
    try:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
    finally:
        wake.set()


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _authenticate(state: ServerState, token: str | None) -> access.Caller:
    with state.read_engine.connect() as conn, conn.begin():
        return access.authenticate(conn, token, now=state.now())
