"""Ops: a screen asks for work, the work runs off the GUI thread, the answer comes back on it.

In the manner of Anki's `CollectionOp` / `QueryOp` (qt/aqt/operations/__init__.py):

    WriteOp(self, lambda uow: queue.call_next(uow, actor=me).code, actor=me).success(self.called).run(ops)
    ReadOp(self, lambda session, now: board.board_view(session, now=now)).success(self.show).run(ops)

The op function gets a unit of work (`WriteOp`, opened for `actor`: the signed-in clinician or
the kiosk, whom every op it journals names, and whose role the server checks) or a read-only
session and the store's "now" (`ReadOp`), runs on the runner's one worker thread (SQLite has one
writer; ops run in the order asked), and must return plain frozen data, never a live ORM row.
It never touches a widget.

`success(result)` and `failure(error)` run on the GUI thread, and only while the screen that
asked still exists. A `ClinicError` (bad input, not allowed, not found...) goes to `failure`;
without one, its reason goes to `AppSignals.refused` (the notice line shows it in the user's
language). Any other exception is a bug: the runner logs it with its traceback and emits
`AppSignals.problem` with a calm sentence; the app goes on.

After a write commits, `AppSignals.changed` carries what it changed with the screen as
initiator, before `success` runs: that screen updates itself from the result and skips the reload.
Every other commit the store's change feed announces (a pulled page, a write made on another
thread) reaches `AppSignals.changed` as it happens, with no initiator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, Generic, Self, TypeVar

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, Signal
from shiboken6 import isValid

from desktop.domain.errors import ClinicError
from desktop.store.changes import Changes
from desktop.store.local import LocalStore
from desktop.store.uow import Acting, UnitOfWork
from desktop.ui.signals import AppSignals

log = logging.getLogger(__name__)

T = TypeVar("T")
Success = Callable[[T], None]
Failure = Callable[[Exception], None]


def problem_text() -> str:
    return QCoreApplication.translate(
        "Ops", "Something went wrong, and it was written to the log. You can carry on working."
    )


class _Op(Generic[T]):
    def __init__(self, parent: QObject, op: Callable[..., T], *, actor: Acting | None = None):
        self.parent = parent  # the screen that asked: its callbacks run only while it exists
        self.op = op
        self.actor = actor  # a write's: who acts (None: the device itself, `system`)
        self.on_success: Success[T] | None = None
        self.on_failure: Failure | None = None

    def success(self, callback: Success[T]) -> Self:
        self.on_success = callback
        return self

    def failure(self, callback: Failure) -> Self:
        self.on_failure = callback
        return self

    def run(self, runner: OpRunner) -> None:
        runner.submit(self)


class WriteOp(_Op[T]):
    """`op(uow)` in one unit of work: it commits if the op returns, rolls back if it raises."""

    op: Callable[[UnitOfWork], T]


class ReadOp(_Op[T]):
    """`op(session, now)` with a read-only SQLAlchemy session (typed `Any` here: screens do not
    import SQLAlchemy) and the store's current time."""

    op: Callable[[Any, datetime], T]


class OpRunner(QObject):
    """Runs ops on one worker thread; hands results and changes back to the GUI thread.

    It is also where the store's change feed reaches `AppSignals.changed` (see the module's
    docstring).
    """

    _deliver = Signal(object)  # a callable to run on the GUI thread

    def __init__(self, store: LocalStore, signals: AppSignals, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self.signals = signals
        self.pending = 0  # ops asked for and not yet answered on the GUI thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinicdesk-ops")
        self._gathering = threading.local()  # on the worker: what the write under way committed
        self._deliver.connect(self._call, type=Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = store.on_commit(self._committed)

    def submit(self, op: _Op[Any]) -> None:
        self.pending += 1
        self._pool.submit(self._work, op)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Process events until every op asked for has been answered (tests, the tour, the bench)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)
        return not self.pending

    def close(self) -> None:
        """Stop hearing of commits; wait for the op under way. Results not yet delivered are dropped."""
        self._unsubscribe()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- on the worker thread ---------------------------------------------------------------

    def _work(self, op: _Op[Any]) -> None:
        written: list[Changes] = []
        try:
            if isinstance(op, WriteOp):
                self._gathering.ops = written
                with self.store.unit_of_work(actor=op.actor) as uow:
                    result = op.op(uow)
            else:
                with self.store.reading() as session:
                    result = op.op(session, self.store.now())
        except Exception as exc:  # every failure goes back to the GUI thread
            self._deliver.emit(partial(self._failed_op, op, exc))
            return
        finally:
            self._gathering.ops = None
        changes = _merged(written) if written else None
        self._deliver.emit(partial(self._succeeded, op, result, changes))

    def _committed(self, changes: Changes) -> None:
        """The store's change-feed listener, on the committing thread."""
        gathering: list[Changes] | None = getattr(self._gathering, "ops", None)
        if gathering is not None:  # a thread-local: only the op's own commits
            gathering.append(changes)
        else:
            self._deliver.emit(partial(self.signals.changed.emit, changes, None))

    # -- on the GUI thread ------------------------------------------------------------------

    @staticmethod
    def _call(callback: Callable[[], None]) -> None:
        callback()

    def _succeeded(self, op: _Op[Any], result: Any, changes: Changes | None) -> None:
        self.pending -= 1
        if changes is not None:
            self.signals.changed.emit(changes, op.parent)
        if op.on_success is not None and isValid(op.parent):
            try:
                op.on_success(result)
            except Exception as exc:  # a bug in the screen's handler: same calm message
                self._failed(op, exc, in_handler=True)

    def _failed_op(self, op: _Op[Any], exc: Exception) -> None:
        self.pending -= 1
        self._failed(op, exc)

    def _failed(self, op: _Op[Any], exc: Exception, *, in_handler: bool = False) -> None:
        if isinstance(exc, ClinicError) and not in_handler:
            if op.on_failure is not None and isValid(op.parent):
                op.on_failure(exc)
            else:
                self.signals.refused.emit(exc.reason)
            return
        log.error("an op failed", exc_info=exc)
        self.signals.problem.emit(problem_text())


def _merged(commits: list[Changes]) -> Changes:
    """One op's commits as one `Changes` (an op is one unit of work: usually one commit)."""
    pairs = ((entity, i) for c in commits for entity, ids in c.ids.items() for i in ids)
    return Changes.of(commits[0].origin, pairs)
