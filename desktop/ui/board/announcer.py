"""Chime and voice for each call, one after the other.

`announce(text)` queues an announcement: the chime (`QSoundEffect`), then the text spoken by
`QTextToSpeech` in the board's language when a voice exists. Two calls at once are said one after
the other. Without a sound device the chime is skipped; without a speech engine the board stays
silent but still shows the call.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from PySide6.QtCore import QLocale, QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QAudioDevice, QSoundEffect
from PySide6.QtTextToSpeech import QTextToSpeech

log = logging.getLogger(__name__)

CHIME_MS = 900  # the chime's length: speech starts after it
SILENT_GAP_MS = 1500  # between announcements when there is no voice


class Announcer(QObject):
    started = Signal(str)  # an announcement begins (its text)
    chimed = Signal()  # the chime was started on a sound device
    finished = Signal(str)

    def __init__(
        self,
        chime: Path,
        *,
        engine: str | None = None,
        output: QAudioDevice | None = None,
        parent: QObject | None = None,
    ):
        """`engine`: a `QTextToSpeech` engine (None: the platform's default); `output`: the sound
        device for the chime (None: the system's default output)."""
        super().__init__(parent)
        self._queue: deque[str] = deque()
        self._current: str | None = None
        self.chime = QSoundEffect(output, self) if output is not None else QSoundEffect(self)
        self.chime.setSource(QUrl.fromLocalFile(str(chime)))
        self.chime.setVolume(0.8)
        self._engine = engine
        self._speech: QTextToSpeech | None = None
        self._speech_made = False
        self._language: str | None = None
        self._next_timer = QTimer(self, singleShot=True)
        self._next_timer.timeout.connect(self._speak)

    @property
    def speech(self) -> QTextToSpeech | None:
        """The speech engine, made when first needed (connecting to it takes a while: not at
        start); None where there is none."""
        if not self._speech_made:
            self._speech_made = True
            self._speech = self._make_speech()
            if self._speech is not None:
                self._speech.stateChanged.connect(self._speech_state)
                if self._language is not None:
                    self.set_language(self._language)
        return self._speech

    def _make_speech(self) -> QTextToSpeech | None:
        engines = QTextToSpeech.availableEngines()
        if self._engine is not None and self._engine not in engines:
            log.warning("speech engine %s not available (have %s)", self._engine, engines)
            return None
        if not engines:
            return None
        speech = QTextToSpeech(self._engine, self) if self._engine else QTextToSpeech(self)
        return None if speech.state() == QTextToSpeech.State.Error else speech

    def set_language(self, language: str) -> None:
        """Speak in `language` when a voice for it exists; else the engine's default voice."""
        self._language = language
        if self._speech is None:
            return  # applied when the engine is made
        wanted = QLocale(language).language()
        for locale in self._speech.availableLocales():
            if locale.language() == wanted:
                self._speech.setLocale(locale)
                return

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._queue)

    def announce(self, text: str) -> None:
        self._queue.append(text)
        if self._current is None:
            self._start_next()

    def _start_next(self) -> None:
        if not self._queue:
            self._current = None
            return
        self._current = self._queue.popleft()
        self.started.emit(self._current)
        if self.chime.status() != QSoundEffect.Status.Error:
            self.chime.play()
            self.chimed.emit()
        self._next_timer.start(CHIME_MS)

    def _speak(self) -> None:
        text = self._current
        if text is None:
            return
        if self.speech is None or self.speech.state() == QTextToSpeech.State.Error:
            QTimer.singleShot(SILENT_GAP_MS, self._done)
            return
        self.speech.say(text)

    def _speech_state(self, state: QTextToSpeech.State) -> None:
        speaking_done = self._current is not None and not self._next_timer.isActive()
        if state == QTextToSpeech.State.Ready and speaking_done:
            self._done()
        elif state == QTextToSpeech.State.Error:
            log.warning("speech failed: %s", self._speech.errorString() if self._speech else "")
            self._done()

    def _done(self) -> None:
        if self._current is not None:
            self.finished.emit(self._current)
        self._current = None
        self._start_next()
