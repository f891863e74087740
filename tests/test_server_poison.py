"""One bad op never hurts anyone else (issue 11, the poison test): a kiosk pushes a deeply nested op,
a far-future stamp, a bad time zone and worse; every other device of its clinic and of a second
clinic keeps pushing and pulling, and `/v1/conflicts` answers 200. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.ids import new_id
from desktop.services import patients
from desktop.store.models import Patient
from desktop.sync.protocol import HLC_PATTERN
from tests.fixtures.server import (  # noqa: F401
    LiveServer,
    device_template,
    live_server,
    patient_op,
    server_database_url,
)
from tests.sync_support import ADMIN, Device, book, new_device, register, set_hours

FIRST = {"desk": "Anna", "second_desk": "Bernd", "good_kiosk": "Carla", "their_desk": "Dieter"}


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.fixture
def devices(live_server: LiveServer, device_template: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    made: list[Device] = []

    def device(clinic_id: str, kind: str, name: str) -> Device:
        made.append(new_device(live_server, clinic_id, kind, tmp_path / name, device_template))
        made[-1].sync()
        return made[-1]

    ours, theirs = live_server.create_clinic(name="Ours"), live_server.create_clinic(name="Theirs")
    doctors = {c: live_server.add_user(c, "doctor")[0] for c in (ours, theirs)}
    out = {
        "ours": ours,
        "doctors": doctors,
        "desk": device(ours, "desk", "desk"),
        "second_desk": device(ours, "desk", "second-desk"),
        "good_kiosk": device(ours, "kiosk", "good-kiosk"),
        "their_desk": device(theirs, "desk", "their-desk"),
        "kiosk": live_server.enroll(ours, "kiosk", name="Poisoned kiosk"),
    }
    for desk, clinic in ((out["desk"], ours), (out["their_desk"], theirs)):
        set_hours(desk, doctors[clinic])
        desk.sync()
    for each in made:
        each.sync()  # the doctors' hours
    yield out
    for each in made:
        each.client.close()
        each.store.close()


def poison(server: LiveServer, clinic_id: str, kiosk: Any) -> list[int]:
    """Everything the kiosk sends, one push each; the status of each answer."""
    node = kiosk.device_id
    http = server.http(kiosk.token)
    url = server.url("/v1/sync/push")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    clinic = server.row("clinic", clinic_id) or {}
    ops = [
        patient_op(clinic_id, hlc=f"9999999999999-9999-{node}"),
        patient_op(clinic_id, hlc=f"{now_ms + 3_600_000:013d}-0000-{node}"),
        {
            "op_id": new_id(),
            "entity": "clinic",
            "entity_id": clinic_id,
            "action": "update",
            "base_version": clinic["version"],
            "data": {"timezone": "Nowhere/Nope"},
            "hlc": f"{now_ms:013d}-0000-{node}",
            "actor": "kiosk",  # a kiosk device acts only as the kiosk
        },
        patient_op(clinic_id, hlc=f"{now_ms:013d}-0001-{node}", full_name="Null\x00Byte"),
        patient_op(clinic_id, hlc=f"{now_ms:013d}-0002-{node}", colour="x" * 200_000),
        patient_op(clinic_id, hlc=f"{now_ms:013d}-0003-{node}", allergies=nested(6)),
    ]
    statuses = []
    for op in ops:
        answer = http.post(url, json={"device_id": node, "ops": [op]})
        statuses.append(answer.status_code)
    deep = patient_op(clinic_id, hlc=f"{now_ms:013d}-0004-{node}", allergies="<deep>")
    body = json.dumps({"device_id": node, "ops": [deep]}).replace('"<deep>"', json.dumps(nested(300)))
    answer = http.post(url, data=body, headers={"Content-Type": "application/json"})
    statuses.append(answer.status_code)
    return statuses


def test_one_kiosk_poisons_nothing(live_server: LiveServer, devices: dict[str, Any]) -> None:
    ours: str = devices["ours"]
    # A conflict record as a server without today's bounds kept it (a refused op's data, 300 deep).
    with live_server.admin() as admin:
        admin.writer(ours).log_conflict(
            entity="patient", entity_id=new_id(), resolution="needs_review", ours=nested(300), detail="old"
        )
    statuses = poison(live_server, ours, devices["kiosk"])
    assert all(s < 500 for s in statuses), statuses
    assert statuses[:-1] == [200] * (len(statuses) - 1) and 400 <= statuses[-1] < 500
    assert (live_server.row("clinic", ours) or {})["timezone"] == "Europe/Berlin"

    # Everyone else goes on: push, book, pull, list conflicts, for two rounds.
    for round_ in range(2):
        for name in ("desk", "second_desk", "good_kiosk", "their_desk"):
            device: Device = devices[name]
            clinic = device.enrolled.clinic_id
            patient = register(device, f"{FIRST[name]} {('Alt', 'Neu')[round_]}")
            hour = 9 + round_ + (2 if name == "second_desk" else 0)
            book(device, patient, devices["doctors"][clinic], hour)
            report = device.sync()
            assert report.rejected == 0 and report.conflicts <= 1, (name, report)
    for name in ("desk", "second_desk", "their_desk"):
        device = devices[name]
        http = live_server.http(device.enrolled.token)
        conflicts = http.get(live_server.url("/v1/conflicts"), params={"status": "all"})
        assert conflicts.status_code == 200, conflicts.text
        pulled = http.get(live_server.url("/v1/sync/pull"))
        assert pulled.status_code == 200, pulled.text
        stamps = {c["hlc"] for c in pulled.json()["changes"]}
        assert all(re.match(HLC_PATTERN, s) for s in stamps), stamps
    # The desk of the poisoned clinic sees each refusal in its conflict list, readable.
    mine = live_server.http(devices["desk"].enrolled.token).get(live_server.url("/v1/conflicts")).json()
    refused = [c for c in mine["conflicts"] if c["detail"].startswith("Refused")]
    assert len(refused) >= 5
    # And the admin's desk can still book for the doctor (the clinic's zone was never broken).
    patient = register(devices["desk"], "Late Patient", actor=ADMIN)
    book(devices["desk"], patient, devices["doctors"][ours], 15, actor=ADMIN)
    report = devices["desk"].sync()
    assert report.pushed == report.applied > 0 and report.rejected == 0, report


def plant_future_stamp(server: LiveServer, clinic_id: str, patient_id: str) -> str:
    """What a server without the clock check kept: the row's stamp, and the stamp of its latest
    revision, far in the future; the row re-announced to every device."""
    stamp = f"9999999999999-0000-{new_id()}"
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE patient SET hlc = :s WHERE id = :i"), {"s": stamp, "i": patient_id})
        conn.execute(
            text("UPDATE row_change SET hlc = :s WHERE entity_id = :i AND version = (SELECT max(version) "
                 "FROM row_change WHERE entity_id = :i)"),
            {"s": stamp, "i": patient_id},
        )  # fmt: skip
    with server.admin() as admin:
        admin.writer(clinic_id).touch(Patient, patient_id)
    return stamp


def test_a_future_stamp_kept_by_an_older_server_neither_drags_clocks_nor_wins(
    live_server: LiveServer, devices: dict[str, Any]
) -> None:
    desk: Device = devices["desk"]
    other: Device = devices["second_desk"]
    patient_id = register(desk, "Greta Held")
    desk.sync()
    other.sync()
    with other.store.unit_of_work() as uow:  # another device's edit, then stamped far ahead
        patients.update_details(uow, actor=ADMIN, patient_id=patient_id, address="Old Road 1")
    other.sync()
    plant_future_stamp(live_server, devices["ours"], patient_id)
    with desk.store.unit_of_work() as uow:  # made before the desk saw that edit: merged
        patients.update_details(uow, actor=ADMIN, patient_id=patient_id, address="New Road 2")
    report = desk.sync()
    assert report.rejected == 0 and report.merged == 1, report
    assert (live_server.row("patient", patient_id) or {})["address"] == "New Road 2"
    # The desk pulled the planted stamp, and its clock stayed its own.
    later = register(desk, "Hugo Imm")
    stamp = next(op.hlc for op in reversed(desk.journal()) if op.entity_id == later)
    assert abs(int(stamp[:13]) - datetime.now(UTC).timestamp() * 1000) < 60_000, stamp
    assert desk.sync().applied >= 1
