"""The plumbing every `clinic` subcommand uses: `Context`, `add_command`, the settings flags, and
`COMMANDS`, which names the module of each subcommand.

It sits beside the layers rather than above them, so `desktop.sync.cli` and `server_stub.cli`
take it without importing the composition root. A command module exposes
`register(subcommands)`, which adds its parsers with `add_command` and gives each a handler
`(ctx, args) -> exit code`. `desktop/cli.py` imports only the module of the subcommand asked for
(`clinic --help` imports none), and this module loads SQLAlchemy and the store only when a
command opens the store. Service errors (`ClinicError`) propagate: `cli.main` prints their message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, get_args

from desktop.domain.errors import InvalidInput, NotFound
from desktop.settings import Settings

if TYPE_CHECKING:
    from desktop.store.local import LocalStore

Subcommands = argparse._SubParsersAction  # what `register` receives

# Every subcommand: the module that registers it, and the one line `clinic --help` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "desktop.commands.setup",
        "Create or migrate this device's database and set up its clinic (safe to run again).",
    ),
    "demo": (
        "desktop.commands.sync_demo",
        "The demo: a local sync server, devices that work offline then sync, and the board.",
    ),
    "demo-data": (
        "desktop.commands.demo",
        "Fill an empty data dir with a demo clinic: staff, a month of hours, 300 patients, a busy day.",
    ),
    "agenda": ("desktop.commands.reports", "Print a day's appointments, per doctor."),
    "queue": ("desktop.commands.reports", "Print today's waiting queue in calling order."),
    "backup": ("desktop.commands.backup", "Copy the database to PATH (a file, or a folder to put it in)."),
    "kiosk": ("desktop.commands.app", "Start the waiting-area kiosk on this data dir."),
    "desk": ("desktop.commands.app", "Start the clinician's desk on this data dir."),
    "board": ("desktop.commands.app", "Start the waiting-room board on this data dir."),
    "enroll": (
        "desktop.sync.cli",
        "Join this device to a clinic's server with a one-time enrolment code, then sync.",
    ),
    "sync": ("desktop.sync.cli", "Sync with the clinic's server."),
    "server": ("server_stub.cli", "Run the central sync server and administer it."),
    "call": (
        "desktop.commands.call",
        "Video consultations: `--check` tests the camera, microphone, speakers and server.",
    ),
}


@dataclass(frozen=True)
class Context:
    """What every command gets: the resolved settings, and the store they point at."""

    settings: Settings

    @contextmanager
    def store(
        self, *, create: bool = False, now: Callable[[], datetime] | None = None
    ) -> Iterator[LocalStore]:
        """The device's store, closed afterwards. Without `create`, a missing database is a user
        error rather than a new empty one made as a side effect of a read."""
        from sqlalchemy.exc import DBAPIError

        from desktop.store.local import DB_NAME, LocalStore

        data_dir = self.settings.data_dir
        if not create and not (data_dir / DB_NAME).exists():
            raise NotFound(f"No ClinicDesk data in {data_dir}. Run `clinic init` first, or pass --data-dir.")
        try:
            store = LocalStore(data_dir, now=now)
        except (OSError, DBAPIError) as exc:  # not a folder, no permission, not a database...
            reason = getattr(exc, "orig", None) or exc
            raise InvalidInput(
                f"Cannot open the database in {data_dir}: {reason}.", field="data_dir"
            ) from None
        try:
            yield store
        finally:
            store.close()


Handler = Callable[[Context, argparse.Namespace], int]


def global_options() -> argparse.ArgumentParser:
    """One flag per setting (`data_dir` -> `--data-dir`), accepted before or after the subcommand.

    Defaults are suppressed so that a value given before the subcommand is not reset by the
    subcommand's parser, and so that an absent flag leaves the environment and file in charge.
    """
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("settings (also CLINIC_* variables and settings.toml)")
    for name, field in Settings.model_fields.items():
        choices = get_args(field.annotation)
        metavar = "|".join(choices).lower() if all(isinstance(c, str) for c in choices) and choices else None
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            metavar=metavar or name.split("_")[-1].upper(),
            help=field.description,
        )
    return parser


def add_command(
    subcommands: Subcommands, name: str, handler: Handler, *, help: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand's parser; `help` defaults to its line in `COMMANDS`."""
    help = help or COMMANDS[name][1]
    parser: argparse.ArgumentParser = subcommands.add_parser(
        name, help=help, description=help, parents=[global_options()]
    )
    parser.set_defaults(handler=handler)
    return parser


def iso_date(text: str) -> date:
    """argparse type for `--date YYYY-MM-DD`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from None
