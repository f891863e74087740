"""The board's words, chosen at display time in the board's language."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from desktop.services.board import ANY_ROOM


def room_label(room: str) -> str:
    """ "Room 2" for a numbered room; a named room ("Dental suite") as the clinic wrote it."""
    if room == ANY_ROOM:
        return QCoreApplication.translate("Board", "Any room")
    if room.isdigit():
        return QCoreApplication.translate("Board", "Room %1").replace("%1", room)
    return room


def announcement(code: str, room: str) -> str:
    """What the board says on a call: "Token A-017, room 2"."""
    spoken_code = code.replace("-", " ")
    if room.isdigit():
        text = QCoreApplication.translate("Board", "Token %1, room %2")
        return text.replace("%1", spoken_code).replace("%2", room)
    text = QCoreApplication.translate("Board", "Token %1, %2")
    return text.replace("%1", spoken_code).replace("%2", room_label(room))


def unbreakable(code: str) -> str:
    """A token code that a wrapping label never splits: "A‑017" with a non-breaking hyphen."""
    return code.replace("-", "\u2011")
