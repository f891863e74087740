"""What a video consultation writes to this device's record, through the services.

The media layer (`desktop.media`) knows nothing of the database: the call window hands a
`CallSession` these two adapters.

- `ConsultationChat`: the chat of a consultation as `chat_message` rows (journaled, synced). The
  doctor's desk keeps the consultation, so it stores every line of the call, its own and the
  patient's, under the id the sender gave the line. A kiosk keeps no chat (SYNC.md): the
  patient's side shows the transcript the doctor's side sends on every (re)connection.
- `consent_logger`: each side's consent to recording, as an audit event on that side's device.
- `CallLink` / `call_link`: how this device reaches an appointment's call (its role, the signalling
  room and token, what it sends, the chat log, the recording folder); the call window takes one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from desktop.domain.errors import InvalidInput, NotFound
from desktop.domain.roles import Role
from desktop.media.session import CallOptions, CallSources, ChatLine, ChatLog, ice_servers
from desktop.media.signalling import MemoryRoom, SignallingFactory, WebSocketSignalling, calls_url
from desktop.media.tracks import (
    SharedSource,
    TestPatternTrack,
    ToneTrack,
    open_camera,
    open_microphone,
    open_screen,
    shared,
)
from desktop.services import audit, booking, consultations
from desktop.services.common import KIOSK, Actor, current_clinic, get
from desktop.settings import Settings
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, ChatMessage, Consultation

DOCTOR_TONE, PATIENT_TONE = 440.0, 660.0


class ConsultationChat:
    """A `ChatLog` over the consultation's `chat_message` rows."""

    def __init__(self, store: LocalStore, *, actor: Actor, consultation_id: str) -> None:
        self.store = store
        self.actor = actor
        self.consultation_id = consultation_id

    def save(self, line: ChatLine) -> None:
        with self.store.unit_of_work(actor=self.actor) as uow:
            if uow.session.get(ChatMessage, line.id) is not None:
                return  # sent again after a reconnect
            consultations.add_chat_message(
                uow,
                actor=self.actor,
                consultation_id=self.consultation_id,
                body=line.body,
                sender_role=line.role,
                message_id=line.id,
                sent_at=line.sent_at,
            )

    def history(self) -> list[ChatLine]:
        with self.store.reading() as session:
            rows = consultations.chat_messages(session, consultation_id=self.consultation_id)
            return [ChatLine(id=r.id, role=r.sender_role, body=r.body, sent_at=r.sent_at) for r in rows]


def consent_logger(store: LocalStore, *, actor: Actor, appointment_id: str) -> Callable[[str, bool], None]:
    """`log(role, given)`: one audit event per consent given or withdrawn on this device."""

    def log(role: str, given: bool) -> None:
        with store.unit_of_work(actor=actor) as uow:
            appointment = get(uow.session, Appointment, appointment_id)
            audit.record(
                uow,
                actor=actor,
                clinic_id=appointment.clinic_id,
                action="recording_consent" if given else "recording_consent_withdrawn",
                entity="appointment",
                entity_id=appointment.id,
                patient_id=appointment.patient_id,
                detail=f"{role} {'consents' if given else 'withdraws consent'} to recording the call",
            )

    return log


def synthetic_sources(tone: float = DOCTOR_TONE) -> CallSources:
    """The moving test pattern and a tone: tests, the demo, the tour, a test call."""
    return CallSources(shared(TestPatternTrack(320, 240)), shared(ToneTrack(tone)))


def synthetic_screen() -> SharedSource:
    """The blue test pattern in place of a screen capture."""
    return shared(TestPatternTrack(320, 240, style="screen"))


def device_sources(settings: Settings) -> CallSources:
    """The camera and microphone of the settings; one that does not open is left out (receive-only
    for that kind, and the pre-call check says so)."""
    camera = microphone = None
    with contextlib.suppress(OSError):
        camera = open_camera(settings.camera)
    with contextlib.suppress(OSError):
        microphone = open_microphone(settings.microphone)
    return CallSources(camera, microphone)


@dataclass
class CallLink:
    """How one side reaches its call: its role, the signalling room, what it sends (made on the
    media loop), where it keeps the chat (the doctor's desk) and the options."""

    appointment_id: str
    role: str  # doctor | patient
    signalling: SignallingFactory
    sources: Callable[[], CallSources] = CallSources
    chat_log: ChatLog | None = None
    options: CallOptions = field(default_factory=CallOptions)
    consultation_id: str | None = None  # the doctor's side: the notes beside the video
    patient_id: str | None = None
    server_url: str | None = None  # for the pre-call check's "is the server reachable"
    timezone: str = "UTC"  # the clinic's: chat times are shown in it, never in UTC
    screen: Callable[[], SharedSource] = open_screen  # what "Share screen" sends (opened on the loop)


