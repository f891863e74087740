"""Every CLI misuse of issue 11 (Deliver 8) is one clear line on stderr and a non-zero exit, never a
traceback nor a hang: bad URLs, bad databases, bad ports, `backup --force` onto what is not a
file, a server that is not ClinicDesk, urllib3's retry chatter at the default log level."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from desktop.cli import main
from server_stub.db import migrate, sqlite_url
from tests.fixtures.server import (  # noqa: F401  (fixtures, used through `live_server`)
    LiveServer,
    live_server,
    server_database_url,
)
from tests.sync_support import free_port

CLINIC = Path(sys.executable).with_name("clinic")  # the console script of this venv
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], command: str) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"clinic {command}: "), err
    assert "Traceback" not in err + out
    return lines[0]


def test_enroll_with_a_malformed_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "d")]
    line = one_line_error(capsys, [*data, "enroll", "http://[::1", "ABCD-EFGH"], "enroll")
    assert "'http://[::1' is not a valid URL" in line
    line = one_line_error(capsys, [*data, "enroll", "http://clinic:99999", "ABCD-EFGH"], "enroll")
    assert "not a valid URL" in line


def garbage(path: Path) -> str:
    path.write_bytes(os.urandom(4096))
    return str(path)


def truncated(path: Path) -> str:
    whole = path.with_name("whole.db")
    migrate(sqlite_url(whole))
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return str(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: str(tmp), "is a folder: give the path of the database file"),
        (lambda tmp: garbage(tmp / "garbage.db"), "file is not a database"),
        (lambda tmp: truncated(tmp / "cut.db"), "malformed"),
        (lambda tmp: "mysql://clinic@127.0.0.1/clinic", "SQLite (a file path) or PostgreSQL"),
        (lambda tmp: f"postgresql://postgres@127.0.0.1:{free_port()}/x", "Connection refused"),
    ],
    ids=["folder", "garbage", "truncated", "mysql", "postgres-refusing"],
)
def test_server_commands_with_an_unusable_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    db = make(tmp_path)  # type: ignore[operator]
    for command in (["run"], ["devices"], ["enroll-code", "--kind", "desk"]):
        line = one_line_error(capsys, ["server", *command, "--db", db], "server")
        assert message in line


def test_server_run_on_a_port_that_does_not_exist_exits_at_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CLINIC), "server", "run", "--db", str(tmp_path / "s.db"), "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "'99999' is not a port" in done.stderr
    assert "http://" not in done.stdout and "Traceback" not in done.stderr
    taken = free_port()
    with socket.create_server(("127.0.0.1", taken)):
        done = subprocess.run(
            [str(CLINIC), "server", "run", "--db", str(tmp_path / "s.db"), "--port", str(taken)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 2 and f"Cannot listen on 127.0.0.1:{taken}" in done.stderr
    assert "http://" not in done.stdout and "Traceback" not in done.stderr


def test_add_user_takes_no_password_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.db")
    argv = ["server", "add-user", "--db", db, "--username", "asha", "--name", "Asha", "--role", "doctor"]
    assert main([*argv, "--password", "visible-in-ps"]) == 2
    assert "--password is not accepted" in capsys.readouterr().err
    done = subprocess.run(  # no terminal and no --password-stdin: nothing to read the password from
        [str(CLINIC), *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2 and "--password-stdin" in done.stderr and "Traceback" not in done.stderr


def test_backup_force_replaces_only_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "d")]
    assert main([*data, "init", "--clinic-name", "Backup Clinic"]) == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    line = one_line_error(capsys, [*data, "backup", str(fifo), "--force"], "backup")
    assert "not a regular file" in line
    assert fifo.is_fifo()
    old = tmp_path / "old.db"
    old.write_bytes(b"yesterday")
    assert main([*data, "backup", str(old), "--force"]) == 0
    assert old.read_bytes()[:16] == b"SQLite format 3\x00"


class NotClinicDesk(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """An ordinary web server (Python's own): GET serves files, POST is 501."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotClinicDesk)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_server_that_is_not_clinicdesk_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], web_server: str
) -> None:
    line = one_line_error(
        capsys, ["--data-dir", str(tmp_path / "d"), "enroll", web_server, "ABCD-EFGH"], "enroll"
    )
    assert f"The server at {web_server} is not a ClinicDesk sync server" in line
    assert "501" in line and "had a problem" not in line


def test_sync_once_against_a_refusing_server_is_quiet_unless_asked(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: LiveServer = request.getfixturevalue("live_server")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", NO_KEYRING["PYTHON_KEYRING_BACKEND"])
    data = tmp_path / "desk"
    code = server.code(server.create_clinic(), "desk")
    assert main(["--data-dir", str(data), "enroll", server.base_url, code]) == 0
    down = f"http://127.0.0.1:{free_port()}"

    def sync_once(*flags: str) -> subprocess.CompletedProcess[str]:
        argv = [str(CLINIC), "--data-dir", str(data), "--server-url", down, *flags, "sync", "--once"]
        env = {**os.environ, **NO_KEYRING}
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
        )

    quiet = sync_once()
    assert quiet.returncode == 3 and f"Cannot reach the server at {down}." in quiet.stdout
    assert "Retrying" not in quiet.stderr and "urllib3" not in quiet.stderr, quiet.stderr
    told = sync_once("--log-level", "info")
    assert told.returncode == 3 and "Retrying" in told.stderr


def test_add_user_asks_for_the_password_on_a_terminal(tmp_path: Path) -> None:
    """No flag and a terminal: the password is asked for twice, unseen (a real pseudo-terminal)."""
    import pty
    import select

    db = tmp_path / "s.db"
    assert (
        main(
            ["server", "create-clinic", "--db", str(db), "--name", "T", "--timezone", "UTC", "--region", "IN"]
        )
        == 0
    )
    argv = [
        str(CLINIC),
        "server",
        "add-user",
        "--db",
        str(db),
        "--username",
        "asha",
        "--name",
        "A",
        "--role",
        "doctor",
    ]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pseudo-terminal
        os.execv(argv[0], argv)
    seen = b""
    try:
        for answer in (b"long enough\n", b"long enough\n"):
            while b"assword" not in seen.rsplit(b"\n", 1)[-1]:
                ready, _, _ = select.select([fd], [], [], 60)
                assert ready, seen
                seen += os.read(fd, 1024)
            os.write(fd, answer)
            seen += b"\n"
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            try:
                chunk = os.read(fd, 1024) if ready else b""
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                break
            seen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"long enough" not in seen  # never echoed
    assert seen.count(b"assword") == 2
