"""Who is calling: device enrolment with one-time codes, device tokens, clinicians' sessions.

Codes and tokens are random (80 and 256 bits) and stored only as SHA-256 digests: a copy of the
database lets no one act as a device. Each function works inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, delete, insert, select, update

from desktop.domain.errors import ClinicError, NotAllowed
from desktop.domain.ids import CROCKFORD, new_id
from desktop.domain.staff import hash_password, verify_password
from desktop.store.models import Clinician
from server_stub.db import one_of
from server_stub.models import Device, EnrollmentCode, UserSession
from server_stub.rows import lock_clinic

CODE_LENGTH = 16  # Crockford base32: 80 bits, typed by hand in groups of four
LETTERS = string.ascii_uppercase
SESSION_TTL = timedelta(hours=12)  # one clinic shift
SEEN_EVERY = timedelta(minutes=1)  # how fresh a device's `last_seen_at` is kept by its pushes and pulls
NO_TOKEN = "This request carries no token: enrol the device, or sign in again."
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class Unauthorised(ClinicError):
    """No credential, or one the server does not accept (unknown, used, expired, revoked): 401."""

    code = "unauthorised"


class Exhausted(ClinicError):
    """Every device letter of the clinic is taken."""

    code = "exhausted"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_code() -> str:
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """What was typed, as it was issued: case, spaces, dashes and look-alike letters do not matter."""
    return "".join(code.split()).replace("-", "").upper().translate(_CROCKFORD_ALIASES)


# -- enrolment --------------------------------------------------------------------------------


def issue_code(conn: Connection, *, clinic_id: str, kind: str, expires_at: datetime) -> str:
    """A one-time enrolment code for a device of `kind`; only its digest is stored."""
    code = new_code()
    conn.execute(
        insert(EnrollmentCode).values(
            code_hash=digest(normalise_code(code)), clinic_id=clinic_id, kind=kind, expires_at=expires_at
        )
    )
    return code


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    token: str
    clinic_id: str
    letter: str


def enrol(conn: Connection, *, code: str, name: str, kind: str, now: datetime) -> Enrolled:
    """Redeem a code: a new device with a token and the clinic's next free letter (A, B, C...)."""
    code_hash = digest(normalise_code(code))
    row = conn.execute(select(EnrollmentCode).where(EnrollmentCode.code_hash == code_hash)).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise Unauthorised(
            "This enrolment code is not valid: it may have expired or been used already. "
            "Ask an administrator for a new one.",
            field="code",
        )
    if row.kind != kind:
        raise NotAllowed(f"This code enrols a {row.kind}, not a {kind}.", field="kind")
    lock_clinic(conn, row.clinic_id)  # letters are handed out one enrolment at a time
    taken = set(conn.scalars(select(Device.letter).where(Device.clinic_id == row.clinic_id)))
    letter = next((c for c in LETTERS if c not in taken), None)
    if letter is None:
        raise Exhausted("This clinic has enrolled 26 devices, the most it can have.", field="code")
    device_id, token = new_id(), new_token()
    # Used once: only the transaction that flips `used_at` from NULL gets the device.
    claimed = conn.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == code_hash, EnrollmentCode.used_at.is_(None))
        .values(used_at=now, device_id=device_id)
    ).rowcount
    if claimed != 1:
        raise Unauthorised("This enrolment code has just been used by another device.", field="code")
    conn.execute(
        insert(Device).values(
            id=device_id,
            clinic_id=row.clinic_id,
            name=" ".join(name.split()),
            kind=kind,
            letter=letter,
            token_hash=digest(token),
            enrolled_at=now,
            last_seen_at=now,
            revoked=False,
        )
    )
    return Enrolled(device_id=device_id, token=token, clinic_id=row.clinic_id, letter=letter)


# -- who is calling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The device behind a bearer token, and the clinician when the token is a session's."""

    device_id: str
    clinic_id: str
    kind: str
    letter: str
    last_seen_at: datetime | None
    user_id: str | None = None
    role: str | None = None


# Every request authenticates: its statements are built once.
_devices, _sessions = Device.__table__, UserSession.__table__
_DEVICE_BY_TOKEN = select(_devices).where(_devices.c.token_hash == bindparam("b_hash"))
_DEVICE_BY_ID = select(_devices).where(_devices.c.id == bindparam("b_id"))
_SESSION_BY_TOKEN = select(_sessions).where(_sessions.c.token_hash == bindparam("b_hash"))


