"""`clinic server ...`: run the sync server and administer it (clinics, staff, enrolment codes, devices).

Hooked into the `clinic` command like every command module (`register(subcommands)`, see
desktop/commands/__init__.py); `python -m server_stub ...` runs the same commands on a server box.

The database is `--db` (a file path or a URL), else `DATABASE_URL`, else `server.db` in the data dir.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from desktop.cli_support import Context, Handler, Subcommands, add_command
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import ClinicError, InvalidInput
from desktop.settings import Settings, SettingsError, load_settings
from desktop.store.types import utcnow
from desktop.sync.protocol import SERVER_NODE
from server_stub import admin
from server_stub.db import create_server_engine, migrate, sqlite_url
from server_stub.fields import CLOCK_MARGIN

DB_FILE = "server.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750
# A push's transaction runs on a worker thread and releases the GIL at every SQLite call; with
# Python's default 5 ms switch interval, each time the event loop's thread (reading and parsing
# other devices' requests) takes the GIL meanwhile, the writer - holding the only write turn - may
# wait up to 5 ms to get it back. With 50 devices pushing, p99 fell from ~370 to ~110 ms at 1 ms.
GIL_SWITCH_INTERVAL_S = 0.001


def database_url(ctx: Context, db: str | None) -> str:
    if db:
        return db if "://" in db else sqlite_url(Path(db).expanduser().resolve())
    return os.environ.get("DATABASE_URL") or sqlite_url(ctx.settings.data_dir / DB_FILE)


def open_database(url: str) -> str:
    """Migrate the database at `url`; what stops it (a folder, not a database, a server that does not
    answer, a kind of database the server does not run on) is one line for the administrator.
    Returns the URL as it may be shown (no password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"{url!r} is neither a file path nor a database URL.", field="db") from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise InvalidInput(
            f"The server keeps its data in SQLite (a file path) or PostgreSQL (postgresql://...), "
            f"not {backend}.",
            field="db",
        )
    if backend == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or path.is_dir():
            raise InvalidInput(f"{path} is a folder: give the path of the database file.", field="db")
    try:
        migrate(url)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise InvalidInput(f"Cannot use the database {shown}: {reason}.", field="db") from None
    except ImportError as exc:  # a PostgreSQL URL without the `postgres` extra installed
        raise InvalidInput(f"Cannot use the database {shown}: {exc}.", field="db") from None
    return shown


def port_number(text: str) -> int:
    """argparse type for `--port`."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port: use 1 to 65535")
    return port


def check_listening(host: str, port: int) -> None:
    """Fail before anything is printed if the server could not listen on host:port."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise InvalidInput(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.", field="port") from None


@contextmanager
def administering(ctx: Context, args: argparse.Namespace) -> Iterator[admin.Admin]:
    """One migrated database, one transaction: committed if the command succeeds."""
    url = database_url(ctx, args.db)
    open_database(url)
    engine = create_server_engine(url)
    try:
        with engine.begin() as conn:
            yield admin.Admin(conn, utcnow(), HybridLogicalClock(SERVER_NODE))
    finally:
        engine.dispose()


def register(subcommands: Subcommands) -> None:
    server = add_command(subcommands, "server", _usage)
    commands = server.add_subparsers(dest="server_command", metavar="SERVER_COMMAND")

    run = _add(commands, "run", _run, "Serve the sync API (uvicorn).")
    run.add_argument("--host", default=DEFAULT_HOST, help=f"Address to listen on (default {DEFAULT_HOST}).")
    run.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"Port (default {DEFAULT_PORT}).")
    run.add_argument(
        "--clock-margin-minutes",
        type=float,
        default=CLOCK_MARGIN.total_seconds() / 60,
        metavar="M",
        help="Refuse changes stamped more than M minutes ahead of this server's clock (default 10).",
    )

    clinic = _add(commands, "create-clinic", _create_clinic, "Create a clinic; prints its id.")
    clinic.add_argument("--name", required=True)
    clinic.add_argument("--timezone", required=True, metavar="TZ", help="e.g. Asia/Kolkata")
    clinic.add_argument(
        "--region", required=True, metavar="CC", help="Country code for phone numbers, e.g. IN"
    )
    clinic.add_argument("--address", default="")

    user = _add(commands, "add-user", _add_user, "Add a staff member who can sign in on desks.")
    user.add_argument("--username", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--role", required=True, choices=("doctor", "nurse", "reception", "admin"))
    user.add_argument("--specialty", default="")
    user.add_argument("--room", default="")
    user.add_argument("--clinic", metavar="ID", help="The clinic (default: the server's only clinic).")
    user.add_argument("--password", nargs="?", action=NoPasswordFlag, help=argparse.SUPPRESS)
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="Read the password from standard input (else it is asked for, unseen, on the terminal).",
    )

    change = _add(
        commands,
        "change-user",
        _change_user,
        "Change a staff member: name, role, active, password (ends their sessions), specialty, room.",
    )
    change.add_argument("--username", required=True)
    change.add_argument("--name")
    change.add_argument("--role", choices=("doctor", "nurse", "reception", "admin"))
    change.add_argument("--active", choices=("yes", "no"), help="Let them sign in, or not.")
    change.add_argument("--specialty")
    change.add_argument("--room")
    change.add_argument("--clinic", metavar="ID", help="The clinic (default: the server's only clinic).")
    change.add_argument(
        "--password-stdin", action="store_true", help="Read a new password from standard input."
    )

    code = _add(
        commands, "enroll-code", _enroll_code, "Make a one-time code that enrols a device; prints it."
    )
    code.add_argument("--kind", required=True, choices=admin.DEVICE_KINDS)
    code.add_argument("--clinic", metavar="ID", help="The clinic (default: the server's only clinic).")
    code.add_argument(
        "--ttl-hours", type=float, default=24.0, help="Hours the code stays valid (default 24)."
    )

    devices = _add(commands, "devices", _devices, "List enrolled devices.")
    devices.add_argument("--clinic", metavar="ID")

    _add(commands, "status", _status, "Reminder dispatch: dispatchers' health, due messages, last failures.")

    revoke = _add(commands, "revoke-device", _revoke, "Revoke a device: its token and sessions stop working.")
    revoke.add_argument("device_id", metavar="DEVICE_ID")


