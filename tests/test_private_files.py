"""Private files (issue 11, Deliver 7): data dirs 0700; databases with their -wal and -shm, backups
and the fallback credentials file 0600, on devices and on the server; a warning at start where
they are looser."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import keyring
import pytest
import requests
from keyring.backends import fail

from desktop.cli import main
from desktop.store.local import DB_NAME, LocalStore
from desktop.sync.credentials import FALLBACK_FILE, Credentials
from server_stub.background import serving
from server_stub.db import migrate, sqlite_url

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> object:
    """The umask most desktops have: new files 0644 and folders 0755 unless made private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_device_data_dir_and_its_database_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "share" / "ClinicDesk"
    assert main(["--data-dir", str(data), "init", "--clinic-name", "Private Clinic"]) == 0
    store = LocalStore(data)  # open: the -wal and -shm exist while it is
    try:
        assert mode(tmp_path / "share") == 0o700 and mode(data) == 0o700
        for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
            assert mode(data / name) == 0o600, name
        store.backup(tmp_path / "backups" / "b.db")
    finally:
        store.close()
    assert mode(tmp_path / "backups") == 0o700 and mode(tmp_path / "backups" / "b.db") == 0o600
    assert main(["--data-dir", str(data), "backup", str(tmp_path / "cli.db")]) == 0
    assert mode(tmp_path / "cli.db") == 0o600
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    Credentials(data).save_device_token("secret")
    assert mode(data / FALLBACK_FILE) == 0o600


def test_a_new_server_database_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "srv" / "server.db"
    migrate(sqlite_url(db))
    assert mode(db.parent) == 0o700 and mode(db) == 0o600
    with serving(sqlite_url(db)) as base_url:
        body = {"code": "AAAA-BBBB-CCCC-DDDD", "name": "X", "kind": "desk"}
        assert requests.post(f"{base_url}/v1/devices/enroll", json=body).status_code == 401  # it wrote
        for name in ("server.db-wal", "server.db-shm"):
            assert mode(db.parent / name) == 0o600, name


def test_looser_files_are_warned_about_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "device"
    LocalStore(data).close()
    os.chmod(data, 0o755)
    os.chmod(data / DB_NAME, 0o644)
    with caplog.at_level(logging.WARNING):
        LocalStore(data).close()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{data} is open to other users" in w and "chmod 700" in w for w in warned), warned
    assert any(f"{data / DB_NAME} is open to other users" in w and "chmod 600" in w for w in warned), warned

    caplog.clear()
    db = tmp_path / "srv" / "server.db"
    migrate(sqlite_url(db))
    os.chmod(db, 0o640)
    with caplog.at_level(logging.WARNING), serving(sqlite_url(db)):
        pass
    assert any(
        f"{db} is open to other users of this machine (mode 0640)" in r.getMessage() for r in caplog.records
    )
