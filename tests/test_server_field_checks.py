"""Every field of a pushed op is checked on the server as strictly as on the device (issue 11): a
wrong value is an op refused naming the field (or a 422 for a malformed request), never a 500,
never a row written. Against the real server, on SQLite and on PostgreSQL (`DATABASE_URL`)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.domain.ids import human_code, new_id
from desktop.services import booking, patients
from desktop.services.common import KIOSK
from desktop.store.codec import data_fields
from desktop.store.models import ENTITY_MODELS
from desktop.sync.protocol import HLC_PATTERN, MAX_DATA_DEPTH, MAX_OP_BYTES
from server_stub.background import serving
from server_stub.fields import LOGGED_MAX_BYTES
from tests.fixtures.server import (  # noqa: F401
    ClinicOnServer,
    LiveServer,
    device_store,
    device_template,
    journal_ops,
    last_seq,
    live_server,
    new_clinic,
    now_hlc,
    patient_op,
    pull_all,
    push,
    server_database_url,
    tomorrow_at,
)
from tests.test_server_conflicts import double_booking, resolve


def pushed(server: LiveServer, clinic: ClinicOnServer, *ops: dict[str, Any]) -> list[dict[str, Any]]:
    """The results of a push by the clinic's desk (which must answer 200)."""
    return push(server, clinic.desk, list(ops))["results"]


def refused(server: LiveServer, clinic: ClinicOnServer, op: dict[str, Any], field: str) -> dict[str, Any]:
    """The op is refused naming `field`, and its row is not written."""
    before = server.row(op["entity"], op["entity_id"])
    (result,) = pushed(server, clinic, op)
    assert result["status"] == "rejected", result
    assert result["field"] == field, result
    assert result["error"] and result["conflict_id"]
    assert server.row(op["entity"], op["entity_id"]) == before
    return result


def malformed(server: LiveServer, clinic: ClinicOnServer, field: str, **request: Any) -> dict[str, Any]:
    answer = server.http(clinic.desk.token).post(server.url("/v1/sync/push"), **request)
    assert answer.status_code == 422, answer.text
    body: dict[str, Any] = answer.json()
    assert body["field"] == field, body
    return body


def desk_body(clinic: ClinicOnServer, *ops: dict[str, Any]) -> dict[str, Any]:
    return {"device_id": clinic.desk.device_id, "ops": list(ops)}


# -- types, lengths, NUL, ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_name", None),
        ("full_name", ["Ada", "Lovelace"]),
        ("phone", {"number": "123"}),
        ("deleted", "yes"),
        ("deleted", 1),
        ("allergies", ["penicillin"]),
        ("birth_date", 19900101),
        ("email", 7),
        ("sex", "robot"),
        ("merged_into", "-" * 32),
        ("merged_into", "0190F2A4-7B1C-7D3E-8F00-123456789ABC"),  # not as the device writes ids
    ],
)
def test_a_wrong_type_or_value_is_refused_naming_the_field(
    live_server: LiveServer, new_clinic: ClinicOnServer, field: str, value: Any
) -> None:
    op = patient_op(new_clinic.clinic_id, **{field: value})
    refused(live_server, new_clinic, op, f"data.{field}")


