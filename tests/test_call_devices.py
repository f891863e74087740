"""The real device paths with no hardware (PLATFORM.md): a microphone that hears what is played into
a PulseAudio null sink, a speaker whose monitor records what the app played (Qt Multimedia's
`QAudioSink`), and a camera that is a clip read by OpenCV through the same loop as a device."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from desktop.media.devices import RECEIVE_ONLY, check_devices
from desktop.media.precall import precall_check
from desktop.media.session import CallSources
from desktop.media.tracks import (
    STAMP_HEIGHT,
    TestPatternTrack,
    draw_stamp,
    open_camera,
    open_microphone,
    open_screen,
    read_stamp,
    shared,
    wall_millis,
)
from tests.call_support import (
    Side,
    connected,
    dominant_frequency,
    frames_after,
    increasing,
    start,
    synthetic,
    wait_until,
)
from tests.fixtures.call import Telehealth, sides, telehealth  # noqa: F401
from tests.fixtures.pulse import PulseRoom, pulse_room, record, tone_wav  # noqa: F401
from tests.fixtures.server import device_template, live_server, server_database_url  # noqa: F401

ROOM_TONE = 700.0


@pytest.fixture
def tone_in_the_room(pulse_room: PulseRoom, tmp_path: Path) -> Iterator[None]:
    """A 700 Hz tone played into the room's sink for the whole test: the microphone hears it."""
    wav = tone_wav(tmp_path / "tone.wav", ROOM_TONE, 30.0)
    player = subprocess.Popen(["paplay", "-d", pulse_room.sink, str(wav)])
    try:
        yield
    finally:
        player.kill()
        player.wait(5)


@pytest.fixture
def room_microphone(pulse_room: PulseRoom, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PULSE_SOURCE", pulse_room.microphone)  # ALSA's "pulse" device records from it
    return pulse_room.microphone


def make_clip(path: Path, frames: int = 90, size: tuple[int, int] = (320, 240)) -> Path:
    """A camera stand-in: the stamped test picture, counter 0..frames-1, at 30 fps (H.264)."""
    width, height = size
    with av.open(str(path), "w") as clip:
        stream = clip.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for index in range(frames):
            picture = np.full((height, width, 3), 90, dtype=np.uint8)
            picture[STAMP_HEIGHT:, (index * 4) % width :][:, :20] = 220
            draw_stamp(picture, index, 0)
            clip.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        clip.mux(stream.encode(None))
    return path


def test_the_microphone_captures_the_room_and_the_far_side_hears_it(
    telehealth: Telehealth, sides: list[Side], room_microphone: str, tone_in_the_room: None
) -> None:
    t = telehealth
    microphone = open_microphone()  # the default input: ALSA "pulse", the room's microphone
    try:
        patient_sources = CallSources(shared(TestPatternTrack(320, 240)), microphone)
        doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(440.0))
        patient = start(sides, "patient", t.signalling("patient"), patient_sources)
        connected(doctor, patient)
        wait_until(lambda: len(doctor.got.audio_seconds(1.0)) >= 48_000, 10, "a second of the room")
        heard = doctor.got.audio_seconds(1.0)
        assert np.sqrt(np.mean(heard**2)) > 1000  # a tone, not silence
        assert abs(dominant_frequency(heard) - ROOM_TONE) < 10
    finally:
        microphone.close()


def test_received_audio_is_played_through_qt_into_the_speaker(
    telehealth: Telehealth, sides: list[Side], pulse_room: PulseRoom, qtbot: Any
) -> None:
    from desktop.media.qt_sink import AudioOut, FrameBridge, audio_devices, find_output

    t = telehealth
    bridge = FrameBridge()
    speaker = find_output(pulse_room.sink)
    assert speaker.description() == pulse_room.sink_description  # Qt lists the room's sink
    microphones, speakers = audio_devices()  # the device check's lister where there is no pactl
    assert pulse_room.sink_description in speakers and f"ClinicMic{pulse_room.sink[-8:]}" in microphones
    out = AudioOut(speaker)
    bridge.audio.connect(out.play)
    images: list[Any] = []
    bridge.video.connect(images.append)
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(440.0))
    patient = start(sides, "patient", t.signalling("patient"), synthetic(1000.0))
    doctor.session.events.audio_frame = bridge.push_audio
    doctor.session.events.video_frame = bridge.push_video
    connected(doctor, patient)
    qtbot.waitUntil(lambda: len(images) > 10, timeout=10_000)
    assert images[-1].width() == 320 and images[-1].height() == 240
    pixels = images[-1].convertToFormat(images[-1].Format.Format_RGB888)
    array = np.frombuffer(pixels.constBits(), dtype=np.uint8).reshape(240, pixels.bytesPerLine())[:, :960]
    assert read_stamp(array.reshape(240, 320, 3)) is not None  # the patient's frame, painted as a QImage
    qtbot.wait(500)
    recorded: list[np.ndarray] = []
    recorder = _in_thread(lambda: recorded.append(record(f"{pulse_room.sink}.monitor", 1.0)))
    while recorder.is_alive():
        qtbot.wait(50)  # Qt's loop runs: the bridge's queued signals reach the sink meanwhile
    out.stop()
    assert recorded and len(recorded[0]) > 40_000
    assert abs(dominant_frequency(recorded[0]) - 1000.0) < 10


