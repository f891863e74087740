"""What a call sends: camera, microphone, screen, and synthetic sources for tests and demos.

Each source is a small `MediaStreamTrack` with one `async recv()` (aiortc's own shape). Blocking
capture (OpenCV, PyAV) runs on a worker thread; the newest frame wins, so a slow consumer sees a
live picture rather than a backlog. A camera is opened once and fanned out through `MediaRelay`
(`SharedSource.subscribe`): the local preview and the call read the same capture.

The synthetic picture carries a stamp drawn into its pixels — the frame counter and the wall-clock
millisecond it was made — in blocks large enough to survive the codec, so a receiver can read
back which frame it decoded and how old it is (`read_stamp`).
"""

from __future__ import annotations

import asyncio
import fractions
import glob
import math
import os
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020

# The stamp: three rows of 32 blocks at the top of the picture, 96 bits — the counter (32), the
# millisecond (48) and a check (16) so that a garbled read is refused rather than believed.
STAMP_COLUMNS = 32
STAMP_ROWS = 3
STAMP_ROW_HEIGHT = 16
STAMP_HEIGHT = STAMP_ROWS * STAMP_ROW_HEIGHT
_MASK_48 = (1 << 48) - 1


@dataclass(frozen=True, slots=True)
class Stamp:
    counter: int
    millis: int  # wall clock (time.time) in ms when the frame was made


def _check(counter: int, millis: int) -> int:
    return zlib.crc32(counter.to_bytes(4, "big") + millis.to_bytes(6, "big")) & 0xFFFF


def _stamp_bits(counter: int, millis: int) -> list[int]:
    value = (counter & 0xFFFFFFFF) << 64 | (millis & _MASK_48) << 16 | _check(counter, millis)
    return [(value >> (95 - i)) & 1 for i in range(96)]


def draw_stamp(image: np.ndarray, counter: int, millis: int) -> None:
    """Draw the stamp into the top rows of an RGB/BGR image (in place)."""
    width = image.shape[1]
    block = width // STAMP_COLUMNS
    for index, bit in enumerate(_stamp_bits(counter, millis)):
        row, column = divmod(index, STAMP_COLUMNS)
        y, x = row * STAMP_ROW_HEIGHT, column * block
        image[y : y + STAMP_ROW_HEIGHT, x : x + block] = 255 if bit else 0


def read_stamp(image: np.ndarray) -> Stamp | None:
    """The stamp of a decoded picture (RGB, BGR or its luma plane), or None where it cannot be read."""
    if image.ndim not in (2, 3) or image.shape[0] < STAMP_HEIGHT:
        return None
    width = image.shape[1]
    block = width // STAMP_COLUMNS
    value = 0
    for index in range(96):
        row, column = divmod(index, STAMP_COLUMNS)
        y = row * STAMP_ROW_HEIGHT + STAMP_ROW_HEIGHT // 2
        x = column * block + block // 2
        value = value << 1 | int(image[y - 2 : y + 3, x - 2 : x + 3].mean() > 127)
    counter, millis, check = value >> 64, (value >> 16) & _MASK_48, value & 0xFFFF
    return Stamp(counter, millis) if check == _check(counter, millis) else None


def wall_millis() -> int:
    return time.time_ns() // 1_000_000


class _Paced:
    """Frame timing at a fixed rate from the first frame: sleeps until each frame is due."""

    def __init__(self, rate: float) -> None:
        self.period = 1.0 / rate
        self.count = 0
        self.start = 0.0

    async def next(self) -> int:
        if self.count == 0:
            self.start = time.monotonic()
        else:
            wait = self.start + self.count * self.period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self.count += 1
        return self.count - 1


class TestPatternTrack(MediaStreamTrack):
    """A moving colour pattern with the stamp drawn in; `style` tells a camera from a screen share
    at a glance (and to the tests: the screen pattern is blue, the camera pattern warm)."""

    kind = "video"
    __test__ = False  # not a pytest test class

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30, style: str = "camera") -> None:
        super().__init__()
        self.width, self.height = width, height
        self._pace = _Paced(fps)
        x = np.linspace(0, 255, width, dtype=np.float32)
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
        base = np.empty((height, width, 3), dtype=np.uint8)
        if style == "screen":
            base[..., 0] = 40  # RGB: a blue slide with a light band moving across
            base[..., 1] = (60 + y / 4).astype(np.uint8)
            base[..., 2] = (200 + x / 10).astype(np.uint8)
        else:
            base[..., 0] = (150 + x / 3).clip(0, 255).astype(np.uint8)
            base[..., 1] = (y / 2 + 60).astype(np.uint8)
            base[..., 2] = 40
        self._base = base
        self._frame = np.empty_like(base)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        counter = await self._pace.next()
        picture = self._frame
        np.copyto(picture, self._base)
        band = (counter * 8) % self.width
        picture[STAMP_HEIGHT:, band : band + 24] = 230
        draw_stamp(picture, counter, wall_millis())
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = round(counter * self._pace.period * VIDEO_CLOCK)
        frame.time_base = VIDEO_TIME_BASE
        return frame