def test_the_column_length_is_enforced_on_sqlite_too(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    result = refused(
        live_server, new_clinic, patient_op(new_clinic.clinic_id, allergies="x" * 501), "data.allergies"
    )
    assert "at most 500" in result["error"]
    fits = patient_op(new_clinic.clinic_id, allergies="x" * 500)
    assert pushed(live_server, new_clinic, fits)[0]["status"] == "applied"


def test_a_7_mb_string_is_refused_and_never_reaches_another_device(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    huge = patient_op(new_clinic.clinic_id, allergies="x" * (7 * 1024 * 1024))
    body = malformed(live_server, new_clinic, "ops.0.data", json=desk_body(new_clinic, huge))
    assert f"{MAX_OP_BYTES // 1024} KiB" in body["detail"]
    assert live_server.row("patient", huge["entity_id"]) is None


@pytest.mark.parametrize("field", ["full_name", "address", "allergies"])
def test_a_nul_character_is_refused_not_a_500(
    live_server: LiveServer, new_clinic: ClinicOnServer, field: str
) -> None:
    op = patient_op(new_clinic.clinic_id, **{field: "Ada\x00Lovelace"})
    result = refused(live_server, new_clinic, op, f"data.{field}")
    assert "NUL" in result["error"]


def test_a_nul_character_inside_json_is_refused(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    clinic = live_server.row("clinic", new_clinic.clinic_id)
    assert clinic is not None
    op = {
        "op_id": new_id(),
        "entity": "clinic",
        "entity_id": new_clinic.clinic_id,
        "action": "update",
        "base_version": clinic["version"],
        "data": {"holidays": ["2026-12-25\x00"]},
        "hlc": now_hlc(new_clinic.desk.device_id),
        "actor": new_clinic.admin_id,
    }
    refused(live_server, new_clinic, op, "data.holidays")


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("entity_id", "-" * 32),
        ("op_id", "0190f2a47b1c7d3e8f00123456789abc"),  # 32 hex digits, no dashes
        ("entity_id", "0190f2a4-7b1c-7d3e-8f00-123456789abc-"),
        ("hlc", "1767225600000-0000-" + "-" * 32),
        ("hlc", "17672256000000-0000-0190f2a4-7b1c-7d3e-8f00-123456789abc"),  # 14 digits
        ("action", "drop table"),
    ],
)
def test_ids_and_stamps_must_have_their_exact_shape(
    live_server: LiveServer, new_clinic: ClinicOnServer, field: str, bad: str
) -> None:
    op = {**patient_op(new_clinic.clinic_id), field: bad}
    malformed(live_server, new_clinic, f"ops.0.{field}", json=desk_body(new_clinic, op))


@pytest.mark.parametrize(
    ("field", "value"), [("base_version", "0"), ("base_version", 0.0), ("base_version", True)]
)
def test_op_fields_are_strict(
    live_server: LiveServer, new_clinic: ClinicOnServer, field: str, value: Any
) -> None:
    op = {**patient_op(new_clinic.clinic_id), field: value}
    malformed(live_server, new_clinic, f"ops.0.{field}", json=desk_body(new_clinic, op))


def test_base_version_1_as_text_is_not_read_as_1(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    op = patient_op(new_clinic.clinic_id)
    assert pushed(live_server, new_clinic, op)[0]["status"] == "applied"
    edit = {**op, "op_id": new_id(), "action": "update", "base_version": "1", "data": {"address": "Hof 2"}}
    malformed(live_server, new_clinic, "ops.0.base_version", json=desk_body(new_clinic, edit))
    assert (live_server.row("patient", op["entity_id"]) or {})["address"] == ""


# -- dates, time zones, enums and ranges --------------------------------------------------------


def appointment_ops(clinic: ClinicOnServer) -> tuple[dict[str, Any], dict[str, Any]]:
    """A patient's registration and a kiosk booking, journaled by the desk (not pushed)."""
    mark = last_seq(clinic.desk_store)
    patient_id = register_on(clinic)
    with clinic.desk_store.unit_of_work() as uow:
        booking.book(
            uow, actor=KIOSK, patient_id=patient_id, clinician_id=clinic.doctor_id, starts_at=tomorrow_at(10)
        )
    ops = {op["entity"]: op for op in journal_ops(clinic.desk_store, after=mark)}
    return ops["patient"], ops["appointment"]


def register_on(clinic: ClinicOnServer) -> str:
    with clinic.desk_store.unit_of_work() as uow:
        return patients.register(
            uow,
            actor=KIOSK,
            full_name="Olga Brandt",
            birth_date=date(1970, 3, 1),
            phone=None,
            confirm_new=True,
        ).id


@pytest.mark.parametrize(
    "starts_at",
    [
        "0001-01-01T09:00:00+00:00",
        "9999-12-31T23:45:00+00:00",
        "2026-06-01T09:00:00",  # no offset: whose 9 o'clock?
        "tomorrow",
    ],
)
def test_an_appointment_outside_a_plausible_window_is_refused(
    live_server: LiveServer, new_clinic: ClinicOnServer, starts_at: str
) -> None:
    patient, appointment = appointment_ops(new_clinic)
    assert pushed(live_server, new_clinic, patient)[0]["status"] == "applied"
    appointment["data"]["starts_at"] = starts_at
    refused(live_server, new_clinic, appointment, "data.starts_at")


@pytest.mark.parametrize("field", ["clinician_id", "patient_id", "code"])
def test_a_nul_in_an_id_or_code_the_server_looks_up_is_refused_not_a_500(
    live_server: LiveServer, new_clinic: ClinicOnServer, field: str
) -> None:
    """The server looks up a booking's doctor, patient (whose clinic) and code (taken?) before the
    field checks: on PostgreSQL a NUL in one of those lookups failed the whole push with a 500."""
    patient, appointment = appointment_ops(new_clinic)
    assert pushed(live_server, new_clinic, patient)[0]["status"] == "applied"
    appointment["data"][field] = "A\x00"
    refused(live_server, new_clinic, appointment, f"data.{field}")


def clinic_update(server: LiveServer, clinic: ClinicOnServer, **data: Any) -> dict[str, Any]:
    row = server.row("clinic", clinic.clinic_id)
    assert row is not None
    return {
        "op_id": new_id(),
        "entity": "clinic",
        "entity_id": clinic.clinic_id,
        "action": "update",
        "base_version": row["version"],
        "data": data,
        "hlc": now_hlc(clinic.desk.device_id),
        "actor": clinic.admin_id,
    }


@pytest.mark.parametrize("zone", ["Nowhere/Nope", "", "../../etc/passwd", "Europe/Berlin\x00"])
def test_an_invalid_time_zone_is_refused_and_booking_goes_on(
    live_server: LiveServer, new_clinic: ClinicOnServer, zone: str
) -> None:
    refused(live_server, new_clinic, clinic_update(live_server, new_clinic, timezone=zone), "data.timezone")
    patient, appointment = appointment_ops(new_clinic)
    assert [r["status"] for r in pushed(live_server, new_clinic, patient, appointment)] == ["applied"] * 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"holidays": ["Christmas"]}, "data.holidays"),
        ({"holidays": "2026-12-25"}, "data.holidays"),
        ({"min_notice_minutes": -5}, "data.min_notice_minutes"),
        ({"min_notice_minutes": 2**40}, "data.min_notice_minutes"),
        ({"name": "N" * 121}, "data.name"),
    ],
)
def test_clinic_settings_are_checked(
    live_server: LiveServer, new_clinic: ClinicOnServer, data: dict[str, Any], field: str
) -> None:
    refused(live_server, new_clinic, clinic_update(live_server, new_clinic, **data), field)


