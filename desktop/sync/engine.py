"""The sync engine: push the journal, pull the changes feed — explicit stages, each chunk committed.

`sync_once()` runs the stages in order, like Anki's normal sync:

1. **push** — unanswered journal ops (`pending`, and `sent` ones left unanswered by a crash or a
   lost answer) up to the newest op at the start, in `seq` order, in chunks of at most
   `MAX_OPS_PER_PUSH` ops and `MAX_BODY_BYTES` bytes. Each chunk is marked `sent` and committed
   before the request; its answers (status and result of every op, local tombstones of refused
   creates, the clock skew) are committed together in one transaction.
2. **pull** — pages from the stored cursor until the server says there are no more; each page
   is applied, and the cursor moved, in one local transaction (`desktop.sync.pulled`).
3. **done** — the time of this successful sync is stored.

Progress is reported after each committed chunk or page, and `cancel()` is checked between
them: a cancelled or failed sync keeps everything committed so far and resumes from there.
Network and server failures end the sync with a typed `report.error` (see desktop.sync.errors);
anything else (a bug, a full disk) propagates.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from desktop.domain.reasons import Reason
from desktop.store.changes import Changes, Origin
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, DeviceState, JournalOp, SyncConflict
from desktop.sync.client import SyncClient
from desktop.sync.errors import ServerError, ServerRejected, SyncError
from desktop.sync.outbox import Chunk, Outbox
from desktop.sync.protocol import (
    CLOCK_SKEW_WARNING_MS,
    MAX_BODY_BYTES,
    MAX_OPS_PER_PUSH,
    MAX_PULL_LIMIT,
    Op,
    PullResponse,
    PushRequest,
    PushResponse,
)
from desktop.sync.pulled import CursorMoved, PageWriter, foreign_keys_off
from desktop.sync.report import CancelCheck, Progress, ProgressCallback, SyncReport

log = logging.getLogger(__name__)

SKEW_CHECK_EVERY = timedelta(minutes=10)  # when there is nothing to push, ask /health this often
PULLED_STAMP_MAX_AHEAD = timedelta(days=1)
MAX_SET_ASIDE_PER_SYNC = 100  # ops set aside for a refused push in one sync; the next sync goes on
_OP_FIELD = re.compile(r"ops\.(\d+)(?:\.(.+))?")

device_state = DeviceState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Pushed:
    response: PushResponse
    skew_ms: int  # the server's clock minus ours, measured on this request


def clock_warning(skew_ms: int | None) -> Reason | None:
    """`sync.clock_off` when this computer's clock is off by more than the protocol allows."""
    if skew_ms is None or abs(skew_ms) <= CLOCK_SKEW_WARNING_MS:
        return None
    return Reason.of("sync.clock_off", minutes=round(abs(skew_ms) / 60_000), behind=skew_ms > 0)


def pending_count(store: LocalStore) -> int:
    """Journal ops the server has not answered yet."""
    with store.db.reader.connect() as conn:
        query = select(func.count()).where(JournalOp.status.in_(("pending", "sent")))
        return conn.execute(query).scalar_one()


def open_conflicts(store: LocalStore) -> int:
    """Conflicts in the log that no one has resolved yet."""
    with store.db.reader.connect() as conn:
        query = select(func.count()).where(
            SyncConflict.resolved_at.is_(None), SyncConflict.deleted.is_(False)
        )
        return conn.execute(query).scalar_one()