class ToneTrack(MediaStreamTrack):
    """A sine tone, 48 kHz mono s16, in 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._pace = _Paced(1 / AUDIO_PTIME)
        self._amplitude = int(amplitude * 32767)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pace.next()
        start = index * self._samples
        t = (np.arange(start, start + self._samples) / AUDIO_RATE).astype(np.float64)
        wave = (np.sin(2 * math.pi * self.frequency * t) * self._amplitude).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


# -- camera ---------------------------------------------------------------------------------------


class CameraUnavailable(OSError):
    """The camera setting names nothing that can be opened."""


def camera_source(setting: str | int) -> int | str:
    """The camera setting as OpenCV takes it: an index ("0"), a device path or a URL."""
    if isinstance(setting, int):
        return setting
    text = setting.strip()
    return int(text) if text.isdigit() else text


def quiet_opencv() -> None:
    """OpenCV logs a warning for every device it cannot open: errors only (`isOpened` says it)."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _is_file(source: int | str) -> bool:
    return isinstance(source, str) and "://" not in source and Path(source).is_file()


class CameraTrack(MediaStreamTrack):
    """Frames of an OpenCV capture read on a worker thread; the newest frame wins.

    A file (a clip standing in for a camera) is paced at its own rate and played in a loop; a
    device or a stream delivers at its own pace."""

    kind = "video"

    def __init__(self, source: int | str) -> None:
        super().__init__()
        self.source = source
        quiet_opencv()
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraUnavailable(f"No camera could be opened at {source!r}.")
        rate = self._capture.get(cv2.CAP_PROP_FPS) or 0.0
        self.fps = rate if 1 <= rate <= 120 else 30.0
        self._loop_file = _is_file(source)
        self._latest: np.ndarray | None = None
        self._sequence = 0
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._failed = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sent = 0
        self._start = 0.0

    def _read(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        try:
            while not self._quit.is_set():
                ok, image = self._capture.read()
                if not ok and self._loop_file:
                    self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, image = self._capture.read()
                if not ok:
                    self._failed = True
                    break
                with self._lock:
                    self._latest = image
                    self._sequence += 1
                self._notify()
                if self._loop_file:
                    due += period
                    self._quit.wait(max(0.0, due - time.monotonic()))
        finally:
            self._capture.release()
            self._notify()

    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._start = time.monotonic()
            self._thread = threading.Thread(target=self._read, name="clinic-camera", daemon=True)
            self._thread.start()
        assert self._wake is not None
        while True:
            with self._lock:
                image, sequence = self._latest, self._sequence
            if image is not None and sequence != self._sent:
                break
            if self._failed:
                self.stop()
                raise MediaStreamError
            self._wake.clear()
            await self._wake.wait()
        self._sent = sequence
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
        frame.time_base = VIDEO_TIME_BASE
        return frame

    def stop(self) -> None:
        super().stop()
        self._quit.set()
        if self._thread is None:
            self._capture.release()


class SharedSource:
    """A source opened once and fanned out through `MediaRelay`: the preview and each peer
    connection of a call subscribe their own proxy; stopping a proxy leaves the source running."""

    def __init__(self, track: MediaStreamTrack, *, buffered: bool) -> None:
        self.track = track
        self.kind = track.kind
        self._buffered = buffered
        self._relay = MediaRelay()

    def subscribe(self) -> MediaStreamTrack:
        # Unbuffered video: a slow reader skips frames and never lags. Audio is buffered (a
        # dropped 20 ms frame is a click); a proxy nobody reads must be stopped, not left to grow.
        return self._relay.subscribe(self.track, buffered=self._buffered)

    def close(self) -> None:
        self.track.stop()


class SwitchTrack(MediaStreamTrack):
    """What a sender holds for the whole life of a peer connection: the frames of whichever source
    is switched in (a camera proxy, a screen, nothing). With nothing switched in, `recv` waits, so
    no packet leaves; a source switched out is stopped, and a read pending on it is abandoned (an
    aiortc sender would otherwise wait on a stopped track for ever)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()

    def switch(self, source: MediaStreamTrack | None) -> None:
        old, self.source = self.source, source
        if old is not None and old is not source:
            old.stop()
        self._changed.set()

    async def recv(self) -> Any:
        while self.readyState == "live":
            source = self.source
            self._changed.clear()
            if source is None:
                await self._changed.wait()
                continue
            reading = asyncio.ensure_future(source.recv())
            switched = asyncio.ensure_future(self._changed.wait())
            done, _ = await asyncio.wait({reading, switched}, return_when=asyncio.FIRST_COMPLETED)
            switched.cancel()
            if reading in done:
                try:
                    return reading.result()
                except MediaStreamError:
                    if source is self.source:
                        self.source = None  # it ended (a camera unplugged): send nothing
                    continue
            reading.cancel()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self.switch(None)


def shared(track: MediaStreamTrack) -> SharedSource:
    return SharedSource(track, buffered=track.kind == "audio")


def open_camera(setting: str | int) -> SharedSource:
    """The camera of the setting (an index, a device path or a URL), opened once."""
    return shared(CameraTrack(camera_source(setting)))


# -- microphone and screen (PyAV inputs) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvInput:
    """A capture device as PyAV opens it: `av.open(file, format=format, options=options)`."""

    file: str
    format: str
    options: dict[str, str]


def _alsa_environment() -> None:
    # PyAV's wheel carries its own alsa-lib, which looks for its config and plugins (the pulse
    # plugin among them) under its build paths: point it at the system's (PLATFORM.md).
    os.environ.setdefault("ALSA_CONFIG_DIR", "/usr/share/alsa")
    plugins = sorted(glob.glob("/usr/lib/*/alsa-lib")) or sorted(glob.glob("/usr/lib*/alsa-lib"))
    if plugins:
        os.environ.setdefault("ALSA_PLUGIN_DIR", plugins[0])


def microphone_input(device: str = "", platform: str = sys.platform) -> AvInput:
    """The microphone as PyAV opens it on this OS; `device` "" is the system's default input."""
    if platform == "darwin":
        return AvInput(f":{device or '0'}", "avfoundation", {})
    if platform == "win32":
        return AvInput(f"audio={device}" if device else "audio=default", "dshow", {})
    _alsa_environment()
    # ALSA's "pulse" device reaches PulseAudio (or PipeWire's pulse server) where one runs.
    return AvInput(device or "pulse", "alsa", {})


def screen_input(platform: str = sys.platform, fps: int = 15) -> AvInput:
    """The whole screen as PyAV captures it on this OS."""
    rate = {"framerate": str(fps)}
    if platform == "darwin":
        return AvInput("Capture screen 0", "avfoundation", {**rate, "capture_cursor": "1"})
    if platform == "win32":
        return AvInput("desktop", "gdigrab", rate)
    return AvInput(os.environ.get("DISPLAY", ":0"), "x11grab", rate)


class DeviceUnavailable(OSError):
    """A microphone or screen that cannot be opened; the message says which and why."""


def open_input(source: AvInput, what: str) -> MediaPlayer:
    """A `MediaPlayer` on a capture device (its worker thread reads, decodes and resamples)."""
    try:
        return MediaPlayer(source.file, format=source.format, options=source.options)
    except (OSError, ValueError) as exc:  # every PyAV error is an OSError
        raise DeviceUnavailable(
            f"The {what} ({source.format}:{source.file}) cannot be opened: {exc}"
        ) from exc


def _player_source(source: AvInput, what: str, kind: str) -> SharedSource:
    player = open_input(source, what)
    track: Any = player.audio if kind == "audio" else player.video
    if track is None:
        raise DeviceUnavailable(f"The {what} ({source.format}:{source.file}) gives no {kind}.")
    return shared(track)


def open_microphone(device: str = "") -> SharedSource:
    """The microphone (PyAV on a worker thread: 48 kHz s16 stereo frames of 20 ms)."""
    return _player_source(microphone_input(device), "microphone", "audio")


def open_screen(fps: int = 15) -> SharedSource:
    return _player_source(screen_input(fps=fps), "screen", "video")