def authenticate(conn: Connection, token: str | None, *, now: datetime) -> Caller:
    """A device token, or a clinician's session token (which stands for its device too)."""
    if not token:
        raise Unauthorised(NO_TOKEN)
    token_hash = digest(token)
    device = conn.execute(_DEVICE_BY_TOKEN, {"b_hash": token_hash}).first()
    session = None
    if device is None:
        session = conn.execute(_SESSION_BY_TOKEN, {"b_hash": token_hash}).first()
        if session is None:
            raise Unauthorised("The server does not know this token: enrol the device again.")
        if session.expires_at <= now:
            raise Unauthorised("Your session has expired: sign in again.")
        device = conn.execute(_DEVICE_BY_ID, {"b_id": session.device_id}).first()
    if device is None or device.revoked:
        raise Unauthorised("This device has been revoked: an administrator must enrol it again.")
    return _caller(device, session)


def authenticate_all(
    conn: Connection, tokens: Sequence[str | None], *, now: datetime
) -> list[Caller | Unauthorised]:
    """`authenticate` for each token, with one query for all the device tokens among them."""
    hashes = {token: digest(token) for token in tokens if token}
    query = _devices_by_tokens(conn.dialect.name)
    params = {"b_hashes": sorted(set(hashes.values()))}
    devices = {row.token_hash: row for row in conn.execute(query, params)}
    callers: list[Caller | Unauthorised] = []
    for token in tokens:
        device = devices.get(hashes[token]) if token else None
        if device is not None and not device.revoked:
            callers.append(_caller(device, None))
            continue
        try:  # a session's token, or one refused: its own reason
            callers.append(authenticate(conn, token, now=now))
        except Unauthorised as exc:
            callers.append(exc)
    return callers


@cache
def _devices_by_tokens(dialect: str) -> Select[Any]:
    return select(_devices).where(one_of(_devices.c.token_hash, "b_hashes", dialect))


def _caller(device: Row[Any], session: Row[Any] | None) -> Caller:
    return Caller(
        device_id=device.id,
        clinic_id=device.clinic_id,
        kind=device.kind,
        letter=device.letter,
        last_seen_at=device.last_seen_at,
        user_id=session.user_id if session else None,
        role=session.role if session else None,
    )


@dataclass
class KnownTokens:
    """Digests of tokens accepted lately, so that the check before a request's body is read
    (middleware.AuthGate) costs a device that calls often no query. Only that check trusts it: every
    route authenticates again in its own transaction, so a token revoked a moment ago is still refused."""

    ttl_s: float = 60.0
    most: int = 10_000
    _until: dict[str, float] = field(default_factory=dict)

    def known(self, token_hash: str) -> bool:
        until = self._until.get(token_hash)
        return until is not None and until > time.monotonic()

    def remember(self, token_hash: str) -> None:
        if len(self._until) >= self.most:
            self._until.clear()
        self._until[token_hash] = time.monotonic() + self.ttl_s


def seen_long_ago(caller: Caller, now: datetime) -> bool:
    """Whether the device's `last_seen_at` is due to be brought up to date by its request."""
    return caller.last_seen_at is None or now - caller.last_seen_at > SEEN_EVERY


def mark_seen(conn: Connection, device_id: str, now: datetime) -> None:
    conn.execute(update(Device).where(Device.id == device_id).values(last_seen_at=now))


def revoke(conn: Connection, device_id: str) -> bool:
    """Revoke a device and end every session signed in on it; False if there is no such device."""
    done = conn.execute(update(Device).where(Device.id == device_id).values(revoked=True)).rowcount
    conn.execute(delete(UserSession).where(UserSession.device_id == device_id))
    return done == 1


# -- clinicians' sessions ---------------------------------------------------------------------


@cache
def _decoy_hash() -> str:
    """Checked when no such user exists, so a wrong username takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    role: str
    token: str
    expires_at: datetime


def find_user(conn: Connection, clinic_id: str, username: str) -> Row[Any] | None:
    """The active clinician of the clinic signing in as `username`: id, role and password hash."""
    table = Clinician.__table__
    return conn.execute(
        select(table.c.id, table.c.role, table.c.password_hash).where(
            table.c.username == username.strip().lower(),
            table.c.clinic_id == clinic_id,
            table.c.active.is_(True),
            table.c.deleted.is_(False),
        )
    ).first()


def password_matches(user: Row[Any] | None, password: str) -> bool:
    """argon2: tens of milliseconds of CPU; call it holding no transaction."""
    return verify_password(user.password_hash if user else _decoy_hash(), password) and user is not None


def open_session(
    conn: Connection, caller: Caller, user: Row[Any], *, now: datetime, ttl: timedelta
) -> SignedIn:
    """A session token valid for `ttl` for `user`, whose password was checked, on the caller's device."""
    conn.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
    token = new_token()
    expires_at = now + ttl
    conn.execute(
        insert(UserSession).values(
            token_hash=digest(token),
            user_id=user.id,
            device_id=caller.device_id,
            role=user.role,
            expires_at=expires_at,
        )
    )
    return SignedIn(user_id=user.id, role=user.role, token=token, expires_at=expires_at)
