"""Authentication before the body is read: a stranger is told nothing of the schema and no body is
parsed for nobody (issue 11, Deliver 6). Against the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json

import requests

from desktop.sync.protocol import MAX_BODY_BYTES
from tests.fixtures.server import (  # noqa: F401
    ClinicOnServer,
    LiveServer,
    device_store,
    device_template,
    live_server,
    new_clinic,
    patient_op,
    server_database_url,
)

CREDENTIALS = (None, "not-a-token", "Basic dXNlcjpwYXNz")


def _post(server: LiveServer, path: str, authorization: str | None, **request: object) -> requests.Response:
    http = server.http()
    if authorization:
        scheme = "" if authorization.startswith("Basic") else "Bearer "
        http.headers["Authorization"] = scheme + authorization
    return http.post(server.url(path), **request)  # type: ignore[arg-type]


def test_a_stranger_gets_401_not_the_schema(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    wrong_types = {"device_id": 7, "ops": [{"op_id": "x", "hlc": "soon", "entity": "nothing"}]}
    for path in (
        "/v1/sync/push",
        "/v1/auth/login",
        "/v1/conflicts/0190f2a4-7b1c-7d3e-8000-000000000000/resolve",
    ):
        for authorization in CREDENTIALS:
            for body in ({"json": wrong_types}, {"data": b'{"ops": ['}, {"data": b""}):
                answer = _post(live_server, path, authorization, **body)
                assert answer.status_code == 401, (path, authorization, answer.text)
                assert answer.headers["WWW-Authenticate"] == "Bearer"
                detail = answer.json()["detail"]
                assert "token" in detail and "pattern" not in detail and "field" not in answer.json()
    # The same malformed push from the clinic's own desk is told what is wrong.
    answer = _post(live_server, "/v1/sync/push", new_clinic.desk.token, json=wrong_types)
    assert answer.status_code == 422 and answer.json()["field"]


def test_a_large_body_is_not_parsed_for_a_stranger(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    ops = [patient_op(new_clinic.clinic_id, full_name=f"Flood {n}") for n in range(4000)]
    big = json.dumps({"device_id": new_clinic.desk.device_id, "ops": ops}).encode()
    assert len(big) < MAX_BODY_BYTES
    before = live_server.counts(new_clinic.clinic_id)
    for headers, data in (
        ({"Content-Type": "application/json"}, big),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(big)),
        ({"Content-Type": "application/json"}, b"[" * (MAX_BODY_BYTES - 1)),  # would be a 400 if parsed
        ({"Content-Type": "application/json"}, b"x" * (MAX_BODY_BYTES + 1)),  # would be a 413 if read whole
    ):
        answer = live_server.http("not-a-token").post(
            live_server.url("/v1/sync/push"), data=data, headers=headers
        )
        assert answer.status_code == 401, answer.text[:200]
    assert live_server.counts(new_clinic.clinic_id) == before


def test_the_clinics_devices_still_get_in_and_revocation_still_holds(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    http = live_server.http(new_clinic.desk.token)
    assert http.get(live_server.url("/v1/sync/pull")).status_code == 200  # the gate now knows the token
    session_token = live_server.login(new_clinic.desk, new_clinic.doctor_username).json()["token"]
    assert live_server.http(session_token).get(live_server.url("/v1/conflicts")).status_code == 200
    from server_stub import admin

    with live_server.admin() as a:
        admin.revoke_device(a, device_id=new_clinic.desk.device_id)
    # Known to the gate a moment ago, refused by the route's own check.
    assert http.get(live_server.url("/v1/sync/pull")).status_code == 401
    push = http.post(
        live_server.url("/v1/sync/push"), json={"device_id": new_clinic.desk.device_id, "ops": []}
    )
    assert push.status_code == 401


def test_sign_in_and_enrolment_read_no_more_than_a_sign_in_needs(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    """Enrolment is open to strangers by nature: its body, and a sign-in's, is read only up to
    16 KiB (a real one is a few hundred bytes), not the 8 MiB of a push."""
    padded = {"code": "AAAA-BBBB-CCCC-DDDD", "name": "Desk", "kind": "desk", "padding": "x" * 100_000}
    answer = requests.post(live_server.url("/v1/devices/enroll"), json=padded)
    assert answer.status_code == 413 and "16 KiB" in answer.json()["detail"]
    login = {"username": new_clinic.doctor_username, "password": "x" * 100_000}
    answer = live_server.http(new_clinic.desk.token).post(live_server.url("/v1/auth/login"), json=login)
    assert answer.status_code == 413
    answer = live_server.http("not-a-token").post(live_server.url("/v1/auth/login"), json=login)
    assert answer.status_code == 401  # the token first
