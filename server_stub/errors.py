"""Every error the API answers has one shape, `{"detail": "...", "field": "..."}` (protocol.ErrorBody):
a sentence staff can read and, where there is one, the field at fault. No traceback ever leaves."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from desktop.domain.errors import (
    BookingConflict,
    ClinicError,
    ImmutableRecord,
    InvalidTransition,
    NotAllowed,
    NotFound,
)
from server_stub.access import Exhausted, Unauthorised
from server_stub.conflicts import AlreadyResolved, Refused
from server_stub.throttle import Throttled

log = logging.getLogger("server_stub")

STATUS_OF: dict[type[ClinicError], int] = {
    Unauthorised: 401,
    NotAllowed: 403,
    NotFound: 404,
    BookingConflict: 409,
    InvalidTransition: 409,
    ImmutableRecord: 409,
    Exhausted: 409,
    AlreadyResolved: 409,
    Refused: 409,
    Throttled: 429,
}
LOCATIONS = ("body", "query", "path", "header", "cookie")


class ApiError(Exception):
    """An answer other than success, raised by a route: status, message and the field at fault."""

    def __init__(self, status: int, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


def error_response(status: int, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if field:
        body["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def field_of(loc: Sequence[Any]) -> str | None:
    """("body", "ops", 0, "base_version") -> "ops.0.base_version"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


def describe(error: dict[str, Any]) -> tuple[str, str | None]:
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"The request body is not valid JSON ({reason}).", None
    field = field_of(error.get("loc", ()))
    if field is None:
        return "The request needs a JSON body.", None
    if kind == "missing":
        return f"The field '{field}' is required.", field
    if kind == "extra_forbidden":
        return f"The field '{field}' is not part of the protocol.", field
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"The field '{field}' is not valid: {message}.", field


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail, field = describe(errors[0]) if errors else ("The request is not valid.", None)
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} in this request.)"
    return error_response(422, detail, field)


async def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.detail, exc.field)


async def _clinic(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClinicError)
    status = next((s for kind, s in STATUS_OF.items() if isinstance(exc, kind)), 422)
    response = error_response(status, exc.message, exc.field)
    if isinstance(exc, Throttled):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


BUSY_RETRY_AFTER_S = 1


def is_busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" / "busy" after the busy timeout: load, not a fault."""
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


async def _operational(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if is_busy(exc):
        reason = "The server is busy."
    elif exc.connection_invalidated:  # PostgreSQL restarted: SQLAlchemy has replaced the pool
        reason = "The server had lost its database connection."
    else:
        return await _unexpected(request, exc)
    # Devices retry a 503 on their own; nothing was written (the transaction never committed).
    log.warning("%s %s answered 503: %s", request.method, request.url.path, reason)
    response = error_response(503, f"{reason} The change is kept and will be sent again.")
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "The server hit an unexpected error. Try again later; if it keeps happening, tell the administrator.",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(ClinicError, _clinic)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(Exception, _unexpected)
