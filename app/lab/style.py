"""Plot canvases that follow the application palette, so the lab's plots match the light and dark themes."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QWidget


class LabPlots(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget whose background, axes and titles take the widget palette's colours."""

    def __init__(self) -> None:
        super().__init__()
        self.restyle()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "ci"):
            self.restyle()

    def restyle(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for item in self.ci.items:
            if not isinstance(item, pg.PlotItem):
                continue
            for name in ("left", "bottom", "right", "top"):
                axis = item.getAxis(name)
                axis.setPen(text)
                axis.setTextPen(text)
            if item.titleLabel.text:
                item.setTitle(item.titleLabel.text, color=text.name())


def scrolling(layout: QLayout) -> QScrollArea:
    """Controls in a frameless scroll area, so a short dock can still be made shorter than its form."""
    inner = QWidget()
    inner.setLayout(layout)
    area = QScrollArea()
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area
