"""What a video consultation writes to this device's record, through the services.

The media layer (`desktop.media`) knows nothing of the database: the call window hands a
`CallSession` these two adapters.

- `ConsultationChat`: the chat of a consultation as `chat_message` rows (journaled, synced). The
  doctor's desk keeps the consultation, so it stores every line of the call, its own and the
  patient's, under the id the sender gave the line. A kiosk keeps no chat (SYNC.md): the
  patient's side shows the transcript the doctor's side sends on every (re)connection.
- `consent_logger`: each side's consent to recording, as an audit event on that side's device.
"""

from __future__ import annotations

from collections.abc import Callable

from desktop.media.session import ChatLine
from desktop.services import audit, consultations
from desktop.services.common import Actor, get
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, ChatMessage


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
