"""Message boxes for things that went wrong: one short line (also what the status bar shows), the whole
text under Show Details, and deleted once closed, so a thousand refused files leave no dialogs behind.

A line is shortened because a 10 MB value echoed into a box stalls Qt's text layout for minutes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

MESSAGE_CHARS, DETAILS_CHARS = 300, 20_000


def one_line(text: str) -> str:
    """The first line, at most MESSAGE_CHARS long."""
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


def capped(text: str) -> str:
    extra = len(text) - DETAILS_CHARS
    return text if extra <= 0 else f"{text[:DETAILS_CHARS]}… ({extra:,} more characters)"


def error_box(parent: QWidget, title: str, text: str, details: str = "") -> QMessageBox:
    """A warning showing one_line(text); `details` (or the whole text, when it was shortened) on request."""
    line = one_line(text)
    box = QMessageBox(QMessageBox.Icon.Warning, title, line, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    details = details or (text if line != text else "")
    if details:
        box.setDetailedText(capped(details))
    return box
