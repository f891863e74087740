"""Wire values straight to the values SQLite stores, without SQLAlchemy's per-row processing.

Pulling is the one bulk write of the app (a new desk pulls the whole clinic): going through
SQLAlchemy's bind processing costs ~100 µs per row, this ~10 µs. The conversions produce exactly
what SQLAlchemy's SQLite types store — `UTCDateTime` as naive UTC `YYYY-MM-DD HH:MM:SS.ffffff`,
`Date` as `YYYY-MM-DD`, `Time` as `HH:MM:SS.ffffff`, `JSON` as `json.dumps` text (`null` for
None, as SQLAlchemy does), booleans as 0/1 — and tests/test_sync_rowcodec.py checks them against
SQLAlchemy round trips, so equality queries (a slot's `starts_at`) keep matching.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Table, Time

from desktop.store.models import Synced
from desktop.store.types import UTCDateTime

NOT_IN_DATA = frozenset({"id", "version", "hlc", "updated_at"})  # as desktop.store.codec
Converter = Callable[[Any], Any]


def utc_datetime(value: str) -> str:
    moment = datetime.fromisoformat(value)  # also what makes sure the text is a time
    if moment.tzinfo is None:
        raise ValueError(f"a time without its zone: {value!r}")
    if value.endswith("+00:00") and value[10] == "T":  # UTC as the server writes it: re-cut the text
        if len(value) == 25:
            return f"{value[:10]} {value[11:19]}.000000"
        if len(value) == 32:
            return f"{value[:10]} {value[11:26]}"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def stored_now(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def iso_date(value: str) -> str:
    return date.fromisoformat(value).isoformat()


def iso_time(value: str) -> str:
    return time.fromisoformat(value).isoformat("microseconds")


def json_text(value: Any) -> str:
    return json.dumps(value)


def boolean(value: Any) -> int:
    return 1 if value else 0


@cache
def converters(model: type[Synced]) -> tuple[frozenset[str], dict[str, Converter]]:
    """The data fields of `model` this app knows, and a converter for each that needs one."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    known = frozenset(c.key for c in table.columns) - NOT_IN_DATA
    out: dict[str, Converter] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            out[column.key] = utc_datetime
        elif isinstance(kind, Date):
            out[column.key] = iso_date
        elif isinstance(kind, Time):
            out[column.key] = iso_time
        elif isinstance(kind, JSON):
            out[column.key] = json_text
        elif isinstance(kind, Boolean):
            out[column.key] = boolean
    return known, out


def to_storage(model: type[Synced], data: dict[str, Any]) -> dict[str, Any]:
    """Wire/journal `data` as SQLite values; fields this version of the app does not know are dropped.

    Raises ValueError (or TypeError) on a value that is not what its column holds."""
    known, convert = converters(model)
    out = dict(data) if data.keys() <= known else {k: v for k, v in data.items() if k in known}
    for key, fn in convert.items():  # a few per model: cheaper than a test per field
        if key in out:
            value = out[key]
            if value is not None or fn is json_text:
                out[key] = fn(value)
    return out
