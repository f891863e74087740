"""What routes receive from FastAPI: the server's state, one transaction per request, the caller.

The transaction dependencies have `scope="function"`: the transaction commits when the route
returns and before the answer is sent, so a device is never told of a change that is not durable;
an exception rolls it back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine

from desktop.domain.clock import HybridLogicalClock
from server_stub import access, throttle
from server_stub.calls import CallRooms
from server_stub.errors import ApiError
from server_stub.live import LiveHub
from server_stub.pushes import PushQueue

# Fewer than the worker threads (anyio's default is 40), so that a writer holding its clinic's lock
# always finds a thread to go on with.
WRITERS_AT_ONCE_POSTGRES = 8
# argon2 checks at once (signin.py): one core is left to everyone else's pushes and pulls.
PASSWORD_CHECKS_AT_ONCE = max(1, (os.cpu_count() or 2) - 1)


@dataclass
class ServerState:
    """Everything the routes share, kept on `app.state.server` (no module-level globals)."""

    database_url: str
    engine: Engine  # writers: on SQLite every transaction takes the write lock up front
    read_engine: Engine  # readers: plain BEGIN on SQLite (WAL), the same engine on PostgreSQL
    clock: HybridLogicalClock
    now: Callable[[], datetime]
    session_ttl: timedelta
    # Write transactions wait here, on the event loop, before they begin (see write_turn).
    write_turns: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    pushes: PushQueue = field(default_factory=PushQueue)
    calls: CallRooms = field(default_factory=CallRooms)  # signalling rooms (routes/calls.py)
    live: LiveHub = field(default_factory=LiveHub)  # WS /v1/sync/live: who to tell of changes
    throttle: throttle.Rules = field(default_factory=throttle.Rules)
    # Password checks wait here, on the event loop, then run on `password_checker` (signin.py).
    password_checks: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
    )
    password_checker: Executor | None = None
    known_tokens: access.KnownTokens = field(default_factory=access.KnownTokens)


def client_address(request: Request) -> str:
    """The caller's address (the TCP peer, or what a proxy on this host forwards), for rate limits."""
    return request.client.host if request.client else "unknown"


Address = Annotated[str, Depends(client_address)]


async def server_state(request: Request) -> ServerState:  # async: no worker thread for an attribute
    state: ServerState = request.app.state.server
    return state


State = Annotated[ServerState, Depends(server_state)]


async def write_turn(state: State) -> AsyncIterator[None]:
    """Wait for a turn to write on the event loop, holding no worker thread; the turn ends after the
    transaction commits.

    SQLite: one writer at a time, so BEGIN IMMEDIATE finds the database free. Left to SQLite, a
    waiting writer polls the lock with sleeps of up to 100 ms (its busy handler): a burst of pushes
    from many devices then waits in steps of 100 ms.

    PostgreSQL: a few writers at a time (WRITERS_AT_ONCE_POSTGRES). A write transaction spans
    several trips to worker threads (the transaction, the caller, the route, the commit), and a
    push waits in its thread for its clinic's lock (rows.lock_clinic). Without a limit, enough
    pushes of one clinic fill every worker thread waiting for that lock while its holder waits for
    a thread to commit: the server stops for good."""
    async with state.write_turns:
        yield


WriteTurn = Annotated[None, Depends(write_turn, scope="function")]


def write_transaction(state: State, _turn: WriteTurn) -> Iterator[Connection]:
    with state.engine.begin() as conn:
        yield conn


def read_transaction(state: State) -> Iterator[Connection]:
    with state.read_engine.connect() as conn, conn.begin():
        yield conn


WriteConn = Annotated[Connection, Depends(write_transaction, scope="function")]
ReadConn = Annotated[Connection, Depends(read_transaction, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A device token, or a clinician's session token.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


def caller_writing(conn: WriteConn, state: State, credentials: Bearer) -> access.Caller:
    return access.authenticate(conn, _token(credentials), now=state.now())


def caller_reading(conn: ReadConn, state: State, credentials: Bearer) -> access.Caller:
    return access.authenticate(conn, _token(credentials), now=state.now())


WritingCaller = Annotated[access.Caller, Depends(caller_writing)]
ReadingCaller = Annotated[access.Caller, Depends(caller_reading)]


def require_desk(caller: access.Caller) -> None:
    if caller.kind != "desk":
        raise ApiError(403, f"Conflicts are reviewed on a clinician's desk, not on a {caller.kind}.")
