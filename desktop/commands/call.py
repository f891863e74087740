"""`clinic call --check`: the pre-call check (camera, microphone, speakers, server)."""

from __future__ import annotations

import argparse

from desktop.cli_support import Context, Subcommands, add_command
from desktop.domain.errors import InvalidInput


def register(subcommands: Subcommands) -> None:
    parser = add_command(subcommands, "call", run_call)
    parser.add_argument("--check", action="store_true", help="Run the pre-call check and print it.")


def run_call(ctx: Context, args: argparse.Namespace) -> int:
    if not args.check:
        raise InvalidInput("The call window is not built yet: `clinic call --check` runs the pre-call check.")
    from desktop.media.precall import precall_check  # aiortc, OpenCV and PyAV: only when asked

    settings = ctx.settings
    report = precall_check(
        camera=settings.camera, microphone=settings.microphone, server_url=settings.server_url
    )
    for line in report.lines():
        print(line)
    works = report.devices.camera_opens or report.microphone_dbfs is not None
    reachable = report.server.endswith("is reachable.")
    return 0 if works and reachable else 1
