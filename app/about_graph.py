"""About This Graph: the file's meta.description in a banner over the top of the canvas.

It shows when a file with a description opens, so an example says what it shows and what to try;
× hides it and Help ▸ About This Graph brings it back. It sits below the title the view pins to
the top-left and takes no more than a part of the canvas, so the graph stays in reach for editing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
)

if TYPE_CHECKING:
    from app.editing.document import Document
    from app.shell import Shell

MARGIN, TOP = 14, 40  # px from the viewport's edges; TOP leaves the pinned title (app/canvas/view.py) visible
MAX_WIDTH = 640  # a readable line length
MAX_HEIGHT_SHARE = 0.45  # of the viewport; a longer description scrolls


def description_of(document: Document | None) -> str:
    """The document's meta.description ('' when there is none, or it is not text)."""
    text = document.graph.meta.get("description") if document is not None else None
    return text.strip() if isinstance(text, str) else ""


class DescriptionBanner(QFrame):
    """A dismissable panel with a graph's description over the canvas `view`'s viewport. It is the
    view's child, not the viewport's: a scroll area moves its viewport's children as it pans."""

    def __init__(self, view: QAbstractScrollArea) -> None:
        super().__init__(view)
        self.area = view.viewport()
        self.setObjectName("about_graph")
        self.setStyleSheet(
            "#about_graph { background: palette(base); border: 1px solid palette(mid); border-radius: 6px; }"
        )
        self.heading = QLabel("About this graph")
        self.heading.setStyleSheet("font-weight: bold;")
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide (Help ▸ About This Graph shows it again)")
        self.close_button.clicked.connect(self.hide)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # a file's text, never markup
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setContentsMargins(0, 0, 8, 0)  # room beside the scroll bar, when there is one
        self.scroller = QScrollArea()
        self.scroller.setWidget(self.text)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.viewport().setAutoFillBackground(False)
        self.text.setAutoFillBackground(False)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.close_button)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(12, 6, 6, 10)
        self.column.addLayout(top)
        self.column.addWidget(self.scroller)
        self.area.installEventFilter(self)
        self.hide()

    def show_text(self, text: str) -> None:
        self.text.setText(text)
        self.show()  # first, so the label measures with the style it is drawn in
        self.place()
        self.raise_()

    def place(self) -> None:
        """Top-left of the viewport, as wide as reads well, as tall as the text up to a share of it."""
        area = self.area.geometry()
        width = max(160, min(MAX_WIDTH, area.width() - 2 * MARGIN))
        margins = self.column.contentsMargins()
        bar = self.scroller.verticalScrollBar().sizeHint().width()  # wrap as if it showed: never a line short
        inner = width - margins.left() - margins.right() - bar
        natural = (
            margins.top()
            + max(self.heading.sizeHint().height(), self.close_button.sizeHint().height())
            + self.column.spacing()
            + self.text_height(inner)
            + 2 * self.scroller.frameWidth()
            + margins.bottom()
        )
        height = min(natural, max(80, int(area.height() * MAX_HEIGHT_SHARE)))
        self.setGeometry(area.left() + MARGIN, area.top() + TOP, width, height)

    def text_height(self, width: int) -> int:
        """Pixels the wrapped text takes at `width` (the label's own heightForWidth runs a line short)."""
        margins = self.text.contentsMargins()
        room = QRect(0, 0, width - margins.left() - margins.right(), 100_000)
        wrapped = self.text.fontMetrics().boundingRect(room, Qt.TextFlag.TextWordWrap, self.text.text())
        return wrapped.height() + margins.top() + margins.bottom() + 4

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.place()
        return False


class AboutGraph(QObject):
    """Shows each opened document's description, and Help ▸ About This Graph shows it again."""

    def __init__(self, shell: Shell, view: QAbstractScrollArea) -> None:
        super().__init__(shell)
        self.shell = shell
        self.banner = DescriptionBanner(view)
        self.action = QAction("&About This Graph", shell.widget)
        self.action.triggered.connect(lambda _=False: self.show_again())
        shell.menu_named("&Help").addAction(self.action)
        shell.follow_document(self._follow)

    def _follow(self, document: Document | None) -> None:
        """A document opens: its description shows (a new one, or one without, hides the banner)."""
        self.banner.hide()
        if description_of(document):
            self.show_again()

    def show_again(self) -> None:
        """The banner for the current document; a status-bar line when it has no description."""
        document = self.shell.document
        text = description_of(document)
        if not text:
            self.shell.show_message("This graph has no description (meta.description in its file)")
            return
        self.banner.show_text(text)
