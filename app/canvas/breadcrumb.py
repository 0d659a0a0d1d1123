"""The breadcrumb bar on the canvas' top edge: "two_moons ▸ ResBlock" while a block is open.

It shows only inside a block, over the canvas' top-left corner (the canvas stays the window's central
widget, so the docks sit the same inside a block and out). A click on a crumb goes back out to that
level (the first crumb is the file's own graph). It draws the path and reports clicks;
app/canvas/block_view.py decides what opening and leaving do.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

SEPARATOR = "▸"


class Breadcrumb(QWidget):
    chosen = Signal(int)  # the depth clicked: 0 is the file's graph, 1 the first block opened, ...
    copy_chosen = Signal(int)  # the copy (from 1) of a repeated block whose values the inside shows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumb")
        self.setAutoFillBackground(True)  # readable over the grid and the nodes under it
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 2, 8, 2)
        self._layout.setSpacing(4)
        self.crumbs: list[QToolButton] = []
        # a repeated block's inside is one definition run N times: this picks whose values it shows
        self.copy = QSpinBox()
        self.copy.setObjectName("blockCopy")
        self.copy.setPrefix("copy ")
        self.copy.setKeyboardTracking(False)  # "12" typed digit by digit shows copy 12, not copy 1 first
        self.copy.setToolTip("Which copy of the repeated block the stepper's badges show")
        self.copy.valueChanged.connect(self.copy_chosen)
        self.hide()

    @property
    def text(self) -> str:
        """The path as the user reads it: "two_moons ▸ ResBlock"."""
        return f" {SEPARATOR} ".join(crumb.text() for crumb in self.crumbs)

    def show_path(self, names: list[str], copies: int = 1, copy: int = 1) -> None:
        """Show the path `names` (the file's graph, then each block opened); hidden at the top level.
        When the block shown is repeated (`copies` > 1), a spin box after it says "copy k of N"."""
        while self._layout.count():
            taken = self._layout.takeAt(0)
            if taken is not None and (widget := taken.widget()) is not None and widget is not self.copy:
                widget.hide()  # at once: deleteLater waits for the event loop
                widget.deleteLater()
        self.crumbs = []
        for depth, name in enumerate(names):
            if depth:
                self._layout.addWidget(QLabel(SEPARATOR))
            crumb = QToolButton()
            crumb.setText(name)
            crumb.setAutoRaise(True)
            last = depth == len(names) - 1
            crumb.setEnabled(not last)  # the level shown is where the canvas is already
            if last:
                font = crumb.font()
                font.setBold(True)
                crumb.setFont(font)
            crumb.setToolTip("" if last else f"Back out to {name} (Esc goes up one level)")
            crumb.clicked.connect(lambda _=False, depth=depth: self.chosen.emit(depth))
            self._layout.addWidget(crumb)
            self.crumbs.append(crumb)
        self.copy.blockSignals(True)  # a new path is no choice of the user's
        self.copy.setRange(1, max(1, copies))
        self.copy.setSuffix(f" of {copies}")
        self.copy.setValue(copy)
        self.copy.blockSignals(False)
        if copies > 1:
            self._layout.addWidget(self.copy)
        self.copy.setVisible(copies > 1)
        self.adjustSize()
        self.move(0, 0)
        self.setVisible(len(names) > 1)
        self.raise_()
