"""`clinic init`: create or migrate the device database, set the device up, create the clinic."""

from __future__ import annotations

import argparse
import string

from desktop.cli_support import Context, Subcommands, add_command
from desktop.domain.errors import InvalidInput, NotFound
from desktop.services import clinic as clinic_service
from desktop.services.common import SYSTEM, ClinicInfo, current_clinic
from desktop.settings import DeviceKind
from desktop.store.models import Clinic

DEFAULT_TIMEZONE = "Asia/Kolkata"
DEFAULT_REGION = "IN"


def register(subcommands: Subcommands) -> None:
    parser = add_command(
        subcommands,
        "init",
        run_init,
    )
    parser.add_argument("--clinic-name", help="Name of the clinic; needed the first time only.")
    parser.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help=f"IANA zone of the clinic (default {DEFAULT_TIMEZONE})."
    )
    parser.add_argument(
        "--region",
        default=DEFAULT_REGION,
        help=f"Country code used to read phone numbers (default {DEFAULT_REGION}).",
    )
    parser.add_argument("--letter", help="This device's queue-token letter, A to Z (tokens A-001, A-002...).")
    parser.add_argument(
        "--kind",
        dest="device_kind",
        default=argparse.SUPPRESS,
        choices=("kiosk", "desk", "board"),
        help="Same as the global --device-kind: what this machine is.",
    )


def _letter(text: str) -> str:
    letter = text.strip().upper()
    if len(letter) != 1 or letter not in string.ascii_uppercase:
        raise InvalidInput("The device letter is one letter from A to Z.", field="letter")
    return letter


def run_init(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    device: dict[str, str] = {}
    if args.letter is not None:
        device["letter"] = _letter(args.letter)
    if "device_kind" in settings.model_fields_set:  # given by a flag, CLINIC_DEVICE_KIND or the file
        kind: DeviceKind = settings.device_kind
        device["kind"] = kind
    with ctx.store(create=True) as store:
        if device:
            store.update_device(**device)
        with store.unit_of_work() as uow:
            clinic: ClinicInfo | Clinic
            try:
                clinic = current_clinic(uow.session)
                created = False
            except NotFound:
                if not args.clinic_name:
                    raise InvalidInput(
                        "This device has no clinic yet: name it with --clinic-name.", field="clinic_name"
                    ) from None
                clinic = clinic_service.create_clinic(
                    uow, actor=SYSTEM, name=args.clinic_name, timezone=args.timezone, region=args.region
                )
                created = True
            summary = f"{clinic.name} ({clinic.timezone}, {clinic.region})"
        state = store.device()
        print(f"Database: {store.path} (migrated to the latest schema)")
        print(f"Device:   {state.device_id}, {state.kind}, token letter {state.letter}")
        print(f"Clinic:   {summary}, {'created' if created else 'already set up'}")
        if not created and args.clinic_name and args.clinic_name.strip() != clinic.name:
            print(
                f"Note: the clinic keeps its name '{clinic.name}'; --clinic-name is only used the first time."
            )
    return 0
