"""The demo's video consultation: the demo desk's doctor and the demo kiosk's patient hold a call
through the local server, with the synthetic sources (test pattern and tone). Where there is a
display both call windows open and join; where there is none, both sides are drawn into the tour
(`call-desk-*.png`, `call-kiosk-*.png`) from the same real call."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, closing
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from desktop.domain.appointments import AppointmentType
from desktop.domain.roles import Role
from desktop.services import availability, booking, demo
from desktop.services.common import Actor, current_clinic, local_day
from desktop.settings import load_settings
from desktop.store.local import LocalStore
from desktop.store.models import Clinician, Patient
from desktop.sync.client import SyncClient
from desktop.sync.credentials import Credentials

if TYPE_CHECKING:
    pass

RECEPTION = Actor(Role.RECEPTION, name="reception")
JOIN_AFTER_MS = 1500


def book_video_visit(desk: LocalStore) -> tuple[str, Clinician]:
    """A telehealth appointment with the first demo doctor, at their first free slot from tomorrow."""
    with desk.reading() as session:
        doctor = session.scalars(
            select(Clinician).where(Clinician.username == demo.DOCTORS[0].username)
        ).one()
        patient_id = session.scalars(select(Patient.id).order_by(Patient.code)).first()
        today = local_day(current_clinic(session), desk.now())
        slots = availability.find_free_slots(
            session,
            first_day=today + timedelta(days=1),
            last_day=today + timedelta(days=7),
            now=desk.now(),
            clinician_ids=[doctor.id],
        )
    start = min(s.start for found in slots.values() for s in found if s.capacity == 1)
    with desk.unit_of_work() as uow:
        made = booking.book(
            uow,
            actor=RECEPTION,
            patient_id=patient_id,
            clinician_id=doctor.id,
            starts_at=start,
            kind=AppointmentType.TELEHEALTH,
        )
    return made.code, doctor


def run_call_demo(
    desk_dir: Path, kiosk_dir: Path, *, window: bool, tour_dir: Path, sync: Callable[[Path, str], None]
) -> None:
    """`sync(folder, kind)` runs `clinic sync --once` on a device (the demo's own runner)."""
    from desktop import app
    from desktop.calls import DOCTOR_TONE, PATIENT_TONE, call_link, synthetic_sources
    from desktop.ui.call.tour import DESK_SIZE, KIOSK_SIZE, render_call_tour

    with closing(LocalStore(desk_dir)) as desk:
        code, doctor = book_video_visit(desk)
        print(f"Desk: booked the video consultation {code} with {doctor.name}.", flush=True)
    sync(desk_dir, "desk")
    sync(kiosk_dir, "kiosk")
    with ExitStack() as stack:
        desk = stack.enter_context(closing(LocalStore(desk_dir)))
        kiosk = stack.enter_context(closing(LocalStore(kiosk_dir)))
        desk_settings, kiosk_settings = load_settings(data_dir=desk_dir), load_settings(data_dir=kiosk_dir)
        client = SyncClient(desk.device().server_url or "", token_provider=Credentials(desk_dir).device_token)
        try:
            login = client.login(doctor.username or "", demo.STAFF_PASSWORD)
        finally:
            client.close()
        print(f"Desk: {doctor.name} signed in for the call.", flush=True)
        actor = Actor(Role(login.role), user_id=login.user_id, name=doctor.name)
        doctor_link = call_link(
            desk,
            desk_settings,
            code,
            token=lambda: login.token,
            doctor=actor,
            sources=lambda: synthetic_sources(DOCTOR_TONE),
        )
        kiosk_token = Credentials(kiosk_dir).device_token
        patient_link = call_link(
            kiosk, kiosk_settings, code, token=kiosk_token, sources=lambda: synthetic_sources(PATIENT_TONE)
        )
        if window:
            _windows(desk, kiosk, doctor_link, patient_link, actor)
            return
        written = []
        for store, settings, kind, mine, peer, who, size in (
            (kiosk, kiosk_settings, "kiosk", patient_link, doctor_link, None, KIOSK_SIZE),
            (desk, desk_settings, "desk", doctor_link, patient_link, actor, DESK_SIZE),
        ):
            running = app.start(store, settings, kind)  # type: ignore[arg-type]
            try:
                written += render_call_tour(
                    running.ctx, mine, peer, tour_dir, prefix=f"call-{kind}", size=size, actor=who
                )
            finally:
                running.close()
        print(
            f"Drew {len(written)} pictures of both call windows, from a real call, into {tour_dir}",
            flush=True,
        )


def _windows(
    desk: LocalStore, kiosk: LocalStore, doctor_link: object, patient_link: object, actor: Actor
) -> None:
    from PySide6.QtCore import QTimer

    from desktop import app
    from desktop.ui.call.window import open_call_window

    print("\nBoth call windows open and join; close them to go on.", flush=True)
    desk_app = app.start(desk, load_settings(data_dir=desk.data_dir), "desk")
    kiosk_app = app.start(kiosk, load_settings(data_dir=kiosk.data_dir), "kiosk")
    try:
        doctor = open_call_window(desk_app.ctx, doctor_link, actor=actor)
        patient = open_call_window(kiosk_app.ctx, patient_link)
        patient.move(doctor.x() + 80, doctor.y() + 80)
        QTimer.singleShot(JOIN_AFTER_MS, patient.join)
        QTimer.singleShot(JOIN_AFTER_MS * 2, doctor.join)
        desk_app.qt.exec()
    finally:
        kiosk_app.close()
        desk_app.close()
