"""`clinic server ...` (server_stub/cli.py): the administrator's commands on a real database file."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server_stub.cli import main
from server_stub.db import sqlite_url
from tests.fixtures.server import running_server

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "server.db")


def test_set_up_a_clinic_and_enrol_a_device(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, clinic_id, _ = run(
        capsys,
        "create-clinic",
        "--db",
        db,
        "--name",
        " Sunrise  Clinic ",
        "--timezone",
        "Asia/Kolkata",
        "--region",
        "in",
    )
    assert code == 0 and len(clinic_id) == 36
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-pass\n"))
    code, user_id, _ = run(
        capsys, "add-user", "--db", db, "--username", "Asha", "--name", "Dr Asha Rao", "--role", "doctor",
        "--specialty", "GP", "--password-stdin",
    )  # fmt: skip
    assert code == 0 and len(user_id) == 36
    code, enrol_code, _ = run(capsys, "enroll-code", "--db", db, "--kind", "desk", "--ttl-hours", "2")
    assert code == 0 and len(enrol_code) == 19

    with running_server(sqlite_url(Path(db))) as base:
        enrolled = requests.post(
            f"{base}/v1/devices/enroll", json={"code": enrol_code, "name": "Room 1", "kind": "desk"}
        )
        assert enrolled.status_code == 200 and enrolled.json()["clinic_id"] == clinic_id
        headers = {"Authorization": f"Bearer {enrolled.json()['token']}", "X-Clinic-Protocol": "1"}
        login = requests.post(
            f"{base}/v1/auth/login", json={"username": "asha", "password": "s3cret-pass"}, headers=headers
        )
        assert login.status_code == 200 and login.json()["user_id"] == user_id
        changes = requests.get(f"{base}/v1/sync/pull", headers=headers).json()["changes"]
        assert {(c["entity"], c["id"]) for c in changes} == {("clinic", clinic_id), ("clinician", user_id)}
        clinic = next(c for c in changes if c["entity"] == "clinic")["data"]
        assert clinic["name"] == "Sunrise Clinic" and clinic["region"] == "IN"

    code, listing, _ = run(capsys, "devices", "--db", db)
    device_id = enrolled.json()["device_id"]
    assert code == 0 and device_id in listing and "active" in listing
    assert run(capsys, "revoke-device", "--db", db, device_id)[0] == 0
    assert "revoked" in run(capsys, "devices", "--db", db)[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create-clinic", "--name", "X", "--timezone", "Mars/Base", "--region", "IN"], "Unknown time zone"),
        (["create-clinic", "--name", "  ", "--timezone", "UTC", "--region", "IN"], "needs a name"),
        (["create-clinic", "--name", "X", "--timezone", "UTC", "--region", "XX"], "Unknown country code"),
        (
            ["add-user", "--username", "a", "--name", "A", "--role", "nurse", "--password-stdin"],
            "8 characters",
        ),
        (
            ["add-user", "--username", "a b", "--name", "A", "--role", "nurse", "--password-stdin"],
            "Usernames",
        ),
        (["enroll-code", "--kind", "desk", "--ttl-hours", "0"], "must live"),
        (["enroll-code", "--kind", "desk", "--clinic", "nope"], "no clinic nope"),
        (["revoke-device", "01a1ffed-0000-7000-8000-000000000000"], "no device"),
    ],
)
def test_bad_input_exits_2_with_a_readable_message(
    db: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n" if "a" in argv else "long enough\n"))
    assert (
        run(capsys, "create-clinic", "--db", db, "--name", "Base", "--timezone", "UTC", "--region", "IN")[0]
        == 0
    )
    code, _, err = run(capsys, *argv, "--db", db)
    assert code == 2
    assert message in err and err.startswith("clinic server: ") and "Traceback" not in err


def test_usernames_are_unique_and_clinics_must_be_named_when_several(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(capsys, "create-clinic", "--db", db, "--name", "One", "--timezone", "UTC", "--region", "IN")[
        1
    ]
    user = [
        "add-user",
        "--db",
        db,
        "--username",
        "sam",
        "--name",
        "Sam",
        "--role",
        "admin",
        "--password-stdin",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough\nlong enough\n"))
    assert run(capsys, *user)[0] == 0
    assert "taken" in run(capsys, *user)[2]
    run(capsys, "create-clinic", "--db", db, "--name", "Two", "--timezone", "UTC", "--region", "IN")
    assert "--clinic" in run(capsys, "enroll-code", "--db", db, "--kind", "kiosk")[2]
    assert run(capsys, "enroll-code", "--db", db, "--kind", "kiosk", "--clinic", first)[0] == 0


def test_database_url_overrides_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv("DATABASE_URL", sqlite_url(target))
    data_dir = tmp_path / "data"
    code, _, _ = run(
        capsys,
        "create-clinic",
        "--data-dir",
        str(data_dir),
        "--name",
        "X",
        "--timezone",
        "UTC",
        "--region",
        "IN",
    )
    assert code == 0 and target.exists() and not (data_dir / "server.db").exists()
    monkeypatch.delenv("DATABASE_URL")
    run(
        capsys,
        "create-clinic",
        "--data-dir",
        str(data_dir),
        "--name",
        "Y",
        "--timezone",
        "UTC",
        "--region",
        "IN",
    )
    assert (data_dir / "server.db").exists()


def test_server_run_serves_the_api(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "run", "--db", str(tmp_path / "s.db"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}" in output


def test_change_user_goes_through_the_same_rules_as_the_admin_routes(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(
        capsys,
        "create-clinic",
        "--db",
        db,
        "--name",
        "Sunrise",
        "--timezone",
        "Asia/Kolkata",
        "--region",
        "IN",
    )
    for username, role in (("boss", "admin"), ("rita", "reception")):
        argv = ["add-user", "--db", db, "--username", username, "--name", username.title(), "--role", role]
        monkeypatch.setattr(sys, "stdin", io.StringIO("first password\n"))
        assert run(capsys, *argv, "--password-stdin")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("second password\n"))
    code, out, _ = run(
        capsys, "change-user", "--db", db, "--username", "Rita", "--role", "nurse", "--password-stdin"
    )
    assert (code, out) == (0, "Changed rita.")
    # The last active admin stays one; an unknown name or role is one line and exit 2.
    code, _, err = run(capsys, "change-user", "--db", db, "--username", "boss", "--active", "no")
    assert code == 2 and "last active administrator" in err
    code, _, err = run(capsys, "change-user", "--db", db, "--username", "nobody", "--room", "3")
    assert code == 2 and "No staff member 'nobody'" in err

    with running_server(sqlite_url(Path(db))) as base:
        code_ = run(capsys, "enroll-code", "--db", db, "--kind", "desk")[1]
        token = requests.post(
            f"{base}/v1/devices/enroll", json={"code": code_, "name": "D", "kind": "desk"}
        ).json()
        headers = {"Authorization": f"Bearer {token['token']}", "X-Clinic-Protocol": "1"}

        def login(password: str) -> requests.Response:
            body = {"username": "rita", "password": password}
            return requests.post(f"{base}/v1/auth/login", json=body, headers=headers)

        assert login("first password").status_code == 401
        assert login("second password").json()["role"] == "nurse"
