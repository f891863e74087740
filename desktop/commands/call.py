"""`clinic call CODE`: the call window for an appointment on this desk or kiosk; `clinic call --check`:
the pre-call check (camera, microphone, speakers, server) printed."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from desktop.cli_support import Context, Subcommands, add_command
from desktop.domain.errors import InvalidInput


def register(subcommands: Subcommands) -> None:
    parser = add_command(subcommands, "call", run_call)
    parser.add_argument("code", nargs="?", help="The appointment's code (or id).")
    parser.add_argument("--check", action="store_true", help="Run the pre-call check and print it.")
    parser.add_argument(
        "--user", help="On a desk: the doctor who signs in (password from stdin or a prompt)."
    )
    parser.add_argument(
        "--test-call",
        action="store_true",
        help="Send the test pattern and a tone instead of the camera and microphone.",
    )
    parser.add_argument("--language", choices=("en", "es"), default="en", help="Language at start.")
    parser.add_argument("--high-contrast", action="store_true", help="The high-contrast theme.")
    parser.add_argument("--large-text", action="store_true", help="Larger text everywhere.")
    parser.add_argument(
        "--tour",
        metavar="DIR",
        type=Path,
        help="Render the call window's screens (with a test peer), in each language, to PNG files in DIR.",
    )


def read_password(prompt: str) -> str:
    """From stdin when it is piped, else a prompt that does not echo."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


def run_call(ctx: Context, args: argparse.Namespace) -> int:
    if args.check:
        return run_check(ctx)
    if not args.code:
        raise InvalidInput(
            "Name the appointment: `clinic call CODE` (or `clinic call --check`).", field="code"
        )
    if args.tour is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return run_tour(ctx, args)
    from desktop.commands.app import has_display

    if not has_display():
        print(
            "clinic call: there is no display here. Run it on the desk's or kiosk's screen, or draw the "
            "call window's screens with --tour DIR.",
            file=sys.stderr,
        )
        return 2
    return run_window(ctx, args)


def _theme(args: argparse.Namespace) -> Any:
    from desktop.ui.theme import Theme

    return Theme(
        "high_contrast" if args.high_contrast else "standard", "large" if args.large_text else "normal"
    )


def run_window(ctx: Context, args: argparse.Namespace) -> int:
    from desktop import app
    from desktop.calls import DOCTOR_TONE, PATIENT_TONE, call_link, synthetic_sources
    from desktop.domain.roles import Role
    from desktop.services.common import Actor
    from desktop.sync.client import SyncClient
    from desktop.sync.credentials import Credentials
    from desktop.ui.call.window import open_call_window

    with ctx.store() as store:
        device = store.device()
        if device.kind not in ("desk", "kiosk"):
            raise InvalidInput(f"Calls are held on a desk or a kiosk; this device is a {device.kind}.")
        credentials = Credentials(store.data_dir)
        url = ctx.settings.server_url if "server_url" in ctx.settings.model_fields_set else None
        url = url or device.server_url
        doctor = None
        token = credentials.device_token
        if device.kind == "desk":
            if not args.user or not url:
                raise InvalidInput(
                    "On a desk the doctor signs in: `clinic call CODE --user NAME`.", field="user"
                )
            client = SyncClient(url, token_provider=credentials.device_token)
            try:
                login = client.login(args.user, read_password(f"Password for {args.user}: "))
            finally:
                client.close()
            doctor = Actor(Role(login.role), user_id=login.user_id, name=args.user)

            def token() -> str | None:
                return login.token

        tone = DOCTOR_TONE if doctor is not None else PATIENT_TONE
        link = call_link(
            store,
            ctx.settings,
            args.code,
            token=token,
            doctor=doctor,
            sources=(lambda: synthetic_sources(tone)) if args.test_call else None,
        )
        return app.run_window(
            store,
            ctx.settings,
            device.kind,  # type: ignore[arg-type]
            lambda ui: open_call_window(ui, link, actor=doctor),
            language=args.language,
            theme=_theme(args),
        )


def run_tour(ctx: Context, args: argparse.Namespace) -> int:
    """This device's side of the call, with a test peer in memory (no server needed)."""
    from desktop import app
    from desktop.calls import DOCTOR_TONE, PATIENT_TONE, tour_links
    from desktop.ui.call.tour import DESK_SIZE, KIOSK_SIZE, render_call_tour

    with ctx.store() as store:
        kind = store.device().kind
        if kind not in ("desk", "kiosk"):
            raise InvalidInput(f"Calls are held on a desk or a kiosk; this device is a {kind}.")
        mine, peer, actor = tour_links(
            store, args.code, doctor=kind == "desk", tones=(DOCTOR_TONE, PATIENT_TONE)
        )
        running = app.start(store, ctx.settings, kind, language=args.language, theme=_theme(args))
        try:
            written = render_call_tour(
                running.ctx,
                mine,
                peer,
                args.tour,
                prefix=f"call-{kind}",
                size=DESK_SIZE if kind == "desk" else KIOSK_SIZE,
                actor=actor,
                server_check=lambda: True,  # the test peer meets this side in memory
            )
        finally:
            running.close()
    print(f"Wrote {len(written)} pictures of the call window to {args.tour}")
    return 0


def run_check(ctx: Context) -> int:
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
