"""Live training plots: loss (training and validation, optional log scale), accuracy, learning rate,
and each parameter's gradient norm over time (log scale: where gradients vanish or explode). A run
with several objectives (a GAN's discriminator and generator) plots one loss curve per objective,
named in the legend, instead of one training loss.

Progress reports only append to bounded buffers (plots/buffers.py); a timer redraws at most ten
times a second, calling setData only on the curves whose buffer changed (a validation curve changes
once an epoch), so plotting takes as little as it can from training.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.plots.buffers import DecimatingBuffer
from app.plots.readable import add_legend, tidy_axes

REDRAW_MS = 50  # 20 Hz
CAPACITY = 2000
COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]
TINY = 1e-12  # gradient norms are plotted on a log axis: an exact zero would be -inf
OBJECTIVE = "objective "  # the key prefix of an objective's loss curve
GRAD = "grad "  # and of a parameter's gradient-norm curve
NO_TRAINING = "No training yet: press Start in the Train panel."


class TrainingPlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground(None)
        # one row of four plots under their legends: the bottom dock is wide and short
        self.legend = add_legend(self.layout_widget.ci, 0, 0, colspan=2)
        self.grad_legend = add_legend(self.layout_widget.ci, 0, 2, colspan=2, columns=4)
        self.loss_plot = self._plot("Loss", 1, 0)
        self.accuracy_plot = self._plot("Accuracy", 1, 1)
        self.lr_plot = self._plot("Learning rate", 1, 2)
        self.grad_plot = self._plot("Gradient norm per parameter", 1, 3)
        self.grad_plot.setLogMode(y=True)
        self.accuracy_plot.setYRange(0, 1)
        self.buffers: dict[str, DecimatingBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.legend.addItem(self._curve("train loss", self.loss_plot, COLORS[0]), "train")
        self.legend.addItem(
            self._curve("validation loss", self.loss_plot, COLORS[1], symbol="o"), "validation"
        )
        self._curve("train accuracy", self.accuracy_plot, COLORS[0])
        self._curve("validation accuracy", self.accuracy_plot, COLORS[1], symbol="o")
        self._curve("lr", self.lr_plot, COLORS[2])
        self.log_loss = QCheckBox("Log scale loss")
        self.log_loss.toggled.connect(self._log_loss)
        self.status = QLabel(NO_TRAINING)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it quotes objective names from the file
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.log_loss)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.layout_widget, 1)
        self._last_validation: tuple[int, float] | None = None
        self._dirty = False
        self._drawn: dict[str, int] = {}  # curve -> the buffer version it shows
        self._x_top = 0.0  # where the step axes end now
        self._y_ranges: dict[pg.PlotItem, tuple[float, float]] = {}  # the value range each plot shows
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _log_loss(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._y_ranges.pop(self.loss_plot, None)
        self._dirty = True

    def _plot(self, title: str, row: int, col: int) -> pg.PlotItem:
        plot = self.layout_widget.addPlot(row=row, col=col, title=title, axisItems=tidy_axes())
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "step")
        plot.enableAutoRange(x=False)  # the step axis grows in round steps (_follow_steps)
        if title != "Accuracy":  # 0 to 1 always; the others follow their values (_follow_values)
            plot.enableAutoRange(y=False)
        return plot

    def _curve(self, name: str, plot: pg.PlotItem, color: str, symbol: str | None = None) -> pg.PlotDataItem:
        curve = plot.plot(
            pen=pg.mkPen(color, width=1.5),
            symbol=symbol,
            symbolSize=5,
            symbolBrush=color,
            symbolPen=None,
        )
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        self.curves[name] = curve
        self.buffers[name] = DecimatingBuffer(CAPACITY)
        return curve

    def clear(self) -> None:
        """Training starts over: empty every curve, and forget the parameters' gradient curves (the
        next run, maybe of another graph, brings its own)."""
        for buffer in self.buffers.values():
            buffer.clear()
        for key in [k for k in self.curves if k.startswith((GRAD, OBJECTIVE))]:
            curve = self.curves.pop(key)
            del self.buffers[key]
            self._drawn.pop(key, None)
            grad = key.startswith(GRAD)
            (self.grad_legend if grad else self.legend).removeItem(curve)
            (self.grad_plot if grad else self.loss_plot).removeItem(curve)
        self._last_validation = None
        self._dirty = True
        self.status.setText("Weights reset.")

    def reset(self) -> None:
        """Another document: no training of it yet."""
        self.clear()
        self.status.setText(NO_TRAINING)

    def add(self, progress: Any) -> None:
        """Record one graphcore.training.records.Progress report (drawn at the next timer tick)."""
        buffers = self.buffers
        several = len(progress.objectives) > 1
        if several:
            self._add_objectives(progress.objectives)
        else:
            for step, loss in progress.losses:
                buffers["train loss"].append(step, loss)
        step = progress.step
        buffers["lr"].append(step, progress.lr)
        if progress.accuracy is not None:
            buffers["train accuracy"].append(step, progress.accuracy)
        validation = progress.validation
        if validation and (progress.epoch, validation.get("loss")) != self._last_validation:
            self._last_validation = (progress.epoch, validation.get("loss"))
            if "loss" in validation:
                buffers["validation loss"].append(step, validation["loss"])
            if "accuracy" in validation:
                buffers["validation accuracy"].append(step, validation["accuracy"])
        for name, norm in progress.grad_norms.items():
            key = f"{GRAD}{name}"
            if key not in self.curves:
                color = COLORS[sum(k.startswith(GRAD) for k in self.curves) % len(COLORS)]
                self.grad_legend.addItem(self._curve(key, self.grad_plot, color), name)
            buffers[key].append(step, max(norm, TINY))
        if several:
            losses = "  ".join(f"{name} loss {y:.4g}" for name, y in self.latest_losses().items())
        else:
            losses = f"loss {progress.losses[-1][1] if progress.losses else float('nan'):.4g}"
        accuracy = f"  accuracy {progress.accuracy:.1%}" if progress.accuracy is not None else ""
        self.status.setText(
            f"step {progress.step}/{progress.total_steps}  epoch {progress.epoch}  "
            f"{losses}{accuracy}  lr {progress.lr:.3g}"
        )
        self._dirty = True

    def _add_objectives(self, objectives: dict[str, list[tuple[int, float]]]) -> None:
        """Each objective's new losses on its own curve (made, with its legend entry, at its first)."""
        for name, points in objectives.items():
            key = f"{OBJECTIVE}{name}"
            if key not in self.curves:
                color = COLORS[(2 + sum(k.startswith(OBJECTIVE) for k in self.curves)) % len(COLORS)]
                # a legend label is HTML: the file's name is shown as written, never as markup
                self.legend.addItem(self._curve(key, self.loss_plot, color), html.escape(name))
            for step, loss in points:
                self.buffers[key].append(step, loss)

    def latest_losses(self) -> dict[str, float]:
        """Each objective's latest loss, by name (of a run with several objectives)."""
        return {
            key.removeprefix(OBJECTIVE): buffer.last_y
            for key, buffer in self.buffers.items()
            if key.startswith(OBJECTIVE) and len(buffer)
        }

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for name, curve in self.curves.items():
            buffer = self.buffers[name]
            if self._drawn.get(name) != buffer.version:
                self._drawn[name] = buffer.version
                curve.setData(*buffer.data())
        self._follow_steps()
        for plot, prefixes in (
            (self.loss_plot, ("train loss", "validation loss", OBJECTIVE)),
            (self.lr_plot, ("lr",)),
            (self.grad_plot, (GRAD,)),
        ):
            self._follow_values(plot, prefixes)

    def _follow_values(self, plot: pg.PlotItem, prefixes: tuple[str, ...]) -> None:
        """The value axis around the curves' values, moved only when a value leaves it or the values
        fill less than half of it: like autorange, but the axis is not laid out again at each redraw."""
        parts = [b.data()[1] for k, b in self.buffers.items() if k.startswith(prefixes) and len(b)]
        if not parts:
            return
        values = np.concatenate(parts)
        if plot.ctrl.logYCheck.isChecked():
            values = np.log10(values[values > 0])
        values = values[np.isfinite(values)]
        if not len(values):
            return
        low, high = float(values.min()), float(values.max())
        shown = self._y_ranges.get(plot)
        if (
            shown is not None
            and shown[0] <= low
            and high <= shown[1]
            and high - low >= (shown[1] - shown[0]) / 2
        ):
            return
        pad = (high - low) * 0.1 or abs(high) * 0.05 or 0.5
        self._y_ranges[plot] = (low - pad, high + pad)
        plot.setYRange(low - pad, high + pad, padding=0)

    def _follow_steps(self) -> None:
        """Every plot's step axis from 0 to a round number past the last step (ROUND × 10ⁿ): it
        changes a few times a run, not at each redraw, so the axes are not laid out again each time
        (with the painting, what the GUI thread takes from training)."""
        last = max((b.last_x for b in self.buffers.values() if len(b)), default=1.0)
        top = round_up(max(float(last), 1.0))
        if top == self._x_top:
            return
        self._x_top = top
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot, self.grad_plot):
            plot.setXRange(0.0, top, padding=0.02)


ROUND = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)  # the axis is at most a third empty


def round_up(value: float) -> float:
    """The least round number (ROUND times a power of ten) that is at least `value` (> 0)."""
    scale = 10.0 ** math.floor(math.log10(value))
    return next(m * scale for m in ROUND if m * scale >= value)
