"""Subcommands of `clinic`, one module per area.

A command module exposes `register(subcommands)`, which adds its parsers with `add_command` and
gives each a handler `(ctx, args) -> exit code`; `desktop/cli.py` lists the modules. Handlers
import Qt or aiortc inside themselves, never at module level, so `clinic --help` and the data
commands stay light. Service errors (`ClinicError`) propagate: `cli.main` prints their message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import get_args

from sqlalchemy.exc import DBAPIError

from desktop.domain.errors import InvalidInput, NotFound
from desktop.settings import Settings
from desktop.store.local import DB_NAME, LocalStore

Subcommands = argparse._SubParsersAction  # what `register` receives


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
    subcommands: Subcommands, name: str, handler: Handler, *, help: str
) -> argparse.ArgumentParser:
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
