"""The board's one screen: the clinic and the time, tokens being called with their room (large),
the next tokens per room, and a warning when the board has not heard from the server for a while.

Token codes and rooms only: nothing about a patient reaches a public screen (the read service
returns no more). Each new call — a (token, called_at) the board has not announced — is announced
once; a recall moves `called_at` and is announced again. The calls already on the board when it
starts are shown, not announced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from desktop.resources import resource_path
from desktop.services.board import CALLING, BoardView, board_view
from desktop.ui.board.announcer import Announcer
from desktop.ui.board.model import ROOM_ROLE, CalledModel, UpcomingModel
from desktop.ui.board.words import announcement
from desktop.ui.context import UiContext
from desktop.ui.ops import ReadOp
from desktop.ui.screen import Screen
from desktop.ui.widgets.sync_badge import SyncBadge

STALE_AFTER = timedelta(seconds=60)  # no answer from the server for this long: say so
STALE_CHECK_MS = 5_000
ROOMS_SHOWN = 6
REMEMBERED_CALLS = 500


class BoardScreen(Screen):
    interests = frozenset({"queue_token", "clinician", "clinic"})

    def __init__(
        self,
        ctx: UiContext,
        *,
        announcer: Announcer | None = None,
        stale_after: timedelta = STALE_AFTER,
        stale_check_ms: int = STALE_CHECK_MS,
        parent: QWidget | None = None,
    ):
        super().__init__(ctx, parent)
        self.setObjectName("board")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.called = CalledModel()
        self.upcoming = UpcomingModel()
        self.view: BoardView | None = None
        self.announcer = announcer or Announcer(resource_path("sounds", "chime.wav"), parent=self)
        self.stale_after = stale_after
        self._announced: set[tuple[str, datetime]] | None = None  # None until the first load
        self._announced_order: deque[tuple[str, datetime]] = deque()
        self._build()
        self.called.modelReset.connect(self._show_called)
        self.called.dataChanged.connect(self._show_called)
        self.upcoming.modelReset.connect(self._show_upcoming)
        self.upcoming.dataChanged.connect(self._show_upcoming)
        self._clock_timer = QTimer(self, singleShot=True)
        self._clock_timer.timeout.connect(self._tick)
        self._stale_timer = QTimer(self, interval=stale_check_ms)
        self._stale_timer.timeout.connect(self.check_stale)
        self._stale_timer.start()
        if ctx.sync is not None:
            ctx.sync.status_changed.connect(self.badge.set_status)
            ctx.sync.heard_from_server.connect(lambda _at: self.check_stale())
            self.badge.set_status(ctx.sync.status)
        else:
            self.badge.hide()
        self.translate_ui()
        self._tick()
        self.check_stale()

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(40, 24, 40, 24)
        outer.setSpacing(16)

        header = QHBoxLayout()
        self.clinic_name = QLabel(objectName="clinicName")
        self.clock = QLabel(objectName="clock")
        header.addWidget(self.clinic_name, 1)
        header.addWidget(self.clock)
        outer.addLayout(header)
        outer.addWidget(_rule())

        body = QHBoxLayout()
        body.setSpacing(40)
        calls = QVBoxLayout()
        self.calling_heading = _label("boardHeading")
        calls.addWidget(self.calling_heading)
        self.calls_grid = QGridLayout()
        self.calls_grid.setHorizontalSpacing(48)
        self.calls_grid.setVerticalSpacing(0)
        self.call_rows: list[tuple[QLabel, QLabel]] = []
        for i in range(CALLING):
            token, room = _label("calledToken"), _label("calledRoom")
            room.setWordWrap(True)
            self.calls_grid.addWidget(token, i, 0)
            self.calls_grid.addWidget(room, i, 1)
            self.call_rows.append((token, room))
        self.calls_grid.setColumnStretch(1, 1)
        calls.addLayout(self.calls_grid)
        self.no_calls = _label("emptyCalls")
        self.no_calls.setWordWrap(True)
        calls.addWidget(self.no_calls)
        calls.addStretch(1)
        body.addLayout(calls, 2)

        upcoming = QVBoxLayout()
        self.next_heading = _label("boardHeading")
        upcoming.addWidget(self.next_heading)
        self.next_grid = QGridLayout()
        self.next_grid.setVerticalSpacing(6)
        self.next_rows: list[tuple[QLabel, QLabel]] = []
        for i in range(ROOMS_SHOWN):  # the room's name, its next tokens below it
            room, tokens = _label("nextRoom"), _label("nextTokens")
            tokens.setWordWrap(True)
            self.next_grid.addWidget(room, 2 * i, 0)
            self.next_grid.addWidget(tokens, 2 * i + 1, 0)
            self.next_rows.append((room, tokens))
        upcoming.addLayout(self.next_grid)
        upcoming.addStretch(1)
        body.addLayout(upcoming, 1)
        outer.addLayout(body, 1)

        footer = QHBoxLayout()
        self.stale_warning = QLabel(objectName="staleWarning")
        self.stale_warning.setWordWrap(True)
        self.stale_warning.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.stale_warning.hide()
        self.badge = SyncBadge()
        footer.addWidget(self.stale_warning, 1)
        footer.addStretch(0)
        footer.addWidget(self.badge)
        outer.addLayout(footer)

    # -- data -------------------------------------------------------------------------------

    def load(self) -> None:
        op = ReadOp(self, lambda session, now: board_view(session, now=now))
        op.success(self.show_view).run(self.ctx.ops)

    def show_view(self, view: BoardView) -> None:
        self.view = view
        self.clinic_name.setText(view.clinic_name)
        self.called.set_rows(view.called)
        self.upcoming.set_rows(view.upcoming[:ROOMS_SHOWN])
        self._announce_new(view)
        self._tick()

    def _announce_new(self, view: BoardView) -> None:
        keys = [(c.token_id, c.called_at) for c in view.called]
        if self._announced is None:  # first load: what is on the board already is not news
            self._announced = set()
            self._remember(keys)
            return
        for call in sorted(view.called, key=lambda c: (c.called_at, c.code)):
            key = (call.token_id, call.called_at)
            if key not in self._announced:
                self._remember([key])
                self.announcer.announce(announcement(call.code, call.room))

    def _remember(self, keys: list[tuple[str, datetime]]) -> None:
        assert self._announced is not None
        for key in keys:
            self._announced.add(key)
            self._announced_order.append(key)
        while len(self._announced_order) > REMEMBERED_CALLS:
            self._announced.discard(self._announced_order.popleft())

    def _show_called(self) -> None:
        rows = self.called.rowCount()
        for i, (token, room) in enumerate(self.call_rows):
            shown = i < rows
            token.setVisible(shown)
            room.setVisible(shown)
            if shown:
                index = self.called.index(i)
                token.setText(self.called.data(index))
                room.setText(self.called.data(index, ROOM_ROLE))
        self.no_calls.setVisible(rows == 0)

    def _show_upcoming(self) -> None:
        rows = self.upcoming.rowCount()
        for i, (room, tokens) in enumerate(self.next_rows):
            shown = i < rows
            room.setVisible(shown)
            tokens.setVisible(shown)
            if shown:
                room.setText(self.upcoming.data(self.upcoming.index(i, UpcomingModel.ROOM)))
                tokens.setText(self.upcoming.data(self.upcoming.index(i, UpcomingModel.TOKENS)))

    # -- time and staleness -----------------------------------------------------------------

    def local_now(self) -> datetime:
        now = self.ctx.now()
        return now.astimezone(ZoneInfo(self.view.timezone)) if self.view else now.astimezone()

    def _tick(self) -> None:
        now = self.local_now()
        self.clock.setText(f"{now:%H:%M}")
        self._clock_timer.start(max(1000, (60 - now.second) * 1000 - now.microsecond // 1000))

    def is_stale(self) -> bool:
        sync = self.ctx.sync
        if sync is None:
            return False  # a board on its own shows what this device knows: nothing to wait for
        heard = sync.last_heard
        return heard is None or self.ctx.now() - heard > self.stale_after

    def check_stale(self) -> None:
        self.set_stale(self.is_stale())

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale_warning.isVisible():
            self.stale_warning.setVisible(stale)
        if stale:
            self._set_stale_text()

    def tour_states(self) -> dict[str, Callable[[], None]]:
        def as_it_is() -> None:
            self.badge.set_status(self.ctx.sync.status if self.ctx.sync else None)
            self.check_stale()

        def cut_off() -> None:  # what the board shows once the server has gone quiet
            self.badge.set_status(None)
            self.set_stale(True)

        return {"": as_it_is, "stale": cut_off}

    def _set_stale_text(self) -> None:
        sync = self.ctx.sync
        heard = sync.last_heard if sync else None
        if heard is None:
            self.stale_warning.setText(
                QCoreApplication.translate(
                    "Board", "Not connected to the clinic's server: calls may be missing."
                )
            )
        else:
            zone = ZoneInfo(self.view.timezone) if self.view else None
            since = f"{heard.astimezone(zone):%H:%M}"
            self.stale_warning.setText(
                QCoreApplication.translate(
                    "Board", "No news from the clinic's server since %1: calls shown may be out of date."
                ).replace("%1", since)
            )

    # -- words ------------------------------------------------------------------------------

    def translate_ui(self) -> None:
        self.calling_heading.setText(QCoreApplication.translate("Board", "Now calling"))
        self.next_heading.setText(QCoreApplication.translate("Board", "Next"))
        self.no_calls.setText(
            QCoreApplication.translate("Board", "Please wait: your token will be called here.")
        )
        self.setAccessibleName(QCoreApplication.translate("Board", "Waiting-room board"))
        self.called.retranslate()
        self.upcoming.retranslate()
        self.badge.translate_ui()
        self.announcer.set_language(self.ctx.translations.language)
        if self.stale_warning.isVisible():
            self._set_stale_text()
        self._show_called()


def _label(role: str) -> QLabel:
    label = QLabel()
    label.setProperty("role", role)
    return label


def _rule() -> QFrame:
    rule = QFrame()
    rule.setProperty("role", "rule")
    return rule
