"""The call window's tour: its screens (pre-call, waiting, connected with chat, ended) in each
language, offscreen, to PNG files `{prefix}-{screen}-{language}.png`.

The other side is a `CallController` without a window (a real peer: its frames and chat cross the
same way a patient's or a doctor's would).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop

from desktop.calls import CallLink
from desktop.services.common import Actor
from desktop.ui.call.controller import CallController, CallState
from desktop.ui.call.window import CallWindow
from desktop.ui.context import UiContext
from desktop.ui.i18n import LANGUAGES

KIOSK_SIZE, DESK_SIZE = (1920, 1080), (1366, 768)
WAIT_S = 20.0


class TourStuck(RuntimeError):
    pass


def _wait(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TourStuck(f"the call tour waited {timeout:.0f} s for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.01)


def render_call_tour(
    ctx: UiContext,
    link: CallLink,
    peer: CallLink,
    out_dir: Path,
    *,
    prefix: str,
    size: tuple[int, int],
    actor: Actor | None = None,
    server_check: Callable[[], bool] | None = None,
    chat: tuple[str, str] = ("Good morning. Can you see and hear me?", "Yes, I can see you."),
) -> list[Path]:
    """Render this side's window through a real call with `peer`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    first = ctx.translations.language
    window = CallWindow(ctx, link, actor=actor, server_check=server_check)
    other = CallController(peer)
    window.resize(*size)
    window.show()

    def shoot(screen: str) -> None:
        for language in LANGUAGES:
            ctx.translations.set_language(language)
            QCoreApplication.processEvents()
            path = out_dir / f"{prefix}-{screen}-{language}.png"
            window.grab().save(str(path))
            written.append(path)

    try:
        _wait(lambda: window.precall.preview.frames > 3, "the camera preview")
        _wait(lambda: window.precall.server_ok is not None, "the server check")
        shoot("precall")
        window.join()
        _wait(lambda: window.state == CallState.WAITING, "the waiting room")
        shoot("waiting")
        other.join()
        _wait(lambda: window.state == CallState.CONNECTED, "the connection")
        _wait(lambda: window.call.remote.frames > 10 and window.quality is not None, "frames and stats")
        mine, theirs = chat if link.role == "doctor" else chat[::-1]
        window.controller.send_chat(mine)
        _wait(lambda: len(window.chat_lines) == 1, "the chat line sent")
        other.send_chat(theirs)
        _wait(lambda: len(window.chat_lines) == 2, "the chat line received")
        panel = window.call.doctor_panel
        if panel is not None:
            _wait(lambda: panel.history is not None, "the patient's summary")
        shoot("connected")
        window.controller.end()
        _wait(lambda: window.stack.currentWidget() is window.ended, "the end of the call")
        shoot("ended")
    finally:
        other.close()
        window.close()
        ctx.translations.set_language(first)
    return written
