"""`WS /v1/calls/{appointment_id}` on the real server: who may join, presence, relay, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from desktop.media.session import CallState
from desktop.media.signalling import WebSocketSignalling, calls_url
from desktop.services import booking
from tests.call_support import Side
from tests.fixtures.call import Telehealth, book_telehealth, telehealth  # noqa: F401
from tests.fixtures.server import device_template, live_server, server_database_url, tomorrow_at  # noqa: F401
from tests.sync_support import RECEPTION, new_device


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def join(
    sockets: ExitStack, t: Telehealth, token: str | None, appointment_id: str | None = None
) -> ClientConnection:
    url = calls_url(t.server.base_url, appointment_id or t.appointment_id)
    socket = sockets.enter_context(connect(url, open_timeout=5))
    if token is not None:
        socket.send(json.dumps({"type": "auth", "token": token}))
    return socket


def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=5))
    return message


def refusal(socket: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    frame = closed.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


def test_the_doctor_and_the_kiosk_meet_and_their_offer_and_answer_are_relayed(
    sockets: ExitStack, telehealth: Telehealth
) -> None:
    doctor = join(sockets, telehealth, telehealth.doctor_token)
    assert receive(doctor) == {
        "type": "joined",
        "role": "doctor",
        "peer_present": False,
        "peer_media_up": False,
    }
    assert receive(doctor) == {"type": "waiting"}
    patient = join(sockets, telehealth, telehealth.kiosk.enrolled.token)
    assert receive(patient)["role"] == "patient"
    assert receive(doctor) == {"type": "peer_joined", "peer_media_up": False}
    doctor.send(json.dumps({"type": "offer", "sdp": "v=0 offer", "sdp_type": "offer"}))
    assert receive(patient) == {"type": "offer", "sdp": "v=0 offer", "sdp_type": "offer"}
    patient.send(json.dumps({"type": "answer", "sdp": "v=0 answer", "sdp_type": "answer"}))
    assert receive(doctor)["sdp"] == "v=0 answer"
    patient.send(json.dumps({"type": "hello"}))
    assert receive(patient)["type"] == "error"  # not relayed
    patient.close()
    assert receive(doctor) == {"type": "peer_left"}
    doctor.close()


def test_a_wrong_token_is_refused_with_4401(sockets: ExitStack, telehealth: Telehealth) -> None:
    assert refusal(join(sockets, telehealth, "not-a-token"))[0] == 4401
    socket = join(sockets, telehealth, None)
    socket.send(json.dumps({"type": "offer", "sdp": "x", "sdp_type": "offer"}))  # no auth first
    assert refusal(socket)[0] == 4401


def test_a_third_party_is_refused_and_learns_nothing_about_the_call(
    sockets: ExitStack, telehealth: Telehealth, live_server: Any, device_template: Any, tmp_path: Any
) -> None:
    server = telehealth.server
    # Another doctor of the same clinic, signed in on the same desk.
    _, other_doctor = server.add_user(telehealth.clinic_id, "doctor")
    other_token = server.login(telehealth.desk.enrolled, other_doctor).json()["token"]
    # The kiosk of another clinic.
    elsewhere = server.create_clinic()
    stranger = new_device(server, elsewhere, "kiosk", tmp_path / "stranger", device_template)
    answers = {
        "another doctor": refusal(join(sockets, telehealth, other_token)),
        "the desk without its doctor": refusal(join(sockets, telehealth, telehealth.desk.enrolled.token)),
        "another clinic's kiosk": refusal(join(sockets, telehealth, stranger.enrolled.token)),
        "no such appointment": refusal(
            join(sockets, telehealth, stranger.enrolled.token, "0190f2a4-0000-7000-8000-000000000000")
        ),
    }
    assert set(answers.values()) == {(4403, "This call is not open to this device or user.")}, answers
    stranger.client.close()
    stranger.store.close()


def test_only_an_accepted_telehealth_appointment_has_a_call(
    sockets: ExitStack, telehealth: Telehealth
) -> None:
    desk, doctor_id = telehealth.desk, telehealth.doctor.user_id or ""
    patient_id: str = desk.row("appointment", telehealth.appointment_id).patient_id
    cancelled = book_telehealth(desk, doctor_id, hour=11, patient_id=patient_id)
    with desk.store.unit_of_work() as uow:
        booking.cancel(uow, actor=RECEPTION, appointment_id=cancelled, reason="patient called")
        in_person = booking.book(
            uow, actor=RECEPTION, patient_id=patient_id, clinician_id=doctor_id, starts_at=tomorrow_at(12)
        ).id
    desk.sync()
    for appointment_id in (cancelled, in_person):
        assert refusal(join(sockets, telehealth, telehealth.doctor_token, appointment_id))[0] == 4403
        assert refusal(join(sockets, telehealth, telehealth.kiosk.enrolled.token, appointment_id))[0] == 4403


def test_a_call_session_refused_ends_and_says_why(telehealth: Telehealth) -> None:
    url = calls_url(telehealth.server.base_url, telehealth.appointment_id)
    side = Side("patient", lambda: WebSocketSignalling(url, lambda: "stolen-token"))
    try:
        side.done.result(timeout=10)  # run() returns: a refusal is not retried
        assert side.got.errors == ["refused:4401"]
        assert side.session.state is CallState.ENDED and side.session.joins == 0
    finally:
        side.end()
