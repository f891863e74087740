"""The call window's only door to the media layer: a `CallSession` on its own media loop, its
events re-emitted as Qt signals (queued to the GUI thread), its controls called on the loop.

Widgets never touch media: frames cross as `QImage`s (`FrameBridge`), everything else as the
signals below.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop.calls import CallLink, synthetic_sources
from desktop.media.loop import MediaLoop
from desktop.media.precall import server_answers
from desktop.media.qt_sink import FrameBridge
from desktop.media.session import (
    CallEvents,
    CallSession,
    CallSources,
    CallState,
    ChatLine,
)
from desktop.media.tracks import SharedSource

log = logging.getLogger(__name__)

__all__ = ["CallController", "CallLink", "CallState", "ChatLine", "synthetic_sources"]


class CallController(QObject):
    state_changed = Signal(str)  # a CallState value
    chat = Signal(object)  # ChatLine
    typing = Signal(bool)
    stats = Signal(object)  # CallStats
    consent = Signal(str, bool)  # (role, given)
    recording = Signal(object)  # Path | None
    error = Signal(str)
    finished = Signal()
    server_checked = Signal(bool)  # the pre-call check: does the clinic's server answer
    mic_level = Signal(int)  # 0-100: the pre-call check's meter

    def __init__(self, link: CallLink, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.remote = FrameBridge(self)  # the far side's video and audio
        self.local = FrameBridge(self)  # the local preview
        self.loop = MediaLoop(f"call-{link.role}").start()
        self.sources = self.loop.run(_on_loop(link.sources))
        self.session = CallSession(
            role=link.role,
            signalling=link.signalling,
            sources=self.sources,
            events=CallEvents(
                state=lambda state: self.state_changed.emit(state.value),
                chat=self.chat.emit,
                typing=self.typing.emit,
                stats=self.stats.emit,
                consent=self.consent.emit,
                recording=self.recording.emit,
                error=self.error.emit,
                video_frame=self.remote.push_video,
                audio_frame=self.remote.push_audio,
            ),
            chat_log=link.chat_log,
            options=link.options,
        )
        self._preview = self.loop.submit(self._show_preview(self.sources.camera))
        self._meter = self.loop.submit(self._measure(self.sources.microphone))
        self._run: Any = None
        self._screen: SharedSource | None = None
        self._closed = False

    @property
    def role(self) -> str:
        return self.link.role

    @property
    def state(self) -> CallState:
        return self.session.state

    def check_server(self, check: Callable[[], bool] | None = None) -> None:
        """Ask, off the GUI thread, whether the server answers (`check`, else its `/v1/health`)."""
        url = self.link.server_url
        if check is None and url is None:
            self.server_checked.emit(False)
            return
        probe = check or (lambda: server_answers(url or ""))
        future = self.loop.submit(asyncio.to_thread(probe))
        future.add_done_callback(lambda f: self.server_checked.emit(not f.exception() and f.result()))

    def join(self) -> None:
        if self._run is None:
            self.session.load_history()
            self._run = self.loop.submit(self.session.run())
            self._run.add_done_callback(lambda _f: self.finished.emit())

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if not self._closed:
            self.loop.call_soon(fn, *args)

    def set_muted(self, muted: bool) -> None:
        self._call(self.session.set_muted, muted)

    def set_camera_off(self, off: bool) -> None:
        self._call(self.session.set_camera_off, off)

    def share_screen(self, on: bool) -> None:
        """Send the screen (`link.screen`, opened on the loop) instead of the camera, or stop."""
        self._call(self._start_sharing if on else self._stop_sharing)

    def _start_sharing(self) -> None:
        if self._screen is not None:
            return
        try:
            self._screen = self.link.screen()
        except OSError:  # no screen to capture here: the camera goes on
            self.error.emit("screen_unavailable")
            return
        self.session.start_screen_share(self._screen.subscribe())

    def _stop_sharing(self) -> None:
        self.session.stop_screen_share()
        screen, self._screen = self._screen, None
        if screen is not None:
            screen.close()

    def send_chat(self, text: str) -> None:
        if not self._closed:
            self.loop.submit(self.session.send_chat(text))

    def set_typing(self, on: bool) -> None:
        self._call(self.session.set_typing, on)

    def consent_to_recording(self, given: bool) -> None:
        if not self._closed:
            self.loop.submit(self.session.consent_to_recording(given))

    def end(self) -> None:
        if not self._closed:
            self.loop.submit(self.session.end())

    def _loop_alive(self) -> bool:
        try:
            self.loop.loop  # noqa: B018 -- raises when the loop has stopped
        except RuntimeError:
            log.warning("the call's media loop had stopped before the window closed")
            return False
        return True

    def close(self) -> None:
        """End the call, wait for it to clean up, close the sources and stop the loop."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._run is not None and not self._run.done() and self._loop_alive():
                self.loop.run(self.session.end(), timeout=10)
                self._run.result(timeout=15)
        finally:
            self._preview.cancel()
            self._meter.cancel()
            for source in (self.sources.camera, self.sources.microphone, self._screen):
                if source is not None:
                    source.close()
            self.loop.stop()

    async def _measure(self, microphone: SharedSource | None) -> None:
        if microphone is None:
            return
        track = microphone.subscribe()
        try:
            while True:
                frame = await track.recv()
                if frame.format.name.startswith("s16"):
                    self.mic_level.emit(level_percent(frame.to_ndarray()))
        except asyncio.CancelledError:
            track.stop()
            raise
        except Exception:  # the source ended: the meter stays where it was
            track.stop()

    async def _show_preview(self, camera: SharedSource | None) -> None:
        if camera is None:
            return
        track = camera.subscribe()
        try:
            while True:
                self.local.push_video(await track.recv())
        except asyncio.CancelledError:
            track.stop()
            raise
        except Exception:  # the source ended: no more preview
            track.stop()


def level_percent(samples: np.ndarray) -> int:
    """An audio frame's level on the meter: -60 dBFS (empty) to 0 dBFS (full)."""
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2))) if samples.size else 0.0
    dbfs = 20 * math.log10(rms) if rms > 0 else -60.0
    return int(max(0.0, min(100.0, (dbfs + 60) * 100 / 60)))


async def _on_loop(factory: Callable[[], CallSources]) -> CallSources:
    return factory()  # sources (MediaRelay) belong to the media loop
