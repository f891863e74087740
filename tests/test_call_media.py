"""Two real aiortc peers through the real signalling server on 127.0.0.1, synthetic sources: what a
doctor and a patient rely on in a call (design/CALLS.md, issue 13)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import requests
from sqlalchemy import select

from desktop.calls import ConsultationChat, consent_logger
from desktop.media.session import CallOptions, CallSources, CallState
from desktop.media.tracks import TestPatternTrack, wall_millis
from desktop.services.common import KIOSK
from desktop.store.models import AuditEvent, ChatMessage
from desktop.sync.engine import SyncEngine
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
from tests.fixtures.server import device_template, live_server, server_database_url  # noqa: F401
from tests.sync_support import fast_client, server_rows

REPO = Path(__file__).resolve().parents[1]
DOCTOR_TONE, PATIENT_TONE = 440.0, 1000.0


def doctor_chat(t: Telehealth) -> ConsultationChat:
    return ConsultationChat(t.desk.store, actor=t.doctor, consultation_id=t.consultation_id)


def chat_rows(t: Telehealth) -> list[ChatMessage]:
    with t.desk.store.reading() as session:
        return list(session.scalars(select(ChatMessage).order_by(ChatMessage.sent_at)))


def test_video_audio_and_chat_cross_between_the_doctor_and_the_kiosk(
    telehealth: Telehealth, sides: list[Side]
) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(DOCTOR_TONE), chat_log=doctor_chat(t))
    patient = start(sides, "patient", t.signalling("patient"), synthetic(PATIENT_TONE))
    connected(doctor, patient)
    assert doctor.got.states[:3] == [CallState.WAITING, CallState.CONNECTING, CallState.CONNECTED] or (
        doctor.got.states[:2] == [CallState.CONNECTING, CallState.CONNECTED]
    )
    # The receiver decodes frames whose drawn counter goes up, both ways.
    wait_until(lambda: len(patient.got.counters()) >= 45 and len(doctor.got.counters()) >= 45, 15, "frames")
    assert increasing(patient.got.counters()) and increasing(doctor.got.counters())
    # Each side hears the other's tone.
    wait_until(lambda: len(doctor.got.audio_seconds(1.0)) >= 48_000, 10, "a second of audio")
    assert abs(dominant_frequency(doctor.got.audio_seconds(1.0)) - PATIENT_TONE) < 10
    assert abs(dominant_frequency(patient.got.audio_seconds(1.0)) - DOCTOR_TONE) < 10
    # Stats every second for the quality indicator.
    wait_until(lambda: sum(s.rtt_ms is not None for s in doctor.got.stats) >= 2, 10, "RTTs")
    last = doctor.got.stats[-1]
    assert last.fps > 15 and last.bitrate_kbps > 50 and last.loss_pct < 5 and last.quality in ("good", "fair")
    # Chat crosses the data channel both ways; the doctor's desk stores every line (journaled).
    line = doctor.loop.run(doctor.session.send_chat("Good morning, how are you feeling?"))
    reply = patient.loop.run(patient.session.send_chat("Better, thank you."))
    patient.on_loop(lambda: patient.session.set_typing(True))
    wait_until(lambda: len(doctor.got.chat) == 2 and len(patient.got.chat) == 2, 10, "chat both ways")
    assert [c.id for c in doctor.session.chat_lines] == [c.id for c in patient.session.chat_lines]
    wait_until(lambda: doctor.got.typing == [True], 5, "typing")
    rows = chat_rows(t)
    assert [(r.id, r.sender_role, r.body) for r in rows] == [
        (line.id, "doctor", line.body),
        (reply.id, "patient", reply.body),
    ]
    t.desk.sync()
    on_server = server_rows(t.server, "chat_message", t.clinic_id)
    assert set(on_server) == {line.id, reply.id}


def test_mute_and_camera_off_stop_sending_packets(telehealth: Telehealth, sides: list[Side]) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(DOCTOR_TONE))
    patient = start(sides, "patient", t.signalling("patient"), synthetic(PATIENT_TONE))
    connected(doctor, patient)
    wait_until(lambda: len(doctor.got.counters()) > 10, 10, "frames")

    def sent() -> tuple[int, int]:
        stats = patient.loop.run(patient.session.read_stats())
        return stats.audio_packets_sent, stats.video_packets_sent

    patient.on_loop(lambda: patient.session.set_muted(True))
    patient.loop.run(asyncio.sleep(0.3))  # a frame already being encoded may still leave
    audio_before, video_before = sent()
    patient.loop.run(asyncio.sleep(1.0))
    audio_after, video_after = sent()
    assert audio_after == audio_before  # not one audio packet while muted
    assert video_after > video_before + 15  # the picture still goes
    patient.on_loop(lambda: patient.session.set_camera_off(True))
    patient.loop.run(asyncio.sleep(0.3))
    video_before = sent()[1]
    patient.loop.run(asyncio.sleep(1.0))
    assert sent()[1] == video_before
    patient.on_loop(lambda: (patient.session.set_muted(False), patient.session.set_camera_off(False)))
    patient.loop.run(asyncio.sleep(1.0))
    audio_again, video_again = sent()
    assert audio_again > audio_after + 25 and video_again > video_before + 15
    resumed = wall_millis()
    wait_until(lambda: len(frames_after(doctor, resumed)) > 10, 5, "frames after the camera is back")


def test_screen_share_replaces_the_camera_and_back(telehealth: Telehealth, sides: list[Side]) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(DOCTOR_TONE))
    patient = start(sides, "patient", t.signalling("patient"), synthetic(PATIENT_TONE))
    connected(doctor, patient)
    wait_until(lambda: len(patient.got.counters()) > 10, 10, "frames")
    assert not any(seen.screen for seen in patient.got.last_frames(10))
    doctor.on_loop(lambda: doctor.session.start_screen_share(TestPatternTrack(320, 240, style="screen")))
    shared_at = wall_millis()
    wait_until(lambda: sum(s.screen for s in frames_after(patient, shared_at)) > 10, 10, "the shared screen")
    doctor.on_loop(doctor.session.stop_screen_share)
    back_at = wall_millis()
    wait_until(lambda: sum(not s.screen for s in frames_after(patient, back_at)) > 10, 10, "the camera again")
    assert not any(seen.screen for seen in patient.got.last_frames(5))


def test_a_kiosk_without_camera_or_microphone_joins_receive_only(
    telehealth: Telehealth, sides: list[Side]
) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(DOCTOR_TONE))
    patient = start(sides, "patient", t.signalling("patient"), CallSources())
    connected(doctor, patient)
    wait_until(lambda: len(patient.got.counters()) > 20, 10, "the doctor's picture")
    stats = patient.loop.run(patient.session.read_stats())
    assert stats.audio_packets_sent == 0 and stats.video_packets_sent == 0
    assert not doctor.got.frames


@contextmanager
def patient_process(base_url: str, t: Telehealth) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "call_child.py"),
            base_url,
            t.appointment_id,
            t.token("patient"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def test_a_patient_process_killed_mid_call_comes_back_and_the_call_resumes(
    telehealth: Telehealth, sides: list[Side]
) -> None:
    t = telehealth
    doctor = start(sides, "doctor", t.signalling("doctor"), synthetic(DOCTOR_TONE))
    with patient_process(t.server.base_url, t) as child:
        connected(doctor)
        wait_until(lambda: len(doctor.got.counters()) > 20, 10, "the patient's picture")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    killed_at = wall_millis()
    wait_until(lambda: doctor.session.state is CallState.RECONNECTING, 10, "reconnecting")
    with patient_process(t.server.base_url, t):
        wait_until(
            lambda: len([s for s in frames_after(doctor, killed_at) if s.stamp]) > 20, 20, "new frames"
        )
        counters = [s.stamp.counter for s in frames_after(doctor, killed_at) if s.stamp]
        assert increasing(counters) and counters[0] < 30  # the new process's picture, from its start
        assert doctor.session.state is CallState.CONNECTED


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server_process(database_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The sync server as a process of its own (that a test can kill), on the tests' database."""
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "run", "--port", str(port), "--db", database_url],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        wait_until(lambda: _healthy(base_url) or process.poll() is not None, 30, "the server to start")
        assert process.poll() is None, "the server process exited"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _healthy(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/v1/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_the_signalling_server_killed_mid_call_does_not_stop_the_media(
    telehealth: Telehealth, sides: list[Side]
) -> None:
    t = telehealth
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    desk_sync = SyncEngine(t.desk.store, fast_client(base_url, t.desk.enrolled.token))
    with server_process(t.server.database_url, port) as server:
        doctor = start(
            sides, "doctor", t.signalling("doctor", base_url), synthetic(DOCTOR_TONE), chat_log=doctor_chat(t)
        )
        patient = start(sides, "patient", t.signalling("patient", base_url), synthetic(PATIENT_TONE))
        connected(doctor, patient)
        server.kill()
        server.wait(10)
    killed_at = wall_millis()
    # Peer to peer: the pictures keep coming with the server gone.
    wait_until(lambda: len(frames_after(patient, killed_at + 1000)) > 20, 10, "frames with no server")
    assert increasing([s.stamp.counter for s in frames_after(patient, killed_at) if s.stamp])
    line = doctor.loop.run(doctor.session.send_chat("Can you still hear me?"))
    reply = patient.loop.run(patient.session.send_chat("Yes, clearly."))
    wait_until(lambda: len(doctor.got.chat) == 2 and len(patient.got.chat) == 2, 10, "chat with no server")
    assert {r.id for r in chat_rows(t)} == {line.id, reply.id}  # kept on the desk
    assert desk_sync.sync_once().error is not None  # ... and not yet on the server
    assert doctor.session.state is CallState.CONNECTED and patient.session.state is CallState.CONNECTED
    with server_process(t.server.database_url, port):
        report = desk_sync.sync_once()
        assert report.error is None, report
        assert set(server_rows(t.server, "chat_message", t.clinic_id)) == {line.id, reply.id}
        # Both rejoin the room in the background, saying their media is up: nobody renegotiates.
        wait_until(lambda: doctor.session.joins >= 2 and patient.session.joins >= 2, 15, "both rejoin")
        assert doctor.session.negotiations == patient.session.negotiations == 1
        assert doctor.session.state is CallState.CONNECTED
    desk_sync.client.close()


def test_recording_needs_both_consents_and_each_is_logged(
    telehealth: Telehealth, sides: list[Side], tmp_path: Path
) -> None:
    t = telehealth
    recordings = tmp_path / "recordings"
    doctor = start(
        sides,
        "doctor",
        t.signalling("doctor"),
        synthetic(DOCTOR_TONE),
        options=CallOptions(
            recording_dir=recordings,
            consent_log=consent_logger(t.desk.store, actor=t.doctor, appointment_id=t.appointment_id),
        ),
    )
    patient = start(
        sides,
        "patient",
        t.signalling("patient"),
        synthetic(PATIENT_TONE),
        options=CallOptions(
            consent_log=consent_logger(t.kiosk.store, actor=KIOSK, appointment_id=t.appointment_id)
        ),
    )
    connected(doctor, patient)
    wait_until(lambda: len(doctor.got.counters()) > 10, 10, "frames")
    doctor.loop.run(doctor.session.consent_to_recording(True))
    doctor.loop.run(asyncio.sleep(0.5))
    assert doctor.session.recording_path is None  # one consent is not enough
    patient.loop.run(patient.session.consent_to_recording(True))
    wait_until(lambda: doctor.session.recording_path is not None, 5, "recording")
    path = doctor.session.recording_path
    doctor.loop.run(asyncio.sleep(2.0))
    sides.remove(doctor)
    doctor.end()
    assert path is not None and path.parent == recordings
    with av.open(str(path)) as recorded:
        kinds = {stream.type for stream in recorded.streams}
        frames = sum(1 for _ in recorded.decode(video=0))
    assert kinds == {"audio", "video"} and frames > 20
    for device in (t.desk, t.kiosk):
        with device.store.reading() as session:
            consents = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "recording_consent")
            ).all()
        assert len(consents) == 1 and consents[0].entity_id == t.appointment_id
        device.sync()
    logged = server_rows(t.server, "audit_event", t.clinic_id).values()
    consents = sorted(row["actor_role"] for row in logged if row["action"] == "recording_consent")
    assert consents == ["doctor", "kiosk"]  # each side's consent, from its own device
