"""The landscape's plots: the heat map with contour lines and the optimizers' paths over it, each
optimizer's loss per step beside it, and a step slider (with Play) that moves every path along.

Curves are made once per result and only `setData` after (pyqtgraph's way); the step shown draws
each path up to that step, a dot at its point there and a line at that step in the loss plot.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from app.lab.style import LabPlots
from graphcore.landscape.grid import contour_levels, display_values
from graphcore.landscape.landscape import Landscape

COLORS = ("#ef4444", "#f97316", "#84cc16", "#22d3ee", "#e879f9", "#facc15", "#94a3b8")
CONTOURS = 12
PLAY_MS = 40  # between frames of Play
FRAMES = 150  # Play shows a run in about this many frames, however many steps it has


class LandscapeView(QWidget):
    """Heat map, paths, loss curves and the step controls."""

    def __init__(self) -> None:
        super().__init__()
        self.plots = LabPlots()
        self.plots.setMinimumHeight(360)
        self.surface = self.plots.add_plot(0, 0, "loss over the plane")
        self.loss_plot = self.plots.add_plot(0, 1, "loss per step")
        self.loss_plot.setLabel("bottom", "step")
        self.legend = self.plots.add_legend(1, 0, colspan=2, columns=6)
        self.plots.ci.layout.setColumnStretchFactor(0, 3)
        self.plots.ci.layout.setColumnStretchFactor(1, 2)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.surface.addItem(self.image)
        self.isocurves: list[pg.IsocurveItem] = []
        self.start = pg.ScatterPlotItem(size=14, symbol="star", brush="w", pen=pg.mkPen("k"))
        self.surface.addItem(self.start)
        self.paths: list[pg.PlotDataItem] = []
        self.dots: list[pg.ScatterPlotItem] = []
        self.loss_curves: list[pg.PlotDataItem] = []
        self.step_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#94a3b8", style=Qt.PenStyle.DashLine))
        self.loss_plot.addItem(self.step_line)
        self.landscape: Landscape | None = None
        self.log_scaled = False
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.show_step)
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setEnabled(False)
        self.play.toggled.connect(self._play)
        self.step_label = QLabel("step 0")
        self.timer = QTimer(self)
        self.timer.setInterval(PLAY_MS)
        self.timer.timeout.connect(self._advance)
        controls = QHBoxLayout()
        controls.addWidget(self.play)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addLayout(controls)

    def show_landscape(self, landscape: Landscape) -> None:
        self.play.setChecked(False)
        self.landscape = landscape
        grid = landscape.grid
        shown, self.log_scaled = display_values(grid.values)
        image = shown.T.numpy()  # ImageItem indexes [x, y]
        self.image.setImage(image, autoLevels=True)
        dx = (grid.xs[-1] - grid.xs[0]) / (len(grid.xs) - 1)
        dy = (grid.ys[-1] - grid.ys[0]) / (len(grid.ys) - 1)
        rect = QRectF(grid.xs[0] - dx / 2, grid.ys[0] - dy / 2, dx * len(grid.xs), dy * len(grid.ys))
        self.image.setRect(rect)
        self._drop_items()
        for level in contour_levels(shown, CONTOURS):
            curve = pg.IsocurveItem(data=image, level=level, pen=pg.mkPen((255, 255, 255, 110), width=1))
            curve.setParentItem(self.image)
            self.isocurves.append(curve)
        x, y = landscape.plane.axes
        self.surface.setLabel("bottom", x)
        self.surface.setLabel("left", y)
        self.plots.set_title(
            self.surface,
            f"{landscape.loss} over ({x}, {y})" + (", log-scaled colours" if self.log_scaled else ""),
        )
        self.surface.setRange(rect, padding=0)
        self.start.setData([landscape.plane.start[0]], [landscape.plane.start[1]])
        self._make_paths(landscape)
        longest = max(len(p.points) for p in landscape.paths) - 1
        self.slider.setRange(0, longest)
        self.slider.setEnabled(True)
        self.play.setEnabled(True)
        self.slider.setValue(longest)
        self.show_step(longest)

    def clear(self) -> None:
        """Nothing drawn (another graph is shown): no heat map, no paths, the step controls off."""
        self.play.setChecked(False)
        self.landscape = None
        self._drop_items()
        self.image.clear()
        self.start.clear()
        self.slider.setEnabled(False)
        self.play.setEnabled(False)
        self.step_label.setText("step 0")

    def _drop_items(self) -> None:
        for curve in self.isocurves:
            self.surface.scene().removeItem(curve)
        for item in self.paths + self.dots:
            self.surface.removeItem(item)
        for item in self.loss_curves:
            self.loss_plot.removeItem(item)
        self.legend.clear()
        self.isocurves, self.paths, self.dots, self.loss_curves = [], [], [], []

    def _make_paths(self, landscape: Landscape) -> None:
        positive = all(v > 0 for p in landscape.paths for v in p.losses)
        self.loss_plot.setLogMode(y=positive)
        self.loss_plot.setLabel("left", "loss" + (" (log)" if positive else ""))
        for index, path in enumerate(landscape.paths):
            color = COLORS[index % len(COLORS)]
            line = pg.PlotDataItem(
                pen=pg.mkPen(color, width=2), symbol="o", symbolSize=4, symbolBrush=color, symbolPen=None
            )
            dot = pg.ScatterPlotItem(size=11, brush=color, pen=pg.mkPen("k"))
            self.surface.addItem(line)
            self.surface.addItem(dot)
            finite = [k for k, v in enumerate(path.losses) if v == v and abs(v) != float("inf")]
            losses = pg.PlotDataItem(finite, [path.losses[k] for k in finite], pen=pg.mkPen(color, width=2))
            self.loss_plot.addItem(losses)
            self.legend.addItem(line, path.label + (" (diverged)" if path.diverged else ""))
            self.paths.append(line)
            self.dots.append(dot)
            self.loss_curves.append(losses)
        self.loss_plot.autoRange()

    def show_step(self, step: int) -> None:
        """Every path drawn up to `step` (a shorter, diverged one to its end), a dot where it is."""
        if self.landscape is None:
            return
        for path, line, dot in zip(self.landscape.paths, self.paths, self.dots, strict=True):
            points = path.points[: step + 1]
            line.setData([p[0] for p in points], [p[1] for p in points])
            dot.setData([points[-1][0]], [points[-1][1]])
        self.step_line.setValue(step)
        self.step_label.setText(f"step {step} of {self.slider.maximum()}")

    def _play(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        if not on:
            self.timer.stop()
            return
        if self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self.timer.start()

    def _advance(self) -> None:
        value = self.slider.value() + max(1, self.slider.maximum() // FRAMES)
        self.slider.setValue(min(value, self.slider.maximum()))
        if value >= self.slider.maximum():
            self.play.setChecked(False)
