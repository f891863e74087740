"""`clinic enroll` and `clinic sync`: join a clinic's server, and sync with it.

Hooked into the `clinic` command like every command module: `desktop/cli.py` lists
`desktop.sync.cli` in `COMMANDS`, and `register(subcommands)` adds the parsers.

    clinic enroll https://clinic.example:8443 ABCD-EFGH-JKMN-PQRS --name "Front kiosk" --device-kind kiosk
    clinic sync --once      # one sync; exit 0, or 3 when the server cannot be reached
    clinic sync             # keep syncing in the foreground until Ctrl-C

Enrolment redeems the one-time code for a device id, a token, the clinic and the device's
queue-token letter. The server's device id replaces the locally made one from the next start
(it is the node of the device's clock stamps and the device named in audit rows); the token
goes to the keyring (see desktop.sync.credentials). A data dir that already holds another
clinic's data is refused: one data dir, one clinic. So is a desk's data dir enrolled as a kiosk or
a board, which may not keep what a desk holds (prescriptions, chat, staff passwords...).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select

from desktop.commands import Context, Subcommands, add_command
from desktop.domain.errors import InvalidInput, NotAllowed, NotFound
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, Clinic

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
        help="Join this device to a clinic's server with a one-time enrolment code, then sync.",
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
    sync = add_command(subcommands, "sync", run_sync, help="Sync with the clinic's server.")
    sync.add_argument("--once", action="store_true", help="Sync once and exit (exit code 3 when offline).")


# -- clinic enroll ----------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:  # 'http://[::1': "Invalid IPv6 URL"
        raise InvalidInput(f"The server address {url!r} is not a valid URL ({exc}).", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            "The server address must start with http:// or https:// and name a host.", field="url"
        )
    return url


def _other_clinics(store: LocalStore, clinic_id: str | None) -> list[tuple[str, str]]:
    """(id, name) of clinics in the local database other than `clinic_id`."""
    with store.reading() as session:
        rows = session.execute(select(Clinic.id, Clinic.name).where(Clinic.id != (clinic_id or ""))).all()
    return [(row.id, row.name) for row in rows]


def _refuse_mixing(store: LocalStore, clinic_id: str | None, *, spent_device: str | None = None) -> None:
    others = _other_clinics(store, clinic_id)
    if others:
        names = ", ".join(f"'{name}'" for _, name in others)
        spent = (
            f" The code has been used: ask the administrator to revoke device {spent_device}"
            " and for a new code."
            if spent_device
            else ""
        )
        raise NotAllowed(
            f"This data dir ({store.data_dir}) already holds the data of another clinic ({names}). "
            f"A device belongs to one clinic: enrol with a new, empty --data-dir.{spent}",
            field="data_dir",
        )


def _kept_from(store: LocalStore, kind: str) -> list[str]:
    """What this data dir holds that a device of `kind` may not keep, if it was another kind of
    device: a kiosk keeps no chat, prescriptions or histories, a board no patients (SYNC.md)."""
    from desktop.sync.protocol import DESK_ONLY_FIELDS, HIDDEN

    if kind == "desk" or store.device().kind == kind:
        return []  # a desk keeps everything; a re-enrolled kiosk, what it made (its audit events)
    found: list[str] = []
    with store.reading() as session:
        for entity in sorted(HIDDEN[kind]):
            table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
            if session.execute(select(table.c.id).limit(1)).first() is not None:
                found.append(entity.replace("_", " "))
        for entity, fields in DESK_ONLY_FIELDS.items():
            table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
            for name in sorted(fields):
                if session.execute(select(table.c.id).where(table.c[name].is_not(None)).limit(1)).first():
                    found.append(f"{entity} {name.replace('_', ' ')}")
    return found


def _refuse_narrowing(store: LocalStore, kind: str) -> None:
    kept = _kept_from(store, kind)
    if kept:
        raise NotAllowed(
            f"This data dir ({store.data_dir}) was a {store.device().kind} and holds records a {kind} "
            f"may not keep ({', '.join(kept)}). Enrol the {kind} with a new, empty --data-dir.",
            field="data_dir",
        )


def run_enroll(ctx: Context, args: argparse.Namespace) -> int:
    from desktop.sync.client import SyncClient
    from desktop.sync.credentials import Credentials

    url = _check_url(args.url)
    kind = ctx.settings.device_kind
    name = args.name or kind.capitalize()
    with ctx.store(create=True) as store:
        if store.device().server_url is None:
            _refuse_mixing(store, None)  # set up locally, never synced: it cannot be the server's clinic
        _refuse_narrowing(store, kind)  # before the code is spent
        credentials = Credentials(store.data_dir)
        with SyncClient(url, token_provider=credentials.device_token) as client:
            enrolled = client.enroll(args.code, name, kind)
        _refuse_mixing(store, enrolled.clinic_id, spent_device=enrolled.device_id)
        credentials.save_device_token(enrolled.token)
        store.update_device(
            device_id=enrolled.device_id,
            server_url=url,
            clinic_id=enrolled.clinic_id,
            letter=enrolled.letter,
            kind=kind,
            pull_cursor=0,  # what a device sees depends on its kind: start the feed again
        )
    print(f"Enrolled this {kind} as device {enrolled.letter} of clinic {enrolled.clinic_id}.")
    print(f"Device id: {enrolled.device_id}")
    print(f"Token kept in: {credentials.describe()}")
    # Reopen, so that the clock stamps this device's changes with the server's device id.
    with ctx.store() as store:
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
        print(f"Warning: {report.clock_warning}")
    for line in report.errors:
        print(f"  {line}")
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
            line = f"[{status.state}] pending {status.pending}, open conflicts {status.open_conflicts}"
            print(line + (f" — {status.last_error}" if status.last_error else ""), flush=True)

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
