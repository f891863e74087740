"""Sign-in and enrolment with rate limits (throttle.py), and a password check that holds no write lock.

A sign-in reads (caller, lock-outs, the user) in a read transaction, checks the password in a
worker thread holding no transaction and no write turn, and only then writes, briefly: a session
on success, a counted failure otherwise. Password checks wait for a turn on the event loop
(`deps.PASSWORD_CHECKS_AT_ONCE`): argon2 costs tens of milliseconds of CPU and 64 MiB each, and a
flood of sign-ins must leave a core to the pushes and pulls of every other clinic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Row
from starlette.concurrency import run_in_threadpool

from desktop.sync.protocol import EnrollRequest, LoginRequest
from server_stub import access, throttle
from server_stub.access import Unauthorised
from server_stub.deps import ServerState

T = TypeVar("T")


async def _reading(state: ServerState, work: Callable[[Connection], T]) -> T:
    def run() -> T:
        with state.read_engine.connect() as conn, conn.begin():
            return work(conn)

    return await run_in_threadpool(run)


async def _writing(state: ServerState, work: Callable[[Connection], T]) -> T:
    def run() -> T:
        with state.engine.begin() as conn:
            return work(conn)

    async with state.write_turns:  # a writer like any other (deps.write_turn)
        return await run_in_threadpool(run)


async def sign_in(state: ServerState, token: str | None, body: LoginRequest, address: str) -> access.SignedIn:
    """A clinician of the device's clinic signs in: a session token, or 401, or 429 while locked."""
    rules = state.throttle

    def look(conn: Connection) -> tuple[list[throttle.Key], Row[Any] | None]:
        now = state.now()
        caller = access.authenticate(conn, token, now=now)
        keys = throttle.login_keys(
            rules,
            clinic_id=caller.clinic_id,
            device_id=caller.device_id,
            username=body.username,
            address=address,
        )
        throttle.check(conn, keys, now)
        return keys, access.find_user(conn, caller.clinic_id, body.username)

    await _reading(state, look)  # a locked-out flood is refused here, without waiting for a turn
    async with state.password_checks:
        keys, user = await _reading(state, look)  # again: failures counted while this one waited
        matches = await run_in_threadpool(access.password_matches, user, body.password)
        if not matches:
            await _writing(state, lambda conn: throttle.record_failure(conn, keys, state.now()))
    if not matches or user is None:
        raise Unauthorised("Wrong username or password.", field="password")
    signing_in = user

    def open_session(conn: Connection) -> access.SignedIn:
        now = state.now()
        current = access.authenticate(conn, token, now=now)  # not revoked meanwhile
        throttle.forget(conn, throttle.user_key(rules, current.clinic_id, body.username))
        return access.open_session(conn, current, signing_in, now=now, ttl=state.session_ttl)

    return await _writing(state, open_session)


async def enrol(state: ServerState, body: EnrollRequest, address: str) -> access.Enrolled:
    """Redeem an enrolment code; a code the server does not accept counts against the address."""
    keys: Sequence[throttle.Key] = throttle.enrol_keys(state.throttle, address=address)
    await _reading(state, lambda conn: throttle.check(conn, keys, state.now()))

    def redeem(conn: Connection) -> access.Enrolled:
        return access.enrol(conn, code=body.code, name=body.name, kind=body.kind, now=state.now())

    try:
        return await _writing(state, redeem)
    except Unauthorised:
        await _writing(state, lambda conn: throttle.record_failure(conn, keys, state.now()))
        raise
