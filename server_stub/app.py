"""The central server's FastAPI app: `create_app(database_url)`.

Nothing lives in module globals: the engines, the server's clock and its settings are made when the
app starts (after migrating the database) and kept on `app.state.server`. See docs/server.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Scope

from desktop import __version__
from desktop.domain.clock import HybridLogicalClock
from desktop.heap import freeze_start_up_heap
from desktop.store.checkpoint import WalCheckpointer
from desktop.store.private import warn_if_not_private
from desktop.store.types import utcnow
from desktop.sync.protocol import MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION, SERVER_NODE
from server_stub import errors, openapi, signin
from server_stub.access import SESSION_TTL
from server_stub.db import create_server_engine, migrate
from server_stub.deps import WRITERS_AT_ONCE_POSTGRES, ServerState
from server_stub.fields import CLOCK_MARGIN
from server_stub.gate import token_refusal
from server_stub.middleware import AuthGate, BodyGuard, ProtocolGate
from server_stub.notify.service import start_dispatcher
from server_stub.notify.settings import NotifySettings
from server_stub.routes import ROUTERS
from server_stub.throttle import Rules

API_PREFIX = "/v1"
# Called by devices that may not know the protocol yet: a new device enrolling, a health probe.
NO_PROTOCOL_NEEDED = (f"{API_PREFIX}/health", f"{API_PREFIX}/devices/enroll")
# Called without a token; every other call under the prefix is refused (401) before its body is read.
NO_TOKEN_NEEDED = NO_PROTOCOL_NEEDED
# Sign-in and enrolment bodies are a few hundred bytes; a stranger may send them, so no more is read.
SIGN_IN_BODY_BYTES = 16 * 1024

DESCRIPTION = f"""
The ClinicDesk sync server (protocol {PROTOCOL_VERSION}; see docs/sync.md and docs/server.md).

Every call but `/v1/health` and `/v1/devices/enroll` carries `{PROTOCOL_HEADER}: {PROTOCOL_VERSION}`
(else 426) and `Authorization: Bearer <token>` (else 401). Errors are `{{"detail": "...", "field": "..."}}`.
Bodies may be gzip (`Content-Encoding: gzip`); at most {MAX_BODY_BYTES // (1024 * 1024)} MiB, decompressed.
"""


def create_app(
    database_url: str,
    *,
    now: Callable[[], datetime] = utcnow,
    session_ttl: timedelta = SESSION_TTL,
    clock_margin: timedelta = CLOCK_MARGIN,
    throttle: Rules | None = None,
    run_migrations: bool = True,
    freeze_heap: bool = False,
    notify: NotifySettings | None = None,
) -> FastAPI:
    """The server over `database_url` (a SQLite file URL or PostgreSQL), migrated on start-up.
    `throttle`: the rate limits of sign-in and enrolment (default `throttle.Rules()`).

    `freeze_heap` (a server process of its own, `clinic server run`): once started, what start-up
    made (modules, the engines, the database driver, the app) is moved out of the garbage
    collector's sight (desktop/heap.py). Unfrozen, a full collection of a started server walked
    ~160,000 objects, ~40 ms during which no push was applied.

    `notify`: the reminder dispatcher's settings (default: from the environment and server.toml,
    server_stub/notify/settings.py); it runs in a thread of its own while the app runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            migrate(database_url)
        engine = create_server_engine(database_url)
        # SQLite: readers take no write lock (WAL); PostgreSQL: one pool serves both.
        sqlite = engine.dialect.name == "sqlite"
        read_engine = create_server_engine(database_url, read_only=True) if sqlite else engine
        if sqlite:
            warn_if_not_private(Path(engine.url.database or ""))
        checkpointer = WalCheckpointer(Path(engine.url.database or "")) if sqlite else None
        if checkpointer:
            checkpointer.start()
        app.state.server = ServerState(
            database_url=database_url,
            engine=engine,
            read_engine=read_engine,
            clock=HybridLogicalClock(SERVER_NODE, max_ahead_ms=int(clock_margin.total_seconds() * 1000)),
            now=now,
            session_ttl=session_ttl,
            write_turns=asyncio.Semaphore(1 if sqlite else WRITERS_AT_ONCE_POSTGRES),
            throttle=throttle or Rules(),
            password_checker=signin.password_checker(),
        )
        await app.state.server.live.start(app.state.server)
        dispatcher = start_dispatcher(
            engine, app.state.server.clock, settings=notify, turns=app.state.server.write_turns
        )
        if freeze_heap:
            freeze_start_up_heap()
        try:
            yield
        finally:
            if dispatcher:
                await asyncio.to_thread(dispatcher.stop)
            await app.state.server.live.stop()
            app.state.server.password_checker.shutdown(wait=False, cancel_futures=True)
            if checkpointer:
                checkpointer.stop()
            for each in {engine, read_engine}:
                each.dispose()

    app = FastAPI(
        title="ClinicDesk sync server",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
    )
    errors.install(app)
    openapi.install(app, prefix=f"{API_PREFIX}/", no_protocol=NO_PROTOCOL_NEEDED, no_token=NO_TOKEN_NEEDED)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)

    async def check_token(scope: Scope, token: str | None) -> str | None:
        return await token_refusal(scope["app"].state.server, token)

    # Outermost first when a request comes in: gzip answers, the protocol gate, the token, the body.
    small = dict.fromkeys((f"{API_PREFIX}/devices/enroll", f"{API_PREFIX}/auth/login"), SIGN_IN_BODY_BYTES)
    app.add_middleware(BodyGuard, limit=MAX_BODY_BYTES, small=small)
    app.add_middleware(
        AuthGate, check=check_token, limit=MAX_BODY_BYTES, prefix=f"{API_PREFIX}/", exempt=NO_TOKEN_NEEDED
    )
    app.add_middleware(ProtocolGate, prefix=f"{API_PREFIX}/", exempt=NO_PROTOCOL_NEEDED)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    return app