class SyncEngine:
    def __init__(
        self,
        store: LocalStore,
        client: SyncClient,
        *,
        page_size: int = MAX_PULL_LIMIT,
        max_ops: int = MAX_OPS_PER_PUSH,
        max_bytes: int = MAX_BODY_BYTES,
        wall_clock: Callable[[], datetime] | None = None,
    ):
        self.store = store
        self.client = client
        # The largest page the server gives: each page costs a request, a query, a commit and the
        # WAL writes of the index pages it touches, so a fresh device pulls ~15% faster than with
        # pages of 1000 (BENCHMARKS.md), at the price of holding the write lock ~5x longer a page.
        self.page_size = page_size
        self.max_ops = max_ops
        self.max_bytes = max_bytes
        self.outbox = Outbox(store)
        # The computer's own clock (what the HLC stamps with), not the app's notion of "now".
        self.wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._skew_checked: float | None = None

    def sync_once(
        self, progress: ProgressCallback | None = None, cancel: CancelCheck | None = None
    ) -> SyncReport:
        report = SyncReport()
        started = time.perf_counter()
        notify = progress or (lambda _p: None)
        stop = cancel or (lambda: False)
        try:
            self._push_setting_aside(report, notify, stop)
            if not report.cancelled:
                report.stage = "pull"
                self._pull(report, notify, stop)
            if not report.cancelled:
                report.stage = "done"
                self._done(report, notify)
        except SyncError as exc:
            report.error = exc
            report.errors.append(exc.reason)
            log.info("sync stopped in %s: %s", report.stage, exc.message)
        finally:
            report.duration = time.perf_counter() - started
        return report

    # -- push ---------------------------------------------------------------------------------

    def _push_setting_aside(self, report: SyncReport, notify: ProgressCallback, stop: CancelCheck) -> None:
        """Push; when the server refuses a whole push because of one op (a 4xx naming `ops.N`: an op
        this device's rules let through and the server's do not), that op is set aside, refused,
        and the push starts again: one bad op never holds up the journal behind it."""
        for attempt in itertools.count(1):
            try:
                self._push(report, notify, stop)
                return
            except OpRefused as refused:
                if attempt > MAX_SET_ASIDE_PER_SYNC:
                    raise
                self.outbox.set_aside(refused.op_id, refused.message, refused.field)
                report.rejected += 1
                report.errors.append(
                    Reason.of(
                        "sync.refused",
                        entity=refused.entity,
                        id=refused.entity_id,
                        why=refused.message,
                        field=refused.field,
                    )
                )
                log.warning("change %s set aside: %s", refused.op_id, refused.message)

    def _push(self, report: SyncReport, notify: ProgressCallback, stop: CancelCheck) -> None:
        """Chunks in order, one request at a time. A chunk is sent (marked `sent` first) as soon as
        the previous one is answered; that one's answers are then recorded, and the chunk after
        read from the journal, while the server applies this one. A cancel sends nothing more: the
        chunk already on its way is waited for and its answers recorded."""
        upto = self.outbox.last_seq()  # ops made during this sync wait for the next one
        total = self.outbox.unanswered(upto=upto)
        if not total:
            self._check_skew_quietly(report)
            return
        if stop():
            report.cancelled = True
            return
        device_id = self.store.device().device_id
        sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-push")
        in_flight: tuple[Chunk, Future[Pushed]] | None = None
        done = 0
        try:
            chunk = self._next_chunk(report, after=0, upto=upto)
            while chunk is not None or in_flight is not None:
                answered: tuple[Chunk, Pushed] | None = None
                if in_flight is not None:
                    answered = (in_flight[0], in_flight[1].result())
                    in_flight = None
                following: Chunk | None = None
                if chunk is not None:
                    done += len(chunk.refused)
                    if chunk.ops:
                        self.outbox.mark_sent(chunk.ops)
                        request = PushRequest(device_id=device_id, ops=[o.op for o in chunk.ops])
                        in_flight = (chunk, sender.submit(self._send, request))
                if answered is not None:
                    self._record(report, *answered)
                    done += len(answered[0].ops)
                if answered is not None or (chunk is not None and not chunk.ops):
                    notify(Progress("push", done, total))  # once per chunk, when it is through
                if chunk is not None:
                    following = self._next_chunk(report, after=chunk.last_seq or 0, upto=upto)
                    if following is not None and stop():
                        report.cancelled = True
                        if in_flight is not None:  # on its way already: its answers are kept
                            self._record(report, in_flight[0], in_flight[1].result())
                            in_flight = None
                        return
                chunk = following
        finally:
            # Only after a local error or a cancel is a push still in flight here: its ops stay
            # `sent` and go again next time (the server answers a repeated op from its log).
            # Waited for, as a page fetched ahead is, so the client is never used by two threads.
            _drop(in_flight[1] if in_flight is not None else None)
            sender.shutdown(wait=True)
        if report.pushed == 0:
            self._check_skew_quietly(report)

    def _next_chunk(self, report: SyncReport, *, after: int, upto: int) -> Chunk | None:
        """The next chunk, None when every op up to `upto` was looked at; ops refused here count
        as rejected."""
        chunk = self.outbox.next_chunk(after=after, upto=upto, max_ops=self.max_ops, max_bytes=self.max_bytes)
        if not chunk:
            return None
        report.errors += chunk.refused
        report.rejected += len(chunk.refused)
        return chunk

    def _send(self, request: PushRequest) -> Pushed:
        sent_at = self.wall_clock()
        try:
            response = self.client.push(request)
        except ServerRejected as exc:
            raise OpRefused.of(exc, request) or exc from None
        return Pushed(response, _skew_ms(response.server_time, sent_at, self.wall_clock()))

    def _record(self, report: SyncReport, chunk: Chunk, pushed: Pushed) -> None:
        try:
            answers = self.outbox.record(chunk.ops, pushed.response.results, skew_ms=pushed.skew_ms)
        except KeyError as missing:
            raise ServerError(Reason.of("sync.unanswered_change", op_id=str(missing))) from None
        self.store.announce(Changes.of(Origin.PULL, answers.tombstoned))
        self._skew(report, pushed.skew_ms)
        report.pushed += len(chunk.ops)
        report.applied += answers.applied
        report.merged += answers.merged
        report.conflicts += answers.conflicts
        report.rejected += answers.rejected
        report.duplicates += answers.duplicates
        report.errors += answers.rejections or []

    def _skew(self, report: SyncReport, skew: int) -> None:
        self._skew_checked = time.monotonic()
        report.clock_skew_ms = skew
        report.clock_warning = clock_warning(skew)

    def _check_skew_quietly(self, report: SyncReport) -> None:
        """With nothing to push, the clock is compared through /health now and then."""
        now = time.monotonic()
        if self._skew_checked is not None and now - self._skew_checked < SKEW_CHECK_EVERY.total_seconds():
            return
        sent_at = self.wall_clock()
        health = self.client.health()
        skew = _skew_ms(health.time, sent_at, self.wall_clock())
        with self.store.db.writer.begin() as conn:
            conn.execute(update(device_state).where(device_state.c.id == 1).values(clock_skew_ms=skew))
        self._skew(report, skew)

    # -- pull ---------------------------------------------------------------------------------

    def _pull(self, report: SyncReport, notify: ProgressCallback, stop: CancelCheck) -> None:
        """Pages in order, each applied with its cursor. The next page is asked for on a helper thread
        while this one is written, so the server and the local database work at the same time.

        At most one page is fetched ahead, and the client makes one request at a time: the helper's
        request is always finished (its page taken or thrown away) before this thread uses the
        client again, so the `requests.Session` is only ever used by one thread at a time. A page
        fetched ahead is thrown away unapplied if this one fails, the stored cursor moved, or the
        sync is cancelled; its error (offline, 401, 5xx...) is raised only where its page is
        needed, as if it had been asked for then. The helper thread never outlives the stage."""
        cursor = self._cursor()
        fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-pull")
        ahead: Future[PullResponse] | None = None
        try:
            while True:
                if stop():
                    report.cancelled = True
                    return
                if ahead is None:
                    page = self.client.pull(cursor, self.page_size)
                else:
                    page = ahead.result()  # a failed request raises here, where its page is needed
                    ahead = None
                if page.more and page.next <= cursor:
                    raise ServerError(Reason.of("sync.feed_stuck"))
                if page.more:
                    ahead = fetcher.submit(self.client.pull, page.next, self.page_size)
                if page.changes or page.next != cursor:
                    try:
                        report.rebased += self._apply(page, cursor)
                    except CursorMoved as moved:  # another sync of this data dir got there first
                        cursor = int(moved.args[0])
                        _drop(ahead)  # asked from the wrong place; and the client is needed again
                        ahead = None
                        continue
                report.pulled += len(page.changes)
                report.pages += 1
                cursor = page.next
                notify(Progress("pull", report.pulled))
                if not page.more:
                    return
        finally:
            _drop(ahead)  # never applied: a request in flight is waited for, its answer ignored
            fetcher.shutdown(wait=True)

    def _apply(self, page: PullResponse, since: int) -> int:
        with foreign_keys_off(self.store.db.writer) as conn, conn.begin():
            writer = PageWriter(conn, now=self.store.now())
            writer.apply(page.changes, since=since, next_cursor=page.next)
        self.store.announce(
            Changes.of(Origin.PULL, ((c.entity, c.id) for c in page.changes if c.entity in ENTITY_MODELS))
        )
        # Not a stamp far ahead of this computer's clock: a server older than its clock check may
        # hold one, and absorbed it would run every later stamp of this device as far ahead.
        ceiling = f"{int((self.wall_clock() + PULLED_STAMP_MAX_AHEAD).timestamp() * 1000):013d}"
        newest = max(
            (c.hlc for c in page.changes if c.hlc[13:14] == "-" and c.hlc[:13] <= ceiling), default=""
        )
        if newest:
            try:
                self.store.clock.observe(newest)  # our next change orders after everything pulled
            except ValueError:
                log.warning("ignored a malformed clock stamp from the server: %r", newest)
        return writer.rebased

    def _cursor(self) -> int:
        with self.store.db.reader.connect() as conn:
            value = conn.execute(select(device_state.c.pull_cursor).where(device_state.c.id == 1)).scalar()
        return int(value or 0)

    # -- done ---------------------------------------------------------------------------------

    def _done(self, report: SyncReport, notify: ProgressCallback) -> None:
        with self.store.db.writer.begin() as conn:
            conn.execute(
                update(device_state).where(device_state.c.id == 1).values(last_sync_at=self.store.now())
            )
        notify(Progress("done", report.pushed + report.pulled, report.pushed + report.pulled))


