"""Item models over the board's frozen rows: tokens being called, and the next tokens per room.
Their words (room labels, headers) follow the language: `retranslate()` re-announces them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from desktop.services.board import CalledToken, RoomQueue
from desktop.ui.board.words import room_label, unbreakable

Index = QModelIndex | QPersistentModelIndex
ROOM_ROLE = Qt.ItemDataRole.UserRole + 1
TOKEN_SEPARATOR = "  "


class CalledModel(QAbstractListModel):
    """Tokens being called, newest first: display = the code; ROOM_ROLE = the room's label."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: tuple[CalledToken, ...] = ()

    def set_rows(self, rows: tuple[CalledToken, ...]) -> None:
        if rows != self.rows:
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's API)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return unbreakable(row.code)
        if role == ROOM_ROLE:
            return room_label(row.room)
        return None

    def retranslate(self) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1), [ROOM_ROLE])


class UpcomingModel(QAbstractTableModel):
    """One row per room: its label, then its next tokens."""

    ROOM, TOKENS = 0, 1

    def __init__(self) -> None:
        super().__init__()
        self.rows: tuple[RoomQueue, ...] = ()

    def set_rows(self, rows: tuple[RoomQueue, ...]) -> None:
        if rows != self.rows:
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        row = self.rows[index.row()]
        if index.column() == self.ROOM:
            return room_label(row.room)
        return TOKEN_SEPARATOR.join(unbreakable(code) for code in row.codes)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == self.ROOM:
            return QCoreApplication.translate("Board", "Room")
        return QCoreApplication.translate("Board", "Next")

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 1)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, 0))
