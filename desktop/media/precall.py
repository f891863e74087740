"""The pre-call check: camera, microphone level, speakers, and whether the server answers.

What `clinic call --check` prints and the first screen of the call window shows. Each part is
measured on the real device (a frame read from the camera, half a second of the microphone), so
"found" means "works", and a failure says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import cv2
import numpy as np
import requests

from desktop.media.devices import AudioLister, DeviceReport, check_devices
from desktop.media.tracks import camera_source, microphone_input, quiet_opencv

MIC_SAMPLE_S = 0.5
SILENT_DBFS = -60.0


@dataclass(frozen=True)
class PrecallReport:
    devices: DeviceReport
    camera_frame: tuple[int, int] | None  # the size of a frame read from the camera
    microphone_dbfs: float | None  # level over half a second; None: the microphone did not open
    microphone_problem: str
    server: str  # what to say about the server

    def lines(self) -> list[str]:
        out = self.devices.lines()
        if self.camera_frame:
            out.append(f"Camera works: {self.camera_frame[0]}×{self.camera_frame[1]}.")
        if self.microphone_dbfs is not None:
            if self.microphone_dbfs <= SILENT_DBFS:
                out.append("Microphone level: silence (is it muted?).")
            else:
                out.append(f"Microphone level: {self.microphone_dbfs:.0f} dBFS.")
        elif self.microphone_problem:
            out.append(self.microphone_problem)
        out.append(self.server)
        return out


def read_camera_frame(setting: str) -> tuple[int, int] | None:
    quiet_opencv()
    capture = cv2.VideoCapture(camera_source(setting))
    try:
        ok, image = capture.read() if capture.isOpened() else (False, None)
        return (int(image.shape[1]), int(image.shape[0])) if ok and image is not None else None
    finally:
        capture.release()


def microphone_level(device: str = "", seconds: float = MIC_SAMPLE_S) -> float:
    """The microphone's RMS level in dBFS over `seconds` (raises OSError/ValueError if it won't open)."""
    source = microphone_input(device)
    with av.open(source.file, format=source.format, options=source.options) as container:
        samples: list[np.ndarray] = []
        got = 0
        for frame in container.decode(audio=0):
            data = frame.to_ndarray().astype(np.float64).ravel()
            scale = 32768.0 if frame.format.name.startswith("s16") else 1.0
            samples.append(data / scale)
            got += frame.samples
            if got >= frame.sample_rate * seconds:
                break
    if not samples:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.concatenate(samples) ** 2)))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def server_answers(server_url: str, timeout: float = 3.0) -> bool:
    """Whether the server's `/v1/health` answers 200 (the call window's pre-call check)."""
    try:
        return requests.get(f"{server_url}/v1/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def server_reachable(server_url: str | None, timeout: float = 3.0) -> str:
    if not server_url:
        return "No server is set (server_url): calls need one for signalling."
    try:
        answer = requests.get(f"{server_url}/v1/health", timeout=timeout)
    except requests.RequestException as exc:
        return f"The server {server_url} cannot be reached ({type(exc).__name__}): calls cannot start."
    if answer.status_code != 200:
        return f"The server {server_url} answers {answer.status_code}: calls cannot start."
    return f"The server {server_url} is reachable."


def precall_check(
    *,
    camera: str = "0",
    microphone: str = "",
    server_url: str | None = None,
    audio: AudioLister | None = None,
) -> PrecallReport:
    devices = check_devices(camera, audio)
    frame = read_camera_frame(camera) if devices.camera_opens else None
    level: float | None = None
    problem = ""
    try:
        level = microphone_level(microphone)
    except (OSError, ValueError) as exc:  # every PyAV error is an OSError
        problem = f"The microphone does not open ({exc})."
    return PrecallReport(devices, frame, level, problem, server_reachable(server_url))
