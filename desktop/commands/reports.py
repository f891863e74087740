"""`clinic agenda` and `clinic queue`: the day's appointments per doctor and the waiting queue."""

from __future__ import annotations

import argparse
import unicodedata
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.cli_support import Context, Subcommands, add_command, iso_date
from desktop.domain.errors import NotFound
from desktop.domain.roles import Role
from desktop.services import booking, queue
from desktop.services.common import clinic_zone, current_clinic, local_day
from desktop.store.models import Availability, Clinician, JournalOp, Patient, WaitlistEntry


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


def doctors(session: Session, username: str | None = None) -> list[Clinician]:
    query = select(Clinician).where(
        Clinician.role == Role.DOCTOR.value, Clinician.active.is_(True), Clinician.deleted.is_(False)
    )
    if username:
        found = list(session.scalars(query.where(Clinician.username == username.strip().lower())))
        if not found:
            raise NotFound(f"No doctor has the username '{username}'.", field="doctor")
        return found
    return list(session.scalars(query.order_by(Clinician.specialty, Clinician.name)))


def on_leave(session: Session, day: date) -> set[str]:
    """Ids of the doctors whose leave covers `day`."""
    return set(
        session.scalars(
            select(Availability.clinician_id).where(
                Availability.kind == "leave",
                Availability.deleted.is_(False),
                Availability.valid_from <= day,
                Availability.valid_to >= day,
            )
        )
    )


def working_on(session: Session, day: date) -> set[str]:
    """Ids of the doctors with working hours on `day`'s weekday (leave and holidays aside)."""
    return set(
        session.scalars(
            select(Availability.clinician_id).where(
                Availability.kind == "hours",
                Availability.deleted.is_(False),
                Availability.weekday == day.weekday(),
                (Availability.valid_from.is_(None)) | (Availability.valid_from <= day),
                (Availability.valid_to.is_(None)) | (Availability.valid_to >= day),
            )
        )
    )


def patient_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {
        pid: name
        for pid, name in session.execute(select(Patient.id, Patient.full_name).where(Patient.id.in_(ids)))
    }


def print_agenda(session: Session, *, day: date, doctor: str | None = None) -> None:
    clinic = current_clinic(session)
    chosen = doctors(session, doctor)
    tz = clinic_zone(clinic)
    holiday = day.isoformat() in (clinic.holidays or [])
    print(f"Agenda of {clinic.name} for {day:%a} {day.day} {day:%b %Y} ({clinic.timezone})")
    if holiday:
        print("  The clinic is closed: holiday.")
    away, working = on_leave(session, day), working_on(session, day)
    for doc in chosen:
        appointments = booking.agenda(session, clinician_id=doc.id, day=day)
        names = patient_names(session, {a.patient_id for a in appointments})
        print(f"\n{doc.name} · {doc.specialty or 'doctor'} · {doc.room or 'no room'} · {doc.username}")
        if doc.id in away:
            print("  on leave")
        elif not appointments:
            print("  no appointments" if doc.id in working else f"  does not work on {day:%A}s")
        for a in appointments:
            print(
                f"  {a.starts_at.astimezone(tz):%H:%M}  {a.code}  {cell(names.get(a.patient_id, '?'), 28)}"
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
        for d in doctors(session)
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
            print(f"    {p.position:>2}. {p.token.code}  {cell(who, 24)}  {wait}  {p.explanation}")


def print_requests_and_waitlist(session: Session) -> None:
    requests = booking.requests(session)
    print(f"Online requests waiting for a decision: {len(requests)}")
    entries = list(
        session.scalars(
            select(WaitlistEntry).where(WaitlistEntry.status == "waiting", WaitlistEntry.deleted.is_(False))
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
