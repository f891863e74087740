"""The waiting-room board on one device: calls shown large with their room, the next tokens per
room, no patient names, each call announced once (Qt's mock speech engine) after a chime that
really reaches a sound device (a PulseAudio null sink), both languages, and its tour."""

from __future__ import annotations

import array
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtGui import QFontMetrics, QImage

from desktop.app import App
from desktop.services import patients, queue
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from desktop.ui.board.screen import BoardScreen
from desktop.ui.tour import render_tour
from tests.fixtures.ui import AppFactory, audio_sink, make_app  # noqa: F401
from tests.support import ClinicSetup, Clock
from tests.ui_checks import elided_labels, unnamed_interactive_widgets, visible_strings

NAMES = ("Zebedee Quartermaine", "Ottilie Vandersloot", "Hildegard Popescu")


def waiting_patients(store: LocalStore, clinic: ClinicSetup) -> list[str]:
    """Three patients with tokens: two for Dr Weber (room 1), one for Dr Otto (room 2)."""
    ids = []
    with store.unit_of_work() as uow:
        for name, doctor in zip(NAMES, (clinic.doctor_a, clinic.doctor_a, clinic.doctor_b), strict=True):
            patient = patients.register(uow, actor=SYSTEM, full_name=name, birth_date=_birth())
            token = queue.issue_token(uow, actor=clinic.desk, patient_id=patient.id, clinician_id=doctor)
            ids.append(token.id)
    return ids


def _birth() -> Any:
    from datetime import date

    return date(1950, 6, 1)


def call(store: LocalStore, clinic: ClinicSetup, token_id: str) -> None:
    with store.unit_of_work() as uow:
        queue.call(uow, actor=clinic.doctor, token_id=token_id)


def board_of(app: App) -> BoardScreen:
    screen = app.window.screens[0]
    assert isinstance(screen, BoardScreen)
    return screen


def shown_board(qtbot: Any, app: App) -> BoardScreen:
    app.window.resize(1920, 1080)
    app.window.show()
    board = board_of(app)
    qtbot.waitUntil(lambda: board.view is not None, timeout=5000)
    return board


def called_codes(board: BoardScreen) -> list[str]:
    return [row.code for row in board.called.rows]


class Spoken:
    """What the mock speech engine was asked to say, word by word, one list per announcement."""

    def __init__(self, board: BoardScreen):
        self.said: list[list[str]] = []
        speech = board.announcer.speech
        assert speech is not None and speech.engine() == "mock"
        speech.aboutToSynthesize.connect(lambda _id: self.said.append([]))
        speech.sayingWord.connect(lambda word, _id, _start, _length: self.said[-1].append(word))


