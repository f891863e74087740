"""Reminder rules shared by the devices (scheduling) and the server (sending): kinds, channels, lead
times, consent, retries, the messages in each language and how many SMS parts a text takes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from unidecode import unidecode

from desktop.domain.errors import InvalidInput


class MessageKind(StrEnum):
    CONFIRMATION = "confirmation"  # at booking, with the calendar invitation
    REMINDER = "reminder"  # a lead time before the visit
    CANCELLATION = "cancellation"  # the visit was cancelled; the invitation is withdrawn
    TURN_NEAR = "turn_near"  # a waiting walk-in's turn is near (SMS)


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Two changes of one reminder's status (a device cancels while the server retries): the one further
# along wins. A message that went out stays `sent`; a cancel stops a retry.
STATUS_PRECEDENCE: dict[str, int] = {
    ReminderStatus.PENDING: 0,
    ReminderStatus.RETRYING: 1,
    ReminderStatus.CANCELLED: 2,
    ReminderStatus.FAILED: 3,
    ReminderStatus.SENT: 4,
}
OPEN_STATUSES = frozenset({ReminderStatus.PENDING.value, ReminderStatus.RETRYING.value})
LEAD_TIMES_MINUTES = (1440, 120, 30, 15)  # 24 h, 2 h, 30 min, 15 min
LANGUAGES = ("en", "es")


def check_channels(channels: Sequence[str] | None, field: str) -> list[str] | None:
    if channels is None:
        return None
    bad = [c for c in channels if c not in {ch.value for ch in Channel}]
    if bad:
        raise InvalidInput(f"Unknown channel {bad[0]!r}: choose sms and/or email.", field=field)
    return list(dict.fromkeys(channels))


def check_lead_times(minutes: Sequence[int] | None, field: str) -> list[int] | None:
    if minutes is None:
        return None
    bad = [m for m in minutes if m not in LEAD_TIMES_MINUTES]
    if bad:
        raise InvalidInput(
            f"A reminder can be sent 1440, 120, 30 or 15 minutes before, not {bad[0]}.", field=field
        )
    return sorted(set(minutes), reverse=True)


def channels_for(
    *,
    consent: bool,
    phone: str | None,
    email: str | None,
    chosen: Sequence[str] | None,
    clinic_default: Sequence[str],
) -> list[Channel]:
    """The channels a patient is written to. Nothing without consent. The patient's own choice is
    kept as given (a channel they have no contact for is dropped); with the clinic's default, a
    patient it cannot reach that way is written to by the other channel."""
    if not consent:
        return []
    reachable = {Channel.SMS: bool(phone), Channel.EMAIL: bool(email)}
    wanted = [Channel(c) for c in (chosen if chosen is not None else clinic_default)]
    out = [c for c in wanted if reachable[c]]
    if not out and chosen is None:
        out = [c for c in Channel if reachable[c]][:1]
    return out


def retry_delay(attempt: int, *, base_s: float, cap_s: float) -> timedelta:
    """Back-off after the `attempt`-th failed attempt (1-based): base, 2 × base, 4 × base... ≤ cap."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** (attempt - 1)))


# -- SMS size ----------------------------------------------------------------------------------

# The GSM 03.38 default alphabet; the extension table's characters take two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_PART = {"gsm7": 153, "ucs2": 67}  # a part of a long message gives room to its header


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # gsm7 | ucs2
    length: int  # septets (gsm7) or UTF-16 units (ucs2)
    parts: int


def sms_size(text: str) -> SmsSize:
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        encoding, length = "gsm7", sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    else:
        encoding, length = "ucs2", len(text.encode("utf-16-le")) // 2
    parts = 1 if length <= SMS_SINGLE[encoding] else -(-length // SMS_PART[encoding])
    return SmsSize(encoding, length, parts)


def gsm_text(text: str) -> str:
    """The text in the GSM alphabet: a character it lacks (á, í, ó, ú...) becomes its closest
    letters (unidecode), so a Spanish name does not turn the message into 70-character parts."""
    return "".join(c if c in GSM7_BASIC or c in GSM7_EXTENDED else unidecode(c) for c in text)


# -- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What a message says, as the dispatcher reads it from the server's rows."""

    clinic_name: str
    zone: str  # the clinic's IANA zone: every time is shown in it
    doctor: str = ""
    starts_at: datetime | None = None  # aware
    room: str = ""
    telehealth: bool = False
    code: str = ""  # APT-7K3Q9
    token: str = ""  # A-017 (turn_near)
    position: int = 0  # turn_near: patients ahead + 1


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    body: str


_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "es": ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"],
}
_DAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "es": ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"],
}


