"""JSON answers built from plain dicts, serialised by orjson: no model validation on the hot path."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

SENT_DEPTH = 64  # deeper than any row the server writes; orjson itself stops at 255
NOT_SENT = {"not_kept": "too deeply nested to send"}


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            # A value no answer can carry (nested past orjson's limit, an integer past 64 bits):
            # kept by a server older than the bounds on what a refused op leaves behind. It is sent
            # cut short, so that one such row never fails the page for every device.
            return orjson.dumps(sendable(content))


def sendable(value: Any, depth: int = 0) -> Any:
    """`value` with whatever nests deeper than SENT_DEPTH replaced by a note, and integers past
    64 bits as text."""
    if isinstance(value, dict | list) and depth >= SENT_DEPTH:
        return NOT_SENT
    if isinstance(value, dict):
        return {str(k): sendable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [sendable(v, depth + 1) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    return value