def test_the_board_shows_calls_and_next_tokens_and_no_patient_names(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    tokens = waiting_patients(store, clinic)
    board = shown_board(qtbot, make_app(store))
    assert called_codes(board) == []
    assert [(r.room, r.codes) for r in board.upcoming.rows] == [("1", ("A-001", "A-002")), ("2", ("A-003",))]
    assert board.no_calls.isVisible()

    call(store, clinic, tokens[0])
    qtbot.waitUntil(lambda: called_codes(board) == ["A-001"], timeout=5000)
    token_label, room_label = board.call_rows[0]
    assert token_label.text() == "A\u2011001" and room_label.text() == "Room 1"
    assert not board.no_calls.isVisible()

    everything = " ".join(visible_strings(board).values()) + repr(board.view)
    for name in NAMES:
        for part in name.split():
            assert part not in everything
    assert board.clinic_name.text() == "Praxis am Park"
    assert board.clock.text() == "07:00"  # the clinic's time (the tests' clock)


def test_each_call_is_announced_once_after_a_chime_and_a_recall_again(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory, clock: Clock
) -> None:
    tokens = waiting_patients(store, clinic)
    board = shown_board(qtbot, make_app(store))
    spoken = Spoken(board)
    chimes: list[bool] = []
    board.announcer.chimed.connect(lambda: chimes.append(True))

    call(store, clinic, tokens[0])
    call(store, clinic, tokens[2])  # two calls at once: one after the other
    qtbot.waitUntil(lambda: len(spoken.said) == 2 and not board.announcer.busy, timeout=15000)
    assert spoken.said == [["Token", "A", "001", "room", "1"], ["Token", "A", "003", "room", "2"]]
    assert len(chimes) == 2

    board.refresh()  # a reload with nothing new announces nothing
    board.ctx.ops.wait_idle()
    clock.advance(minutes=2)
    with store.unit_of_work() as uow:
        queue.recall(uow, actor=clinic.doctor, token_id=tokens[0])
    qtbot.waitUntil(lambda: len(spoken.said) == 3 and not board.announcer.busy, timeout=15000)
    assert spoken.said[2] == ["Token", "A", "001", "room", "1"]
    time.sleep(0.3)
    qtbot.wait(200)
    assert len(spoken.said) == 3


def test_the_chime_reaches_the_sound_device(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory, audio_sink: str
) -> None:
    from PySide6.QtMultimedia import QSoundEffect

    tokens = waiting_patients(store, clinic)
    board = shown_board(qtbot, make_app(store))
    qtbot.waitUntil(lambda: board.announcer.chime.status() == QSoundEffect.Status.Ready, timeout=5000)
    with Recording(audio_sink) as recording:
        call(store, clinic, tokens[0])
        qtbot.waitUntil(lambda: board.announcer.chime.isPlaying(), timeout=5000)
        # The chime reaches the sink a moment after Qt starts it (its output buffer): wait for it.
        qtbot.waitUntil(lambda: recording.loudest() > 3000, timeout=10_000)


class Recording:
    """What is played into `sink`, recorded from its monitor with parec as it arrives."""

    def __init__(self, sink: str):
        self.sink = sink
        self.data = bytearray()

    def __enter__(self) -> Recording:
        self.process = subprocess.Popen(
            [
                *("parec", "-d", f"{self.sink}.monitor", "--raw", "--latency-msec=20"),
                *("--format=s16le", "--channels=1", "--rate=22050"),
            ],
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 15  # connected to the monitor (slow on a busy machine)
        while f'application.process.id = "{self.process.pid}"' not in _recording_streams():
            assert time.monotonic() < deadline, "parec did not start recording"
            time.sleep(0.05)
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read(4096):
            self.data.extend(chunk)

    def loudest(self) -> int:
        samples = array.array("h", bytes(self.data[: len(self.data) // 2 * 2]))
        return max((abs(s) for s in samples), default=0)

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _recording_streams() -> str:
    found = subprocess.run(
        ["pactl", "list", "source-outputs"], capture_output=True, text=True, timeout=20, check=False
    )
    return found.stdout


def test_switching_to_spanish_and_back_changes_every_visible_string(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    tokens = waiting_patients(store, clinic)
    call(store, clinic, tokens[0])
    app = make_app(store)
    board = shown_board(qtbot, app)
    board.set_stale(True)  # its warning is a string too
    data = (
        {board.clinic_name.text(), board.clock.text()}
        | {
            label.text()
            for label, _ in board.call_rows + board.next_rows
            if label.property("role") != "nextRoom"
        }
        | {tokens.text() for _, tokens in board.next_rows}
    )
    english = visible_strings(app.window)
    english_headers = [board.upcoming.headerData(i, _horizontal()) for i in range(2)]
    english_title = app.window.windowTitle()

    app.ctx.translations.set_language("es")
    spanish = visible_strings(app.window)
    assert spanish.keys() == english.keys()
    unchanged = {k: v for k, v in spanish.items() if v == english[k] and v not in data}
    assert not unchanged, unchanged
    assert "Llamando ahora" in spanish.values() and "Consulta 1" in spanish.values()
    assert [board.upcoming.headerData(i, _horizontal()) for i in range(2)] == ["Consulta", "Siguientes"]
    assert app.window.windowTitle() != english_title
    assert not elided_labels(app.window)

    app.ctx.translations.set_language("en")
    assert visible_strings(app.window) == english
    assert [board.upcoming.headerData(i, _horizontal()) for i in range(2)] == english_headers


def _horizontal() -> Any:
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


def test_no_label_is_elided_and_every_interactive_widget_is_named(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    tokens = waiting_patients(store, clinic)
    for token in tokens:
        call(store, clinic, token)
    app = make_app(store)
    board = shown_board(qtbot, app)
    board.set_stale(True)
    for language in ("en", "es"):
        app.ctx.translations.set_language(language)
        qtbot.wait(50)
        assert not elided_labels(app.window), language
        assert not unnamed_interactive_widgets(app.window), language


def test_the_tour_renders_the_board_in_each_language_large_enough_to_read(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory, tmp_path: Path
) -> None:
    tokens = waiting_patients(store, clinic)
    call(store, clinic, tokens[0])
    app = make_app(store)
    written = render_tour(app, tmp_path / "tour")
    names = {p.name for p in written}
    for language in ("en", "es"):
        assert f"board-main-{language}-standard.png" in names
        assert f"board-main-stale-{language}-high-contrast-large.png" in names
    for path in written:
        image = QImage(str(path))
        assert (image.width(), image.height()) == (1920, 1080), path
    token_label = board_of(app).call_rows[0][0]
    digits_high = QFontMetrics(token_label.font()).tightBoundingRect("A-017").height()
    assert digits_high >= 120  # readable from 5 m (UI-REVIEW.md)