def test_working_hours_are_checked_as_the_desk_checks_them(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    hours = next(op for op in journal_ops(new_clinic.desk_store) if op["entity"] == "availability")
    row = live_server.row("availability", hours["entity_id"])
    assert row is not None
    for data, field in [
        ({"slot_minutes": 0}, "data.slot_minutes"),
        ({"weekday": 7}, "data.weekday"),
        ({"kind": "holiday"}, "data.kind"),
        ({"capacity": 10**6}, "data.capacity"),
        ({"start_time": "19:00:00"}, "data.end_time"),  # after its end (18:00)
    ]:
        op = {**hours, "op_id": new_id(), "action": "update", "base_version": row["version"], "data": data}
        op["hlc"] = now_hlc(new_clinic.desk.device_id)
        refused(live_server, new_clinic, op, field)


# -- the cursor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/sync/pull", "/v1/conflicts"])
def test_a_cursor_above_2_63_is_422(live_server: LiveServer, new_clinic: ClinicOnServer, path: str) -> None:
    http = live_server.http(new_clinic.desk.token)
    answer = http.get(live_server.url(path), params={"since": 2**63})
    assert answer.status_code == 422 and answer.json()["field"] == "since", answer.text
    assert http.get(live_server.url(path), params={"since": 2**63 - 1}).status_code == 200


# -- depth, size, and what the conflict log keeps ------------------------------------------------


@pytest.mark.parametrize("depth", [3, MAX_DATA_DEPTH, 300, 5000])
def test_deeply_nested_data_is_refused_and_pull_and_conflicts_stay_200(
    live_server: LiveServer, new_clinic: ClinicOnServer, depth: int
) -> None:
    op = patient_op(new_clinic.clinic_id, allergies="<deep>")
    deep = '{"x": ' * depth + '"leaf"' + "}" * depth  # json.dumps itself would give up at ~1000
    body = json.dumps(desk_body(new_clinic, op)).replace('"<deep>"', deep)
    answer = live_server.http(new_clinic.desk.token).post(
        live_server.url("/v1/sync/push"), data=body, headers={"Content-Type": "application/json"}
    )
    if depth < MAX_DATA_DEPTH:  # `data` itself is one level: within the bound, refused as a value
        assert answer.status_code == 200 and answer.json()["results"][0]["field"] == "data.allergies"
    else:
        assert 400 <= answer.status_code < 500, answer.text
    http = live_server.http(new_clinic.desk.token)
    assert http.get(live_server.url("/v1/sync/pull")).status_code == 200
    assert http.get(live_server.url("/v1/conflicts")).status_code == 200


def test_the_conflict_log_keeps_a_bounded_note_of_a_large_refused_op(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    op = patient_op(new_clinic.clinic_id, colour="x" * (MAX_OP_BYTES - 4096))
    result = refused(live_server, new_clinic, op, "data.colour")
    conflict = live_server.row("sync_conflict", result["conflict_id"])
    assert conflict is not None
    assert conflict["ours"]["not_kept"] and "colour" in conflict["ours"]["fields"]
    small = refused(live_server, new_clinic, patient_op(new_clinic.clinic_id, colour="blue"), "data.colour")
    assert (live_server.row("sync_conflict", small["conflict_id"]) or {})["ours"]["colour"] == "blue"
    listed = live_server.http(new_clinic.desk.token).get(live_server.url("/v1/conflicts")).json()
    assert all(len(str(c["ours"])) < 2 * LOGGED_MAX_BYTES for c in listed["conflicts"])


# -- clock sanity -------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["ahead", "9999999999999-9999"])
def test_an_op_stamped_in_the_future_is_refused_naming_the_devices_clock(
    live_server: LiveServer, new_clinic: ClinicOnServer, stamp: str
) -> None:
    node = new_clinic.desk.device_id
    hlc = now_hlc(node, timedelta(minutes=30)) if stamp == "ahead" else f"{stamp}-{node}"
    result = refused(live_server, new_clinic, patient_op(new_clinic.clinic_id, hlc=hlc), "hlc")
    assert "clock" in result["error"] and "ahead" in result["error"]
    # The server's own stamps stay in the protocol's pattern, and near its clock.
    applied = patient_op(new_clinic.clinic_id, hlc=now_hlc(node))
    assert pushed(live_server, new_clinic, applied)[0]["status"] == "applied"
    changes, _ = pull_all(live_server, live_server.http(new_clinic.desk.token))
    assert changes and all(re.match(HLC_PATTERN, c["hlc"]) for c in changes), {c["hlc"] for c in changes}
    latest = max(int(c["hlc"][:13]) for c in changes)
    assert latest < (datetime.now(UTC) + timedelta(minutes=11)).timestamp() * 1000


def test_a_stamp_within_the_margin_is_applied(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    op = patient_op(new_clinic.clinic_id, hlc=now_hlc(new_clinic.desk.device_id, timedelta(minutes=5)))
    assert pushed(live_server, new_clinic, op)[0]["status"] == "applied"


def test_a_future_stamp_never_wins_a_later_merge(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any
) -> None:
    """A desk with a poisoned clock edits a patient; another desk's honest later edit of the same field
    keeps its value (the poisoned desk's far-future stamp won, and the honest edit came back `merged`
    without it). The poisoned device is a second desk: a kiosk may not edit patient details at all."""
    patient = patient_op(new_clinic.clinic_id)
    assert pushed(live_server, new_clinic, patient)[0]["status"] == "applied"
    poisoned_desk = live_server.enroll(new_clinic.clinic_id, "desk", name="Poisoned desk")
    poisoned = {
        **patient,
        "op_id": new_id(),
        "action": "update",
        "base_version": 1,
        "data": {"address": "Poisoned Street 9"},
        "hlc": f"9999999999999-9999-{poisoned_desk.device_id}",
        "actor": new_clinic.doctor_id,
    }
    (result,) = push(live_server, poisoned_desk, [poisoned])["results"]
    assert (result["status"], result["field"]) == ("rejected", "hlc"), result
    honest = {
        **poisoned,
        "op_id": new_id(),
        "data": {"address": "Desk Road 1"},
        "hlc": now_hlc(new_clinic.desk.device_id),
    }
    assert pushed(live_server, new_clinic, honest)[0]["status"] == "applied"
    assert (live_server.row("patient", patient["entity_id"]) or {})["address"] == "Desk Road 1"


# -- the other request bodies ---------------------------------------------------------------------


def test_nul_characters_in_sign_in_enrolment_and_resolve_are_4xx(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    answers = [
        live_server.login(new_clinic.desk, "doctor\x00", "secret"),
        live_server.login(new_clinic.desk, new_clinic.doctor_username, "correct\x00horse"),
        live_server.http().post(
            live_server.url("/v1/devices/enroll"),
            json={"code": live_server.code(new_clinic.clinic_id, "desk"), "name": "Desk\x00", "kind": "desk"},
        ),
    ]
    session = live_server.user_session(new_clinic.desk, new_clinic.doctor_username)
    result = refused(live_server, new_clinic, patient_op(new_clinic.clinic_id, colour="blue"), "data.colour")
    answers.append(
        session.post(
            live_server.url(f"/v1/conflicts/{result['conflict_id']}/resolve"),
            json={"choice": "dismiss", "note": "seen\x00"},
        )
    )
    assert [a.status_code for a in answers] == [422] * 4, [a.text for a in answers]


@pytest.mark.parametrize("when", ["9999-12-31T23:00:00+00:00", "0001-01-01T09:00:00+00:00"])
def test_rebooking_into_year_9999_is_422_not_500(
    live_server: LiveServer, new_clinic: ClinicOnServer, device_store: Any, when: str
) -> None:
    clash = double_booking(live_server, new_clinic, device_store)
    nurse = live_server.user_session(new_clinic.desk, live_server.add_user(new_clinic.clinic_id, "nurse")[1])
    answer = resolve(nurse, live_server, clash.conflict_id, choice="rebook", starts_at=when)
    assert answer.status_code == 422 and answer.json()["field"] == "starts_at", answer.text


def test_a_made_up_field_name_is_told_back_shortened(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    """Stored as the conflict's `field` (40 characters): a long name or a NUL was a 500 on PostgreSQL."""
    refused(
        live_server,
        new_clinic,
        patient_op(new_clinic.clinic_id, **{"k\x00" + "y" * 60: 1}),
        "data.k?" + "y" * 28,
    )


def test_the_clock_margin_is_a_server_setting(live_server: LiveServer, new_clinic: ClinicOnServer) -> None:
    with serving(live_server.database_url, run_migrations=False, clock_margin=timedelta(minutes=1)) as url:
        strict = LiveServer(url, live_server.database_url, live_server.engine)
        node = new_clinic.desk.device_id
        ahead = patient_op(new_clinic.clinic_id, hlc=now_hlc(node, timedelta(minutes=5)))
        (result,) = push(strict, new_clinic.desk, [ahead])["results"]
        assert result["status"] == "rejected" and result["field"] == "hlc"
        near = patient_op(new_clinic.clinic_id, hlc=now_hlc(node, timedelta(seconds=20)))
        assert push(strict, new_clinic.desk, [near])["results"][0]["status"] == "applied"


def test_hours_made_without_their_optional_fields_get_the_defaults(
    live_server: LiveServer, new_clinic: ClinicOnServer
) -> None:
    op = {
        "op_id": new_id(),
        "entity": "availability",
        "entity_id": new_id(),
        "action": "set_hours",
        "base_version": 0,
        "data": {
            "clinic_id": new_clinic.clinic_id,
            "clinician_id": new_clinic.doctor_id,
            "kind": "hours",
            "weekday": 0,
            "start_time": "00:00:00",
            "end_time": "06:00:00",
        },
        "hlc": now_hlc(new_clinic.desk.device_id),
        "actor": new_clinic.admin_id,
    }
    assert pushed(live_server, new_clinic, op)[0]["status"] == "applied"
    assert (live_server.row("availability", op["entity_id"]) or {})["slot_minutes"] == 15


# -- whatever a desk sends: never a 500 -----------------------------------------------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(alphabet="\x00a-:T+0129", max_size=30),
    st.sampled_from(["2026-12-24", "2026-12-24T09:00:00+01:00", "0001-01-01", "9999-12-31", "25:61",
                     "Asia/Kolkata", "Nowhere/Nope", "x" * 501, "-" * 36]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


_booked: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_no_value_of_any_field_makes_the_server_answer_500(
    live_server: LiveServer, new_clinic: ClinicOnServer, data: st.DataObject
) -> None:
    if new_clinic.clinic_id not in _booked:  # one booking journaled; each example sends a copy
        _booked[new_clinic.clinic_id] = appointment_ops(new_clinic)
    patient, appointment = copy.deepcopy(_booked[new_clinic.clinic_id])
    patient.update(op_id=new_id(), entity_id=new_id())
    patient["data"]["code"] = human_code("PAT")
    appointment.update(op_id=new_id(), entity_id=new_id())
    appointment["data"].update(patient_id=patient["entity_id"], code=human_code("APT"))
    clinic = clinic_update(live_server, new_clinic)
    hours = next(op for op in journal_ops(new_clinic.desk_store) if op["entity"] == "availability")
    current = live_server.row("availability", hours["entity_id"]) or {}
    hours = {**hours, "op_id": new_id(), "base_version": current["version"], "data": {}}
    for op in (patient, appointment, clinic, hours):
        model = ENTITY_MODELS[op["entity"]]
        field = data.draw(st.sampled_from(sorted(data_fields(model))), label=f"{op['entity']} field")
        op["data"] = {**op["data"], field: data.draw(_values, label=field)}
        op["hlc"] = now_hlc(new_clinic.desk.device_id)
    answer = live_server.http(new_clinic.desk.token).post(
        live_server.url("/v1/sync/push"), json=desk_body(new_clinic, patient, appointment, clinic, hours)
    )
    if answer.status_code == 422:  # a malformed op (a number past 64 bits): named, the push refused
        assert answer.json()["field"].startswith("ops."), answer.text
    else:
        assert answer.status_code == 200, answer.text
        for result in answer.json()["results"]:  # a field is named where it can be (not a reference)
            assert result["status"] != "rejected" or result["error"], result
    http = live_server.http(new_clinic.desk.token)
    assert http.get(live_server.url("/v1/sync/pull")).status_code == 200
    assert http.get(live_server.url("/v1/conflicts")).status_code == 200