def _in_thread(work: Any) -> Any:
    import threading

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_the_camera_reads_a_clip_through_the_device_loop_shared_with_the_preview(
    telehealth: Telehealth, sides: list[Side], tmp_path: Path
) -> None:
    t = telehealth
    camera = open_camera(str(make_clip(tmp_path / "camera.mp4")))
    preview = camera.subscribe()
    try:
        doctor = start(sides, "doctor", t.signalling("doctor"), CallSources(camera=camera))
        patient = start(sides, "patient", t.signalling("patient"), CallSources())
        connected(doctor, patient)
        seen_preview: list[int] = []

        async def watch_preview() -> None:
            for _ in range(15):
                stamp = read_stamp((await preview.recv()).to_ndarray(format="rgb24"))
                if stamp:
                    seen_preview.append(stamp.counter)

        since = wall_millis()
        doctor.loop.run(watch_preview(), timeout=10)
        wait_until(lambda: len(frames_after(patient, since)) > 30, 10, "the clip's frames")
        counters = [s.stamp.counter for s in frames_after(patient, since) if s.stamp]
        runs = [counters[i : i + 10] for i in range(0, len(counters) - 10)]
        assert any(increasing(run) for run in runs)  # the clip plays (it loops at 90)
        assert len(seen_preview) >= 10 and increasing(seen_preview[:5])
        assert camera.track.fps == pytest.approx(30, abs=0.5)
    finally:
        preview.stop()
        doctor.on_loop(camera.close)


def test_the_device_check_says_what_there_is_and_what_is_missing(
    pulse_room: PulseRoom, room_microphone: str, tone_in_the_room: None, tmp_path: Path, live_server: Any
) -> None:
    clip = str(make_clip(tmp_path / "camera.mp4", frames=10))
    report = check_devices(clip)
    assert pulse_room.microphone in report.microphones and pulse_room.sink in report.speakers
    assert report.camera_opens and clip in report.cameras and not report.receive_only
    nothing = check_devices("7", audio=lambda: ([], []))
    assert nothing.receive_only and RECEIVE_ONLY in nothing.lines()
    assert any("camera setting (7) opens no camera" in line for line in nothing.lines())
    assert any(line.startswith("No microphone found") for line in nothing.lines())
    check = precall_check(camera=clip, server_url=live_server.base_url)
    assert check.camera_frame == (320, 240)
    assert check.microphone_dbfs is not None and check.microphone_dbfs > -20  # the tone, loud
    assert check.server.endswith("is reachable.")
    offline = precall_check(camera="7", server_url="http://127.0.0.1:9")
    assert "cannot be reached" in offline.server and offline.camera_frame is None


def test_clinic_call_check_prints_the_check(
    pulse_room: PulseRoom, room_microphone: str, tmp_path: Path, live_server: Any, capsys: Any
) -> None:
    from desktop.cli import main

    clip = str(make_clip(tmp_path / "camera.mp4", frames=10))
    settings = ["--data-dir", str(tmp_path), "--camera", clip, "--server-url", live_server.base_url]
    assert main(["call", "--check", *settings]) == 0
    printed = capsys.readouterr().out
    assert f"Cameras: {clip}" in printed and "Camera works: 320×240." in printed
    assert "Microphone level:" in printed and "is reachable." in printed
    assert main(["call", "--check", "--camera", "9", "--server-url", "http://127.0.0.1:9"]) == 1
    assert main(["call"]) == 2
    assert "clinic call --check" in capsys.readouterr().err


@pytest.fixture
def x_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A virtual X screen (Xvfb, 640×480) as this process's display: the screen to share."""
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists() or server.poll() is not None, 10)
        assert server.poll() is None, "Xvfb did not start"
        monkeypatch.setenv("DISPLAY", f":{number}")
        yield f":{number}"
    finally:
        server.kill()
        server.wait(5)


def test_the_screen_is_captured_and_shared_in_place_of_the_camera(
    telehealth: Telehealth, sides: list[Side], x_display: str
) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(440.0))
    patient = start(sides, "patient", t.signalling("patient"), synthetic(1000.0))
    connected(doctor, patient)
    wait_until(lambda: len(patient.got.counters()) > 10, 10, "the camera's frames")
    screen = open_screen(fps=10)  # x11grab of the X display
    try:
        doctor.on_loop(lambda: doctor.session.start_screen_share(screen.subscribe()))
        shared_at = wall_millis()
        wait_until(lambda: len(frames_after(patient, shared_at)) > 10, 10, "the screen")
        assert frames_after(patient, shared_at)[-1].size == (640, 480)  # the X screen, not the 320×240 camera
        doctor.on_loop(doctor.session.stop_screen_share)
        back_at = wall_millis()
        wait_until(lambda: len(frames_after(patient, back_at)) > 10, 10, "the camera again")
        assert frames_after(patient, back_at)[-1].size == (320, 240)
    finally:
        doctor.on_loop(screen.close)
