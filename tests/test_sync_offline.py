"""Working while the server is down: changes wait, and reach the server exactly once when it is back."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from desktop.domain.english import english
from desktop.sync.engine import SyncEngine
from desktop.sync.errors import Offline
from server_stub.models import AppliedOp
from tests.fixtures.desk import desk, server  # noqa: F401
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server` and `template`)
    LiveServer,
    device_template,
    live_server,
    server_database_url,
)
from tests.sync_support import (
    RECEPTION,
    Device,
    fast_client,
    free_port,
    register,
    server_rows,
    serving,
)


def point_at(device: Device, url: str, **client_options: Any) -> None:
    device.client.close()
    device.client = fast_client(url, device.enrolled.token, **client_options)
    device.engine = SyncEngine(device.store, device.client)


def applied_ops(server: LiveServer, op_ids: list[str]) -> list[str]:
    with server.engine.connect() as conn:
        return list(conn.scalars(select(AppliedOp.op_id).where(AppliedOp.op_id.in_(op_ids))))


def test_changes_made_while_the_server_is_down_reach_it_exactly_once(
    server: LiveServer, desk: Device
) -> None:
    port = free_port()
    point_at(desk, f"http://127.0.0.1:{port}")
    names = ["Ida Anders", "Jan Brandt", "Kai Castell"]
    for name in names:
        register(desk, name, actor=RECEPTION)
    for _ in range(2):  # the server is down: nothing is lost, nothing is doubled
        report = desk.sync(allow_error=True)
        assert isinstance(report.error, Offline) and report.pushed == 0
        assert "Cannot reach the server" in english(report.errors[-1])
    ops = [op for op in desk.journal() if op.status != "applied"]
    assert len(ops) == 6 and {op.status for op in ops} == {"sent"}  # marked before each attempt
    op_ids = [op.op_id for op in ops]
    assert applied_ops(server, op_ids) == []

    with serving(server.database_url, port):
        report = desk.sync()
    assert report.pushed == 6 and report.applied == 6 and report.duplicates == 0
    assert sorted(applied_ops(server, op_ids)) == sorted(op_ids)
    patients = server_rows(server, "patient", desk.enrolled.clinic_id)
    assert sorted(p["full_name"] for p in patients.values()) == names
    assert {op.status for op in desk.journal()} == {"applied"}


def test_the_client_retries_until_a_server_that_is_starting_answers(server: LiveServer, desk: Device) -> None:
    port = free_port()
    point_at(desk, f"http://127.0.0.1:{port}", retries=10, backoff_factor=0.1)  # ~10 s of retrying
    register(desk, "Lena Dorn", actor=RECEPTION)
    started = threading.Event()
    stop = threading.Event()

    def start_later() -> None:
        with serving(server.database_url, port):
            started.set()
            stop.wait(60)

    threading.Timer(0.5, start_later).start()
    try:
        report = desk.sync()  # one call: urllib3's Retry waits for the server
        assert started.is_set() and report.pushed == 2 and report.applied == 2
    finally:
        stop.set()
    op_ids = [op.op_id for op in desk.journal()]
    assert len(op_ids) == 2 and sorted(applied_ops(server, op_ids)) == sorted(op_ids)
