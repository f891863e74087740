"""Reasons on screen: every code has words in the UI and a Spanish translation, the English the
UI shows is the CLI's (desktop.domain.english), and a language switch re-renders them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from desktop.app import App
from desktop.domain.english import CATALOGUE, english
from desktop.domain.reasons import Reason, text
from desktop.services import agenda
from desktop.store.local import LocalStore
from desktop.sync.worker import SyncStatus
from desktop.ui.i18n import Translations, ts_path
from desktop.ui.ops import ReadOp
from desktop.ui.reasons import ReasonWords, render
from desktop.ui.signals import AppSignals
from desktop.ui.widgets.sync_badge import SyncBadge
from tests.fixtures.ui import AppFactory, audio_sink, make_app  # noqa: F401

MADRID = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=MADRID)
PARTS = (
    Reason.of("queue.waited", minutes=25, points=25),
    Reason.of("queue.urgency", urgency="urgent", points=45),
    Reason.of("queue.pregnant", points=15),
)
# Values for every code with values (docs/reasons.md); codes not named here take none.
SAMPLES: dict[str, dict[str, Any]] = {
    "text": {"text": "A sentence not yet given a code."},
    "queue.position": {"token": "A-017", "position": 3, "parts": PARTS, "score": 85},
    "queue.waited": {"minutes": 1, "points": 1},
    "queue.urgency": {"urgency": "emergency", "points": 90},
    "queue.aged": {"age": 78, "points": 15},
    "queue.child": {"age": 3, "points": 15},
    "queue.pregnant": {"points": 15},
    "booking.slot_full": {"doctor": "Dr. Weber", "at": AT, "next_free": AT.replace(minute=15)},
    "booking.no_slot": {"doctor": "Dr. Weber", "at": AT.replace(hour=13), "next_free": None},
    "booking.patient_busy": {"patient": "Eva Graf", "at": AT, "appointment": "APT-7K3Q9"},
    "booking.seat_taken": {"doctor": "Dr. Weber"},
    "booking.follow_up_impossible": {"n": 3, "day": date(2026, 4, 13)},
    "booking.follow_up_moved": {"n": 3, "at": datetime(2026, 4, 13, 9, 45, tzinfo=MADRID)},
    "booking.not_bookable": {"doctor": "Dr. Weber"},
    "waitlist.already_waiting": {"patient": "Eva Graf", "doctor": "Dr. Weber"},
    "not_found": {"entity": "queue_token"},
    "appointment.unknown_status": {"problem": "'lost'"},
    "appointment.bad_transition": {"current": "cancelled", "target": "checked_in"},
    "token.bad_transition": {"current": "completed", "target": "waiting"},
    "queue.already_queued": {"patient": "Eva Graf", "token": "A-017"},
    "queue.not_called": {"token": "A-017"},
    "availability.not_a_doctor": {"name": "Rita Desk"},
    "availability.hours_overlap": {"start": time(9), "end": time(12)},
    "agenda.no_such_doctor": {"username": "nobody"},
    "clinic.unknown_zone": {"zone": "Mars/Base"},
    "clinic.unknown_region": {"region": "XX"},
    "staff.unknown_role": {"role": "pilot"},
    "staff.username_taken": {"username": "weber"},
    "patient.not_editable": {"name": "code"},
    "chat.too_long": {"most": 4000},
    "rx.too_many_medicines": {"most": 30},
    "rx.medicine_missing": {"n": 2, "name": "dose"},
    "rx.unknown_route": {"n": 2, "route": "by post"},
    "sync.not_sent.too_large": {"entity": "patient", "id": "01HX", "kib": 600},
    "sync.not_sent.invalid": {"entity": "queue_token", "id": "01HX", "problem": "bad date"},
    "sync.refused": {"entity": "availability", "id": "01HX", "why": None, "field": "clinic_id"},
    "sync.clock_off": {"minutes": 9, "behind": True},
    "sync.timeout": {"url": "https://clinic.example"},
    "sync.tls_failed": {"url": "https://clinic.example"},
    "sync.unreachable": {"url": "https://clinic.example"},
    "enrol.other_clinic": {"data_dir": "/data", "clinics": ("Praxis Nord",), "spent_device": "01HD"},
    "enrol.kind_may_not_keep": {
        "data_dir": "/data",
        "was": "desk",
        "kind": "kiosk",
        "kept": ("patient phone",),
    },
    "sync.failed": {"error": "disk I/O error"},
    "sync.unanswered_change": {"op_id": "01HOP"},
    "sync.unreadable_row": {"entity": "waitlist_entry", "problem": "bad date"},
    "sync.unreadable_answer": {"problem": "field 'ops' missing"},
    "sync.request_refused": {"status": 409},
    "enrol.invalid_url": {"url": "http://[::1", "problem": "Invalid IPv6 URL"},
    "sync.live_unavailable": {"url": "https://clinic.example", "problem": "timed out"},
    "sync.not_clinicdesk": {"server": "http://127.0.0.1:8080", "answer": "404 Not Found"},
    "sync.server_problem": {"status": 502},
    "sync.keyring_read": {"name": "device-token", "problem": "locked"},
    "sync.keyring_store": {"name": "user-session", "problem": "locked"},
    "sync.keyring_forget": {"name": "device-token", "problem": "locked"},
}
# More values for the forms a code can take (plurals, options, other words).
VARIANTS = [
    Reason.of("queue.position", token="B-002", position=1, parts=(), score=1),
    Reason.of("queue.position", token="B-002", position=12, parts=(), score=0),
    Reason.of("queue.position", token="B-002", position=22, parts=(), score=2),
    Reason.of("sync.clock_off", minutes=1, behind=False),
    Reason.of("sync.refused", entity="chat_message", id="01HX", why="A kiosk may not do this", field=None),
    Reason.of("enrol.other_clinic", data_dir="/d", clinics=("A", "B"), spent_device=None),
    Reason.of("not_found", entity="a_new_entity"),
    Reason.of("sync.unreadable_answer", problem=None),
    Reason.of("booking.slot_full", doctor="Dr. Rao", at=AT, next_free=None),
    Reason.of("queue.urgency", urgency="routine", points=0),
    *(
        Reason.of("appointment.bad_transition", current=s, target="completed")
        for s in ("requested", "no_show")
    ),
    *(Reason.of("rx.medicine_missing", n=1, name=f) for f in ("name", "route", "frequency", "duration")),
]
UNCHANGED_IN_SPANISH = {"text"}  # shown as it came


def reasons() -> list[Reason]:
    return [Reason.of(code, **SAMPLES.get(code, {})) for code in CATALOGUE] + VARIANTS


@pytest.fixture
def spanish(qapp: Any, tmp_path: Any) -> Iterator[Translations]:
    translations = Translations(AppSignals(), cache_dir=tmp_path)
    translations.set_language("es")
    yield translations
    translations.set_language("en")
    translations.close()


def test_every_code_has_ui_words() -> None:
    assert set(ReasonWords().templates) == set(CATALOGUE)
    assert set(SAMPLES) <= set(CATALOGUE)


def test_the_ui_english_is_the_clis(qapp: Any, tmp_path: Any) -> None:
    translations = Translations(AppSignals(), cache_dir=tmp_path)
    translations.set_language("en")
    for reason in reasons():
        assert render(reason) == english(reason), reason.code
    translations.close()


def test_every_code_has_spanish(spanish: Translations) -> None:
    for reason in reasons():
        words = render(reason)
        assert "%" not in words, (reason.code, words)
        if reason.code not in UNCHANGED_IN_SPANISH:
            assert words != english(reason), reason.code


def test_the_spanish_catalogue_is_finished() -> None:
    root = ET.parse(ts_path("es")).getroot()
    unfinished = [
        m.findtext("source")
        for m in root.iter("message")
        if m.find("translation").get("type") == "unfinished"  # type: ignore[union-attr]
        or not "".join(m.find("translation").itertext()).strip()  # type: ignore[union-attr]
    ]
    assert unfinished == []


def test_spanish_counts_orders_and_dates(spanish: Translations) -> None:
    position = Reason.of("queue.position", token="A-017", position=3, parts=PARTS, score=85)
    assert render(position) == (
        "A-017 va 3.º: 25 minutos de espera (+25), urgente (+45), embarazada (+15) = 85 puntos"
    )
    one = Reason.of(
        "queue.position",
        token="B-002",
        position=1,
        parts=(Reason.of("queue.waited", minutes=1, points=1),),
        score=1,
    )
    assert render(one) == "B-002 va 1.º: 1 minuto de espera (+1) = 1 punto"
    full = Reason.of("booking.slot_full", doctor="Dr. Weber", at=AT, next_free=AT.replace(minute=15))
    assert render(full) == (
        "Dr. Weber tiene la agenda completa el lun 2 mar a las 09:00."
        " Próximo hueco libre: lun 2 mar a las 09:15."
    )
    assert render(Reason.of("sync.clock_off", minutes=1, behind=True)).startswith(
        "El reloj de este equipo va 1 minuto por detrás"
    )
    assert render(text("As it came.")) == "As it came."


def badge_of(app: App) -> SyncBadge:
    badge = app.window.findChild(SyncBadge)
    assert badge is not None
    return badge


def test_the_sync_badge_says_why_in_the_users_language_and_switches_back(
    qtbot: Any, store: LocalStore, make_app: AppFactory
) -> None:
    # A real worker on a device enrolled nowhere reports why it does not sync.
    app = make_app(store, "desk", client_factory=lambda: None)
    badge = badge_of(app)
    qtbot.waitUntil(lambda: badge.toolTip() != "", timeout=5000)
    assert badge.toolTip() == "This device is not enrolled with a server."
    app.ctx.translations.set_language("es")
    assert badge.toolTip() == "Este equipo no está registrado en ningún servidor."
    assert badge.accessibleDescription() == badge.toolTip()

    unreachable = Reason.of("sync.unreachable", url="https://clinic.example")
    ahead = Reason.of("sync.clock_off", minutes=1, behind=False)
    badge.set_status(SyncStatus(state="error", last_error=unreachable, clock_warning=ahead, open_conflicts=2))
    assert badge.text() == "Requiere atención"
    assert badge.toolTip().splitlines() == [
        "No se puede conectar con el servidor https://clinic.example.",
        "El reloj de este equipo va 1 minuto por delante del servidor. ClinicDesk sigue funcionando,"
        " pero pida a un administrador que corrija la hora.",
        "Conflictos pendientes de resolver en recepción: 2",
    ]
    app.ctx.translations.set_language("en")
    assert badge.text() == "Needs attention"
    assert badge.toolTip().splitlines() == [
        english(unreachable),
        english(ahead),
        "Open conflicts to resolve at the desk: 2",
    ]


def test_a_refused_op_is_shown_in_the_users_language_and_follows_a_switch(
    qtbot: Any, store: LocalStore, make_app: AppFactory
) -> None:
    app = make_app(store, "desk")
    app.window.show()
    screen = app.window.screens[0]
    app.ctx.translations.set_language("es")
    # No failure handler: the service's typed error reaches the notice line as its reason.
    ReadOp(screen, lambda session, now: agenda.doctors(session, username="nobody")).run(app.ctx.ops)
    qtbot.waitUntil(app.window.notice.isVisible, timeout=5000)
    spanish = "Ningún médico tiene el nombre de usuario «nobody»."
    assert app.window.notice.text() == spanish
    app.ctx.translations.set_language("en")
    assert app.window.notice.text() == "No doctor has the username 'nobody'."
    app.ctx.translations.set_language("es")
    assert app.window.notice.text() == spanish
    app.ctx.translations.set_language("en")
