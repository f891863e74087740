"""Enrolment, tokens, sign-in and the protocol gate, against the real server over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta

import requests
from sqlalchemy import update

from desktop.store.types import utcnow
from server_stub import admin
from server_stub.models import Device, UserSession
from tests.fixtures.server import (  # noqa: F401
    PASSWORD,
    LiveServer,
    device_store,
    device_template,
    live_server,
    server_database_url,
)


def enroll(server: LiveServer, code: str, kind: str = "desk") -> requests.Response:
    return requests.post(server.url("/v1/devices/enroll"), json={"code": code, "name": "Desk", "kind": kind})


def test_health_needs_no_token_nor_protocol(live_server: LiveServer) -> None:
    answer = requests.get(live_server.url("/v1/health"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["protocol"] == 1 and body["version"] and body["time"]


def test_openapi_docs_are_served(live_server: LiveServer) -> None:
    assert requests.get(live_server.url("/docs")).status_code == 200
    paths = requests.get(live_server.url("/openapi.json")).json()["paths"]
    assert {"/v1/sync/push", "/v1/sync/pull", "/v1/conflicts/{conflict_id}/resolve"} <= set(paths)


def test_enrolment_gives_a_working_token_and_distinct_letters_per_clinic(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    devices = [live_server.enroll(clinic, kind) for kind in ("desk", "kiosk", "board")]
    assert [d.letter for d in devices] == ["A", "B", "C"]
    assert len({d.device_id for d in devices}) == len({d.token for d in devices}) == 3
    assert {d.clinic_id for d in devices} == {clinic}
    other = live_server.enroll(live_server.create_clinic(name="Other"), "kiosk")
    assert other.letter == "A"  # letters are per clinic
    answer = live_server.http(devices[1].token).get(live_server.url("/v1/sync/pull"))
    assert answer.status_code == 200


def test_a_code_works_once_is_typed_loosely_and_expires(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    code = live_server.code(clinic, "kiosk")
    typed = code.replace("-", " ").lower()
    assert enroll(live_server, typed, "kiosk").status_code == 200
    again = enroll(live_server, code, "kiosk")
    assert again.status_code == 401
    assert again.json()["field"] == "code" and "used" in again.json()["detail"]

    stale = live_server.code(clinic, "kiosk", now=utcnow() - timedelta(hours=25))
    assert enroll(live_server, stale, "kiosk").status_code == 401
    assert enroll(live_server, "AAAA-BBBB-CCCC-DDDD", "kiosk").status_code == 401


def test_a_code_enrols_only_its_kind_and_is_not_spent_by_a_refusal(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    code = live_server.code(clinic, "kiosk")
    wrong = enroll(live_server, code, "desk")
    assert wrong.status_code == 403 and wrong.json()["field"] == "kind"
    assert enroll(live_server, code, "kiosk").status_code == 200


def test_enrolment_validates_its_body(live_server: LiveServer) -> None:
    answer = requests.post(
        live_server.url("/v1/devices/enroll"), json={"code": "ABCD-EFGH", "kind": "toaster"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] in {"name", "kind"}


def test_missing_bad_and_revoked_tokens_are_401(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    device = live_server.enroll(clinic, "kiosk")
    pull = live_server.url("/v1/sync/pull")
    missing = live_server.http().get(pull)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert live_server.http("not-a-token").get(pull).status_code == 401
    with live_server.admin() as a:
        admin.revoke_device(a, device_id=device.device_id)
    revoked = live_server.http(device.token).get(pull)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_login_gives_a_session_for_the_devices_clinic_only(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    user_id, username = live_server.add_user(clinic, "nurse")
    desk = live_server.enroll(clinic, "desk")
    answer = live_server.login(desk, username.upper())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user_id"] == user_id and body["role"] == "nurse" and body["token"] and body["expires_at"]

    wrong = live_server.login(desk, username, "wrong password")
    assert wrong.status_code == 401 and wrong.json() == {
        "detail": "Wrong username or password.",
        "field": "password",
    }
    assert live_server.login(desk, "nobody_here").status_code == 401

    elsewhere = live_server.enroll(live_server.create_clinic(name="Elsewhere"), "desk")
    assert live_server.login(elsewhere, username).status_code == 401  # not a clinician of that clinic

    no_device = live_server.http().post(
        live_server.url("/v1/auth/login"), json={"username": username, "password": PASSWORD}
    )
    assert no_device.status_code == 401


def test_an_expired_session_is_401(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    _, username = live_server.add_user(clinic, "doctor")
    desk = live_server.enroll(clinic, "desk")
    token = live_server.login(desk, username).json()["token"]
    conflicts = live_server.url("/v1/conflicts")
    assert live_server.http(token).get(conflicts).status_code == 200
    with live_server.engine.begin() as conn:
        conn.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = live_server.http(token).get(conflicts)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_the_protocol_header_is_required_before_anything_else(live_server: LiveServer) -> None:
    device = live_server.enroll(live_server.create_clinic(), "desk")
    pull = live_server.url("/v1/sync/pull")
    for protocol in (None, "0", "v1"):
        answer = live_server.http(device.token, protocol=protocol).get(pull)
        assert answer.status_code == 426, protocol
        assert "update ClinicDesk" in answer.json()["detail"]
    newer = live_server.http(device.token, protocol="2").get(pull)
    assert newer.status_code == 426 and "update the server" in newer.json()["detail"]
    # Checked before the token and the body: an old app is told to update, not that it is wrong.
    old_app = live_server.http("bad-token", protocol=None).post(live_server.url("/v1/sync/push"), data=b"{")
    assert old_app.status_code == 426


def test_pulls_keep_last_seen_fresh(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic()
    board = live_server.enroll(clinic, "board")  # a board never pushes: its pulls are its sign of life
    long_ago = utcnow() - timedelta(days=3)
    with live_server.engine.begin() as conn:
        conn.execute(update(Device).where(Device.id == board.device_id).values(last_seen_at=long_ago))
    assert live_server.http(board.token).get(live_server.url("/v1/sync/pull")).status_code == 200
    deadline = time.monotonic() + 5
    while True:  # recorded after the answer is sent
        with live_server.admin() as a:
            (seen,) = [d.last_seen_at for d in admin.list_devices(a, clinic_id=clinic)]
        if (seen and seen > long_ago) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert seen is not None and seen > utcnow() - timedelta(minutes=1)
