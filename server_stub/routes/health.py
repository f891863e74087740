"""`GET /v1/health`: is the server up, which version and protocol, and its clock (no auth, no DB)."""

from __future__ import annotations

from fastapi import APIRouter

from desktop import __version__
from desktop.sync.protocol import PROTOCOL_VERSION, Health
from server_stub.deps import State

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(state: State) -> Health:
    return Health(status="ok", version=__version__, protocol=PROTOCOL_VERSION, time=state.now())
