"""Rate limits on sign-in and enrolment: failures counted per key, then a lock-out with `Retry-After`.

A key is a username of a clinic, a device or a client address (the TCP peer, or the address a
proxy on the same host forwards: uvicorn's `--proxy-headers`). `Rule(failures, window, lockout)`:
that many failures of a key within `window` lock it for `lockout`; while it is locked every
attempt is refused with 429 before any password is checked, the right one too. The counters live
in the database (`auth_throttle`, keys stored as SHA-256), so every server process on one
PostgreSQL database counts the same failures. A success clears its username's count; an
address's and a device's counts only age out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from desktop.domain.errors import ClinicError
from server_stub.access import digest
from server_stub.models import AuthThrottle

QUARTER_HOUR = timedelta(minutes=15)


class Throttled(ClinicError):
    """Too many failed attempts for a username, a device or an address: 429 with `Retry-After`."""

    code = "throttled"

    def __init__(self, retry_after_s: int):
        minutes = math.ceil(retry_after_s / 60)
        super().__init__(
            f"Too many failed attempts: try again in {minutes} minute{'s' if minutes > 1 else ''}, "
            "or ask an administrator."
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Rule:
    failures: int
    window: timedelta = QUARTER_HOUR
    lockout: timedelta = QUARTER_HOUR


@dataclass(frozen=True)
class Rules:
    """The limits of one server. An address is shared by every device behind a clinic's router,
    hence its higher counts; a username is what an attacker guesses at."""

    user: Rule = field(default_factory=lambda: Rule(10))
    device: Rule = field(default_factory=lambda: Rule(30))
    address: Rule = field(default_factory=lambda: Rule(100))
    enrol_address: Rule = field(default_factory=lambda: Rule(20))


Key = tuple[Rule, str]


def user_key(rules: Rules, clinic_id: str, username: str) -> Key:
    return rules.user, f"user:{clinic_id}:{username.strip().lower()}"


def login_keys(rules: Rules, *, clinic_id: str, device_id: str, username: str, address: str) -> list[Key]:
    return [
        user_key(rules, clinic_id, username),
        (rules.device, f"device:{device_id}"),
        (rules.address, f"login-address:{address}"),
    ]


def enrol_keys(rules: Rules, *, address: str) -> list[Key]:
    return [(rules.enrol_address, f"enrol-address:{address}")]


def check(conn: Connection, keys: Sequence[Key], now: datetime) -> None:
    """Raise `Throttled` if any key is locked out now."""
    hashes = [digest(name) for _, name in keys]
    until = conn.scalar(
        select(AuthThrottle.locked_until)
        .where(AuthThrottle.key_hash.in_(hashes), AuthThrottle.locked_until > now)
        .order_by(AuthThrottle.locked_until.desc())
        .limit(1)
    )
    if until is not None:
        raise Throttled(max(1, math.ceil((until - now).total_seconds())))


def record_failure(conn: Connection, keys: Sequence[Key], now: datetime) -> None:
    """Count a failure against every key (in the caller's write transaction); lock those that
    reach their rule's count. Rows are locked in digest order, so two processes never deadlock."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for key_hash, rule in sorted((digest(name), rule) for rule, name in keys):
        conn.execute(
            insert(AuthThrottle)
            .values(key_hash=key_hash, failures=0, window_start=now, locked_until=None)
            .on_conflict_do_nothing()
        )
        row = conn.execute(
            select(AuthThrottle).where(AuthThrottle.key_hash == key_hash).with_for_update()
        ).one()
        fresh = row.window_start + rule.window <= now
        failures = 1 if fresh else row.failures + 1
        values: dict[str, object] = {"failures": failures, "window_start": now if fresh else row.window_start}
        if failures >= rule.failures:  # locked; the count starts again when the lock-out ends
            values = {"failures": 0, "window_start": now + rule.lockout, "locked_until": now + rule.lockout}
        conn.execute(update(AuthThrottle).where(AuthThrottle.key_hash == key_hash).values(**values))
    longest = max(rule.window + rule.lockout for rule, _ in keys)
    conn.execute(delete(AuthThrottle).where(AuthThrottle.window_start < now - longest))


def forget(conn: Connection, key: Key) -> None:
    conn.execute(delete(AuthThrottle).where(AuthThrottle.key_hash == digest(key[1])))
