"""Column values to and from JSON, driven by the column's type: one codec for journal and wire."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import Date, Time, inspect

from desktop.store.models import Synced
from desktop.store.types import UTCDateTime

# Kept on the op itself (SYNC.md), or local only: never part of an op's `data`.
NOT_IN_DATA = frozenset({"id", "version", "hlc", "updated_at"})


def encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return value


@cache
def _decoders(model: type[Synced]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in inspect(model).columns:
        if isinstance(column.type, UTCDateTime):
            out[column.key] = lambda v: datetime.fromisoformat(v).astimezone(UTC)
        elif isinstance(column.type, Date):
            out[column.key] = date.fromisoformat
        elif isinstance(column.type, Time):
            out[column.key] = time.fromisoformat
    return out


@cache
def data_fields(model: type[Synced]) -> frozenset[str]:
    return frozenset(c.key for c in inspect(model).columns) - NOT_IN_DATA


def decode(model: type[Synced], data: dict[str, Any]) -> dict[str, Any]:
    """Wire/journal data back to Python values; unknown keys raise KeyError with the field name."""
    fields = data_fields(model)
    decoders = _decoders(model)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise KeyError(key)
        decoder = decoders.get(key)
        out[key] = decoder(value) if decoder and value is not None else value
    return out


@cache
def _defaults(model: type[Synced]) -> dict[str, Any]:
    """Python-side column defaults, which SQLAlchemy would only apply inside the INSERT."""
    out: dict[str, Any] = {}
    for column in inspect(model).columns:
        default = column.default
        if default is not None and column.key in data_fields(model):
            out[column.key] = default
    return out


def snapshot(obj: Synced) -> dict[str, Any]:
    """Every data field of a new row, encoded: the `data` of a create op.

    Unset fields get their column default here, on the object too, so the row and its op agree.
    """
    defaults = _defaults(type(obj))
    out: dict[str, Any] = {}
    for key in sorted(data_fields(type(obj))):
        value = getattr(obj, key)
        if value is None and key in defaults:
            default = defaults[key]
            value = default.arg if default.is_scalar else default.arg(None)
            setattr(obj, key, value)
        out[key] = encode(value)
    return out
