"""A change refused for good never makes the device retry forever (issue 11): it is set aside,
kept, visible with its reason, and resolvable (retry or discard); the journal behind it goes on.
The real engine against the real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from sqlalchemy import text

from desktop.domain.errors import NotFound
from desktop.services import patients
from desktop.sync import outbox, set_aside
from desktop.sync.protocol import MAX_OP_BYTES, Op
from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    device_template,
    live_server,
    server_database_url,
)
from tests.sync_support import RECEPTION, Device, local_rows, new_device, register

MakeDevice = Callable[..., Device]


@pytest.fixture
def make_device(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MakeDevice]:
    server: LiveServer = request.getfixturevalue("live_server")
    template: Path = request.getfixturevalue("device_template")
    clinic_id = server.create_clinic()
    made: list[Device] = []

    def make(kind: str = "desk") -> Device:
        device = new_device(server, clinic_id, kind, tmp_path / f"{kind}-{len(made)}", template)
        device.sync()
        made.append(device)
        return device

    yield make
    for device in made:
        device.client.close()
        device.store.close()


def set_journal(device: Device, op_id: str, **values: Any) -> None:
    """Change a journaled op as it is stored (what another version of the app, or a wrong clock,
    would have written)."""
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    with device.store.db.writer.begin() as conn:
        conn.execute(
            text(f"UPDATE sync_journal SET {assignments} WHERE op_id = :op_id"), {**values, "op_id": op_id}
        )


def set_data(device: Device, op_id: str, key: str, value: str) -> None:
    with device.store.db.writer.begin() as conn:
        conn.execute(
            text("UPDATE sync_journal SET data = json_set(data, :path, :value) WHERE op_id = :op_id"),
            {"path": f"$.{key}", "value": value, "op_id": op_id},
        )


def op_of(device: Device, row_id: str) -> str:
    """The id of the row's latest journal op."""
    return next(op.op_id for op in reversed(device.journal()) if op.entity_id == row_id)


def an_hour_ahead(device: Device) -> str:
    ms = int((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1000)
    return f"{ms:013d}-0000-{device.enrolled.device_id}"


def test_a_refused_op_is_set_aside_visible_and_the_journal_goes_on(make_device: MakeDevice) -> None:
    desk = make_device()
    first = register(desk, "Ada Bauer")
    refused_op = op_of(desk, first)
    set_data(desk, refused_op, "allergies", "x" * 600)
    second = register(desk, "Bea Clausen")
    report = desk.sync()
    assert report.rejected == 1 and report.applied >= 1
    assert second in server_rows_of(desk) and first not in server_rows_of(desk)
    (change,) = set_aside.refused_changes(desk.store)
    assert change.op_id == refused_op and change.entity_id == first and not change.local
    assert change.field == "data.allergies" and "500" in change.reason and change.conflict_id
    again = desk.sync()  # nothing is sent again
    assert again.pushed == 0 and set_aside.refused_changes(desk.store) == [change]


class OlderOp(Op):
    """The op as an app of another version checks it: any stamp and action go."""

    hlc: str = Field()
    action: str = Field()


def test_a_push_refused_for_one_op_sets_that_op_aside_and_sends_the_rest(
    make_device: MakeDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 422 naming `ops.N` (this device let through what the server refuses) must not block the
    journal: before, the same push went again at every sync, for ever."""
    desk = make_device()
    before = register(desk, "Carl Dietz")
    bad = register(desk, "Dora Engel")
    bad_op = op_of(desk, bad)
    after = register(desk, "Emil Fuchs")
    fourteen_digits = "1" + desk.journal()[-1].hlc
    set_journal(desk, bad_op, hlc=fourteen_digits)
    monkeypatch.setattr(outbox, "Op", OlderOp)
    report = desk.sync()
    assert report.error is None, report
    on_server = server_rows_of(desk)
    assert {before, after} <= on_server.keys() and bad not in on_server
    (change,) = set_aside.refused_changes(desk.store)
    assert change.op_id == bad_op and change.field == "hlc" and not change.local
    assert desk.sync().pushed == 0


def server_rows_of(device: Device) -> dict[str, Any]:
    return {
        c["id"]: c for c in device.client.pull(0, 5000).model_dump()["changes"] if c["entity"] == "patient"
    }


def test_an_op_refused_for_the_devices_clock_is_retried_once_the_clock_is_right(
    make_device: MakeDevice,
) -> None:
    kiosk = make_device("kiosk")
    patient_id = register(kiosk, "Fritz Gross")
    op_id = op_of(kiosk, patient_id)
    set_journal(kiosk, op_id, hlc=an_hour_ahead(kiosk))
    report = kiosk.sync()
    assert report.rejected == 1
    (change,) = set_aside.refused_changes(kiosk.store)  # on a kiosk too, which pulls no conflicts
    assert change.field == "hlc" and "clock" in change.reason
    assert local_rows(kiosk.store, "patient")[patient_id]["deleted"]  # the refused new row is hidden
    fresh = set_aside.retry(kiosk.store, op_id)
    assert fresh != op_id and not local_rows(kiosk.store, "patient")[patient_id]["deleted"]
    assert set_aside.refused_changes(kiosk.store) == []
    report = kiosk.sync()
    assert report.rejected == 0 and report.applied == 1
    assert patient_id in server_rows_of(kiosk)
    with pytest.raises(NotFound):
        set_aside.retry(kiosk.store, op_id)


def test_a_discarded_change_is_kept_and_the_servers_row_stands(make_device: MakeDevice) -> None:
    desk = make_device()
    patient_id = register(desk, "Gerda Haas")
    desk.sync()
    with desk.store.unit_of_work() as uow:
        patients.update_details(uow, actor=RECEPTION, patient_id=patient_id, address="Ring 1")
    op_id = op_of(desk, patient_id)
    set_journal(desk, op_id, hlc=an_hour_ahead(desk))
    assert desk.sync().rejected == 1
    set_aside.discard(desk.store, op_id)
    assert set_aside.refused_changes(desk.store) == []
    assert [op.status for op in desk.journal() if op.op_id == op_id] == ["discarded"]
    assert desk.sync().pushed == 0
    assert local_rows(desk.store, "patient")[patient_id]["address"] == ""  # the server's, pulled back
    with pytest.raises(NotFound):
        set_aside.discard(desk.store, op_id)


def test_a_change_too_large_to_send_is_set_aside_on_the_device(make_device: MakeDevice) -> None:
    desk = make_device()
    op_id = op_of(desk, register(desk, "Hans Iser"))
    set_data(desk, op_id, "allergies", "x" * MAX_OP_BYTES)
    kept = register(desk, "Ida Jung")
    report = desk.sync()
    assert report.rejected == 1 and kept in server_rows_of(desk)
    (change,) = set_aside.refused_changes(desk.store)
    assert change.op_id == op_id and change.local and "KiB" in change.reason
