"""What a pushed op's `data` may hold, read off the entity's columns (desktop/store/models.py).

Each data field gets one check made from its column: the type (strictly: `"1"` is not an integer,
`"yes"` not a boolean), nullability, the length of a `String(n)` (SQLite would store any length),
ids in their exact UUID shape, dates and times in a plausible window, no NUL character (PostgreSQL
refuses it in text), and what the column's `info` adds: `choices` (an enum), `range` (an integer's
bounds), `format` (`timezone`: a zone `zoneinfo` knows; `dates`: a list of ISO dates). A new
column is checked as soon as it exists. The checks decode too: what they return is what is written.

The entity's own rules (a name's shape, a legal status change) come after, in apply._validate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, get_args, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import ConfigDict, TypeAdapter, ValidationError
from sqlalchemy import JSON, Boolean, Column, Date, Integer, String, Text, Time, inspect

from desktop.domain.errors import InvalidInput
from desktop.store.codec import data_fields
from desktop.store.models import ID, Synced
from desktop.store.types import UTCDateTime
from desktop.sync.protocol import EARLIEST_DAY, ID_PATTERN, LATEST_DAY, MAX_DATA_DEPTH, json_depth

TEXT_MAX_CHARS = 50_000  # a `Text` column (a consultation's notes): long, not unbounded
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL's integer
LOGGED_MAX_BYTES = 16 * 1024  # what the conflict log keeps of a refused op's data
# An op stamped further ahead of the server's clock than this is refused (the device's clock is
# wrong): absorbed, its stamp would run every later stamp of the server ahead, and win every merge.
# A server setting: `clinic server run --clock-margin-minutes`.
CLOCK_MARGIN = timedelta(minutes=10)

Check = Callable[[Any], Any]  # the value as written, or ValueError saying what is wrong with it
_ID = re.compile(ID_PATTERN)
_STRICT = ConfigDict(strict=True)


def check_data(model: type[Synced], data: dict[str, Any]) -> dict[str, Any]:
    """`data` decoded for the row, or InvalidInput naming the first field that is not acceptable."""
    checks = _checks(model)
    out: dict[str, Any] = {}
    for key, value in data.items():
        check = checks.get(key)
        if check is None:
            name = _shown(key)
            raise InvalidInput(f"Unknown field '{name}' for {model.__entity__}.", field=f"data.{name}")
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise InvalidInput(f"The value of '{key}' {exc}.", field=f"data.{key}") from None
    return out


def loggable(data: Any) -> Any:
    """A refused op's data as the conflict log keeps it: as it came if it is small and shallow JSON,
    else a note of what it was. Whatever a device sent, the log stays readable by everyone."""
    try:
        if json_depth(data) <= MAX_DATA_DEPTH:
            size = len(orjson.dumps(data))
            if size <= LOGGED_MAX_BYTES and not _has_nul(data):
                return data
        else:
            size = None
    except (TypeError, orjson.JSONEncodeError):
        size = None
    keys = sorted(_shown(str(k)) for k in data)[:50] if isinstance(data, dict) else []
    return {"not_kept": "too large or too deeply nested to keep", "bytes": size, "fields": keys}


def clock_ahead(hlc: str, ahead_ms: int) -> str:
    """Why an op stamped too far in the future is refused, for the staff at that device."""
    stamped = datetime.fromtimestamp(int(hlc[:13]) / 1000, UTC)
    minutes = max(1, round(ahead_ms / 60_000))
    return (
        f"This device's clock is about {minutes} minutes ahead of the server's (the change is "
        f"stamped {stamped:%Y-%m-%d %H:%M} UTC). Correct the device's date, time and time zone, "
        "then retry the change."
    )


@cache
def _checks(model: type[Synced]) -> dict[str, Check]:
    hints = get_type_hints(model)
    fields = data_fields(model)
    return {c.key: _check(c, hints.get(c.key)) for c in inspect(model).columns if c.key in fields}


def _check(column: Column[Any], hint: Any) -> Check:
    kind = _of_type(column, hint)
    choices: frozenset[str] | None = column.info.get("choices")
    bounds: tuple[int, int] | None = column.info.get("range")
    extra = _FORMATS[column.info["format"]] if "format" in column.info else None
    nullable = bool(column.nullable)

    def check(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError("is required (not null)")
        value = kind(value)
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of: {', '.join(sorted(choices))}")
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"must be between {bounds[0]} and {bounds[1]}")
        return extra(value) if extra is not None else value

    return check


def _of_type(column: Column[Any], hint: Any) -> Check:
    kind = column.type
    if kind is ID:
        return _id
    if isinstance(kind, Text):  # before String: Text is one
        return _text(TEXT_MAX_CHARS)
    if isinstance(kind, String):
        return _text(kind.length or TEXT_MAX_CHARS)
    if isinstance(kind, Boolean):
        return _boolean
    if isinstance(kind, Integer):
        return _integer
    if isinstance(kind, UTCDateTime):
        return _moment
    if isinstance(kind, Date):
        return _day
    if isinstance(kind, Time):
        return _time_of_day
    if isinstance(kind, JSON):
        return _json(_inner(hint))
    raise TypeError(f"no check for {column.key} ({kind!r})")  # a new column type: add its check


def _inner(hint: Any) -> Any:
    """`Mapped[list[str]]` -> `list[str]`."""
    args = get_args(hint)
    return args[0] if args else Any


def _text(limit: int) -> Check:
    def check(value: Any) -> str:
        if type(value) is not str:
            raise ValueError(f"must be text, not {_name(value)}")
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long; at most {limit} are allowed")
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        return value

    return check


def _id(value: Any) -> str:
    if type(value) is not str or not _ID.match(value):
        raise ValueError("must be an id (a UUID such as 0190f2a4-7b1c-7d3e-8f00-123456789abc)")
    return value


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError(f"must be true or false, not {_name(value)}")
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"must be a whole number, not {_name(value)}")
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError("is out of range")
    return value


def _iso(value: Any, parse: Callable[[str], Any], what: str) -> Any:
    if type(value) is not str or len(value) > 40:
        raise ValueError(f"must be {what} in ISO 8601 form")
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"must be {what} in ISO 8601 form") from None


def _in_window(day: date) -> None:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY.year} and {LATEST_DAY.year}")


def _moment(value: Any) -> datetime:
    moment: datetime = _iso(value, datetime.fromisoformat, "a date and time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must say its offset from UTC (e.g. +00:00)")
    _in_window(moment.date())
    return moment.astimezone(UTC)


def _day(value: Any) -> date:
    day: date = _iso(value, date.fromisoformat, "a date")
    _in_window(day)
    return day


def _time_of_day(value: Any) -> time:
    parsed: time = _iso(value, time.fromisoformat, "a time of day")
    return parsed


def _json(hint: Any) -> Check:
    adapter: TypeAdapter[Any] | None = None if hint is Any else TypeAdapter(hint, config=_STRICT)

    def check(value: Any) -> Any:
        if adapter is not None:
            try:
                value = adapter.validate_python(value)
            except ValidationError as exc:
                raise ValueError(f"must be {_described(hint)}") from exc
        if _has_nul(value):
            raise ValueError("contains a NUL character")
        try:  # what is stored is pulled by every device: it must stay JSON the server can write
            orjson.dumps(value)
        except orjson.JSONEncodeError:  # an integer past 64 bits
            raise ValueError("holds a number too large to store") from None
        return value

    return check


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a time zone such as Asia/Kolkata or Europe/Berlin") from None
    return value


def _dates(value: list[str]) -> list[str]:
    for each in value:
        _day(each)
    return value


_FORMATS: dict[str, Check] = {"timezone": _timezone, "dates": _dates}


def _described(hint: Any) -> str:
    origin = getattr(hint, "__origin__", hint)
    return {list: "a list", dict: "an object"}.get(origin, str(hint))


def _shown(key: str) -> str:
    """A field name the device made up, as it can be told back and logged (a conflict's `field` is
    40 characters, and PostgreSQL stores no NUL)."""
    return "".join(c if c.isprintable() else "?" for c in key[:30])


def _name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), "text" if isinstance(value, str) else type(value).__name__
    )
