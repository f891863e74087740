"""`POST /v1/auth/login`: a clinician signs in on an enrolled device and gets a session token."""

from __future__ import annotations

from fastapi import APIRouter

from desktop.sync.protocol import ErrorBody, LoginRequest, LoginResponse
from server_stub import signin
from server_stub.deps import Address, Bearer, State

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login", response_model=LoginResponse, responses={code: {"model": ErrorBody} for code in (401, 429)}
)
async def login(body: LoginRequest, state: State, credentials: Bearer, address: Address) -> LoginResponse:
    """Username and password of a clinician of the device's clinic, sent with the device token.

    Failures are counted per username, device and address; past the limit every attempt is 429
    with `Retry-After` until the lock-out ends, the right password too (docs/server.md)."""
    token = credentials.credentials if credentials else None
    signed_in = await signin.sign_in(state, token, body, address)
    return LoginResponse(
        user_id=signed_in.user_id, role=signed_in.role, token=signed_in.token, expires_at=signed_in.expires_at
    )
