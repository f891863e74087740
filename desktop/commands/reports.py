"""`clinic agenda` and `clinic queue`: the day's appointments per doctor and the waiting queue."""

from __future__ import annotations

import argparse
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.cli_support import Context, Subcommands, add_command, iso_date
from desktop.domain.english import english
from desktop.domain.waitlist import WaitlistStatus
from desktop.services import agenda, booking, queue
from desktop.services.agenda import DoctorDay
from desktop.services.common import clinic_zone, current_clinic, local_day
from desktop.store.models import Clinician, JournalOp, Patient, WaitlistEntry


def register(subcommands: Subcommands) -> None:
    parser = add_command(subcommands, "agenda", run_agenda)
    parser.add_argument("--date", type=iso_date, help="The clinic's local day, YYYY-MM-DD (default: today).")
    parser.add_argument("--doctor", metavar="USERNAME", help="Only this doctor (e.g. priya.raman).")
    add_command(subcommands, "queue", run_queue)


def run_agenda(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.store() as store, store.reading() as session:
        print_agenda(
            session, day=args.date or local_day(current_clinic(session), store.now()), doctor=args.doctor
        )
    return 0


def run_queue(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.store() as store, store.reading() as session:
        print_queue(session, now=store.now())
    return 0


def width(text: str) -> int:
    """Columns a string takes in a terminal: combining marks (Devanagari vowel signs...) take none."""
    return sum(unicodedata.category(ch) not in ("Mn", "Me", "Cf") for ch in text)


def cell(text: str, size: int) -> str:
    if width(text) > size:
        while width(text) > size - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (size - width(text))


def patient_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {
        pid: name
        for pid, name in session.execute(select(Patient.id, Patient.full_name).where(Patient.id.in_(ids)))
    }


def print_agenda(session: Session, *, day: date, doctor: str | None = None) -> None:
    view = agenda.day_view(session, day=day, doctor=doctor)
    tz = ZoneInfo(view.timezone)
    print(f"Agenda of {view.clinic_name} for {day:%a} {day.day} {day:%b %Y} ({view.timezone})")
    if view.holiday:
        print("  The clinic is closed: holiday.")
    for line in view.doctors:
        doc = line.doctor
        print(f"\n{doc.name} · {doc.specialty or 'doctor'} · {doc.room or 'no room'} · {doc.username}")
        if line.day is DoctorDay.ON_LEAVE:
            print("  on leave")
        elif not line.entries:
            print("  no appointments" if line.day is DoctorDay.WORKING else f"  does not work on {day:%A}s")
        for entry in line.entries:
            a = entry.appointment
            print(
                f"  {a.starts_at.astimezone(tz):%H:%M}  {a.code}  {cell(entry.patient_name, 28)}"
                f"  {cell(a.status.replace('_', ' '), 15)}  {a.kind.replace('_', ' ')}"
            )


def print_queue(session: Session, *, now: datetime) -> None:
    """Today's waiting patients, per doctor, in calling order with the reason and the expected wait."""
    clinic = current_clinic(session)
    overall = queue.view(session, now=now)
    local = now.astimezone(clinic_zone(clinic))
    print(f"Queue of {clinic.name} at {local:%a %d %b %H:%M}: {len(overall)} waiting")
    waiting_for = {p.token.clinician_id for p in overall}
    sections = [
        (f"{d.name} ({d.room})", queue.view(session, now=now, clinician_id=d.id))
        for d in agenda.doctors(session)
        if d.id in waiting_for
    ]
    if None in waiting_for:
        sections.append(("Any doctor", [p for p in overall if p.token.clinician_id is None]))
    names = patient_names(session, {p.token.patient_id for p in overall if p.token.patient_id})
    for title, positions in sections:
        print(f"  {title}")
        for p in positions:
            who = names.get(p.token.patient_id or "", "(no name)")
            wait = f"~{p.wait_minutes:>3} min"
            print(f"    {p.position:>2}. {p.token.code}  {cell(who, 24)}  {wait}  {english(p.reason)}")


def print_requests_and_waitlist(session: Session) -> None:
    requests = booking.requests(session)
    print(f"Online requests waiting for a decision: {len(requests)}")
    entries = list(
        session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.status == WaitlistStatus.WAITING, WaitlistEntry.deleted.is_(False)
            )
        )
    )
    names = patient_names(session, {e.patient_id for e in entries})
    staff = {cid: name for cid, name in session.execute(select(Clinician.id, Clinician.name))}
    for e in entries:
        print(
            f"Waiting list: {names.get(e.patient_id, '?')} for {staff.get(e.clinician_id, '?')}, "
            f"any day from {e.earliest:%d %b} to {e.latest:%d %b}"
        )


def pending_ops(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(JournalOp).where(JournalOp.status == "pending")) or 0
    )