class OpRefused(ServerRejected):
    """The server refused a push for one of its ops (its `field` is `ops.N...`)."""

    def __init__(self, message: str, *, status: int, op: Op, field: str | None):
        super().__init__(message, status=status, field=field)
        self.op_id = op.op_id
        self.entity, self.entity_id = op.entity, op.entity_id

    @classmethod
    def of(cls, exc: ServerRejected, request: PushRequest) -> OpRefused | None:
        match = _OP_FIELD.fullmatch(exc.field or "")
        if match is None or int(match[1]) >= len(request.ops):
            return None
        return cls(exc.message, status=exc.status, op=request.ops[int(match[1])], field=match[2])


def _drop(ahead: Future[Any] | None) -> None:
    """Throw away a request made ahead (a push, a page): not started, it never will be; in flight,
    wait for it to end (the client is then free for this thread) and ignore its answer and its
    error."""
    if ahead is not None and not ahead.cancel():
        ahead.exception()


def _skew_ms(server_time: datetime, sent_at: datetime, received_at: datetime) -> int:
    """Server clock minus ours, taking the middle of the round trip as the moment it answered."""
    if server_time.tzinfo is None:
        server_time = server_time.replace(tzinfo=UTC)
    middle = sent_at + (received_at - sent_at) / 2
    return round((server_time - middle).total_seconds() * 1000)