def local_time(at: datetime, zone: str, language: str) -> str:
    """`Tue 10 Mar 2026, 09:30 CET` in the clinic's zone (its abbreviation, never UTC's)."""
    local = at.astimezone(ZoneInfo(zone))
    lang = language if language in LANGUAGES else "en"
    day, month = _DAYS[lang][local.weekday()], _MONTHS[lang][local.month - 1]
    return f"{day} {local.day} {month} {local.year}, {local:%H:%M} {local.tzname()}"


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "confirmation.subject": "Appointment confirmed: {when}",
        "reminder.subject": "Reminder: your appointment on {when}",
        "cancellation.subject": "Appointment cancelled: {when}",
        "turn_near.subject": "Your turn is near",
        "confirmation.sms": "{clinic}: appointment with {doctor} on {when}, {place}. Ref {code}.",
        "reminder.sms": "Reminder from {clinic}: {doctor}, {when}, {place}. Ref {code}.",
        "cancellation.sms": "{clinic}: your appointment on {when} with {doctor} is cancelled. Ref {code}.",
        "turn_near.sms": "{clinic}: token {token}, your turn is near ({position} to go). Please come back.",
        "confirmation.email": "Your appointment with {doctor} at {clinic} is confirmed for {when}.",
        "reminder.email": "This is a reminder of your appointment with {doctor} at {clinic} on {when}.",
        "cancellation.email": "Your appointment with {doctor} at {clinic} on {when} has been cancelled.",
        "turn_near.email": "Token {token} at {clinic}: your turn is near ({position} to go).",
        "room": "room {room}",
        "clinic_place": "at the clinic",
        "video": "video call",
        "video_help": "This is a video consultation: at the time above, the doctor calls you on the "
        "ClinicDesk kiosk link you were given. Have your camera and microphone ready.",
        "ref": "Reference: {code}. The calendar invitation is attached.",
        "sign": "{clinic}",
    },
    "es": {
        "confirmation.subject": "Cita confirmada: {when}",
        "reminder.subject": "Recordatorio: su cita del {when}",
        "cancellation.subject": "Cita cancelada: {when}",
        "turn_near.subject": "Su turno se acerca",
        "confirmation.sms": "{clinic}: cita con {doctor} el {when}, {place}. Ref {code}.",
        "reminder.sms": "Recordatorio de {clinic}: {doctor}, {when}, {place}. Ref {code}.",
        "cancellation.sms": "{clinic}: su cita del {when} con {doctor} queda cancelada. Ref {code}.",
        "turn_near.sms": "{clinic}: turno {token}, le toca pronto (faltan {position}). Vuelva a la sala.",
        "confirmation.email": "Su cita con {doctor} en {clinic} queda confirmada para el {when}.",
        "reminder.email": "Le recordamos su cita con {doctor} en {clinic} el {when}.",
        "cancellation.email": "Su cita con {doctor} en {clinic} del {when} ha sido cancelada.",
        "turn_near.email": "Turno {token} en {clinic}: le toca pronto (faltan {position}).",
        "room": "consulta {room}",
        "clinic_place": "en la clínica",
        "video": "videollamada",
        "video_help": "Es una consulta por video: a la hora indicada el médico le llama por el enlace "
        "de ClinicDesk que recibió. Tenga listos la cámara y el micrófono.",
        "ref": "Referencia: {code}. Se adjunta la invitación de calendario.",
        "sign": "{clinic}",
    },
}


def render(kind: MessageKind | str, channel: Channel | str, language: str, facts: MessageFacts) -> Message:
    """The message of this kind in the patient's language (English when it is not one we write)."""
    texts = _TEXTS[language if language in LANGUAGES else "en"]
    kind, channel = MessageKind(kind), Channel(channel)
    when = local_time(facts.starts_at, facts.zone, language) if facts.starts_at else ""
    if facts.telehealth:
        place = texts["video"]
    else:
        place = texts["room"].format(room=facts.room) if facts.room else texts["clinic_place"]
    values = {
        "clinic": facts.clinic_name,
        "doctor": facts.doctor,
        "when": when,
        "place": place,
        "code": facts.code,
        "token": facts.token,
        "position": facts.position,
    }
    subject = texts[f"{kind}.subject"].format(**values)
    if channel is Channel.SMS:
        return Message(subject, gsm_text(texts[f"{kind}.sms"].format(**values)))
    lines = [texts[f"{kind}.email"].format(**values)]
    if kind is not MessageKind.TURN_NEAR:
        lines.append(place[:1].upper() + place[1:] + ".")
        if facts.telehealth and kind is not MessageKind.CANCELLATION:
            lines.append(texts["video_help"])
        lines.append(texts["ref"].format(code=facts.code))
    lines += ["", texts["sign"].format(**values)]
    return Message(subject, "\n".join(lines))
