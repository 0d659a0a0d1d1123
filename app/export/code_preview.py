"""The Code dock: the graph as the Python file File ▸ Export ▸ Python would write, coloured, refreshed
once edits pause and only while it can be seen; or the problems that stop it."""

from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRegularExpression, QTimer
from PySide6.QtGui import QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.editing.document import Document
from app.export.source import python_source
from app.panels.lazy import RefreshWhenSeen, on_screen

PREVIEW_DELAY_MS = 200


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, strings, comments and numbers; enough to read generated code at a glance."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)

        def fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            f.setFontItalic(italic)
            return f

        words = "|".join(map(re.escape, keyword.kwlist))
        self.rules = [
            (QRegularExpression(rf"\b({words})\b"), fmt("#7c4dff", bold=True)),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\b"), fmt("#d9730d")),
            (QRegularExpression(r"\"[^\"\\]*(\\.[^\"\\]*)*\"|'[^'\\]*(\\.[^'\\]*)*'"), fmt("#2e8b57")),
            (QRegularExpression(r"#[^\n]*"), fmt("#888888", italic=True)),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, style in self.rules:  # later rules win: a '#' inside a string is a string
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), style)


class CodePreview(RefreshWhenSeen, QWidget):
    """The graph as the Python file File ▸ Export ▸ Python would write, or the problems that stop it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Document | None = None
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = PythonHighlighter(self.text.document())
        self.status = QLabel()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.text)
        self.timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.ensure_fresh)

    def bind(self, document: Document) -> None:
        self.unbind()
        self.document = document
        document.validated.connect(self.changed)
        self.stale = True
        self.changed()

    def unbind(self) -> None:
        if self.document is not None:
            self.document.validated.disconnect(self.changed)
        self.document = None
        self.timer.stop()

    def changed(self, *_: object) -> None:
        """After an edit: regenerate once edits pause, and only while someone can see it."""
        self.stale = True
        if on_screen(self):
            self.timer.start()

    def refresh_now(self) -> None:
        """Show the export of the graph as it is now, or the problems that stop it."""
        from graphcore.exchange.export import ExportError
        from graphcore.validate import InvalidGraph

        if self.document is None:
            return
        self.stale = False
        try:
            source = python_source(self.document)
        except InvalidGraph as error:
            self._show_problems([str(d) for d in error.diagnostics])
            return
        except (ExportError, ValueError) as error:  # anything else export refuses: say it, not crash
            self._show_problems([str(error) or type(error).__name__])
            return
        self.highlighter.setDocument(self.text.document())
        self.text.setPlainText(source)
        self.status.setText(f"{len(source.splitlines())} lines · File ▸ Export ▸ Python writes this")
        self.copy_button.setEnabled(True)

    def _show_problems(self, problems: list[str]) -> None:
        self.highlighter.setDocument(None)  # plain text: no colours for messages
        self.text.setPlainText("\n".join(f"⚠ {p}" for p in problems))
        count = len(problems)
        self.status.setText(f"No code: the graph has {count} problem{'s' if count != 1 else ''}")
        self.copy_button.setEnabled(False)

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text.toPlainText())
