"""`POST /v1/devices/enroll`: a one-time code from the administrator makes a device of the clinic."""

from __future__ import annotations

from fastapi import APIRouter

from desktop.sync.protocol import EnrollRequest, EnrollResponse, ErrorBody
from server_stub import signin
from server_stub.deps import Address, State

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses={code: {"model": ErrorBody} for code in (401, 403, 409, 429)},
)
async def enroll(body: EnrollRequest, state: State, address: Address) -> EnrollResponse:
    """Redeem a code (single use, expiring) for a device id, its token, its clinic and its letter.

    Refused codes are counted per address; past the limit every attempt is 429 with `Retry-After`."""
    enrolled = await signin.enrol(state, body, address)
    return EnrollResponse(
        device_id=enrolled.device_id,
        token=enrolled.token,
        clinic_id=enrolled.clinic_id,
        letter=enrolled.letter,
    )
