"""The call window (issue 13): two windows, a doctor's desk and a kiosk, in one real call through the
real signalling server on 127.0.0.1, with real aiortc peers and the synthetic sources."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QListWidget, QPlainTextEdit, QWidget
from sqlalchemy import select

from desktop.app import App
from desktop.calls import call_link, synthetic_sources
from desktop.services.common import current_clinic
from desktop.settings import load_settings
from desktop.store.models import Appointment, ChatMessage
from desktop.sync.client import SyncClient
from desktop.ui.call.controller import CallState
from desktop.ui.call.window import CallWindow, open_call_window
from tests.fixtures.call import Telehealth, book_telehealth, sides, telehealth  # noqa: F401
from tests.fixtures.server import device_template, live_server, server_database_url  # noqa: F401
from tests.fixtures.ui import AppFactory, audio_sink, make_app  # noqa: F401
from tests.sync_support import Device

REPO = Path(__file__).resolve().parents[1]


def wait_for(qtbot: Any, predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    qtbot.waitUntil(predicate, timeout=int(timeout_s * 1000))


def app_for(make_app: AppFactory, t: Telehealth, device: Device, mode: str) -> App:
    url, token = t.server.base_url, device.enrolled.token
    return make_app(
        device.store, mode, client_factory=lambda: SyncClient(url, token_provider=lambda: token), lock=False
    )


@pytest.fixture
def windows(
    qtbot: Any, make_app: AppFactory, telehealth: Telehealth
) -> Iterator[tuple[CallWindow, CallWindow]]:
    t = telehealth
    desk, kiosk = app_for(make_app, t, t.desk, "desk"), app_for(make_app, t, t.kiosk, "kiosk")
    doctor_link = call_link(
        t.desk.store,
        load_settings(data_dir=t.desk.store.data_dir),
        t.appointment_id,
        token=lambda: t.doctor_token,
        doctor=t.doctor,
        sources=lambda: synthetic_sources(440.0),
    )
    assert doctor_link.consultation_id == t.consultation_id  # the desk's open video consultation
    with t.kiosk.store.reading() as session:
        code = session.get(Appointment, t.appointment_id).code
    patient_link = call_link(
        t.kiosk.store,
        load_settings(data_dir=t.kiosk.store.data_dir),
        code,
        token=lambda: t.kiosk.enrolled.token,
        sources=lambda: synthetic_sources(1000.0),
    )
    doctor = open_call_window(desk.ctx, doctor_link, actor=t.doctor)
    patient = open_call_window(kiosk.ctx, patient_link)
    for window in (doctor, patient):
        qtbot.addWidget(window)
    yield doctor, patient
    for window in (doctor, patient):
        window.close()


def join_both(qtbot: Any, doctor: CallWindow, patient: CallWindow) -> None:
    qtbot.mouseClick(patient.precall.join_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: patient.state == CallState.WAITING)
    qtbot.mouseClick(doctor.precall.join_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: doctor.state == CallState.CONNECTED and patient.state == CallState.CONNECTED)


def test_the_precall_check_shows_the_preview_and_the_microphone(qtbot: Any, windows: Any) -> None:
    doctor, _patient = windows
    assert doctor.stack.currentWidget() is doctor.precall
    wait_for(qtbot, lambda: doctor.precall.preview.frames > 5)
    wait_for(qtbot, lambda: doctor.precall.mic_level.value() > 40)  # the tone at 0.3 of full scale
    assert "can be reached" in doctor.precall.server_label.text()


def test_the_waiting_room_then_the_call_paints_frames(qtbot: Any, windows: Any) -> None:
    doctor, patient = windows
    qtbot.mouseClick(patient.precall.join_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: patient.state == CallState.WAITING)
    assert "Waiting for the other person" in patient.call.overlay.text()
    assert patient.call.remote.frames == 0
    qtbot.mouseClick(doctor.precall.join_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: doctor.state == CallState.CONNECTED and patient.state == CallState.CONNECTED)
    assert patient.call.status.text() == "Connected"
    start = patient.call.remote.painted
    wait_for(qtbot, lambda: patient.call.remote.painted > start + 20 and doctor.call.remote.painted > 20)
    before = patient.call.remote.grab().toImage()
    qtbot.wait(300)
    assert patient.call.remote.grab().toImage() != before  # the picture moves
    wait_for(qtbot, lambda: doctor.quality is not None)
    assert doctor.call.quality.text().startswith("Connection:")
    wait_for(qtbot, lambda: doctor.call.timer_label.text() != "00:00", 3)


def focus(qtbot: Any, window: CallWindow) -> None:
    """Shortcuts belong to the active window: make this one active, as a click on it would."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.call.remote.setFocus()


