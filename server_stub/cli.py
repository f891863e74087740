"""`clinic server ...`: run the sync server and administer it (clinics, staff, enrolment codes, devices).

Hooked into the `clinic` command like every command module (`register(subcommands)`, see
desktop/commands/__init__.py); `python -m server_stub ...` runs the same commands on a server box.

The database is `--db` (a file path or a URL), else `DATABASE_URL`, else `server.db` in the data dir.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from desktop.commands import Context, Handler, Subcommands, add_command
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.errors import ClinicError, InvalidInput
from desktop.settings import Settings, SettingsError, load_settings
from desktop.store.types import utcnow
from server_stub import admin
from server_stub.db import create_server_engine, migrate, sqlite_url

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


@contextmanager
def administering(ctx: Context, args: argparse.Namespace) -> Iterator[admin.Admin]:
    """One migrated database, one transaction: committed if the command succeeds."""
    url = database_url(ctx, args.db)
    migrate(url)
    engine = create_server_engine(url)
    try:
        with engine.begin() as conn:
            yield admin.Admin(conn, utcnow(), HybridLogicalClock("server"))
    finally:
        engine.dispose()


def register(subcommands: Subcommands) -> None:
    server = add_command(subcommands, "server", _usage, help="Run the central sync server and administer it.")
    commands = server.add_subparsers(dest="server_command", metavar="SERVER_COMMAND")

    run = _add(commands, "run", _run, "Serve the sync API (uvicorn).")
    run.add_argument("--host", default=DEFAULT_HOST, help=f"Address to listen on (default {DEFAULT_HOST}).")
    run.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"Port (default {DEFAULT_PORT}).")

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
    password = user.add_mutually_exclusive_group()
    password.add_argument(
        "--password-stdin", action="store_true", help="Read the password from standard input."
    )
    password.add_argument(
        "--password", metavar="P", help="The password (visible to other users of this machine)."
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


def _add(commands: Subcommands, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    parser = add_command(commands, name, handler, help=help)
    parser.add_argument(
        "--db", metavar="PATH|URL", help=f"Database (default: $DATABASE_URL, else {DB_FILE} in the data dir)."
    )
    return parser


def _usage(ctx: Context, args: argparse.Namespace) -> int:
    raise InvalidInput(
        "Say what to do: clinic server {run,create-clinic,add-user,enroll-code,devices,revoke-device,status}."
    )


def _run(ctx: Context, args: argparse.Namespace) -> int:
    import uvicorn

    from server_stub.app import create_app

    url = database_url(ctx, args.db)
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"ClinicDesk sync server on http://{args.host}:{args.port} (database {shown})", flush=True)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    uvicorn.run(
        create_app(url, freeze_heap=True),
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


def _add_user(ctx: Context, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif args.password is not None:
        password = args.password
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username}: ")
    else:
        raise InvalidInput("Give the password with --password-stdin or --password.", field="password")
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
