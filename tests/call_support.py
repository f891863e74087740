"""One side of a call in a test: a `CallSession` on its own media loop, with what it received.

Frames are read back as the receiver sees them: the stamp drawn by the sender (counter and
millisecond), which pattern it is (camera or screen), and the audio samples for an FFT.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop.media.loop import MediaLoop
from desktop.media.session import (
    CallEvents,
    CallOptions,
    CallSession,
    CallSources,
    CallState,
    CallStats,
    ChatLine,
    ChatLog,
)
from desktop.media.signalling import SignallingFactory
from desktop.media.tracks import (
    AUDIO_RATE,
    STAMP_HEIGHT,
    Stamp,
    TestPatternTrack,
    ToneTrack,
    read_stamp,
    shared,
    wall_millis,
)


@dataclass(frozen=True)
class Seen:
    stamp: Stamp | None
    screen: bool  # the blue screen-share pattern, not the warm camera pattern
    at_millis: int
    size: tuple[int, int]


@dataclass
class Received:
    frames: deque[Seen] = field(default_factory=lambda: deque(maxlen=2000))
    audio: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=150))  # 3 s of 20 ms frames
    states: list[CallState] = field(default_factory=list)
    chat: list[ChatLine] = field(default_factory=list)
    stats: list[CallStats] = field(default_factory=list)
    typing: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def video(self, frame: Any) -> None:
        pixels = frame.to_ndarray(format="rgb24")
        body = pixels[STAMP_HEIGHT::8, ::8]
        screen = float(body[..., 2].mean()) > float(body[..., 0].mean())
        with self.lock:
            self.frames.append(Seen(read_stamp(pixels), screen, wall_millis(), (frame.width, frame.height)))

    def sound(self, frame: Any) -> None:
        samples = frame.to_ndarray().astype(np.float32).reshape(-1, len(frame.layout.channels))[:, 0]
        with self.lock:
            self.audio.append(samples)

    def counters(self) -> list[int]:
        with self.lock:
            return [seen.stamp.counter for seen in self.frames if seen.stamp is not None]

    def last_frames(self, n: int) -> list[Seen]:
        with self.lock:
            return list(self.frames)[-n:]

    def audio_seconds(self, seconds: float) -> np.ndarray:
        with self.lock:
            frames = list(self.audio)
        wanted = int(seconds * AUDIO_RATE)
        joined = np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)
        return joined[-wanted:]


def dominant_frequency(samples: np.ndarray, rate: int = AUDIO_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[:3] = 0  # no DC
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


class Side:
    """A session running on its own loop until `end()`."""

    def __init__(
        self,
        role: str,
        signalling: SignallingFactory,
        sources: CallSources | None = None,
        *,
        chat_log: ChatLog | None = None,
        options: CallOptions | None = None,
    ) -> None:
        self.role = role
        self.got = Received()
        events = CallEvents(
            state=self.got.states.append,
            chat=self.got.chat.append,
            stats=self.got.stats.append,
            typing=self.got.typing.append,
            error=self.got.errors.append,
            video_frame=self.got.video,
            audio_frame=self.got.sound,
        )
        self.loop = MediaLoop(f"test-{role}").start()
        self.session = CallSession(
            role=role,
            signalling=signalling,
            sources=sources,
            events=events,
            chat_log=chat_log,
            options=options,
        )
        self.started = time.monotonic()
        self.done = self.loop.submit(self.session.run())

    def on_loop(self, call: Callable[[], Any]) -> Any:
        """Run a plain call on the media loop (the session's controls are not thread-safe)."""

        async def run() -> Any:
            return call()

        return self.loop.run(run(), timeout=10)

    def end(self) -> None:
        try:
            if not self.done.done():
                self.loop.run(self.session.end(), timeout=10)
            self.done.result(timeout=15)
        finally:
            self.loop.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.05)


def frames_after(side: Side, after_millis: int) -> list[Seen]:
    return [seen for seen in side.got.last_frames(400) if seen.at_millis > after_millis]


def synthetic(tone: float, style: str = "camera") -> CallSources:
    return CallSources(shared(TestPatternTrack(320, 240, style=style)), shared(ToneTrack(tone)))


def start(sides: list[Side], *args: Any, **kwargs: Any) -> Side:
    side = Side(*args, **kwargs)
    sides.append(side)
    return side


def connected(*sides: Side) -> None:
    wait_until(lambda: all(s.session.state is CallState.CONNECTED for s in sides), 15, "both connected")


def increasing(counters: list[int]) -> bool:
    return len(counters) > 1 and all(b > a for a, b in itertools.pairwise(counters))
