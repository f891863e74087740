"""Unexpected exceptions: logged (desktop.logs keeps their text out), shown as a calm sentence,
and the app goes on. Typed service errors never get here: ops hand them to the screen."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from desktop.ui.ops import problem_text
from desktop.ui.signals import AppSignals

log = logging.getLogger("clinicdesk.unexpected")

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def install_exception_hooks(signals: AppSignals) -> Callable[[], None]:
    """Route uncaught exceptions of the GUI thread (Qt slots, timers) and of other threads to the
    log and `signals.problem`. Returns the call that puts the previous hooks back."""
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def on_gui_thread(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous_hook(kind, value, tb)
            return
        log.error("unexpected exception", exc_info=(kind, value, tb))
        signals.problem.emit(problem_text())

    def on_other_thread(args: threading.ExceptHookArgs) -> None:
        # Widgets cannot be reached from here: the log has it, the thread's owner reports it.
        log.error(
            "unexpected exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    sys.excepthook = on_gui_thread
    threading.excepthook = on_other_thread

    def restore() -> None:
        sys.excepthook, threading.excepthook = previous_hook, previous_thread_hook

    return restore
