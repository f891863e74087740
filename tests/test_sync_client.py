"""The HTTP client: headers, gzip both ways, retries with back-off, and errors sorted by kind.

A scripted HTTP server on 127.0.0.1 answers exactly what each test says (and records what it was
sent); the last tests talk to the real sync server.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from desktop.sync.client import SyncClient
from desktop.sync.errors import (
    AuthFailed,
    Forbidden,
    Offline,
    ServerError,
    ServerRejected,
    UpgradeRequired,
)
from desktop.sync.protocol import PROTOCOL_HEADER, Op, PushRequest, ResolveRequest
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server`)
    LiveServer,
    live_server,
    server_database_url,
)
from tests.sync_support import free_port

DEVICE = "01939a6f-0000-7000-8000-000000000001"
NOW = "2026-03-02T08:00:00+00:00"


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    gzip: bool = False
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    answers: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            answer = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
            time.sleep(answer.delay)
            payload = json.dumps(answer.body).encode()
            if answer.gzip:
                payload = gzip.compress(payload)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                if answer.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except ConnectionError:  # the client timed out and hung up first: what a timeout test wants
                pass

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def client(url: str, **options: Any) -> SyncClient:
    settings: dict[str, Any] = {"token_provider": lambda: "tok", "retries": 2, "backoff_factor": 0.01}
    settings.update(options)
    return SyncClient(url, **settings)


def push_request(n: int) -> PushRequest:
    ops = [
        Op(
            op_id=f"01939a6f-0000-7000-8000-{i:012d}",
            entity="patient",
            entity_id=f"01939a6f-0001-7000-8000-{i:012d}",
            action="create",
            base_version=0,
            data={"full_name": f"Patient {i}", "address": "Parkweg " * 10},
            hlc=f"1772438400000-0000-{DEVICE}",
            actor="kiosk",
        )
        for i in range(n)
    ]
    return PushRequest(device_id=DEVICE, ops=ops)


def results(request: PushRequest) -> dict[str, Any]:
    return {
        "results": [{"op_id": op.op_id, "status": "applied", "version": 1} for op in request.ops],
        "server_time": NOW,
    }


def test_every_request_names_the_protocol_and_authenticated_ones_carry_the_token(
    stub: tuple[str, Script],
) -> None:
    url, script = stub
    script.answers = [
        Answer(body={"status": "ok", "version": "1", "protocol": 1, "time": NOW}),
        Answer(body={"device_id": DEVICE, "token": "new", "clinic_id": DEVICE, "letter": "B"}),
        Answer(body={"changes": [], "next": 7, "more": False}),
    ]
    with client(url) as c:
        assert c.health().protocol == 1
        assert c.enroll(" ABCD-EFGH ", "Kiosk", "kiosk").letter == "B"
        page = c.pull(7, limit=99_999)
    assert (page.next, page.more) == (7, False)
    health, enroll, pull = script.seen
    assert all(s.headers[PROTOCOL_HEADER] == "1" for s in script.seen)
    assert "Authorization" not in health.headers and "Authorization" not in enroll.headers
    assert json.loads(enroll.body)["code"] == "ABCD-EFGH"
    assert pull.headers["Authorization"] == "Bearer tok"
    assert pull.path == "/v1/sync/pull?since=7&limit=5000"  # capped at the protocol's limit
    assert "gzip" in pull.headers["Accept-Encoding"]


def test_large_bodies_go_gzipped_and_gzip_answers_are_read(stub: tuple[str, Script]) -> None:
    url, script = stub
    big, small = push_request(100), push_request(1)
    script.answers = [Answer(body=results(big), gzip=True), Answer(body=results(small))]
    with client(url) as c:
        assert len(c.push(big).results) == 100
        assert len(c.push(small).results) == 1
    sent_big, sent_small = script.seen
    assert sent_big.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(sent_big.body)) == json.loads(big.model_dump_json())
    assert len(sent_big.body) < len(big.model_dump_json()) / 3
    assert "Content-Encoding" not in sent_small.headers
    assert json.loads(sent_small.body)["device_id"] == DEVICE


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthFailed), (403, Forbidden), (426, UpgradeRequired), (413, ServerRejected), (500, ServerError)],
)
def test_answers_become_errors_by_kind_with_the_servers_words(
    stub: tuple[str, Script], status: int, error: type[Exception]
) -> None:
    url, script = stub
    script.answers = [Answer(status, {"detail": f"Words of the server ({status}).", "field": "ops.0.data"})]
    with client(url, retries=0) as c, pytest.raises(error) as raised:
        c.push(push_request(1))
    assert raised.value.message == f"Words of the server ({status})."  # type: ignore[attr-defined]
    if error is ServerRejected:
        assert raised.value.field == "ops.0.data" and raised.value.status == 413  # type: ignore[attr-defined]


def test_fastapis_own_validation_errors_are_readable(stub: tuple[str, Script]) -> None:
    url, script = stub
    detail = [{"loc": ["body", "ops", 0, "hlc"], "msg": "String should match pattern", "type": "x"}]
    script.answers = [Answer(422, {"detail": detail})]
    with client(url) as c, pytest.raises(ServerRejected) as raised:
        c.push(push_request(1))
    assert raised.value.field == "ops.0.hlc" and "pattern" in raised.value.message


def test_502_503_504_are_retried_with_back_off_posts_included(stub: tuple[str, Script]) -> None:
    url, script = stub
    request = push_request(2)
    script.answers = [Answer(503, {"detail": "busy"}), Answer(502, {}), Answer(body=results(request))]
    with client(url, retries=3) as c:
        assert len(c.push(request).results) == 2
    assert [s.method for s in script.seen] == ["POST"] * 3
    assert script.seen[0].body == script.seen[2].body  # the same ops again: idempotent by op_id


def test_a_server_that_stays_unavailable_is_a_server_error(stub: tuple[str, Script]) -> None:
    url, script = stub
    script.answers = [Answer(504, {"detail": "The gateway timed out."})]
    with client(url, retries=2) as c, pytest.raises(ServerError) as raised:
        c.pull(0)
    assert len(script.seen) == 3 and raised.value.status == 504 and raised.value.retryable


def test_other_5xx_and_enrolment_are_not_retried(stub: tuple[str, Script]) -> None:
    url, script = stub
    script.answers = [Answer(500, {"detail": "bug"})]
    with client(url, retries=3) as c:
        with pytest.raises(ServerError):
            c.pull(0)
        assert len(script.seen) == 1
        script.answers = [Answer(503, {"detail": "busy"})]
        with pytest.raises(ServerError):
            c.enroll("ABCD-EFGH", "Desk", "desk")  # a code works once: never sent twice
        assert len(script.seen) == 2


def test_an_unreachable_or_silent_server_is_offline(stub: tuple[str, Script]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with client(closed, retries=2, backoff_factor=0.05) as c, pytest.raises(Offline) as raised:
        c.push(push_request(1))
    assert "Cannot reach the server" in raised.value.message and raised.value.retryable
    assert time.monotonic() - started >= 0.05  # it backed off between attempts
    url, script = stub
    script.answers = [Answer(body={"changes": [], "next": 0, "more": False}, delay=0.5)]
    with client(url, retries=0, timeout=(1.0, 0.1)) as c, pytest.raises(Offline) as raised:
        c.pull(0)
    assert "did not answer in time" in raised.value.message


def test_no_token_is_an_auth_failure_without_a_request(stub: tuple[str, Script]) -> None:
    url, script = stub
    with client(url, token_provider=lambda: None) as c, pytest.raises(AuthFailed):
        c.pull(0)
    assert script.seen == []


def test_an_unreadable_answer_is_a_server_error(stub: tuple[str, Script]) -> None:
    url, script = stub
    script.answers = [Answer(body={"changes": [{"seq": "x"}], "next": 1, "more": False})]
    with client(url) as c, pytest.raises(ServerError) as raised:
        c.pull(0)
    assert "unreadable" in raised.value.message
    script.answers = [Answer(body={"results": [{"op_id": "x", "status": "lost"}], "server_time": "now"})]
    with client(url) as c, pytest.raises(ServerError) as raised:
        c.push(push_request(1))
    assert "unreadable" in raised.value.message and raised.value.status == 200


# -- against the real server ------------------------------------------------------------------


@pytest.fixture
def server(request: pytest.FixtureRequest) -> LiveServer:
    found: LiveServer = request.getfixturevalue("live_server")
    return found


def test_the_real_server_speaks_the_same_language(server: LiveServer, tmp_path: Path) -> None:
    clinic_id = server.create_clinic()
    _, username = server.add_user(clinic_id, "doctor")
    code = server.code(clinic_id, "desk")
    token: list[str] = []
    with SyncClient(server.base_url, token_provider=lambda: token[0] if token else None) as c:
        assert c.health().status == "ok"
        enrolled = c.enroll(code, "Desk 1", "desk")
        assert enrolled.clinic_id == clinic_id
        with pytest.raises(AuthFailed) as raised:  # a code works once
            c.enroll(code, "Desk 2", "desk")
        assert "code" in raised.value.message
        token.append(enrolled.token)
        signed_in = c.login(username, "correct horse")
        assert signed_in.role == "doctor"
        with pytest.raises(AuthFailed, match="Wrong username or password"):
            c.login(username, "wrong horse")
        page = c.pull(0)
        assert {ch.entity for ch in page.changes} >= {"clinic", "clinician"}
        assert c.conflicts()["conflicts"] == []
        with pytest.raises((Forbidden, ServerRejected)):  # a device token is not a clinician
            c.resolve("01939a6f-0000-7000-8000-000000000009", ResolveRequest(choice="dismiss"))
        c._session.headers[PROTOCOL_HEADER] = "0"  # an app too old for this server
        with pytest.raises(UpgradeRequired, match="update"):
            c.pull(0)
