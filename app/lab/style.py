"""Plot canvases that follow the application palette, so the lab's plots match the light and dark themes."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QWidget

from app.plots.readable import add_legend, tidy_axes


class LabPlots(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget whose background, axes and titles take the widget palette's colours."""

    def __init__(self) -> None:
        super().__init__()
        self.restyle()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "ci"):
            self.restyle()

    def add_plot(
        self, row: int, col: int, title: str | None = None, sides: tuple[str, ...] = ("left", "bottom")
    ) -> pg.PlotItem:
        """A plot whose tick labels never print over each other (app.plots.readable)."""
        return self.addPlot(row=row, col=col, title=title, axisItems=tidy_axes(*sides))

    def add_legend(self, row: int, col: int, colspan: int = 1, columns: int = 3) -> pg.LegendItem:
        """A legend in its own cell of the layout, beside the plots, where it covers no curve."""
        legend = add_legend(self.ci, row, col, colspan, columns)
        self.restyle()
        return legend

    def set_title(self, plot: pg.PlotItem, title: str) -> None:
        plot.setTitle(title, color=self.palette().color(QPalette.ColorRole.Text).name())

    def restyle(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for item in self.ci.items:
            if isinstance(item, pg.LegendItem):
                item.setLabelTextColor(text)  # for entries added later; those there are redrawn
                for _, label in item.items:
                    label.setText(label.text, color=text.name())
            if not isinstance(item, pg.PlotItem):
                continue
            for name in ("left", "bottom", "right", "top"):
                axis = item.getAxis(name)
                axis.setPen(text)
                axis.setTextPen(text)
            if item.titleLabel.text:
                item.setTitle(item.titleLabel.text, color=text.name())


def redraw_timer(parent: QObject, redraw: Callable[[], None], ms: int) -> QTimer:
    """A running timer that calls `redraw` every `ms`: results land in buffers, the plots draw from
    them at this pace however fast the results come."""
    timer = QTimer(parent)
    timer.setInterval(ms)
    timer.timeout.connect(redraw)
    timer.start()
    return timer


def scrolling(layout: QLayout) -> QScrollArea:
    """Controls in a frameless scroll area, so a short dock can still be made shorter than its form.
    It scrolls up and down only and is never narrower than the form: a horizontal scroll bar would
    hide the form's last row and cut its fields off at the right."""
    inner = QWidget()
    inner.setLayout(layout)
    area = QScrollArea()
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    bar = area.verticalScrollBar().sizeHint().width()
    area.setMinimumWidth(inner.minimumSizeHint().width() + bar)
    return area
