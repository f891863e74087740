"""The server's PostgreSQL restarts: the first request on a dead pooled connection is a 503 that
devices retry, nothing is written, and the next request is served on a new connection."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    live_server,
    patient_op,
    server_database_url,
)


def test_a_dead_database_connection_is_a_503_and_the_retry_is_served(live_server: LiveServer) -> None:
    if live_server.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connections")
    clinic = live_server.create_clinic(name="Restarted database")
    kiosk = live_server.enroll(clinic, "kiosk")
    http = live_server.http(kiosk.token)
    body = {"device_id": kiosk.device_id, "ops": [patient_op(clinic, full_name="Ana Silva")]}
    url = live_server.url("/v1/sync/push")
    assert http.post(url, json={**body, "ops": []}).status_code == 200  # the server's pool is open

    # What a restart does to the server's pooled connections: every one of them is closed.
    killer = create_engine(live_server.engine.url)
    with killer.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()
    live_server.engine.dispose()  # the test's own connections went too

    first = http.post(url, json=body)
    assert first.status_code == 503 and first.headers["Retry-After"], first.text
    assert "database connection" in first.json()["detail"]
    assert live_server.counts(clinic)["patient"] == 0
    again = http.post(url, json=body)
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "applied"
    assert live_server.counts(clinic)["patient"] == 1
