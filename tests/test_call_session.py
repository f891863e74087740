"""CallSession and its parts without the server: the in-memory signalling pair, the stamp, the wire
format of chat, the STUN/TURN setting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pytest

from desktop.media.session import CallEvents, CallSession, CallSources, CallState, ChatLine, ice_servers
from desktop.media.signalling import MemoryRoom
from desktop.media.tracks import (
    AvInput,
    TestPatternTrack,
    ToneTrack,
    camera_source,
    draw_stamp,
    microphone_input,
    read_stamp,
    screen_input,
    shared,
)


def test_the_stamp_reads_back_and_a_damaged_one_is_refused() -> None:
    picture = np.zeros((240, 320, 3), dtype=np.uint8)
    draw_stamp(picture, 123_456, 1_796_434_117_193)
    stamp = read_stamp(picture)
    assert stamp is not None and (stamp.counter, stamp.millis) == (123_456, 1_796_434_117_193)
    assert read_stamp(picture[..., 0]) == stamp  # from a luma plane too
    picture[:16, 30:40] = 255 - picture[:16, 30:40]  # one block of the counter flipped
    assert read_stamp(picture) is None


def test_the_ice_servers_setting() -> None:
    assert ice_servers("") == []
    stun, turn = ice_servers("stun:stun.example:3478, turn:alice:s3cr:et@turn.example:3478")
    assert stun.urls == "stun:stun.example:3478" and stun.username is None
    assert (turn.urls, turn.username, turn.credential) == ("turn:turn.example:3478", "alice", "s3cr:et")
    with pytest.raises(ValueError, match="Not a STUN or TURN server"):
        ice_servers("https://turn.example")


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"id": "1", "role": "doctor", "body": "hi"},  # no time
        {"id": "1", "role": "nurse", "body": "hi", "sent_at": "2026-12-05T10:00:00+00:00"},
        {"id": "1", "role": "doctor", "body": "  ", "sent_at": "2026-12-05T10:00:00+00:00"},
        {"id": "1", "role": "doctor", "body": "hi", "sent_at": "2026-12-05T10:00:00"},  # naive
    ],
)
def test_a_chat_line_from_the_wire_must_be_whole(data: object) -> None:
    assert ChatLine.from_wire(data) is None


def test_a_garbled_offer_does_not_end_the_call_and_chat_waits_for_the_channel() -> None:
    async def scenario() -> None:
        room = MemoryRoom()
        errors: list[str] = []
        patient = CallSession(
            role="patient",
            signalling=room.side("patient"),
            sources=CallSources(shared(TestPatternTrack(160, 120)), shared(ToneTrack())),
            events=CallEvents(error=errors.append),
        )
        running = [asyncio.ensure_future(patient.run())]
        await until(lambda: patient.state is CallState.WAITING)
        early = await patient.send_chat("I am in the waiting room.")  # no channel yet: kept
        impostor = room.side("doctor")()
        await impostor.join(media_up=False)
        await impostor.send({"type": "offer", "sdp_type": "offer"})
        await impostor.send({"type": "offer", "sdp": "v=0", "sdp_type": "bogus"})
        await until(lambda: len(errors) == 2)
        assert patient.state is CallState.CONNECTING
        await impostor.close()
        heard: list[ChatLine] = []
        doctor = CallSession(
            role="doctor",
            signalling=room.side("doctor"),
            sources=CallSources(shared(TestPatternTrack(160, 120)), shared(ToneTrack())),
            events=CallEvents(chat=heard.append),
        )
        running.append(asyncio.ensure_future(doctor.run()))
        await until(lambda: bool(heard))
        assert [line.id for line in heard] == [early.id]
        assert doctor.state is CallState.CONNECTED and patient.state is CallState.CONNECTED
        await doctor.end()
        await asyncio.wait_for(asyncio.gather(*running), 10)
        assert doctor.state is CallState.ENDED and patient.state is CallState.ENDED

    asyncio.run(scenario())


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_the_chat_line_keeps_its_time_zone_on_the_wire() -> None:
    line = ChatLine("01", "patient", "hello", datetime.fromisoformat("2026-12-05T10:00:00+05:30"))
    assert ChatLine.from_wire(line.wire()) == line


class ListChatLog:
    """A `ChatLog` in memory (the desk's is `desktop.calls.ConsultationChat`, tested with the server)."""

    def __init__(self) -> None:
        self.saved: list[ChatLine] = []

    def save(self, line: ChatLine) -> None:
        self.saved.append(line)

    def history(self) -> list[ChatLine]:
        return list(self.saved)


def test_a_patient_app_that_crashed_gets_the_chat_back_from_the_doctor() -> None:
    async def scenario() -> None:
        room = MemoryRoom()
        log = ListChatLog()

        def side(role: str, chat: list[ChatLine], chat_log: ListChatLog | None = None) -> CallSession:
            return CallSession(
                role=role,
                signalling=room.side(role),
                sources=CallSources(shared(TestPatternTrack(160, 120)), shared(ToneTrack())),
                events=CallEvents(chat=chat.append),
                chat_log=chat_log,
            )

        doctor_saw: list[ChatLine] = []
        doctor = side("doctor", doctor_saw, log)
        first: list[ChatLine] = []
        patient = side("patient", first)
        running = asyncio.ensure_future(patient.run())
        calls = [asyncio.ensure_future(doctor.run())]
        await until(lambda: doctor.state is CallState.CONNECTED and patient.state is CallState.CONNECTED)
        asked = await doctor.send_chat("Any allergies?")
        told = await patient.send_chat("Penicillin.")
        await until(lambda: len(doctor_saw) == 2 and len(first) == 2)
        running.cancel()  # the kiosk app dies: no bye
        await asyncio.gather(running, return_exceptions=True)
        await until(lambda: doctor.state is CallState.RECONNECTING)
        again: list[ChatLine] = []
        calls.append(asyncio.ensure_future(side("patient", again).run()))
        await until(lambda: len(again) == 2)
        assert [line.id for line in again] == [asked.id, told.id]
        assert [line.id for line in log.saved] == [asked.id, told.id]  # each stored once
        assert doctor.negotiations == 2
        restarted = side("doctor", [], log)  # the desk app restarted: its stored chat shown again
        restarted.load_history()
        assert [line.id for line in restarted.chat_lines] == [asked.id, told.id]
        await doctor.end()
        await asyncio.wait_for(asyncio.gather(*calls), 10)

    asyncio.run(scenario())


def test_each_os_opens_its_own_capture_devices() -> None:
    assert microphone_input("", "darwin") == AvInput(":0", "avfoundation", {})
    assert microphone_input("Headset", "win32") == AvInput("audio=Headset", "dshow", {})
    assert microphone_input("", "linux").format == "alsa"  # ALSA's pulse device: PulseAudio/PipeWire
    assert screen_input("darwin", fps=10).format == "avfoundation"
    assert screen_input("win32", fps=10) == AvInput("desktop", "gdigrab", {"framerate": "10"})
    assert camera_source("0") == 0 and camera_source("/dev/video2") == "/dev/video2"
    assert camera_source(" rtsp://cam.local/stream ") == "rtsp://cam.local/stream"