def packets_sent(window: CallWindow) -> tuple[int, int]:
    stats = window.controller.loop.run(window.controller.session.read_stats())
    return stats.audio_packets_sent, stats.video_packets_sent


def test_the_shortcuts(qtbot: Any, windows: Any) -> None:
    doctor, patient = windows
    join_both(qtbot, doctor, patient)
    focus(qtbot, patient)
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: patient.controller.session.muted, 2)
    assert patient.call.mute.text() == "Unmute"
    qtbot.wait(300)
    audio_before, video_before = packets_sent(patient)
    qtbot.wait(1000)
    audio_after, video_after = packets_sent(patient)
    assert audio_after == audio_before and video_after > video_before + 10  # muted: no audio leaves
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_V)
    wait_for(qtbot, lambda: patient.controller.session.camera_off, 2)
    assert patient.call.camera.text() == "Camera on"
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_C)
    assert not patient.call.chat_panel.isVisible()
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_C)
    assert patient.call.chat_panel.isVisible()
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_S)  # a kiosk shares no screen: S does nothing there
    assert not patient.call.share.isVisible()
    focus(qtbot, doctor)
    qtbot.keyClick(doctor.call.remote, Qt.Key.Key_S)
    wait_for(qtbot, lambda: doctor.controller.session.sharing is not None, 2)
    assert doctor.call.share.text() == "Stop sharing"
    wait_for(qtbot, lambda: patient.controller.session.sharing is None)
    focus(qtbot, patient)
    qtbot.keyClick(patient.call.remote, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: not patient.controller.session.muted, 2)


def test_escape_asks_first_and_ends_only_after_confirming(qtbot: Any, windows: Any) -> None:
    doctor, patient = windows
    join_both(qtbot, doctor, patient)
    focus(qtbot, doctor)
    qtbot.keyClick(doctor.call.remote, Qt.Key.Key_Escape)
    box = doctor.confirm_box
    assert box is not None and box.isVisible()
    box.escapeButton().click()  # "Stay in the call"
    qtbot.wait(500)
    assert doctor.state == CallState.CONNECTED and doctor.stack.currentWidget() is doctor.call
    qtbot.keyClick(doctor.call.remote, Qt.Key.Key_Escape)
    box = doctor.confirm_box
    yes = next(b for b in box.buttons() if box.buttonRole(b) == box.ButtonRole.AcceptRole)
    yes.click()
    wait_for(qtbot, lambda: doctor.stack.currentWidget() is doctor.ended)
    wait_for(qtbot, lambda: patient.stack.currentWidget() is patient.ended)  # the other side was told
    assert doctor.ended.message.text() == "The call has ended. Thank you."


