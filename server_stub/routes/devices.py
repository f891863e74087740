"""`POST /v1/devices/enroll`: a one-time code from the administrator makes a device of the clinic."""

from __future__ import annotations

from fastapi import APIRouter

from desktop.sync.protocol import EnrollRequest, EnrollResponse, ErrorBody
from server_stub import access
from server_stub.deps import State, WriteConn

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def enroll(body: EnrollRequest, conn: WriteConn, state: State) -> EnrollResponse:
    """Redeem a code (single use, expiring) for a device id, its token, its clinic and its letter."""
    enrolled = access.enrol(conn, code=body.code, name=body.name, kind=body.kind, now=state.now())
    return EnrollResponse(
        device_id=enrolled.device_id,
        token=enrolled.token,
        clinic_id=enrolled.clinic_id,
        letter=enrolled.letter,
    )
