"""`clinic kiosk`, `clinic desk`, `clinic board`: the app in that mode on the data dir.

Qt and the screens load in the handler: `clinic --help` and the other commands never pay for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from desktop.cli_support import Context, Subcommands, add_command
from desktop.settings import DeviceKind

MODES: tuple[DeviceKind, ...] = ("kiosk", "desk", "board")


def register(subcommands: Subcommands) -> None:
    for mode in MODES:
        parser = add_command(subcommands, mode, run_mode)
        parser.set_defaults(mode=mode)
        parser.add_argument("--language", choices=("en", "es"), default="en", help="Language at start.")
        parser.add_argument("--fullscreen", action="store_true", help="Fill the screen (boards, kiosks).")
        parser.add_argument("--high-contrast", action="store_true", help="The high-contrast theme.")
        parser.add_argument("--large-text", action="store_true", help="Larger text everywhere.")
        parser.add_argument(
            "--tour",
            metavar="DIR",
            type=Path,
            help="Render every screen of this mode, in each language, to PNG files in DIR, then exit.",
        )


SCREENLESS_PLATFORMS = ("offscreen", "minimal")  # Qt draws, nobody sees


def has_display() -> bool:
    """Whether a window opened here can be seen: a desktop session, or a Qt platform that draws
    on a screen itself (eglfs, linuxfb: kiosks and boards without a window system)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return not platform.startswith(SCREENLESS_PLATFORMS)
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_mode(ctx: Context, args: argparse.Namespace) -> int:
    mode: DeviceKind = args.mode
    if args.tour is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif not has_display():
        print(
            f"clinic {mode}: there is no display here (no DISPLAY or WAYLAND_DISPLAY, or an offscreen "
            f"Qt platform). Run it on the clinic's screen, or draw its screens with --tour DIR.",
            file=sys.stderr,
        )
        return 2
    from desktop import app
    from desktop.ui.theme import Theme
    from desktop.ui.tour import render_tour

    theme = Theme(
        "high_contrast" if args.high_contrast else "standard", "large" if args.large_text else "normal"
    )
    with ctx.store() as store:
        if args.tour is None:
            return app.run(
                store, ctx.settings, mode, language=args.language, theme=theme, fullscreen=args.fullscreen
            )
        running = app.start(store, ctx.settings, mode, language=args.language, theme=theme)
        try:
            written = render_tour(running, args.tour)
        finally:
            running.close()
        print(f"Wrote {len(written)} pictures of the {mode} to {args.tour}")
        return 0
