"""`clinic enroll` and `clinic sync --once` against the real server, on a box with no OS keyring."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import date
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from desktop.cli import main
from desktop.services import patients
from desktop.services.common import KIOSK
from desktop.store.local import DB_NAME, LocalStore
from desktop.sync.credentials import FALLBACK_FILE
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `server`)
    LiveServer,
    live_server,
    server_database_url,
)
from tests.sync_support import free_port


@pytest.fixture
def server(request: pytest.FixtureRequest) -> LiveServer:
    found: LiveServer = request.getfixturevalue("live_server")
    return found


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CLINIC_* from the machine, platform dirs in the temp dir, no OS keyring (a headless box)."""
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_enroll_then_sync_once(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic_id = server.create_clinic(name="Praxis Nord")
    data = tmp_path / "kiosk"
    code = server.code(clinic_id, "kiosk")
    assert main(["--data-dir", str(data), "--device-kind", "kiosk", "enroll", server.base_url, code]) == 0
    out = capsys.readouterr().out
    assert f"Enrolled this kiosk as device A of clinic {clinic_id}." in out
    assert f"Token kept in: file {(data / FALLBACK_FILE).resolve()}" in out and "no OS keyring" in out
    assert "Pulled 1 changes." in out  # the clinic itself
    state = rows(data / DB_NAME, "SELECT device_id, clinic_id, kind, letter, server_url FROM device_state")[0]
    device_id = out.split("Device id: ")[1].split()[0]
    assert state == (device_id, clinic_id, "kiosk", "A", server.base_url)
    assert stat.S_IMODE((data / FALLBACK_FILE).stat().st_mode) == 0o600
    assert rows(data / DB_NAME, "SELECT name FROM clinic") == [("Praxis Nord",)]

    assert main(["--data-dir", str(data), "sync", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Pushed 0: applied 0, merged 0, conflicts 0, rejected 0." in out and "Pulled 0 changes." in out


def test_sync_once_pushes_what_was_done_and_says_so(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic_id = server.create_clinic()
    data = tmp_path / "desk"
    assert main(["--data-dir", str(data), "enroll", server.base_url, server.code(clinic_id, "desk")]) == 0
    capsys.readouterr()
    store = LocalStore(data)
    try:
        with store.unit_of_work() as uow:
            patients.register(uow, actor=KIOSK, full_name="Mira Jung", birth_date=date(1990, 2, 3))
        hlc = rows(data / DB_NAME, "SELECT hlc FROM sync_journal")[0][0]
        assert str(hlc).endswith(store.device().device_id)  # the server's id is the clock's node
    finally:
        store.close()
    assert main(["--data-dir", str(data), "sync", "--once"]) == 0
    out = capsys.readouterr().out
    assert "Pushed 2: applied 2, merged 0, conflicts 0, rejected 0." in out
    assert "Pulled 2 changes." in out and "Done in" in out


def test_sync_once_offline_exits_3_with_a_readable_message(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic_id = server.create_clinic()
    data = tmp_path / "desk"
    assert main(["--data-dir", str(data), "enroll", server.base_url, server.code(clinic_id, "desk")]) == 0
    capsys.readouterr()
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["--data-dir", str(data), "--server-url", down, "sync", "--once"]) == 3
    out = capsys.readouterr().out
    assert f"Cannot reach the server at {down}." in out
    assert "Offline: the changes are kept on this device" in out


def test_enroll_refuses_a_data_dir_of_another_clinic(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "local"
    assert main(["--data-dir", str(data), "init", "--clinic-name", "Set Up Locally"]) == 0
    code = server.code(server.create_clinic(), "desk")
    assert main(["--data-dir", str(data), "enroll", server.base_url, code]) == 2
    err = capsys.readouterr().err
    assert "already holds the data of another clinic ('Set Up Locally')" in err
    assert "new, empty --data-dir" in err
    # The code was not spent: a fresh data dir can still use it.
    assert main(["--data-dir", str(tmp_path / "fresh"), "enroll", server.base_url, code]) == 0


def test_enroll_refuses_to_make_a_desks_data_dir_a_kiosk(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kiosk may not keep what a desk holds (here the audit trail, and staff password hashes for
    offline sign-in): the data dir is refused before the code is spent."""
    clinic_id = server.create_clinic()
    server.add_user(clinic_id, "doctor")
    data = tmp_path / "desk"
    assert main(["--data-dir", str(data), "enroll", server.base_url, server.code(clinic_id, "desk")]) == 0
    store = LocalStore(data)
    try:
        with store.unit_of_work() as uow:
            patients.register(uow, actor=KIOSK, full_name="Ines Ortiz", birth_date=date(1979, 8, 1))
    finally:
        store.close()
    capsys.readouterr()
    code = server.code(clinic_id, "kiosk")
    as_kiosk = ["--data-dir", str(data), "--device-kind", "kiosk", "enroll", server.base_url, code]
    assert main(as_kiosk) == 2
    err = capsys.readouterr().err
    assert "was a desk and holds records a kiosk may not keep (audit event, clinician password hash)" in err
    assert "new, empty --data-dir" in err
    assert rows(data / DB_NAME, "SELECT kind FROM device_state") == [("desk",)]
    # The code was not spent: a fresh data dir becomes the kiosk.
    fresh = ["--data-dir", str(tmp_path / "kiosk"), "--device-kind", "kiosk", "enroll", server.base_url, code]
    assert main(fresh) == 0
    # The desk's own data dir may enrol again as a desk.
    assert main(["--data-dir", str(data), "enroll", server.base_url, server.code(clinic_id, "desk")]) == 0


def test_enroll_with_a_bad_code_or_no_enrolment(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    assert main(["--data-dir", str(data), "enroll", server.base_url, "AAAA-BBBB-CCCC-DDDD"]) == 2
    assert "enrolment code is not valid" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "sync", "--once"]) == 2
    assert "not enrolled with a server" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "enroll", "ftp://x", "AAAA"]) == 2
    assert "must start with http" in capsys.readouterr().err


def test_enrolment_is_adopted_in_place_by_the_open_store(server: LiveServer, tmp_path: Path) -> None:
    """The service the set-up screens use: no reopening, the next change carries the server's id."""
    from desktop.sync.client import SyncClient
    from desktop.sync.credentials import Credentials
    from desktop.sync.engine import SyncEngine
    from desktop.sync.enrolment import enrol

    clinic_id = server.create_clinic()
    store = LocalStore(tmp_path / "desk")
    try:
        local_id = store.device_id
        earlier = store.clock.now()
        credentials = Credentials(store.data_dir)
        enrolled = enrol(
            store,
            url=server.base_url + "/",
            code=server.code(clinic_id, "desk"),
            kind="desk",
            name="Desk 1",
            credentials=credentials,
        )
        assert enrolled.device_id != local_id and enrolled.server_url == server.base_url
        assert store.device_id == enrolled.device_id == store.device().device_id
        assert store.device().clinic_id == clinic_id and store.device().pull_cursor == 0
        with SyncClient(server.base_url, token_provider=credentials.device_token) as client:
            assert SyncEngine(store, client).sync_once().ok  # the clinic arrives
        with store.unit_of_work() as uow:
            patients.register(uow, actor=KIOSK, full_name="Ben Later", birth_date=date(1991, 3, 4))
        stamps = [str(r[0]) for r in rows(store.path, "SELECT hlc FROM sync_journal ORDER BY seq")]
        assert stamps and all(s.endswith(enrolled.device_id) for s in stamps)
        assert min(stamps) > earlier  # the new clock goes on after the old one's stamps
    finally:
        store.close()
