"""The Jacobian lab: pick outputs and inputs, see ∂outputs/∂inputs by three methods side by side.

Forward mode takes one JVP per input component (a column each), reverse mode one VJP per output
component (a row each), central differences two evaluations per input component. The three
matrices are heat maps on one colour scale, with each method's passes and wall time and the
largest difference between methods. graphcore computes everything, in the lab's worker.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.editing.document import Document
from app.lab.derivatives import show_number
from app.lab.names import Names
from app.lab.panel import LabPanel
from app.lab.runner import Runner
from app.lab.style import LabPlots, scrolling
from graphcore.derivatives.lab import JacobianResults, compute_jacobians, differentiable_values
from graphcore.program import Program
from graphcore.registry import show

METHOD_TITLES = {
    "forward": "forward mode (JVPs)",
    "reverse": "reverse mode (VJPs)",
    "fd": "central differences",
}
MAX_ROW_TICKS, MAX_COLUMN_TICKS = 12, 4  # labels per axis of a heat map (each panel is narrow)
COLOR_MAP = pg.colormap.get("CET-D1")
NUMBER_POINTS, SMALLEST_POINTS = 11, 7  # the cells' numbers shrink to fit, and hide below 7 pt
MAX_NUMBERS = 256  # cells beyond this are too small to write in anyway
DARK_CELL = 0.45  # cells darker than this (luminance, 0–1) get white numbers, the others black


def checked_values(values: QListWidget) -> list[str]:
    return [
        values.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(values.count())
        if values.item(i).checkState() == Qt.CheckState.Checked
    ]


def blocks(labels: list[str]) -> str:
    """ "x[0]" … "x[7]", "fc1[0]" … as "0–7 x · 8–23 fc1": which value each index is."""
    spans: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        spans.setdefault(label.partition("[")[0], []).append(i)
    return " · ".join(
        f"{s[0]}–{s[-1]} {value}" if len(s) > 1 else f"{s[0]} {value}" for value, s in spans.items()
    )


class CellNumbers:
    """The numbers written in one heat map's cells, white on the dark colours and black on the light
    ones; the dock sizes them to fit the cells and hides them when even the smallest would not."""

    def __init__(self, panel: pg.PlotItem) -> None:
        self.panel = panel
        self.texts: list[pg.TextItem] = []

    def clear(self) -> None:
        for text in self.texts:
            self.panel.removeItem(text)
        self.texts = []

    def show(self, matrix: np.ndarray, largest: float) -> None:
        self.clear()
        if matrix.size > MAX_NUMBERS:
            return
        for (row, column), number in np.ndenumerate(matrix):
            color = COLOR_MAP.map((number / largest + 1) / 2, mode="qcolor")
            luminance = (0.299 * color.red() + 0.587 * color.green() + 0.114 * color.blue()) / 255
            text = pg.TextItem(
                show_number(float(number)),
                color="#ffffff" if luminance < DARK_CELL else "#000000",
                anchor=(0.5, 0.5),
            )
            text.setPos(column + 0.5, row + 0.5)
            self.panel.addItem(text)
            self.texts.append(text)

    def room(self) -> float:
        """How far the numbers may grow, as a fraction of NUMBER_POINTS (1 at most) to fit the cells."""
        if not self.texts:
            return 1.0
        metrics = QFontMetricsF(number_font(NUMBER_POINTS))
        widest = max(metrics.horizontalAdvance(t.textItem.toPlainText()) for t in self.texts)
        pixel_width, pixel_height = self.panel.vb.viewPixelSize()  # one cell is one unit of the view
        if not pixel_width or not pixel_height:
            return 1.0
        return min(1.0, 0.85 / pixel_width / widest, 0.7 / pixel_height / metrics.height())

    def set_size(self, points: float) -> None:
        font = number_font(points)
        for text in self.texts:
            text.setVisible(points >= SMALLEST_POINTS)
            text.setFont(font)


def number_font(points: float) -> QFont:
    font = QFont()
    font.setBold(True)
    font.setPointSizeF(points)
    return font


class JacobianDock(LabPanel):
    computed = Signal()  # results or a message are on screen

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.results: JacobianResults | None = None
        self.outputs, self.inputs = QListWidget(), QListWidget()
        for values in (self.outputs, self.inputs):
            values.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.compute_button = QPushButton("Compute Jacobians")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["method", "passes", "wall time", "max |Δ| vs reverse"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.plots = LabPlots()
        self.images: dict[str, pg.ImageItem] = {}
        self.panels: dict[str, pg.PlotItem] = {}
        self.numbers: dict[str, CellNumbers] = {}
        for column, method in enumerate(METHOD_TITLES):
            panel = self.plots.addPlot(row=0, col=column, title=METHOD_TITLES[method])
            panel.invertY(True)
            panel.setAspectLocked(False)
            panel.hideButtons()
            panel.setMenuEnabled(False)
            image = pg.ImageItem(axisOrder="row-major")
            panel.addItem(image)
            self.images[method], self.panels[method] = image, panel
            self.numbers[method] = CellNumbers(panel)
            panel.vb.sigResized.connect(self._fit_numbers)
            panel.vb.sigRangeChanged.connect(self._fit_numbers)  # zoomed with the wheel
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=COLOR_MAP, interactive=False)
        self.colorbar.setImageItem(list(self.images.values()), insert_in=self.panels["fd"])
        self.plots.restyle()
        self._layout()
        self.compute_button.clicked.connect(self.compute)

    def _layout(self) -> None:
        lists = QHBoxLayout()
        for title, values in (("Outputs (of)", self.outputs), ("Inputs (wrt)", self.inputs)):
            column = QVBoxLayout()
            column.addWidget(QLabel(title))
            column.addWidget(values)
            lists.addLayout(column)
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addLayout(lists, 1)
        side.addWidget(self.compute_button)
        side.addWidget(self.message)
        side.addWidget(self.table)
        splitter = QSplitter()
        splitter.addWidget(scrolling(side))
        splitter.addWidget(self.plots)
        splitter.setStretchFactor(1, 3)
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(splitter)

    def bind(self, document: Document) -> None:
        self.document = document
        self.results = None
        document.validated.connect(self.changed)
        self.outputs.clear()
        self.inputs.clear()
        self.changed()
        self._clear_plots()
        self.message.setText("Pick outputs and inputs, then compute.")

    def refresh_now(self) -> None:
        """List every value with its shape; keep what was ticked, else tick sinks and sources."""
        if (program := self.valid_program()) is None:
            return
        assert self.document is not None
        report, names = self.document.report, Names(program, self.document.graph)
        values = differentiable_values(program)
        sources = [
            i.outs[0] for i in program if i.spec.kind in ("input", "parameter") and i.outs[0] in values
        ]
        for widget, default in ((self.outputs, list(program.sinks)), (self.inputs, sources)):
            ticked = checked_values(widget) if widget.count() else default
            widget.clear()
            for value in values:
                shape = report.shapes.get(value, ())
                item = QListWidgetItem(f"{names.value(value)}  {show(shape) if shape else 'scalar'}")
                item.setData(Qt.ItemDataRole.UserRole, value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if value in ticked else Qt.CheckState.Unchecked)
                widget.addItem(item)

    def choose(self, of: list[str], wrt: list[str]) -> None:
        self.ensure_fresh()
        for widget, chosen in ((self.outputs, of), (self.inputs, wrt)):
            for i in range(widget.count()):
                item = widget.item(i)
                on = item.data(Qt.ItemDataRole.UserRole) in chosen
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def chosen(self) -> tuple[list[str], list[str]]:
        """The ticked outputs and inputs."""
        self.ensure_fresh()
        return checked_values(self.outputs), checked_values(self.inputs)

    def compute(self) -> None:
        if self.document is None:
            return
        report = self.document.report
        if not report.ok:
            self._say(f"The graph has problems ({report.diagnostics[0]}): fix them to compute Jacobians.")
            return
        of, wrt = self.chosen()
        if not of or not wrt:
            self._say("Choose at least one output and one input.")
            return
        program: Program = self.document.program
        self.names = Names(program, self.document.graph)
        self.runner.cancel(self._job)
        self.message.setText("Computing…")
        self.compute_button.setEnabled(False)
        self._job = self.runner.submit(lambda: compute_jacobians(program, of, wrt), self._show, self._say)

    def _say(self, message: str) -> None:
        self._job = None
        self.compute_button.setEnabled(True)
        self.message.setText(message)
        self.computed.emit()

    def _clear_plots(self) -> None:
        for method, image in self.images.items():
            image.clear()
            self.numbers[method].clear()
        self.table.setRowCount(0)

    def _show(self, results: JacobianResults) -> None:
        self._job = None
        self.compute_button.setEnabled(True)
        self.results = results
        self._clear_plots()
        names = self.names
        rows = [names.element(r) if names else r for r in results.rows]
        columns = [names.element(c) if names else c for c in results.columns]
        matrices = {m: r.matrix.detach().cpu().numpy() for m, r in results.results.items()}
        largest = max((float(np.abs(a).max()) for a in matrices.values() if a.size), default=0.0) or 1.0
        self.colorbar.setLevels((-largest, largest))
        for method, panel in self.panels.items():
            if method in matrices:
                self.images[method].setImage(matrices[method], levels=(-largest, largest))
                self._ticks(panel, rows, columns)
                self.numbers[method].show(matrices[method], largest)
                panel.setTitle(METHOD_TITLES[method])
            else:
                panel.setTitle(f"{METHOD_TITLES[method]}: not available")
        self._fit_numbers()
        self._fill_table(results)
        self.plots.restyle()
        notes = [f"{m}: {e}" for m, e in results.errors.items()]
        shape = f"{len(rows)} × {len(columns)}"
        self.message.setText("\n".join([f"Jacobian {shape} (outputs × inputs)", *notes]))
        self.computed.emit()

    def _fit_numbers(self) -> None:
        """One size for the numbers of all three heat maps: the largest that fits every cell."""
        points = NUMBER_POINTS * min(numbers.room() for numbers in self.numbers.values())
        for numbers in self.numbers.values():
            numbers.set_size(points)

    @staticmethod
    def _ticks(panel: pg.PlotItem, rows: list[str], columns: list[str]) -> None:
        """Name every row and column while they fit; beyond that, number them and name the blocks."""
        for axis, labels, fits, title in (
            ("left", rows, MAX_ROW_TICKS, "output"),
            ("bottom", columns, MAX_COLUMN_TICKS, "input"),
        ):
            if len(labels) <= fits:
                panel.getAxis(axis).setTicks([[(i + 0.5, label) for i, label in enumerate(labels)]])
                panel.setLabel(axis, title)
                continue
            every = math.ceil(len(labels) / fits)
            panel.getAxis(axis).setTicks([[(i + 0.5, str(i)) for i in range(0, len(labels), every)]])
            panel.setLabel(axis, blocks(labels))
        panel.setRange(xRange=(0, max(1, len(columns))), yRange=(0, max(1, len(rows))), padding=0.02)

    def _fill_table(self, results: JacobianResults) -> None:
        self.table.setRowCount(len(METHOD_TITLES))
        for row, method in enumerate(METHOD_TITLES):
            result = results.results.get(method)
            difference = results.max_difference.get((method, "reverse"))
            cells = [
                METHOD_TITLES[method],
                str(result.passes) if result else "—",
                f"{result.seconds * 1e3:.2f} ms" if result else "—",
                f"{difference:.3g}" if difference is not None else "—",
            ]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        frame = 2 * self.table.frameWidth()
        self.table.setMinimumHeight(self.table.horizontalHeader().height() + rows + frame)  # all three
