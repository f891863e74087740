"""The `clinic` command: settings from flags, environment and file, then one subcommand.

Only the module of the subcommand asked for is imported (`desktop.cli_support.COMMANDS` names
them): `clinic --help` loads no database, server or Qt code, and a board does not pay for the
server at start. Add a subcommand by writing its module and listing it in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from desktop.cli_support import COMMANDS, Context, global_options
from desktop.domain.errors import ClinicError
from desktop.heap import freeze_start_up_heap
from desktop.settings import Settings, SettingsError, configure_logging, load_settings


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv`, skipping the global flags (each takes a value)."""
    takes_value = {"--" + name.replace("_", "-") for name in Settings.model_fields}
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif arg in COMMANDS:
            return arg
        elif not arg.startswith("-"):
            return None  # not a command: argparse says so
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the real arguments of `command` only; the others are listed by name."""
    parser = argparse.ArgumentParser(
        prog="clinic",
        description="ClinicDesk: offline-first clinic desktop app and its tools.",
        parents=[global_options()],
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registered: set[str] = set()
    for name, (module_name, help) in COMMANDS.items():
        if name in registered:
            continue
        if module_name == (COMMANDS[command][0] if command else None):
            importlib.import_module(module_name).register(subcommands)
            registered.update(n for n, (m, _) in COMMANDS.items() if m == module_name)
        else:
            subcommands.add_parser(name, help=help, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # non-ASCII names on a console that cannot show them
            stream.reconfigure(errors="backslashreplace")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(chosen_command(argv)).parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = load_settings(**{name: getattr(args, name, None) for name in Settings.model_fields})
        configure_logging(settings.log_level)
        freeze_start_up_heap()
        code: int = args.handler(Context(settings), args)
        return code
    except (ClinicError, SettingsError) as exc:
        print(f"clinic {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `clinic agenda | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
