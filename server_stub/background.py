"""The sync server in a background thread of this process: for the headless demo and the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from server_stub.app import create_app

STARTUP_TIMEOUT_S = 30


@contextmanager
def serving(
    database_url: str, *, host: str = "127.0.0.1", port: int = 0, **app_options: Any
) -> Iterator[str]:
    """uvicorn serving `create_app(database_url)`; yields the base URL. Port 0 is an ephemeral one."""
    with serving_app(create_app(database_url, **app_options), host=host, port=port) as base_url:
        yield base_url


@contextmanager
def serving_app(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """uvicorn serving any ASGI app in a daemon thread until the block ends; yields the base URL."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="clinic-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sync server did not start (see the log above)")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
