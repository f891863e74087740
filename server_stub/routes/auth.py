"""`POST /v1/auth/login`: a clinician signs in on an enrolled device and gets a session token."""

from __future__ import annotations

from fastapi import APIRouter

from desktop.sync.protocol import ErrorBody, LoginRequest, LoginResponse
from server_stub import access
from server_stub.deps import State, WriteConn, WritingCaller

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResponse, responses={401: {"model": ErrorBody}})
def login(body: LoginRequest, caller: WritingCaller, conn: WriteConn, state: State) -> LoginResponse:
    """Username and password of a clinician of the device's clinic, sent with the device token."""
    signed_in = access.login(
        conn, caller, username=body.username, password=body.password, now=state.now(), ttl=state.session_ttl
    )
    return LoginResponse(
        user_id=signed_in.user_id, role=signed_in.role, token=signed_in.token, expires_at=signed_in.expires_at
    )
