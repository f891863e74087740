"""`clinic demo-data`: a realistic demo clinic made through the services, then its summary."""

from __future__ import annotations

import argparse
import time

from desktop.cli_support import Context, Subcommands, add_command, iso_date
from desktop.commands.reports import pending_ops, print_agenda, print_queue, print_requests_and_waitlist
from desktop.services import demo
from desktop.services.common import current_clinic, local_time_text


def register(subcommands: Subcommands) -> None:
    parser = add_command(
        subcommands,
        "demo-data",
        run_demo_data,
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=demo.DEFAULT_SEED,
        help=f"Same seed, same clinic (default {demo.DEFAULT_SEED}).",
    )
    parser.add_argument(
        "--date", type=iso_date, help="The demo day, YYYY-MM-DD (default: the clinic's today)."
    )


def run_demo_data(ctx: Context, args: argparse.Namespace) -> int:
    clock = demo.DemoClock()
    started = time.perf_counter()
    with ctx.store(create=True, now=clock) as store:
        result = demo.generate(store, clock, seed=args.seed, day=args.date)
        elapsed = time.perf_counter() - started
        with store.reading() as session:
            clinic = current_clinic(session)
            print(f"Demo clinic made in {elapsed:.1f} s in {store.data_dir.resolve()} (seed {args.seed})")
            staff = f"{result.doctors} doctors, {result.staff - result.doctors} other staff"
            print(f"{result.clinic_name}: {staff}, {result.patients} patients")
            print(f"Staff sign in with their username and the password '{demo.STAFF_PASSWORD}'")
            print(
                f"Demo day {local_time_text(clinic, result.now)}: {result.appointments} appointments, "
                f"{result.tokens} queue tokens, {result.consultations} consultations, "
                f"{result.prescriptions} prescriptions issued"
            )
            print()
            print_agenda(session, day=result.day)
            print()
            print_queue(session, now=result.now)
            print()
            print_requests_and_waitlist(session)
            print(f"Journal: {pending_ops(session)} changes pending sync")
    return 0
