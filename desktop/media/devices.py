"""The device check: which cameras, microphones and speakers this machine has, and what is missing,
said plainly. With no camera and no microphone a call still goes on, receive-only.

Cameras are found by OpenCV (device nodes on Linux, the first indices elsewhere, and the camera
setting itself, which may be a file or a URL). Audio devices are listed by `pactl` where
PulseAudio or PipeWire runs (Linux); elsewhere the caller passes a lister (the app passes Qt
Multimedia's, `desktop.media.qt_sink.audio_devices`).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2

from desktop.media.tracks import camera_source, quiet_opencv

AudioLister = Callable[[], tuple[list[str], list[str]]]  # (microphones, speakers)
PROBED_INDICES = 4
RECEIVE_ONLY = "No camera and no microphone: calls go on receive-only (you see and hear the other side)."


@dataclass(frozen=True)
class DeviceReport:
    cameras: list[str]
    microphones: list[str]
    speakers: list[str]
    camera_opens: bool  # the camera setting names a camera that opens
    problems: list[str] = field(default_factory=list)

    @property
    def receive_only(self) -> bool:
        return not self.camera_opens and not self.microphones

    def lines(self) -> list[str]:
        def listed(items: list[str]) -> str:
            return ", ".join(items) if items else "none"

        out = [
            f"Cameras: {listed(self.cameras)}",
            f"Microphones: {listed(self.microphones)}",
            f"Speakers: {listed(self.speakers)}",
        ]
        out += self.problems
        if self.receive_only:
            out.append(
                "No camera and no microphone: calls go on receive-only (you see and hear the other side)."
            )
        return out


def opens(source: int | str) -> bool:
    quiet_opencv()
    capture = cv2.VideoCapture(source)
    try:
        return bool(capture.isOpened())
    finally:
        capture.release()


def list_cameras(platform: str = sys.platform) -> list[str]:
    if platform.startswith("linux"):
        return sorted(glob.glob("/dev/video*"))
    return [str(index) for index in range(PROBED_INDICES) if opens(index)]


def pactl_audio() -> tuple[list[str], list[str]]:
    """(microphones, speakers) from PulseAudio / PipeWire; ([], []) when no sound server answers."""
    if shutil.which("pactl") is None:
        return [], []

    def names(kind: str) -> list[str]:
        try:
            result = subprocess.run(
                ["pactl", "list", "short", kind], capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if result.returncode != 0:
            return []
        found = [line.split("\t")[1] for line in result.stdout.splitlines() if "\t" in line]
        return [name for name in found if not name.endswith(".monitor")]  # a monitor is no microphone

    return names("sources"), names("sinks")


def check_devices(camera: str = "0", audio: AudioLister | None = None) -> DeviceReport:
    cameras = list_cameras()
    source = camera_source(camera)
    camera_opens = opens(source)
    if camera_opens and str(source) not in cameras:
        cameras.append(str(source))
    microphones, speakers = (audio or pactl_audio)()
    problems = []
    if not camera_opens:
        problems.append(
            f"The camera setting ({camera}) opens no camera: the other side will not see you. "
            "Plug a camera in, or set camera to another index, device or URL."
        )
    if not microphones:
        problems.append("No microphone found: the other side will not hear you (use the chat).")
    if not speakers:
        problems.append("No speaker found: you will not hear the other side.")
    return DeviceReport(cameras, microphones, speakers, camera_opens, problems)
