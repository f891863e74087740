"""The `clinic` command: settings from flags, environment and file, then one subcommand.

Subcommands live in `desktop.commands.*`; add a module there and list it in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from desktop.commands import Context, backup, demo, global_options, reports, setup, sync_demo
from desktop.domain.errors import ClinicError
from desktop.heap import freeze_start_up_heap
from desktop.settings import Settings, SettingsError, configure_logging, load_settings
from desktop.sync import cli as sync_cli
from server_stub import cli as server_cli

COMMANDS = (setup, demo, reports, backup, sync_demo, sync_cli, server_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinic",
        description="ClinicDesk: offline-first clinic desktop app and its tools.",
        parents=[global_options()],
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # non-ASCII names on a console that cannot show them
            stream.reconfigure(errors="backslashreplace")
    try:
        args = build_parser().parse_args(argv)
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
