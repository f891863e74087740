"""Bad input gets a clear 4xx naming the field, and writes nothing: checked against the real server."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from desktop.sync.protocol import MAX_BODY_BYTES, MAX_OPS_PER_PUSH
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


class Pusher:
    """Posts to /v1/sync/push as the clinic's desk and checks that nothing was written."""

    def __init__(self, server: LiveServer, clinic: ClinicOnServer):
        self.server, self.clinic = server, clinic
        self.http = server.http(clinic.desk.token)
        self.url = server.url("/v1/sync/push")

    def body(self, *ops: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"device_id": self.clinic.desk.device_id, "ops": list(ops), **extra}

    def state(self) -> tuple[dict[str, int], int]:
        return self.server.counts(self.clinic.clinic_id), self.server.row_changes()

    def refused(self, status: int, field: str | None = None, **request: Any) -> dict[str, Any]:
        before = self.state()
        answer = self.http.post(self.url, **request)
        assert answer.status_code == status, answer.text
        body: dict[str, Any] = answer.json()
        assert body["detail"] and "Traceback" not in body["detail"]
        assert body.get("field") == field, body
        assert self.state() == before, "a refused request wrote something"
        return body


@pytest.fixture
def pusher(live_server: LiveServer, new_clinic: ClinicOnServer) -> Pusher:
    return Pusher(live_server, new_clinic)


def test_malformed_json(pusher: Pusher) -> None:
    body = pusher.refused(
        422, data=b'{"device_id": "abc", "ops": [', headers={"Content-Type": "application/json"}
    )
    assert "not valid JSON" in body["detail"]


def test_wrong_types_name_the_field(pusher: Pusher) -> None:
    op = patient_op(pusher.clinic.clinic_id)
    op["base_version"] = "one"
    body = pusher.refused(422, "ops.0.base_version", json=pusher.body(op))
    assert "ops.0.base_version" in body["detail"]
    pusher.refused(422, "ops", json={"device_id": pusher.clinic.desk.device_id, "ops": "all of them"})
    bad_hlc = {**patient_op(pusher.clinic.clinic_id), "hlc": "yesterday"}
    pusher.refused(422, "ops.0.hlc", json=pusher.body(bad_hlc))


def test_unknown_entity_and_unknown_or_missing_fields(pusher: Pusher) -> None:
    op = {**patient_op(pusher.clinic.clinic_id), "entity": "spaceship"}
    pusher.refused(422, "ops.0.entity", json=pusher.body(op))
    extra = {**patient_op(pusher.clinic.clinic_id), "colour": "blue"}
    body = pusher.refused(422, "ops.0.colour", json=pusher.body(extra))
    assert "not part of the protocol" in body["detail"]
    pusher.refused(422, "device_id", json={"ops": []})
    pusher.refused(422, None, data=b"", headers={"Content-Type": "application/json"})


def test_an_unknown_data_field_rejects_that_op_only(pusher: Pusher) -> None:
    """Inside `data` the rules are the entity's: the op is refused (kept in the conflict log),
    the push itself is answered."""
    good = patient_op(pusher.clinic.clinic_id, full_name="Good Person", name_key="good person")
    bad = patient_op(pusher.clinic.clinic_id, colour="blue")
    answer = pusher.http.post(pusher.url, json=pusher.body(good, bad))
    assert answer.status_code == 200
    ok, refused = answer.json()["results"]
    assert ok["status"] == "applied"
    assert refused["status"] == "rejected" and refused["field"] == "data.colour" and refused["conflict_id"]
    assert pusher.server.row("patient", bad["entity_id"]) is None


def test_too_many_ops_is_422_on_ops(pusher: Pusher) -> None:
    ops = [patient_op(pusher.clinic.clinic_id) for _ in range(MAX_OPS_PER_PUSH + 1)]
    body = pusher.refused(422, "ops", json=pusher.body(*ops))
    assert str(MAX_OPS_PER_PUSH) in body["detail"]


def test_a_huge_body_is_413_by_length_and_by_streamed_size(pusher: Pusher) -> None:
    huge = json.dumps(pusher.body(note="x" * (MAX_BODY_BYTES + 1))).encode()
    pusher.refused(413, data=huge, headers={"Content-Type": "application/json"})

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it arrives
        for start in range(0, len(huge), 256 * 1024):
            yield huge[start : start + 256 * 1024]

    pusher.refused(413, data=chunks(), headers={"Content-Type": "application/json"})


def test_a_gzip_bomb_is_413(pusher: Pusher) -> None:
    inflated = b'{"device_id": "' + b"0" * (4 * MAX_BODY_BYTES) + b'", "ops": []}'
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < MAX_BODY_BYTES // 8
    body = pusher.refused(
        413, data=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert "decompression" in body["detail"]


def test_broken_or_unknown_encodings(pusher: Pusher) -> None:
    good = gzip.compress(json.dumps(pusher.body()).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    pusher.refused(400, data=good[: len(good) // 2], headers=headers)
    pusher.refused(400, data=b"not gzip at all", headers=headers)
    pusher.refused(415, data=b"{}", headers={"Content-Encoding": "br", "Content-Type": "application/json"})


def test_deeply_nested_json_is_a_client_error(pusher: Pusher) -> None:
    answer = pusher.http.post(pusher.url, data=b"[" * 200_000, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500
    assert "Traceback" not in answer.text


def test_bad_query_parameters_name_the_parameter(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    http = live_server.http(new_clinic.desk.token)
    for params, field in (({"since": "soon"}, "since"), ({"since": -1}, "since"), ({"limit": 0}, "limit")):
        answer = http.get(live_server.url("/v1/sync/pull"), params=params)
        assert answer.status_code == 422 and answer.json()["field"] == field


def test_unknown_paths_and_methods_answer_in_the_same_shape(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    assert requests.get(live_server.url("/v1/nothing-here")).status_code in (404, 426)
    answer = live_server.http(new_clinic.desk.token).get(live_server.url("/v1/health/x"))
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}
    stranger = live_server.http().get(live_server.url("/v1/health/x"))  # learns nothing of the paths
    assert stranger.status_code == 401 and "token" in stranger.json()["detail"]
    wrong_method = requests.get(live_server.url("/v1/devices/enroll"))
    assert wrong_method.status_code == 405 and "detail" in wrong_method.json()
