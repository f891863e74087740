"""The API's routers, one per resource; `server_stub.app` mounts them all under /v1."""

from __future__ import annotations

from server_stub.routes import admin, auth, calls, conflicts, devices, health, live, sync

ROUTERS = (
    health.router,
    devices.router,
    auth.router,
    sync.router,
    live.router,
    conflicts.router,
    calls.router,
    admin.router,
)
