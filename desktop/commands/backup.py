"""`clinic backup PATH`: a consistent copy of the live database (safe while the app runs), owner-only."""

from __future__ import annotations

import argparse
import sqlite3
import stat
from datetime import datetime
from pathlib import Path

from desktop.cli_support import Context, Subcommands, add_command
from desktop.domain.errors import InvalidInput


def register(subcommands: Subcommands) -> None:
    parser = add_command(
        subcommands,
        "backup",
        run_backup,
    )
    parser.add_argument("path", type=Path, metavar="PATH")
    parser.add_argument("--force", action="store_true", help="Replace PATH if it exists.")


def run_backup(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.store() as store:
        target: Path = args.path.expanduser()
        if target.is_dir():
            target = target / f"clinicdesk-{datetime.now():%Y%m%d-%H%M%S}.db"
        live = store.path.resolve()
        if target.resolve().parent == live.parent and target.name.startswith(live.name):  # .db, -wal, -shm
            raise InvalidInput("That is the live database itself; choose another path.", field="path")
        if target.exists() or target.is_symlink():
            if not args.force:
                raise InvalidInput(f"{target} exists; choose another path or pass --force.", field="path")
            if not stat.S_ISREG(target.lstat().st_mode):  # a FIFO, a device, a link: never replaced
                raise InvalidInput(
                    f"{target} is not a regular file; --force replaces only a file.", field="path"
                )
        try:
            store.backup(target)
        except (OSError, sqlite3.Error) as exc:
            raise InvalidInput(f"Could not write the backup to {target}: {exc}.", field="path") from None
    size = target.stat().st_size
    print(f"Backup written: {target} ({size / 1_000_000:.1f} MB, {size} bytes)")
    return 0
