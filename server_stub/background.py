"""The sync server in a background thread of this process: for the headless demo and the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from server_stub.app import create_app

STARTUP_TIMEOUT_S = 30


@contextmanager
def serving(database_url: str, *, host: str = "127.0.0.1", **app_options: Any) -> Iterator[str]:
    """uvicorn serving `create_app(database_url)` on an ephemeral port; yields the base URL."""
    config = uvicorn.Config(
        create_app(database_url, **app_options), host=host, port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="clinic-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sync server did not start (see the log above)")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