def video_consultation(store: LocalStore, *, actor: Actor, appointment_id: str) -> str:
    """The open video consultation of the appointment on this desk, opened if there is none."""
    with store.unit_of_work(actor=actor) as uow:
        found = uow.session.scalars(
            select(Consultation.id).where(
                Consultation.appointment_id == appointment_id,
                Consultation.mode == "video",
                Consultation.status == "open",
            )
        ).first()
        if found is not None:
            return found
        appointment = get(uow.session, Appointment, appointment_id)
        return consultations.start(
            uow,
            actor=actor,
            clinician_id=appointment.clinician_id,
            appointment_id=appointment_id,
            mode="video",
        ).id


def call_link(
    store: LocalStore,
    settings: Settings,
    code: str,
    *,
    token: Callable[[], str | None],
    doctor: Actor | None = None,
    sources: Callable[[], CallSources] | None = None,
) -> CallLink:
    """This device's side of the call of the appointment `code` (or id). A desk is the doctor's
    side (`doctor` signed in, its session `token`): it keeps the chat and the notes, and records
    with consent; a kiosk is the patient's side (`token`: the device's)."""
    with store.reading() as session:
        appointment = booking.find_by_code(session, code)
        if appointment is None and (row := session.get(Appointment, code)) is not None:
            appointment = booking.find_by_code(session, row.code)
        zone = current_clinic(session).timezone
    if appointment is None:
        raise NotFound(f"No appointment {code} on this device.")
    url = settings.server_url if "server_url" in settings.model_fields_set else None
    url = url or store.device().server_url
    if not url:
        raise InvalidInput("This device is not enrolled with a server: calls need one.", field="server_url")
    signalling_url = calls_url(url, appointment.id)
    options = CallOptions(ice_servers=ice_servers(settings.ice_servers))
    link = CallLink(
        appointment.id,
        "doctor" if doctor is not None else "patient",
        lambda: WebSocketSignalling(signalling_url, token),
        sources=sources or (lambda: device_sources(settings)),
        options=options,
        patient_id=appointment.patient_id,
        server_url=url,
        timezone=zone,
        screen=open_screen if sources is None else synthetic_screen,  # a test call shares a test pattern
    )
    if doctor is not None:
        link.consultation_id = video_consultation(store, actor=doctor, appointment_id=appointment.id)
        link.chat_log = ConsultationChat(store, actor=doctor, consultation_id=link.consultation_id)
        options.recording_dir = store.data_dir / "recordings"
    options.consent_log = consent_logger(store, actor=doctor or KIOSK, appointment_id=appointment.id)
    return link


def tour_links(
    store: LocalStore, code: str, *, doctor: bool, tones: tuple[float, float] = (DOCTOR_TONE, PATIENT_TONE)
) -> tuple[CallLink, CallLink, Actor | None]:
    """For the tour: this device's side and a test peer, meeting in memory with the synthetic
    sources; nothing is stored. On a desk the notes panel shows the appointment's open video
    consultation, read as its doctor."""
    with store.reading() as session:
        appointment = booking.find_by_code(session, code)
        if appointment is None and (row := session.get(Appointment, code)) is not None:
            appointment = booking.find_by_code(session, row.code)
        if appointment is None:
            raise NotFound(f"No appointment {code} on this device.")
        consultation_id = session.scalars(
            select(Consultation.id).where(
                Consultation.appointment_id == appointment.id,
                Consultation.mode == "video",
                Consultation.status == "open",
            )
        ).first()
        zone = current_clinic(session).timezone
    room = MemoryRoom()
    doctor_tone, patient_tone = tones
    mine, theirs = ("doctor", "patient") if doctor else ("patient", "doctor")
    tone = {"doctor": doctor_tone, "patient": patient_tone}
    this = CallLink(
        appointment.id, mine, room.side(mine), sources=lambda: synthetic_sources(tone[mine]), timezone=zone
    )
    peer = CallLink(
        appointment.id,
        theirs,
        room.side(theirs),
        sources=lambda: synthetic_sources(tone[theirs]),
        timezone=zone,
    )
    actor = None
    if doctor and consultation_id is not None:
        this.consultation_id, this.patient_id = consultation_id, appointment.patient_id
        actor = Actor(Role.DOCTOR, user_id=appointment.clinician_id, name="tour")
    return this, peer, actor
