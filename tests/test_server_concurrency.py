"""Concurrent pushes over HTTP while a device pulls: no change is ever skipped (SYNC.md point 7)."""

from __future__ import annotations

import threading
from string import ascii_lowercase
from typing import Any

from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    live_server,
    patient_op,
    server_database_url,
)

DEVICES = 4
PUSHES_EACH = 12


def test_a_puller_never_skips_a_change_while_devices_push_concurrently(live_server: LiveServer) -> None:
    clinic = live_server.create_clinic(name="Busy clinic")
    kiosks = [live_server.enroll(clinic, "kiosk", name=f"kiosk {i}") for i in range(DEVICES)]
    pushed: set[str] = set()
    lock = threading.Lock()
    errors: list[str] = []
    done = threading.Event()

    def pusher(device: Any) -> None:
        http = live_server.http(device.token)
        for n in range(PUSHES_EACH):
            op = patient_op(
                clinic,
                full_name=f"Person {ascii_lowercase[n]} of {device.letter}",
                hlc=f"1767225600000-{n:04d}-{device.device_id}",
            )
            answer = http.post(
                live_server.url("/v1/sync/push"), json={"device_id": device.device_id, "ops": [op]}
            )
            if answer.status_code != 200 or answer.json()["results"][0]["status"] != "applied":
                errors.append(answer.text)
                return
            with lock:
                pushed.add(op["entity_id"])

    seen: dict[str, int] = {}
    seqs: list[int] = []

    def puller() -> None:
        http = live_server.http(live_server.enroll(clinic, "desk").token)
        since = 0
        while True:
            finished = done.is_set()  # read before the pull: one more full pull after the last push
            page = http.get(live_server.url("/v1/sync/pull"), params={"since": since, "limit": 7}).json()
            for change in page["changes"]:
                seqs.append(change["seq"])
                seen[change["id"]] = change["seq"]
            since = page["next"]
            if finished and not page["more"]:
                return

    threads = [threading.Thread(target=pusher, args=(k,)) for k in kiosks]
    reader = threading.Thread(target=puller)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(timeout=60)
    assert not errors, errors[:3]
    assert len(pushed) == DEVICES * PUSHES_EACH
    assert pushed <= set(seen), f"the puller skipped {len(pushed - set(seen))} changes"
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
