"""Who may be read: the token of a request is checked before its body is (middleware.AuthGate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from server_stub import access

if TYPE_CHECKING:
    from server_stub.deps import ServerState


def authenticate_reading(state: ServerState, token: str) -> access.Caller:
    """`access.authenticate` in a read transaction of its own."""
    with state.read_engine.connect() as conn, conn.begin():
        return access.authenticate(conn, token, now=state.now())


async def token_refusal(state: ServerState, token: str | None) -> str | None:
    """Why the server refuses `token`, or None. A token accepted lately costs no query."""
    if not token:
        return access.NO_TOKEN
    key = access.digest(token)
    if state.known_tokens.known(key):
        return None
    try:
        await run_in_threadpool(authenticate_reading, state, token)
    except access.Unauthorised as exc:
        return exc.message
    state.known_tokens.remember(key)
    return None
