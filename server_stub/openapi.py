"""`/openapi.json` that tells the truth about every answer the server gives.

FastAPI documents the routes' own answers, and a 422 in its default shape. The server answers
more, before any route runs, and every error in one shape (`ErrorBody`, `{"detail", "field"}`):
the protocol gate (426), the token gate (401), the body guard (400, 413, 415), a busy database
(503). `document_errors` adds those to every operation they can happen to, with their headers,
and replaces the default 422 body. Generic over the routes: one added later is documented alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastapi import FastAPI

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")
INTEGER = {"schema": {"type": "integer"}}

# What each status means, whichever route answers it; a route's own description is kept.
MEANING = {
    "400": "The body cannot be read: truncated or invalid gzip, a Content-Length that is not a number.",
    "401": "No token, or one the server does not accept; a wrong username or password; a code not valid.",
    "403": "This device or clinician may not do this.",
    "404": "Not found (or not of the caller's clinic).",
    "409": "The request conflicts with the current state.",
    "413": "The body is larger than the server accepts (also after gzip decompression).",
    "415": "A Content-Encoding other than gzip.",
    "422": "A field or parameter is not valid: `field` names it.",
    "426": "The sync protocol header is missing or names a protocol the server does not speak.",
    "429": "Too many failed attempts: try again after `Retry-After` seconds.",
    "503": "The database is busy or was lost for a moment: nothing was written; retry after `Retry-After`.",
}
HEADERS = {
    "401": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    "426": {"Upgrade": {"description": "The protocol the server speaks.", "schema": {"type": "string"}}},
    "429": {"Retry-After": {"description": "Seconds until the lock-out ends.", **INTEGER}},
    "503": {"Retry-After": {"description": "Seconds to wait before retrying.", **INTEGER}},
}
EVERY_REQUEST = ("400", "413", "415")  # the body guard reads every request, whatever its method


def install(app: FastAPI, *, prefix: str, no_protocol: Collection[str], no_token: Collection[str]) -> None:
    """Make `app.openapi()` document every answer (built once, on first use)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                build(), prefix=prefix, no_protocol=no_protocol, no_token=no_token
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(
    schema: dict[str, Any], *, prefix: str, no_protocol: Collection[str], no_token: Collection[str]
) -> dict[str, Any]:
    for path, operations in schema.get("paths", {}).items():
        api = path.startswith(prefix)
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            added = list(EVERY_REQUEST)
            if api and path not in no_token:
                added += ["401", "503"]  # the token is looked up in the database
            if api and path not in no_protocol:
                added.append("426")
            if operation.get("requestBody"):  # what a route reads and writes
                added.append("503")
            if operation.get("parameters") or operation.get("requestBody"):
                added.append("422")
            for status in added:
                responses.setdefault(status, {})
            for status, response in responses.items():
                if status in MEANING:
                    _error_response(status, response)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in FASTAPI_DEFAULTS:
        schemas.pop(name, None)
    return schema


def _error_response(status: str, response: dict[str, Any]) -> None:
    response["description"] = MEANING[status]
    response["content"] = {"application/json": {"schema": ERROR_BODY}}
    if status in HEADERS:
        response["headers"] = {**HEADERS[status], **response.get("headers", {})}
