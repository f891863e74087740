"""`/openapi.json` tells the truth (issue 11, Deliver 9): every error is documented in the shape the
server sends, and schemathesis, driven by the schema alone, finds no server error and no answer
that breaks it, with a desk's token and with a kiosk's. Generic over the routes: what another
route adds is fuzzed and checked alike. Against the real server (SQLite, or PostgreSQL with
`DATABASE_URL`), on a database of its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from desktop.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.fixtures.server import LiveServer, fresh_server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")  # the `test` extra's console script
BUDGET_S = 50  # per token: about a minute with start-up
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    with fresh_server(tmp_path_factory.mktemp("fuzzed")) as server:
        clinic = server.create_clinic()
        server.add_user(clinic, "doctor")
        tokens = {kind: server.enroll(clinic, kind).token for kind in ("desk", "kiosk")}
        yield server, tokens


def schema(server: LiveServer) -> dict[str, Any]:
    answer = requests.get(server.url("/openapi.json"), timeout=10)
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def test_every_error_is_documented_in_the_shape_the_server_sends(
    fuzzed: tuple[LiveServer, dict[str, str]],
) -> None:
    document = schema(fuzzed[0])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == ERROR_BODY, (where, status)
            assert {"400", "413", "415"} <= set(responses), where  # the body guard reads every request
            if path not in ("/v1/health", "/v1/devices/enroll"):
                assert {"401", "426", "503"} <= set(responses), where
                assert "WWW-Authenticate" in responses["401"]["headers"], where
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in responses, where
    for path in ("/v1/auth/login", "/v1/devices/enroll"):
        throttled = document["paths"][path]["post"]["responses"]["429"]
        assert "Retry-After" in throttled["headers"], path


def test_a_real_422_has_the_documented_shape(fuzzed: tuple[LiveServer, dict[str, str]]) -> None:
    server, tokens = fuzzed
    answer = server.http(tokens["desk"]).get(server.url("/v1/sync/pull"), params={"since": 2**64})
    assert answer.status_code == 422 and answer.json()["field"] == "since"  # not a 500 past BIGINT
    assert set(answer.json()) == {"detail", "field"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["desk", "kiosk"])
def test_schemathesis_finds_no_server_error_nor_schema_violation(
    fuzzed: tuple[LiveServer, dict[str, str]], kind: str, tmp_path: Path
) -> None:
    server, tokens = fuzzed
    done = subprocess.run(
        [
            str(SCHEMATHESIS), "run", server.url("/openapi.json"),
            "--checks", ",".join(CHECKS),
            "--header", f"Authorization: Bearer {tokens[kind]}",
            "--header", f"{PROTOCOL_HEADER}: {PROTOCOL_VERSION}",
            "--max-time", str(BUDGET_S),
            "--request-timeout", "10",
            "--seed", "11" if kind == "desk" else "12",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 90,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,  # its .schemathesis/ cache of failures goes there, not in the checkout
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout and "Tested: " in done.stdout, done.stdout[-2000:]
