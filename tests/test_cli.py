"""The `clinic` command: init, the read commands, backup refusals, and how user errors look."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.store.local import DB_NAME

CLINIC = Path(sys.executable).with_name("clinic")  # the console script of this venv


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CLINIC_* from the machine, and platform dirs inside the test's temp dir."""
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def init(data: Path, *args: str) -> int:
    return main(["--data-dir", str(data), "init", *args])


def test_init_creates_the_database_and_the_clinic_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    assert (
        init(data, "--clinic-name", "  Sunrise   Clinic ", "--timezone", "Asia/Kolkata", "--region", "in")
        == 0
    )
    out = capsys.readouterr().out
    assert f"Database: {data / DB_NAME}" in out
    assert "Clinic:   Sunrise Clinic (Asia/Kolkata, IN), created" in out
    db = data / DB_NAME
    journal = rows(db, "SELECT entity, action FROM sync_journal")
    assert journal == [("clinic", "create")]

    assert init(data, "--clinic-name", "Another Name") == 0
    out = capsys.readouterr().out
    assert "Sunrise Clinic (Asia/Kolkata, IN), already set up" in out
    assert "keeps its name 'Sunrise Clinic'" in out
    assert init(data) == 0
    assert rows(db, "SELECT name FROM clinic") == [("Sunrise Clinic",)]
    assert rows(db, "SELECT count(*) FROM sync_journal") == [(1,)]  # nothing changed the second time
    assert rows(db, "SELECT id, device_id, clinic_id IS NOT NULL FROM device_state")[0][2] == 1


def test_init_sets_the_device_letter_and_kind_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    db = data / DB_NAME
    assert init(data, "--clinic-name", "C") == 0
    assert rows(db, "SELECT kind, letter FROM device_state") == [("desk", "A")]
    assert init(data, "--letter", "k", "--kind", "kiosk") == 0
    assert rows(db, "SELECT kind, letter FROM device_state") == [("kiosk", "K")]
    assert init(data) == 0  # no flag, no variable, no file: the device keeps what it was given
    assert rows(db, "SELECT kind, letter FROM device_state") == [("kiosk", "K")]
    monkeypatch.setenv("CLINIC_DEVICE_KIND", "board")
    assert init(data) == 0
    assert rows(db, "SELECT kind, letter FROM device_state") == [("board", "K")]
    assert main(["init", "--data-dir", str(data), "--device-kind", "desk"]) == 0  # the global flag
    assert rows(db, "SELECT kind FROM device_state") == [("desk",)]


def test_agenda_and_queue_of_a_clinic_without_doctors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    assert init(data, "--clinic-name", "Quiet Clinic") == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data), "agenda", "--date", "2026-03-02"]) == 0
    assert "Agenda of Quiet Clinic for Mon 2 Mar 2026 (Asia/Kolkata)" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "queue"]) == 0
    assert ": 0 waiting" in capsys.readouterr().out


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "demo-data", "agenda", "queue", "backup", "--data-dir"):
        assert command in out
    assert main(["backup", "--help"]) == 0
    assert "--force" in capsys.readouterr().out


def run_clinic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLINIC), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_the_console_script_runs(tmp_path: Path) -> None:
    done = run_clinic("--data-dir", str(tmp_path / "d"), "init", "--clinic-name", "Script Clinic")
    assert done.returncode == 0, done.stderr
    assert "Script Clinic" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["agenda"], "No ClinicDesk data in"),
        (["queue"], "Run `clinic init` first"),
        (["backup", "b.db"], "No ClinicDesk data in"),
        (["init"], "This device has no clinic yet: name it with --clinic-name."),
        (["init", "--clinic-name", "X", "--timezone", "Mars/Olympus"], "Unknown time zone 'Mars/Olympus'."),
        (["init", "--clinic-name", "X", "--region", "XX"], "Unknown country code 'XX'."),
        (["init", "--clinic-name", "X", "--letter", "7"], "The device letter is one letter from A to Z."),
        (["agenda", "--date", "tomorrow"], "'tomorrow' is not a date; use YYYY-MM-DD"),
        (["init", "--kind", "toaster"], "invalid choice: 'toaster'"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_user_errors_are_one_readable_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["--data-dir", str(tmp_path / "d"), *args]) == 2  # an exception would escape main()
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_a_data_dir_that_cannot_hold_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    assert main(["--data-dir", str(a_file), "init", "--clinic-name", "X"]) == 2
    assert f"Cannot open the database in {a_file}: " in capsys.readouterr().err
    not_sqlite = tmp_path / "other"
    not_sqlite.mkdir()
    (not_sqlite / DB_NAME).write_bytes(b"this is not an SQLite file, whatever its name says" * 4)
    assert main(["--data-dir", str(not_sqlite), "agenda"]) == 2
    assert "file is not a database" in capsys.readouterr().err


def test_user_errors_of_the_installed_command(tmp_path: Path) -> None:
    """The same, as the real process: one line on stderr, exit code 2."""
    done = run_clinic("--data-dir", str(tmp_path / "d"), "agenda")
    assert done.returncode == 2
    missing = f"No ClinicDesk data in {tmp_path / 'd'}. Run `clinic init` first, or pass --data-dir."
    assert done.stderr == f"clinic agenda: {missing}\n"
    done = run_clinic("--data-dir", str(tmp_path / "d"), "agenda", "--date", "tomorrow")
    assert done.returncode == 2
    assert "'tomorrow' is not a date" in done.stderr and "Traceback" not in done.stderr


def test_service_errors_on_an_existing_clinic(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert init(data, "--clinic-name", "C") == 0
    done = run_clinic("--data-dir", str(data), "agenda", "--doctor", "nobody")
    assert (done.returncode, done.stderr) == (2, "clinic agenda: No doctor has the username 'nobody'.\n")
    assert "Traceback" not in done.stdout
    done = run_clinic("--data-dir", str(data), "queue", env={"CLINIC_LOG_LEVEL": "chatty"})
    assert done.returncode == 2
    assert "Invalid setting log_level" in done.stderr and "CLINIC_LOG_LEVEL" in done.stderr


def test_backup_refuses_to_overwrite_or_to_copy_onto_the_live_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    assert init(data, "--clinic-name", "C") == 0
    live = data / DB_NAME
    before = live.read_bytes()
    assert main(["--data-dir", str(data), "backup", str(live)]) == 2
    assert main(["--data-dir", str(data), "backup", str(live), "--force"]) == 2
    assert main(["--data-dir", str(data), "backup", str(data / f"{DB_NAME}-wal"), "--force"]) == 2
    assert capsys.readouterr().err.count("That is the live database itself") == 3
    assert live.read_bytes() == before

    target = tmp_path / "copy.db"
    target.write_text("precious")
    assert main(["--data-dir", str(data), "backup", str(target)]) == 2
    assert "exists; choose another path or pass --force" in capsys.readouterr().err
    assert target.read_text() == "precious"
    assert main(["--data-dir", str(data), "backup", str(target), "--force"]) == 0
    assert rows(target, "SELECT name FROM clinic") == [("C",)]

    folder = tmp_path / "backups"
    folder.mkdir()
    assert main(["--data-dir", str(data), "backup", str(folder)]) == 0
    (made,) = folder.glob("clinicdesk-*.db")
    assert f"Backup written: {made}" in capsys.readouterr().out

    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    assert main(["--data-dir", str(data), "backup", str(blocked / "b.db")]) == 2
    assert "Could not write the backup" in capsys.readouterr().err
