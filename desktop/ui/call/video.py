"""A widget that paints the newest `QImage` it was given (the far side large, the preview small)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget


class VideoView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.frames = 0  # frames received (tests, the tour)
        self.painted = 0  # frames painted
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    @Slot(QImage)
    def show_frame(self, image: QImage) -> None:
        self.image = image
        self.frames += 1
        self.update()

    def clear(self) -> None:
        self.image = None
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1b1f24"))
        if self.image is not None and not self.image.isNull():
            size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x = (self.width() - size.width()) // 2
            y = (self.height() - size.height()) // 2
            painter.drawImage(QRect(x, y, size.width(), size.height()), self.image)
            self.painted += 1
        painter.end()
