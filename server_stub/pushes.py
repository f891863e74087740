"""Group commit: the pushes of a clinic that arrive while its writer is busy are applied together.

A push waits on its clinic's queue, on the event loop, holding no thread or connection. When the
clinic's writer is free it takes every push waiting (up to MAX_OPS_TOGETHER ops, in order of
arrival) and applies them in one transaction: one clinic lock, one read-ahead, a statement per
table, one commit (apply.push_together). Each push still gets its own answer, sent after that
commit, and each op is still applied whole or not at all. A device sees no difference but its
wait: a push that arrives while another is being applied is applied right after it, together with
the others that came meanwhile, instead of after each of them in turn. See docs/server.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from desktop.sync.protocol import MAX_OPS_PER_PUSH, PushRequest, PushResponse
from server_stub import access
from server_stub.apply import PushContext, push_together
from server_stub.errors import ApiError
from server_stub.gate import authenticate_reading

if TYPE_CHECKING:
    from server_stub.deps import ServerState

log = logging.getLogger(__name__)
MAX_OPS_TOGETHER = 2 * MAX_OPS_PER_PUSH
ROUTES_KEPT = 10_000  # devices whose clinic is remembered (token digest -> clinic)

Outcome = PushResponse | Exception


@dataclass
class _Waiting:
    token: str | None
    request: PushRequest
    answer: asyncio.Future[PushResponse]


@dataclass
class PushQueue:
    """The clinics' queues of pushes, and the writer task of each clinic with pushes waiting."""

    _waiting: dict[str, list[_Waiting]] = field(default_factory=dict)
    _writers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Which clinic a token's pushes go to; the token itself is checked in the push's transaction.
    _clinic_of: dict[str, str] = field(default_factory=dict)

    async def push(self, state: ServerState, token: str | None, request: PushRequest) -> PushResponse:
        """Apply the push with whatever else of its clinic is waiting; answered after the commit."""
        clinic_id = await self._clinic(state, token)
        waiting = _Waiting(token, request, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(clinic_id, []).append(waiting)
        if clinic_id not in self._writers:
            self._writers[clinic_id] = asyncio.create_task(self._write(state, clinic_id))
        return await waiting.answer

    async def _clinic(self, state: ServerState, token: str | None) -> str:
        if not token:
            raise access.Unauthorised(access.NO_TOKEN)
        key = access.digest(token)
        clinic_id = self._clinic_of.get(key)
        if clinic_id is None:
            caller = await run_in_threadpool(authenticate_reading, state, token)
            if len(self._clinic_of) >= ROUTES_KEPT:
                self._clinic_of.clear()
            clinic_id = self._clinic_of[key] = caller.clinic_id
        return clinic_id

    async def _write(self, state: ServerState, clinic_id: str) -> None:
        """Apply the clinic's waiting pushes, a batch at a time, until none is left."""
        try:
            while batch := self._take(clinic_id):
                try:
                    async with state.write_turns:  # deps.write_turn
                        outcomes = await run_in_threadpool(apply_batch, state, clinic_id, batch)
                except Exception as exc:
                    outcomes = [exc] * len(batch)
                state.live.changed(clinic_id)  # committed: wake the clinic's devices (live.py)
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if waiting.answer.done():  # the request was cancelled: its client has gone
                        continue
                    if isinstance(outcome, Exception):
                        waiting.answer.set_exception(outcome)
                    else:
                        waiting.answer.set_result(outcome)
        finally:
            # No await between the last empty `_take` and here: a push queued after it starts a
            # new writer.
            del self._writers[clinic_id]

    def _take(self, clinic_id: str) -> list[_Waiting]:
        waiting = self._waiting.get(clinic_id)
        if not waiting:
            self._waiting.pop(clinic_id, None)
            return []
        ops = len(waiting[0].request.ops)
        taken = 1
        while taken < len(waiting) and ops + len(waiting[taken].request.ops) <= MAX_OPS_TOGETHER:
            ops += len(waiting[taken].request.ops)
            taken += 1
        batch, self._waiting[clinic_id] = waiting[:taken], waiting[taken:]
        return batch


def apply_batch(state: ServerState, clinic_id: str, batch: list[_Waiting]) -> list[Outcome]:
    """Each push's answer, or the error to answer it with. Pushes applied together fail together on
    an unexpected error (a database gone away, a bug): then each is applied again on its own, so
    that one push that cannot be applied does not keep failing the others."""
    try:
        return _apply_in_one_transaction(state, clinic_id, batch)
    except Exception:
        if len(batch) == 1:
            raise
        log.warning("%d pushes to clinic %s failed together; applying each alone", len(batch), clinic_id)
    outcomes: list[Outcome] = []
    for waiting in batch:
        try:
            outcomes += _apply_in_one_transaction(state, clinic_id, [waiting])
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def _apply_in_one_transaction(state: ServerState, clinic_id: str, batch: list[_Waiting]) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    with state.engine.begin() as conn:
        now = state.now()
        callers = access.authenticate_all(conn, [waiting.token for waiting in batch], now=now)
        pushes: list[tuple[int, access.Caller, PushContext, PushRequest]] = []
        for at, (waiting, caller) in enumerate(zip(batch, callers, strict=True)):
            if isinstance(caller, Exception):
                outcomes[at] = caller
                continue
            refusal = _refusal(caller, waiting.request, clinic_id)
            if refusal is not None:
                outcomes[at] = refusal
                continue
            ctx = PushContext(clinic_id, caller.device_id, caller.kind, now, state.clock)
            pushes.append((at, caller, ctx, waiting.request))
        if pushes:
            answers = push_together(conn, [(ctx, request) for _, _, ctx, request in pushes])
            outcomes.update((at, answer) for (at, _, _, _), answer in zip(pushes, answers, strict=True))
            for device_id in sorted({c.device_id for _, c, _, _ in pushes if access.seen_long_ago(c, now)}):
                access.mark_seen(conn, device_id, now)
    return [outcomes[at] for at in range(len(batch))]


def _refusal(caller: access.Caller, request: PushRequest, clinic_id: str) -> ApiError | None:
    if request.device_id != caller.device_id:
        message = "This push names another device than the one the token belongs to."
        return ApiError(403, message, field="device_id")
    if caller.clinic_id != clinic_id:  # a device never changes clinic: not expected to happen
        return ApiError(409, "The server was not ready for this push: send it again.")
    return None