def test_chat_typed_in_one_window_appears_in_the_other_and_is_stored(
    qtbot: Any, windows: Any, telehealth: Telehealth
) -> None:
    doctor, patient = windows
    join_both(qtbot, doctor, patient)
    qtbot.keyClicks(patient.call.chat_input, "I have a headache")
    qtbot.keyClick(patient.call.chat_input, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: doctor.call.chat_list.count() == 1)
    assert doctor.call.chat_list.item(0).text().endswith("I have a headache")
    assert doctor.call.chat_list.item(0).text().startswith("Patient")
    assert patient.call.chat_list.item(0).text().startswith("You")
    qtbot.keyClicks(doctor.call.chat_input, "Since when?")
    qtbot.mouseClick(doctor.call.send, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: patient.call.chat_list.count() == 2)
    with telehealth.desk.store.reading() as session:
        bodies = [m.body for m in session.scalars(select(ChatMessage).order_by(ChatMessage.sent_at))]
    assert bodies == ["I have a headache", "Since when?"]
    # Times in the clinic's zone (Europe/Berlin here), not this machine's (UTC here) nor UTC.
    with telehealth.desk.store.reading() as session:
        first = session.scalars(select(ChatMessage).order_by(ChatMessage.sent_at)).first()
        zone = ZoneInfo(current_clinic(session).timezone)
    assert first is not None
    shown = f"({first.sent_at.astimezone(zone):%H:%M})"
    assert shown in patient.call.chat_list.item(0).text() and shown in doctor.call.chat_list.item(0).text()


def test_the_doctor_sees_the_summary_and_saves_notes(
    qtbot: Any, windows: Any, telehealth: Telehealth
) -> None:
    doctor, patient = windows
    assert patient.call.doctor_panel is None  # the kiosk shows nothing of the record
    panel = doctor.call.doctor_panel
    assert panel is not None
    wait_for(qtbot, lambda: panel.history is not None, 5)
    assert "Asha Verma" in panel.summary.text()
    panel.notes.setPlainText("Headache for two days.")
    qtbot.mouseClick(panel.save, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: panel.saved.text() == "Notes saved.", 5)
    from desktop.store.models import Consultation

    with telehealth.desk.store.reading() as session:
        assert session.get(Consultation, telehealth.consultation_id).notes == "Headache for two days."


def visible_widgets(window: QWidget) -> list[QWidget]:
    return [w for w in window.findChildren(QWidget) if w.isVisible()]


def texts(window: QWidget) -> list[str]:
    found = []
    for w in visible_widgets(window):
        if isinstance(w, (QLabel, QAbstractButton)) and w.text().strip():
            found.append(w.text())
    return found


def check_no_elision_and_names(window: QWidget) -> None:
    for w in visible_widgets(window):
        if isinstance(w, (QAbstractButton, QLineEdit, QPlainTextEdit, QListWidget)):
            assert w.accessibleName(), f"{type(w).__name__} {w.objectName()} has no accessible name"
        if isinstance(w, QLabel) and w.text() and not w.wordWrap():
            needed = w.fontMetrics().horizontalAdvance(w.text().split("\n")[0])
            assert needed <= w.width(), f"label {w.text()!r} is cut: {needed} > {w.width()}"
        if isinstance(w, QAbstractButton) and w.text():
            needed = w.fontMetrics().horizontalAdvance(w.text())
            assert needed <= w.width(), f"button {w.text()!r} is cut: {needed} > {w.width()}"


def test_every_screen_names_its_controls_cuts_no_label_and_speaks_spanish(
    qtbot: Any, windows: Any, make_app: AppFactory
) -> None:
    doctor, patient = windows
    for window in (doctor, patient):
        window.resize(1366, 768)
    pages: list[tuple[CallWindow, list[str]]] = []
    check_no_elision_and_names(doctor)
    english_precall = texts(doctor)
    join_both(qtbot, doctor, patient)
    qtbot.keyClicks(patient.call.chat_input, "Hello")
    qtbot.keyClick(patient.call.chat_input, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: doctor.call.chat_list.count() == 1)
    qtbot.wait(200)
    for window in (doctor, patient):
        check_no_elision_and_names(window)
        pages.append((window, texts(window)))
    doctor.ctx.translations.set_language("es")
    patient.ctx.translations.set_language("es")
    QCoreApplication.processEvents()
    for window, english in pages:
        check_no_elision_and_names(window)
        spanish = texts(window)
        unchanged = [
            text for text in spanish if text in english and not text[:1].isdigit() and "Asha" not in text
        ]
        assert not unchanged, f"not translated: {unchanged}"
    assert "Conectado" in doctor.call.status.text()
    assert english_precall  # the pre-call page was read in English first