class NoPasswordFlag(argparse.Action):
    """`--password P` is refused: other users of the machine see a command's arguments (`ps`)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object, **__: object) -> None:
        parser.error("--password is not accepted (other users could read it with ps): use --password-stdin")


def _add(commands: Subcommands, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    parser = add_command(commands, name, handler, help=help)
    parser.add_argument(
        "--db", metavar="PATH|URL", help=f"Database (default: $DATABASE_URL, else {DB_FILE} in the data dir)."
    )
    return parser


def _usage(ctx: Context, args: argparse.Namespace) -> int:
    raise InvalidInput(
        "Say what to do: clinic server "
        "{run,create-clinic,add-user,change-user,enroll-code,devices,revoke-device,status}."
    )


def _run(ctx: Context, args: argparse.Namespace) -> int:
    import uvicorn

    from server_stub.app import create_app

    if args.clock_margin_minutes < 0:
        raise InvalidInput("--clock-margin-minutes cannot be negative.", field="clock_margin_minutes")

    url = database_url(ctx, args.db)
    shown = open_database(url)
    check_listening(args.host, args.port)
    print(f"ClinicDesk sync server on http://{args.host}:{args.port} (database {shown})", flush=True)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    uvicorn.run(
        create_app(
            url,
            clock_margin=timedelta(minutes=args.clock_margin_minutes),
            freeze_heap=True,
            run_migrations=False,
        ),
        host=args.host,
        port=args.port,
        log_level=ctx.settings.log_level.lower(),
    )
    return 0


def _create_clinic(ctx: Context, args: argparse.Namespace) -> int:
    with administering(ctx, args) as a:
        clinic_id = admin.create_clinic(
            a, name=args.name, timezone=args.timezone, region=args.region, address=args.address
        )
    print(clinic_id)
    return 0


def read_password(args: argparse.Namespace) -> str:
    """From standard input, or asked for on the terminal: never a flag, which `ps` shows to everyone."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("Give the password on standard input with --password-stdin.", field="password")
    password = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("The same password again: ") != password:
        raise InvalidInput("The two passwords differ.", field="password")
    return password


def _add_user(ctx: Context, args: argparse.Namespace) -> int:
    password = read_password(args)
    with administering(ctx, args) as a:
        user_id = admin.add_user(
            a,
            clinic_id=args.clinic,
            username=args.username,
            name=args.name,
            role=args.role,
            password=password,
            specialty=args.specialty,
            room=args.room,
        )
    print(user_id)
    return 0


def _change_user(ctx: Context, args: argparse.Namespace) -> int:
    """The same change an admin's `PATCH /v1/admin/clinicians/{id}` makes (admin.update_user)."""
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    with administering(ctx, args) as a:
        clinic_id, user_id = admin.user_named(a, clinic_id=args.clinic, username=args.username)
        admin.update_user(
            a,
            clinic_id=clinic_id,
            user_id=user_id,
            name=args.name,
            role=args.role,
            active=None if args.active is None else args.active == "yes",
            password=password,
            specialty=args.specialty,
            room=args.room,
        )
    print(f"Changed {args.username.strip().lower()}.")
    return 0


def _enroll_code(ctx: Context, args: argparse.Namespace) -> int:
    with administering(ctx, args) as a:
        code = admin.enrolment_code(a, kind=args.kind, clinic_id=args.clinic, ttl_hours=args.ttl_hours)
    print(code)
    return 0


def _devices(ctx: Context, args: argparse.Namespace) -> int:
    with administering(ctx, args) as a:
        found = admin.list_devices(a, clinic_id=args.clinic)
    for d in found:
        seen = f"{d.last_seen_at:%Y-%m-%d %H:%M} UTC" if d.last_seen_at else "never"
        state = "revoked" if d.revoked else "active"
        print(f"{d.id}  {d.letter}  {d.kind:<5}  {state:<7}  last seen {seen}  {d.name}")
    return 0


def _status(ctx: Context, args: argparse.Namespace) -> int:
    """Exit 0 while a dispatcher runs and a channel can send; 1 otherwise (for monitoring)."""
    from server_stub.notify.settings import load_notify_settings
    from server_stub.notify.status import dispatch_status, status_lines

    settings = load_notify_settings()
    now = utcnow()
    with administering(ctx, args) as a:
        status = dispatch_status(a.conn, now=now, settings=settings)
    print("\n".join(status_lines(status, now=now)))
    return 0 if status.healthy else 1


def _revoke(ctx: Context, args: argparse.Namespace) -> int:
    with administering(ctx, args) as a:
        admin.revoke_device(a, device_id=args.device_id)
    print(f"Revoked {args.device_id}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m server_stub COMMAND ...`: the `clinic server` commands without the desktop app."""
    parser = argparse.ArgumentParser(prog="python -m server_stub", description="ClinicDesk sync server.")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["server", *(argv if argv is not None else sys.argv[1:])])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = load_settings(**{name: getattr(args, name, None) for name in Settings.model_fields})
        code: int = args.handler(Context(settings), args)
        return code
    except (ClinicError, SettingsError) as exc:
        print(f"clinic server: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
