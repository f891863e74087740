"""Where the call meets Qt: decoded frames become `QImage`s and audio goes to a `QAudioSink`.

The only module of `desktop.media` that imports Qt. `FrameBridge.push_video` / `push_audio` are
called on the media loop's thread (they are `CallEvents.video_frame` / `audio_frame`); the bridge
lives on the GUI thread, so its signals reach the widgets queued, never by a direct call.
"""

from __future__ import annotations

import av
from PySide6.QtCore import QIODevice, QObject, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSink, QMediaDevices

from desktop.media.tracks import AUDIO_RATE

AUDIO_BUFFER_S = 0.25  # room for jitter; more is heard as lag


def video_image(frame: av.VideoFrame) -> QImage:
    """A decoded frame as a `QImage` that owns its pixels (PLATFORM.md: 0.3 ms at 640×480)."""
    pixels = frame.to_ndarray(format="rgb24")
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGB888).copy()


class FrameBridge(QObject):
    """Received media for the GUI: `video(QImage)` and `audio(bytes)` (48 kHz s16 stereo)."""

    video = Signal(QImage)
    audio = Signal(bytes)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)

    def push_video(self, frame: av.VideoFrame) -> None:
        self.video.emit(video_image(frame))

    def push_audio(self, frame: av.AudioFrame) -> None:
        for out in self._resampler.resample(frame):
            self.audio.emit(bytes(out.planes[0])[: out.samples * 4])


def audio_devices() -> tuple[list[str], list[str]]:
    """(microphones, speakers) as Qt Multimedia sees them: the device check's lister on any OS."""
    inputs = [device.description() for device in QMediaDevices.audioInputs()]
    return inputs, [device.description() for device in QMediaDevices.audioOutputs()]


def find_output(name: str = "") -> QAudioDevice:
    """The output whose id or description is `name`, else the system's default output."""
    for device in QMediaDevices.audioOutputs():
        if name and name in (bytes(device.id().data()).decode(errors="replace"), device.description()):
            return device
    return QMediaDevices.defaultAudioOutput()


class AudioOut(QObject):
    """Plays the far side's audio through Qt Multimedia (push mode)."""

    def __init__(self, device: QAudioDevice | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        audio_format = QAudioFormat()
        audio_format.setSampleRate(AUDIO_RATE)
        audio_format.setChannelCount(2)
        audio_format.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        self.sink = QAudioSink(device or QMediaDevices.defaultAudioOutput(), audio_format, self)
        self.sink.setBufferSize(int(AUDIO_RATE * 4 * AUDIO_BUFFER_S))
        self._io: QIODevice | None = None

    @Slot(bytes)
    def play(self, data: bytes) -> None:
        if self._io is None:
            self._io = self.sink.start()
        if self._io is not None:
            self._io.write(data[: max(0, self.sink.bytesFree())])

    def stop(self) -> None:
        self.sink.stop()
        self._io = None
