"""More pushes at once than the server has worker threads: every one is answered.

A push holds its clinic's lock from its first write to its commit, across several trips to
worker threads (anyio's pool: 40). On PostgreSQL the other pushes of the clinic wait for that
lock inside a worker thread; with enough of them every thread was waiting and the holder found
none to commit in, so the server stopped answering for good. Writers now take turns on the
event loop first (server_stub.deps.write_turn). On SQLite the same test shows that many
concurrent writers are all answered, without "database is locked".
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    live_server,
    patient_op,
    server_database_url,
)

AT_ONCE = 60  # more than the 40 worker threads
PUSHES_EACH = 3
DEVICES = 3


@pytest.mark.slow
def test_more_pushes_at_once_than_worker_threads_are_all_answered(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic(name="Crowded clinic")
    kiosks = [live_server.enroll(clinic, "kiosk", name=f"kiosk {i}") for i in range(DEVICES)]
    start = threading.Barrier(AT_ONCE)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def pusher(n: int) -> None:
        device: Any = kiosks[n % DEVICES]
        http = live_server.http(device.token)
        start.wait(timeout=30)
        for k in range(PUSHES_EACH):
            op = patient_op(
                clinic, full_name=f"Person {n} {k}", hlc=f"1767225600000-{k:04d}-{device.device_id}"
            )
            try:
                answer = http.post(
                    live_server.url("/v1/sync/push"),
                    json={"device_id": device.device_id, "ops": [op]},
                    timeout=30,
                )
                outcome = (
                    answer.status_code,
                    answer.json()["results"][0]["status"] if answer.ok else answer.text,
                )
            except Exception as exc:  # a timeout is the failure this test is about
                outcome = (0, repr(exc))
            with lock:
                answers.append(outcome)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failed = [a for a in answers if a != (200, "applied")]
    assert len(answers) == AT_ONCE * PUSHES_EACH and not failed, failed[:3]
