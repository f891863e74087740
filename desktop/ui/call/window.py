"""The call window: the pre-call check, then the call (the far side large, the preview small, the
controls, the timer, the waiting room's status, the quality, the chat; on the doctor's side the
patient's summary and the consultation notes), then "the call has ended".

Opened with one call, `open_call_window(ctx, link)`: the kiosk and desk screens use it, and
`clinic call CODE`. Media reaches it only through `CallController`'s queued signals.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.media.qt_sink import AudioOut
from desktop.media.tracks import AUDIO_RATE
from desktop.services import consultations, patients
from desktop.services.common import Actor
from desktop.ui.call.controller import CallController, CallLink, CallState, ChatLine
from desktop.ui.call.video import VideoView
from desktop.ui.context import UiContext
from desktop.ui.ops import WriteOp
from desktop.ui.theme import icon

SPEAKER_TEST_S = 1.0
SIDE_HEADINGS = "QLabel#sideHeading { font-weight: bold; }"
# The patient's side (a kiosk at 1080p, often a patient of 70): larger type than the desk's.
PATIENT_STYLE = """
QLabel, QPushButton, QLineEdit, QListWidget, QPlainTextEdit { font-size: 26px; }
QLabel[role="heading"] { font-size: 38px; }
QPushButton { min-height: 90px; padding: 0 24px; }
QLineEdit { min-height: 64px; }
QLabel#waitingOverlay { font-size: 40px; }
"""


def state_text(state: str) -> str:
    return {
        CallState.IDLE: QCoreApplication.translate("CallWindow", "Ready to join."),
        CallState.WAITING: QCoreApplication.translate(
            "CallWindow", "Waiting for the other person to join. Please stay on this screen."
        ),
        CallState.CONNECTING: QCoreApplication.translate("CallWindow", "Connecting…"),
        CallState.CONNECTED: QCoreApplication.translate("CallWindow", "Connected"),
        CallState.RECONNECTING: QCoreApplication.translate(
            "CallWindow", "The connection dropped. Reconnecting…"
        ),
        CallState.ENDED: QCoreApplication.translate("CallWindow", "The call has ended."),
    }[CallState(state)]


def quality_text(quality: str) -> str:
    return {
        "good": QCoreApplication.translate("CallWindow", "Connection: good"),
        "fair": QCoreApplication.translate("CallWindow", "Connection: fair"),
        "poor": QCoreApplication.translate("CallWindow", "Connection: poor"),
    }[quality]


def role_text(role: str) -> str:
    if role == "doctor":
        return QCoreApplication.translate("CallWindow", "Doctor")
    return QCoreApplication.translate("CallWindow", "Patient")


def tone_bytes(seconds: float, frequency: float = 660.0) -> bytes:
    samples = np.arange(int(AUDIO_RATE * seconds)) / AUDIO_RATE
    wave = (0.3 * 32767 * np.sin(2 * math.pi * frequency * samples)).astype(np.int16)
    return np.repeat(wave, 2).tobytes()  # stereo


def _button(name: str, handler: Callable[[], None], *, checkable: bool = False) -> QPushButton:
    button = QPushButton()
    button.setObjectName(name)
    button.setCheckable(checkable)
    button.setMinimumHeight(56)
    button.clicked.connect(lambda _checked=False: handler())
    return button


class PrecallPage(QWidget):
    """Camera preview, microphone level, speaker test, server reachability, then Join."""

    def __init__(self, window: CallWindow) -> None:
        super().__init__()
        self.window_ = window
        self.heading = QLabel()
        self.heading.setProperty("role", "heading")
        self.preview = VideoView()
        self.preview.setMinimumSize(480, 270)
        self.camera_label = QLabel()
        self.mic_label = QLabel()
        self.mic_level = QProgressBar()
        self.mic_level.setRange(0, 100)
        self.mic_level.setTextVisible(False)
        self.speaker_button = _button("speakerTest", self.test_speaker)
        self.server_label = QLabel()
        self.server_label.setWordWrap(True)
        self.join_button = _button("join", window.join)
        self.join_button.setMinimumHeight(72)
        checks = QVBoxLayout()
        for widget in (
            self.camera_label,
            self.mic_label,
            self.mic_level,
            self.speaker_button,
            self.server_label,
        ):
            checks.addWidget(widget)
        checks.addStretch(1)
        checks.addWidget(self.join_button)
        row = QHBoxLayout()
        row.addWidget(self.preview, 3)
        row.addLayout(checks, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.addWidget(self.heading)
        layout.addLayout(row, 1)
        self.server_ok: bool | None = None
        self.has_camera = window.controller.sources.camera is not None
        self.has_microphone = window.controller.sources.microphone is not None

    def test_speaker(self) -> None:
        self.window_.audio_out().play(tone_bytes(SPEAKER_TEST_S))

    def translate_ui(self) -> None:
        self.heading.setText(
            QCoreApplication.translate(
                "CallWindow", "Before you join: check your camera, microphone and speaker"
            )
        )
        self.camera_label.setText(
            QCoreApplication.translate("CallWindow", "Camera: you should see yourself.")
            if self.has_camera
            else QCoreApplication.translate("CallWindow", "No camera: the other person will not see you.")
        )
        self.mic_label.setText(
            QCoreApplication.translate("CallWindow", "Microphone: the bar moves when you speak.")
            if self.has_microphone
            else QCoreApplication.translate(
                "CallWindow", "No microphone: the other person will not hear you. Use the chat."
            )
        )
        self.speaker_button.setText(QCoreApplication.translate("CallWindow", "Test the speaker"))
        self.speaker_button.setToolTip(
            QCoreApplication.translate("CallWindow", "Plays a short tone: you should hear it.")
        )
        self.speaker_button.setAccessibleName(QCoreApplication.translate("CallWindow", "Test the speaker"))
        self.join_button.setText(QCoreApplication.translate("CallWindow", "Join the call"))
        self.join_button.setToolTip(QCoreApplication.translate("CallWindow", "Enter the call's waiting room"))
        self.join_button.setAccessibleName(QCoreApplication.translate("CallWindow", "Join the call"))
        self.mic_level.setAccessibleName(QCoreApplication.translate("CallWindow", "Microphone level"))
        if self.server_ok is None:
            self.server_label.setText(
                QCoreApplication.translate("CallWindow", "Checking the connection to the clinic…")
            )
        elif self.server_ok:
            self.server_label.setText(
                QCoreApplication.translate("CallWindow", "The clinic's server can be reached.")
            )
        else:
            self.server_label.setText(
                QCoreApplication.translate(
                    "CallWindow", "The clinic's server cannot be reached. Check the network, then try again."
                )
            )


class CallPage(QWidget):
    def __init__(self, window: CallWindow) -> None:
        super().__init__()
        controller = window.controller
        self.status = QLabel()
        self.status.setObjectName("callStatus")
        self.status.setProperty("role", "heading")
        self.status.setWordWrap(True)
        self.timer_label = QLabel("00:00")
        self.timer_label.setObjectName("callTimer")
        self.quality = QLabel()
        self.quality.setObjectName("callQuality")
        self.recording_label = QLabel()
        top = QHBoxLayout()
        top.setSpacing(32)
        top.addWidget(self.status, 1)
        top.addWidget(self.recording_label)
        top.addWidget(self.quality)
        top.addWidget(self.timer_label)

        self.remote = VideoView()
        self.remote.setMinimumSize(320, 180)
        self.overlay = QLabel(self.remote)  # the waiting room's words, on the empty picture
        self.overlay.setObjectName("waitingOverlay")
        self.overlay.setWordWrap(True)
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setStyleSheet("color: #ffffff; background: transparent; font-size: 30px;")
        self.local = VideoView(self.remote)  # the preview, small, in the far side's corner
        self.local.resize(200, 113)
        self.remote.installEventFilter(self)  # the preview and the words follow the picture's size
        controller.remote.video.connect(self.remote.show_frame)
        controller.local.video.connect(self.local.show_frame)

        self.mute = _button("mute", window.toggle_mute, checkable=True)
        self.camera = _button("camera", window.toggle_camera, checkable=True)
        self.chat_button = _button("chat", window.toggle_chat, checkable=True)
        self.share = _button("share", window.toggle_share, checkable=True)
        self.consent = _button("consent", window.toggle_consent, checkable=True)
        self.share.setVisible(controller.role == "doctor")  # a kiosk's screen is the kiosk itself
        self.hang_up = _button("end", window.ask_to_end)
        self.hang_up.setProperty("role", "danger")
        controls = QHBoxLayout()
        for button in (self.mute, self.camera, self.chat_button, self.share, self.consent):
            controls.addWidget(button)
        controls.addStretch(1)
        controls.addWidget(self.hang_up)

        self.chat_panel = QWidget()
        self.chat_heading = QLabel()
        self.chat_heading.setObjectName("sideHeading")
        self.chat_list = QListWidget()
        self.chat_list.setWordWrap(True)
        self.chat_list.setMinimumHeight(120)
        self.typing_label = QLabel()
        self.typing_label.setProperty("role", "muted")
        self.chat_input = QLineEdit()
        self.chat_input.setObjectName("chatInput")
        self.chat_input.returnPressed.connect(window.send_chat)
        self.chat_input.textEdited.connect(lambda text: controller.set_typing(bool(text)))
        self.send = _button("send", window.send_chat)
        send_row = QHBoxLayout()
        send_row.addWidget(self.chat_input, 1)
        send_row.addWidget(self.send)
        chat_layout = QVBoxLayout(self.chat_panel)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addWidget(self.chat_heading)
        chat_layout.addWidget(self.chat_list, 1)
        chat_layout.addWidget(self.typing_label)
        chat_layout.addLayout(send_row)

        side = QVBoxLayout()
        self.doctor_panel: DoctorPanel | None = None
        if controller.role == "doctor" and window.link.consultation_id and window.actor is not None:
            self.doctor_panel = DoctorPanel(window)
            side.addWidget(self.doctor_panel, 1)
        side.addWidget(self.chat_panel, 1)
        self.side = QWidget()
        self.side.setLayout(side)
        self.side.setMinimumWidth(340)
        self.side.setMaximumWidth(480)

        middle = QHBoxLayout()
        middle.addWidget(self.remote, 3)
        middle.addWidget(self.side, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        layout.addLayout(controls)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.remote and event.type() == QEvent.Type.Resize:
            self._place_preview()
        return False

    def _place_preview(self) -> None:
        self.overlay.setGeometry(self.remote.rect().adjusted(48, 48, -48, -48))
        width = max(160, self.remote.width() // 4)
        self.local.resize(width, width * 9 // 16)
        self.local.move(
            self.remote.width() - self.local.width() - 12, self.remote.height() - self.local.height() - 12
        )

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._place_preview()


class DoctorPanel(QWidget):
    """The patient's summary and the consultation notes, read and written through the services."""

    def __init__(self, window: CallWindow) -> None:
        super().__init__()
        self.window_ = window
        self.heading = QLabel()
        self.heading.setObjectName("sideHeading")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.notes_heading = QLabel()
        self.notes_heading.setObjectName("sideHeading")
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("notes")
        self.notes.setMaximumHeight(120)
        self.save = _button("saveNotes", self.save_notes)
        self.saved = QLabel()
        self.saved.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.heading, self.summary, self.notes_heading, self.notes):
            layout.addWidget(widget)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.saved, 1)
        layout.addLayout(row)
        self.history: Any = None
        save = QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self)
        save.setContext(Qt.ShortcutContext.WindowShortcut)
        save.activated.connect(self.save_notes)
        self.load()

    def load(self) -> None:
        link, actor = self.window_.link, self.window_.actor
        assert actor is not None and link.patient_id is not None

        def read(uow: Any) -> Any:
            return patients.history(uow, actor=actor, patient_id=link.patient_id)  # an audited read

        WriteOp(self, read).success(self._show).run(self.window_.ctx.ops)

    def _show(self, history: Any) -> None:
        self.history = history
        current = next((c for c in history.consultations if c.id == self.window_.link.consultation_id), None)
        if current is not None and not self.notes.toPlainText():
            self.notes.setPlainText(current.notes)
        self.translate_ui()

    def save_notes(self) -> None:
        actor, consultation_id = self.window_.actor, self.window_.link.consultation_id
        assert actor is not None and consultation_id is not None
        text = self.notes.toPlainText()

        def write(uow: Any) -> Any:
            return consultations.save_notes(uow, actor=actor, consultation_id=consultation_id, notes=text)

        WriteOp(self, write).success(
            lambda _r: self.saved.setText(QCoreApplication.translate("CallWindow", "Notes saved."))
        ).run(self.window_.ctx.ops)

    def translate_ui(self) -> None:
        self.heading.setText(QCoreApplication.translate("CallWindow", "Patient"))
        self.notes_heading.setText(QCoreApplication.translate("CallWindow", "Consultation notes"))
        self.notes.setAccessibleName(QCoreApplication.translate("CallWindow", "Consultation notes"))
        self.save.setText(QCoreApplication.translate("CallWindow", "Save notes"))
        self.save.setToolTip(
            QCoreApplication.translate("CallWindow", "Save the notes to the consultation (Ctrl+S)")
        )
        self.save.setAccessibleName(QCoreApplication.translate("CallWindow", "Save notes"))
        if self.history is None:
            self.summary.setText(QCoreApplication.translate("CallWindow", "Loading…"))
            return
        patient = self.history.patient
        today = self.window_.ctx.now().date()
        born = patient.birth_date
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        allergies = patient.allergies or QCoreApplication.translate("CallWindow", "none recorded")
        self.summary.setText(
            QCoreApplication.translate("CallWindow", "%1, %2 years\nAllergies: %3\nEarlier consultations: %4")
            .replace("%1", patient.full_name)
            .replace("%2", str(age))
            .replace("%3", allergies)
            .replace("%4", str(max(0, len(self.history.consultations) - 1)))
        )


