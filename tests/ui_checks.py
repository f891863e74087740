"""Checks every screen should pass (UI-REVIEW.md): no label elided or clipped, every interactive
widget named for assistive technology, and the visible strings, to compare across languages."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QComboBox, QLabel, QLineEdit, QWidget

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView)


def visible_labels(root: QWidget) -> list[QLabel]:
    return [w for w in root.findChildren(QLabel) if w.isVisibleTo(root) and w.text()]


def visible_strings(root: QWidget) -> dict[str, str]:
    """Each visible label's and button's text, keyed by where it is."""
    out: dict[str, str] = {}
    for i, widget in enumerate(root.findChildren(QWidget)):
        if isinstance(widget, QLabel | QAbstractButton) and widget.isVisibleTo(root) and widget.text():
            out[f"{type(widget).__name__}#{widget.objectName() or i}"] = widget.text()
    return out


def elided_labels(root: QWidget) -> list[str]:
    """Labels whose text does not fit their width (one line) or height (wrapped)."""
    bad = []
    for label in visible_labels(root):
        rect = label.contentsRect()
        metrics = label.fontMetrics()
        if label.wordWrap():
            needed = metrics.boundingRect(rect, int(Qt.TextFlag.TextWordWrap), label.text()).height()
            if needed > rect.height() + 1:
                bad.append(f"{label.text()!r}: needs {needed} px high, has {rect.height()}")
        else:
            needed = max(metrics.horizontalAdvance(line) for line in label.text().splitlines())
            if needed > rect.width() + 1:
                bad.append(f"{label.text()!r}: needs {needed} px wide, has {rect.width()}")
    return bad


def unnamed_interactive_widgets(root: QWidget) -> list[str]:
    return [
        f"{type(w).__name__}#{w.objectName()}"
        for w in root.findChildren(QWidget)
        if isinstance(w, INTERACTIVE) and w.isVisibleTo(root) and not w.accessibleName()
    ]
