"""`clinic enroll` and `clinic sync`: join a clinic's server, and sync with it.

Hooked into the `clinic` command like every command module: `desktop/cli.py` lists
`desktop.sync.cli` in `COMMANDS`, and `register(subcommands)` adds the parsers.

    clinic enroll https://clinic.example:8443 ABCD-EFGH-JKMN-PQRS --name "Front kiosk" --device-kind kiosk
    clinic sync --once      # one sync; exit 0, or 3 when the server cannot be reached
    clinic sync             # keep syncing in the foreground until Ctrl-C

Enrolment itself is desktop.sync.enrolment (the set-up screens use it too).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.cli_support import Context, Subcommands, add_command
from desktop.domain.english import english
from desktop.domain.errors import NotFound
from desktop.store.local import LocalStore

if TYPE_CHECKING:
    from desktop.sync.credentials import Credentials
    from desktop.sync.report import Progress, SyncReport
    from desktop.sync.worker import SyncStatus

# requests, keyring and pydantic load in the handlers, so `clinic --help` and the other
# commands stay light (desktop/commands/__init__.py).

EXIT_OFFLINE = 3


def register(subcommands: Subcommands) -> None:
    enroll = add_command(
        subcommands,
        "enroll",
        run_enroll,
    )
    enroll.add_argument("url", metavar="URL", help="The sync server, e.g. https://clinic.example:8443")
    enroll.add_argument("code", metavar="CODE", help="The enrolment code from the administrator.")
    enroll.add_argument(
        "--name", help="A name for this device, shown to the administrator (default: its kind)."
    )
    enroll.add_argument(
        "--kind",
        dest="device_kind",
        default=argparse.SUPPRESS,
        choices=("kiosk", "desk", "board"),
        help="Same as the global --device-kind: what this machine is (the code must be for that kind).",
    )
    sync = add_command(subcommands, "sync", run_sync)
    sync.add_argument("--once", action="store_true", help="Sync once and exit (exit code 3 when offline).")


# -- clinic enroll ----------------------------------------------------------------------------


def run_enroll(ctx: Context, args: argparse.Namespace) -> int:
    from desktop.sync.credentials import Credentials
    from desktop.sync.enrolment import check_server_url, enrol

    url = check_server_url(args.url)  # before a data dir is made for nothing
    kind = ctx.settings.device_kind
    with ctx.store(create=True) as store:
        credentials = Credentials(store.data_dir)
        enrolled = enrol(
            store,
            url=url,
            code=args.code,
            kind=kind,
            name=args.name or kind.capitalize(),
            credentials=credentials,
        )
        print(f"Enrolled this {kind} as device {enrolled.letter} of clinic {enrolled.clinic_id}.")
        print(f"Device id: {enrolled.device_id}")
        print(f"Token kept in: {credentials.describe()}")
        return _sync_once(store, url, credentials)


# -- clinic sync ------------------------------------------------------------------------------


def _server_url(ctx: Context, store: LocalStore) -> str:
    url = ctx.settings.server_url if "server_url" in ctx.settings.model_fields_set else None
    url = url or store.device().server_url
    if not url:
        raise NotFound("This device is not enrolled with a server yet: run `clinic enroll URL CODE` first.")
    return url


def run_sync(ctx: Context, args: argparse.Namespace) -> int:
    from desktop.sync.credentials import Credentials

    with ctx.store() as store:
        url = _server_url(ctx, store)
        credentials = Credentials(store.data_dir)
        if args.once:
            return _sync_once(store, url, credentials)
        return _sync_forever(store, url, credentials)


def _sync_once(store: LocalStore, url: str, credentials: Credentials) -> int:
    from desktop.sync.client import SyncClient
    from desktop.sync.engine import SyncEngine

    with SyncClient(url, token_provider=credentials.device_token) as client:
        report = SyncEngine(store, client).sync_once(progress=_print_progress)
    print_report(report)
    if report.error is None:
        return 0
    return EXIT_OFFLINE if report.error.retryable else 2


def _print_progress(progress: Progress) -> None:
    if progress.stage == "push" and progress.total:
        print(f"  pushed {progress.done} of {progress.total} changes", flush=True)


def print_report(report: SyncReport) -> None:
    print(
        f"Pushed {report.pushed}: applied {report.applied}, merged {report.merged}, "
        f"conflicts {report.conflicts}, rejected {report.rejected}."
    )
    print(
        f"Pulled {report.pulled} changes"
        + (f" ({report.rebased} kept local edits on top)." if report.rebased else ".")
    )
    if report.duplicates:
        print(
            f"{report.duplicates} changes had reached the server before (answer lost): nothing was doubled."
        )
    if report.clock_warning:
        print(f"Warning: {english(report.clock_warning)}")
    for reason in report.errors:
        print(f"  {english(reason)}")
    if report.error is not None:
        if report.error.retryable:
            print(
                "Offline: the changes are kept on this device and will be sent when the server is reachable."
            )
        else:
            print(f"Sync stopped: {report.error.message}")
    elif report.cancelled:
        print("Sync was interrupted; it resumes from here next time.")
    else:
        print(f"Done in {report.duration:.1f} s.")


def _sync_forever(store: LocalStore, url: str, credentials: Credentials) -> int:
    from desktop.sync.client import SyncClient
    from desktop.sync.worker import SyncWorker

    def factory() -> SyncClient:
        return SyncClient(url, token_provider=credentials.device_token)

    def show(status: SyncStatus) -> None:
        if not status.syncing:
            state = f"{status.state}, live" if status.live else status.state  # live: sync.md
            line = f"[{state}] pending {status.pending}, open conflicts {status.open_conflicts}"
            print(line + (f" — {english(status.last_error)}" if status.last_error else ""), flush=True)

    worker = SyncWorker(store, factory)
    worker.on_status(show)
    worker.start()
    print(f"Syncing {Path(store.data_dir)} with {url}; press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0