class EndedPage(QWidget):
    def __init__(self, window: CallWindow) -> None:
        super().__init__()
        self.message = QLabel()
        self.message.setProperty("role", "heading")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.close_button = _button("close", window.close)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)

    def translate_ui(self) -> None:
        self.message.setText(QCoreApplication.translate("CallWindow", "The call has ended. Thank you."))
        self.close_button.setText(QCoreApplication.translate("CallWindow", "Close this window"))
        self.close_button.setAccessibleName(QCoreApplication.translate("CallWindow", "Close this window"))


class CallWindow(QMainWindow):
    def __init__(
        self,
        ctx: UiContext,
        link: CallLink,
        *,
        actor: Actor | None = None,
        server_check: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.link = link
        self.actor = actor
        self.controller = CallController(link, self)
        self.connected_at: float | None = None
        self.confirm_box: QMessageBox | None = None
        self._audio: AudioOut | None = None
        self.stack = QStackedWidget()
        self.precall = PrecallPage(self)
        self.call = CallPage(self)
        self.ended = EndedPage(self)
        for page in (self.precall, self.call, self.ended):
            self.stack.addWidget(page)
        self.setCentralWidget(self.stack)
        self.setWindowIcon(icon("clinicdesk"))
        self.setStyleSheet(SIDE_HEADINGS + (PATIENT_STYLE if link.role == "patient" else ""))
        self.chat_lines: list[ChatLine] = []
        self.state = CallState.IDLE.value
        self.quality: str | None = None
        self.consents: dict[str, bool] = {"doctor": False, "patient": False}
        self.recording = False
        self.muted = self.camera_off = False  # what was asked (the session follows on its loop)
        self._shortcuts = self._make_shortcuts()
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._tick)
        self._clock.start(1000)
        c = self.controller
        c.local.video.connect(self.precall.preview.show_frame)
        c.mic_level.connect(self.precall.mic_level.setValue)
        c.state_changed.connect(self._on_state)
        c.chat.connect(self._on_chat)
        c.typing.connect(self._on_typing)
        c.stats.connect(self._on_stats)
        c.consent.connect(self._on_consent)
        c.recording.connect(self._on_recording)
        c.finished.connect(self._on_finished)
        c.remote.audio.connect(self._play)
        ctx.signals.language_changed.connect(lambda _language: self.translate_ui())
        self.translate_ui()
        c.server_checked.connect(self._set_server)
        c.check_server(server_check)

    # -- the pre-call check ------------------------------------------------------------------------

    def _set_server(self, reachable: bool) -> None:
        self.precall.server_ok = reachable
        self.precall.translate_ui()

    def audio_out(self) -> AudioOut:
        if self._audio is None:
            self._audio = AudioOut(parent=self)
        return self._audio

    def _play(self, data: bytes) -> None:
        self.audio_out().play(data)

    # -- controls ----------------------------------------------------------------------------------

    def _make_shortcuts(self) -> dict[str, QShortcut]:
        made = {}
        for key, handler in (
            ("Space", self.toggle_mute),
            ("V", self.toggle_camera),
            ("C", self.toggle_chat),
            ("S", self.toggle_share),
            ("Esc", self.ask_to_end),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(self._only_in_call(handler))
            made[key] = shortcut
        return made

    def _only_in_call(self, handler: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            if self.stack.currentWidget() is self.call:
                handler()

        return run

    def join(self) -> None:
        self.stack.setCurrentWidget(self.call)
        self.controller.join()
        self.translate_ui()

    def toggle_mute(self) -> None:
        self.muted = muted = not self.muted
        self.call.mute.setChecked(muted)
        self.controller.set_muted(muted)
        self.translate_ui()

    def toggle_camera(self) -> None:
        self.camera_off = off = not self.camera_off
        self.call.camera.setChecked(off)
        self.controller.set_camera_off(off)
        self.translate_ui()

    def toggle_chat(self) -> None:
        shown = not self.call.chat_panel.isVisible()
        self.call.chat_panel.setVisible(shown)
        self.call.chat_button.setChecked(shown)
        if shown:
            self.call.chat_input.setFocus()

    def toggle_share(self) -> None:
        if not self.call.share.isVisibleTo(self.call):
            return
        sharing = not self.call.share.property("sharing")
        self.call.share.setProperty("sharing", sharing)
        self.call.share.setChecked(sharing)
        self.controller.share_screen(sharing)
        self.translate_ui()

    def toggle_consent(self) -> None:
        given = not self.consents[self.controller.role]
        self.call.consent.setChecked(given)
        self.controller.consent_to_recording(given)

    def send_chat(self) -> None:
        text = self.call.chat_input.text().strip()
        if text:
            self.controller.send_chat(text)
            self.call.chat_input.clear()
            self.controller.set_typing(False)

    def ask_to_end(self) -> None:
        """Esc and the red button: ask first; the call ends only after "End the call"."""
        if self.confirm_box is not None and self.confirm_box.isVisible():
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(QCoreApplication.translate("CallWindow", "End the call?"))
        box.setText(QCoreApplication.translate("CallWindow", "Do you want to end the call?"))
        yes = box.addButton(
            QCoreApplication.translate("CallWindow", "End the call"), QMessageBox.ButtonRole.AcceptRole
        )
        no = box.addButton(
            QCoreApplication.translate("CallWindow", "Stay in the call"), QMessageBox.ButtonRole.RejectRole
        )
        yes.setAccessibleName(QCoreApplication.translate("CallWindow", "End the call"))
        no.setAccessibleName(QCoreApplication.translate("CallWindow", "Stay in the call"))
        box.setDefaultButton(no)
        box.setEscapeButton(no)
        box.buttonClicked.connect(lambda button: self.controller.end() if button is yes else None)
        self.confirm_box = box
        box.open()

    # -- what the call says ------------------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        self.state = state
        if state == CallState.CONNECTED and self.connected_at is None:
            self.connected_at = time.monotonic()
        self.translate_ui()

    def _on_chat(self, line: ChatLine) -> None:
        if any(seen.id == line.id for seen in self.chat_lines):
            return
        self.chat_lines.append(line)
        self.chat_lines.sort(key=lambda seen: (seen.sent_at, seen.id))
        self._show_chat()

    def _show_chat(self) -> None:
        self.call.chat_list.clear()
        for line in self.chat_lines:
            who = (
                QCoreApplication.translate("CallWindow", "You")
                if line.role == self.controller.role
                else role_text(line.role)
            )
            local = line.sent_at.astimezone(ZoneInfo(self.link.timezone))
            self.call.chat_list.addItem(f"{who} ({local:%H:%M}): {line.body}")
        self.call.chat_list.scrollToBottom()

    def _on_typing(self, on: bool) -> None:
        self.call.typing_label.setText(
            QCoreApplication.translate("CallWindow", "The other person is typing…") if on else ""
        )

    def _on_stats(self, stats: Any) -> None:
        self.quality = stats.quality
        self.call.quality.setText(quality_text(stats.quality))

    def _on_consent(self, role: str, given: bool) -> None:
        self.consents[role] = given
        self.translate_ui()

    def _on_recording(self, path: Any) -> None:
        self.recording = path is not None
        self.translate_ui()

    def _on_finished(self) -> None:
        self.state = CallState.ENDED.value
        if self.confirm_box is not None:
            self.confirm_box.done(0)
        self.stack.setCurrentWidget(self.ended)
        self.translate_ui()

    def _tick(self) -> None:
        if self.connected_at is not None and self.state != CallState.ENDED:
            seconds = int(time.monotonic() - self.connected_at)
            self.call.timer_label.setText(f"{seconds // 60:02d}:{seconds % 60:02d}")

    # -- words -------------------------------------------------------------------------------------

    def translate_ui(self) -> None:
        self.setWindowTitle(QCoreApplication.translate("CallWindow", "ClinicDesk — video consultation"))
        self.precall.translate_ui()
        self.ended.translate_ui()
        page = self.call
        # While there is no picture the state is said in large words on it, not twice.
        waiting = self.state in (CallState.WAITING, CallState.CONNECTING, CallState.RECONNECTING)
        page.overlay.setText(state_text(self.state) if waiting else "")
        page.status.setText("" if waiting else state_text(self.state))
        page.timer_label.setToolTip(QCoreApplication.translate("CallWindow", "How long the call has lasted"))
        page.timer_label.setAccessibleName(QCoreApplication.translate("CallWindow", "Call time"))
        if self.quality is not None:
            page.quality.setText(quality_text(self.quality))
        labels = (
            (
                page.mute,
                QCoreApplication.translate("CallWindow", "Unmute")
                if self.muted
                else QCoreApplication.translate("CallWindow", "Mute"),
                QCoreApplication.translate("CallWindow", "Turn your microphone off or on (Space)"),
            ),
            (
                page.camera,
                QCoreApplication.translate("CallWindow", "Camera on")
                if self.camera_off
                else QCoreApplication.translate("CallWindow", "Camera off"),
                QCoreApplication.translate("CallWindow", "Turn your camera off or on (V)"),
            ),
            (
                page.chat_button,
                QCoreApplication.translate("CallWindow", "Chat"),
                QCoreApplication.translate("CallWindow", "Show or hide the chat (C)"),
            ),
            (
                page.share,
                QCoreApplication.translate("CallWindow", "Stop sharing")
                if page.share.property("sharing")
                else QCoreApplication.translate("CallWindow", "Share screen"),
                QCoreApplication.translate("CallWindow", "Show your screen instead of your camera (S)"),
            ),
            (
                page.consent,
                QCoreApplication.translate("CallWindow", "Withdraw consent")
                if self.consents[self.controller.role]
                else QCoreApplication.translate("CallWindow", "Allow recording"),
                QCoreApplication.translate(
                    "CallWindow", "The call is recorded only when both of you allow it"
                ),
            ),
            (
                page.hang_up,
                QCoreApplication.translate("CallWindow", "End call"),
                QCoreApplication.translate("CallWindow", "End the call (Esc); you will be asked first"),
            ),
            (
                page.send,
                QCoreApplication.translate("CallWindow", "Send"),
                QCoreApplication.translate("CallWindow", "Send the message (Enter)"),
            ),
        )
        for button, text, tip in labels:
            button.setText(text)
            button.setToolTip(tip)
            button.setAccessibleName(text)
        page.chat_heading.setText(QCoreApplication.translate("CallWindow", "Chat"))
        page.chat_list.setAccessibleName(QCoreApplication.translate("CallWindow", "Chat messages"))
        page.chat_input.setAccessibleName(QCoreApplication.translate("CallWindow", "Write a message"))
        page.chat_input.setPlaceholderText(QCoreApplication.translate("CallWindow", "Write a message"))
        page.remote.setAccessibleName(QCoreApplication.translate("CallWindow", "The other person's video"))
        page.local.setAccessibleName(QCoreApplication.translate("CallWindow", "Your camera"))
        self.precall.preview.setAccessibleName(QCoreApplication.translate("CallWindow", "Your camera"))
        if self.recording:
            page.recording_label.setText(QCoreApplication.translate("CallWindow", "Recording"))
        elif all(self.consents.values()) or not any(self.consents.values()):
            page.recording_label.setText("")
        else:
            page.recording_label.setText(
                QCoreApplication.translate("CallWindow", "Waiting for both to allow recording")
            )
        if page.doctor_panel is not None:
            page.doctor_panel.translate_ui()
        self._show_chat()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._clock.stop()
        self.controller.close()
        if self._audio is not None:
            self._audio.stop()
        super().closeEvent(event)


def open_call_window(
    ctx: UiContext,
    link: CallLink,
    *,
    actor: Actor | None = None,
    server_check: Callable[[], bool] | None = None,
) -> CallWindow:
    """The one way to open a call: the window opens on its pre-call check; "Join" enters the call."""
    window = CallWindow(ctx, link, actor=actor, server_check=server_check)
    window.resize(1366, 768)
    window.show()
    return window
