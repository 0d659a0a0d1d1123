"""The decision boundary of a 2-D classifier (as TensorFlow Playground draws it) and histograms of
the selected node's values, weights and gradients. Both draw frames the training process computed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from graphcore.training.frames import BoundaryFrame, NodeHistograms

CLASS_COLORS = ["#f97316", "#2563eb", "#16a34a", "#9333ea", "#e11d48", "#0891b2"]
# orange for class 0, blue for class 1, pale in between (the Playground's colours)
BOUNDARY_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(249, 115, 22), (245, 245, 245), (37, 99, 235)])


class BoundaryView(QWidget):
    """The classifier's output on a grid over the data, with the training samples on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem()
        self.image.setColorMap(BOUNDARY_MAP)
        self.image.setLevels((-1, 1))
        self.image.setOpacity(0.85)
        self.plot.addItem(self.image)
        self.scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#ffffff", width=0.8))
        self.plot.addItem(self.scatter)
        self.label = QLabel("The decision boundary appears while a 2-D classifier trains.")
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.label)
        layout.addWidget(self.plot, 1)
        self.frames = 0
        self._points: np.ndarray | None = None

    def show_frame(self, frame: BoundaryFrame) -> None:
        self.image.setImage(frame.image, levels=(-1, 1), autoLevels=False)
        self.image.setRect(QRectF(*frame.rect))
        if self._points is not frame.points:
            self._points = frame.points
            brushes = [pg.mkBrush(CLASS_COLORS[int(c) % len(CLASS_COLORS)]) for c in frame.labels]
            self.scatter.setData(pos=frame.points, brush=brushes)
            self.plot.setRange(QRectF(*frame.rect), padding=0)
        self.label.setText(f"Decision boundary at step {frame.step}")
        self.frames += 1


class HistogramView(QWidget):
    """Up to three histograms of one node: its value (on a batch), its weights, their gradients."""

    KINDS = ("value", "weight", "gradient")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground(None)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for col, kind in enumerate(self.KINDS):
            plot = self.layout_widget.addPlot(row=0, col=col, title=kind.title() + "s")
            self.plots[kind] = plot
            self.curves[kind] = plot.plot(
                stepMode="center", fillLevel=0, brush=(37, 99, 235, 120), pen=pg.mkPen("#2563eb")
            )
        self.label = QLabel("Select a node on the canvas to see its histograms while it trains.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.label)
        layout.addWidget(self.layout_widget, 1)
        self.node: str | None = None

    def follow(self, node_id: str | None) -> None:
        self.node = node_id
        for curve in self.curves.values():
            curve.clear()
        self.label.setText(f"Histograms of {node_id}" if node_id else "Select a node on the canvas.")

    def show_histograms(self, found: NodeHistograms) -> None:
        if found.node != self.node:
            return
        shown = {kind: "" for kind in self.KINDS}
        for name, (counts, edges) in found.histograms.items():
            kind, _, what = name.partition(" ")
            if kind in self.curves and not shown[kind]:  # a layer's first weight (its matrix) first
                self.curves[kind].setData(edges, counts)
                shown[kind] = what
        for kind, what in shown.items():
            if not what:
                self.curves[kind].clear()
            self.plots[kind].setTitle(f"{kind.title()}s {what}" if what else f"{kind.title()}s (none)")
        self.label.setText(f"Histograms of {found.node} at step {found.step}")