def run_clinic(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
    )


def test_the_tour_draws_each_screen_of_each_side_in_both_languages(
    telehealth: Telehealth, tmp_path: Path
) -> None:
    t = telehealth
    out = Path(os.environ.get("CALL_TOUR_DIR", tmp_path / "tour"))
    with t.kiosk.store.reading() as session:
        code = session.get(Appointment, t.appointment_id).code
    for device, size in ((t.kiosk, (1920, 1080)), (t.desk, (1366, 768))):
        done = run_clinic("--data-dir", str(device.store.data_dir), "call", code, "--tour", str(out))
        assert done.returncode == 0, done.stderr
        kind = device.kind
        for screen in ("precall", "waiting", "connected", "ended"):
            for language in ("en", "es"):
                picture = QImage(str(out / f"call-{kind}-{screen}-{language}.png"))
                assert (picture.width(), picture.height()) == size, (kind, screen, language)


def test_recording_starts_only_after_both_allow_it(qtbot: Any, windows: Any, telehealth: Telehealth) -> None:
    doctor, patient = windows
    join_both(qtbot, doctor, patient)
    wait_for(qtbot, lambda: doctor.call.remote.frames > 10)
    qtbot.mouseClick(doctor.call.consent, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: patient.consents["doctor"], 5)
    assert patient.call.recording_label.text() == "Waiting for both to allow recording"
    qtbot.wait(500)
    assert not doctor.recording and not (telehealth.desk.store.data_dir / "recordings").exists()
    qtbot.mouseClick(patient.call.consent, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: doctor.recording, 10)
    assert doctor.call.recording_label.text() == "Recording"
    path = doctor.controller.session.recording_path
    assert path is not None and path.parent == telehealth.desk.store.data_dir / "recordings"
    qtbot.wait(1500)
    qtbot.mouseClick(doctor.call.consent, Qt.MouseButton.LeftButton)  # withdrawn: the recording stops
    wait_for(qtbot, lambda: not doctor.recording, 10)
    assert doctor.call.recording_label.text() != "Recording"
    assert path.exists() and path.stat().st_size > 10_000


def test_after_a_crash_a_kiosk_window_opened_again_shows_the_chat_again(
    qtbot: Any, windows: Any, telehealth: Telehealth, make_app: AppFactory
) -> None:
    doctor, patient = windows
    join_both(qtbot, doctor, patient)
    qtbot.keyClicks(patient.call.chat_input, "Can you hear me?")
    qtbot.keyClick(patient.call.chat_input, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: doctor.call.chat_list.count() == 1)
    link, ctx = patient.link, patient.ctx
    patient.controller.loop.stop()  # the kiosk's media goes without a goodbye, as in a crash
    patient.hide()
    negotiations = doctor.controller.session.negotiations
    again = open_call_window(ctx, link)
    qtbot.addWidget(again)
    qtbot.mouseClick(again.precall.join_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: again.state == CallState.CONNECTED, 20)
    assert doctor.controller.session.negotiations > negotiations  # a fresh connection to the new kiosk
    wait_for(qtbot, lambda: again.call.chat_list.count() == 1, 10)  # sent back by the doctor's side
    assert again.call.chat_list.item(0).text().endswith("Can you hear me?")
    again.close()


def test_clinic_call_says_what_it_needs(telehealth: Telehealth) -> None:
    t = telehealth
    desk = str(t.desk.store.data_dir)
    offscreen = run_clinic("--data-dir", desk, "call", "APT-NOPE1")
    assert offscreen.returncode == 2 and "there is no display here" in offscreen.stderr
    unknown = run_clinic("--data-dir", desk, "call", "APT-NOPE1", "--tour", "/tmp/never")
    assert unknown.returncode != 0 and "No appointment APT-NOPE1" in unknown.stderr
