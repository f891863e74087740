"""Sign-in and enrolment with rate limits (throttle.py), and a password check that holds no write lock.

A sign-in reads (caller, lock-outs, the user) in a read transaction, checks the password in a
worker thread holding no transaction and no write turn, and only then writes, briefly: a session
on success, a counted failure otherwise. Password checks wait for a turn on the event loop
(`deps.PASSWORD_CHECKS_AT_ONCE`): argon2 costs tens of milliseconds of CPU on every core (4 lanes)
and 64 MiB each, and a flood of sign-ins must not slow the pushes and pulls of every other
clinic. They run on threads of their own at a lower scheduling priority (`password_checker`): when
the cores are busy, the kernel runs the server's other threads first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Row
from starlette.concurrency import run_in_threadpool

from desktop.domain.errors import InvalidInput
from desktop.sync.protocol import EnrollRequest, LoginRequest
from server_stub import access, throttle
from server_stub.access import Unauthorised
from server_stub.deps import PASSWORD_CHECKS_AT_ONCE, ServerState

T = TypeVar("T")
CHECKER_NICENESS = 10  # password checks yield the cores to every other request (password_checker)


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


def password_checker() -> ThreadPoolExecutor:
    """The threads that run argon2 (shut down with the app). On Linux a thread's nice value is its
    own and is inherited by the threads it starts (argon2's lanes)."""

    def lower_priority() -> None:
        if hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # not allowed here: checks run at normal priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECKER_NICENESS)

    return ThreadPoolExecutor(
        PASSWORD_CHECKS_AT_ONCE, thread_name_prefix="password-check", initializer=lower_priority
    )


def require_text(**fields: str) -> None:
    """No NUL and no lone surrogate (a JSON escape such as "\\udc80"): neither is a character the
    databases, argon2 or a user's keyboard accept; they are a 422 naming the field, not a 500."""
    for name, value in fields.items():
        if "\x00" in value or not _encodable(value):
            raise InvalidInput(f"The field '{name}' holds a character that is not text.", field=name)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def sign_in(state: ServerState, token: str | None, body: LoginRequest, address: str) -> access.SignedIn:
    """A clinician of the device's clinic signs in: a session token, or 401, or 429 while locked."""
    require_text(username=body.username, password=body.password)
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
        matches = await asyncio.get_running_loop().run_in_executor(
            state.password_checker, access.password_matches, user, body.password
        )
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
    require_text(code=body.code, name=body.name)
    keys: Sequence[throttle.Key] = throttle.enrol_keys(state.throttle, address=address)
    await _reading(state, lambda conn: throttle.check(conn, keys, state.now()))

    def redeem(conn: Connection) -> access.Enrolled:
        return access.enrol(conn, code=body.code, name=body.name, kind=body.kind, now=state.now())

    try:
        return await _writing(state, redeem)
    except Unauthorised:
        await _writing(state, lambda conn: throttle.record_failure(conn, keys, state.now()))
        raise
