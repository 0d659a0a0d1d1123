"""The cost of the two modes: passes and wall time of full Jacobians on f: Rⁿ → Rᵐ, as n and m grow.

The family is graphcore's MLP (x → Linear → tanh → Linear). Left, the inputs n grow with the
outputs m fixed: forward mode's passes grow with n, reverse mode's stay at m. Right, the outputs
grow with n fixed, and the roles swap. Each mode wins where its pass count is the smaller one.
The current graph, with the outputs and inputs ticked in the Jacobian lab, can join as a point.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.editing.document import Document
from app.lab.names import Names
from app.lab.runner import Runner
from app.lab.style import LabPlots, redraw_timer, scrolling
from graphcore.derivatives.lab import CostPoint, LabError, cost_point, cost_sweep, make_runtime

COLORS = {"forward": "#2f6fdb", "reverse": "#d9622b"}
SERIES_TITLES = {"n": "inputs n grow (m fixed)", "m": "outputs m grow (n fixed)"}
SERIES_ROWS = {"n": "n grows", "m": "m grows", "graph": "your graph"}  # the table's first column
DEFAULT_SIZES = "1, 2, 4, 8, 16, 32, 64"
REFRESH_MS = 100


class CostPlot(QWidget):
    finished = Signal(str)  # "" when the sweep completed, else the message shown

    def __init__(
        self,
        runner: Runner,
        selection: Callable[[], tuple[list[str], list[str]]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.selection = runner, selection
        self.document: Document | None = None
        self.points: list[CostPoint] = []
        self.mine_label = ""  # what "your graph" measured, in the user's names
        self._job: int | None = None
        self._dirty = False
        self.sizes = QLineEdit(DEFAULT_SIZES)
        self.fixed, self.hidden, self.repeats = QSpinBox(), QSpinBox(), QSpinBox()
        for box, low, high, value in (
            (self.fixed, 1, 4096, 8),
            (self.hidden, 1, 4096, 16),
            (self.repeats, 1, 20, 3),
        ):
            box.setRange(low, high)
            box.setValue(value)
        self.run_button, self.mine_button = QPushButton("Run sweep"), QPushButton("Add my graph")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(
            ["series", "n", "m", "forward passes", "reverse passes", "forward ms", "reverse ms"]
        )
        self.table.verticalHeader().hide()
        self._plots()
        self._layout()
        self.timer = redraw_timer(self, self._redraw, REFRESH_MS)
        self.run_button.clicked.connect(self.run_sweep)
        self.mine_button.clicked.connect(self.add_my_graph)

    def _plots(self) -> None:
        self.plots = LabPlots()
        self.legend = self.plots.add_legend(row=0, col=0, colspan=len(SERIES_TITLES))
        self.curves: dict[tuple[str, str, str], pg.PlotDataItem] = {}  # (series, measure, mode)
        self.mine: dict[tuple[str, str, str], pg.PlotDataItem] = {}
        for column, series in enumerate(SERIES_TITLES):
            for row, measure in enumerate(("passes", "ms")):
                plot = self.plots.add_plot(
                    row=row + 1, col=column, title=SERIES_TITLES[series] if row == 0 else None
                )
                plot.setLogMode(x=True, y=True)
                plot.showGrid(x=True, y=True, alpha=0.25)
                plot.setLabel("left", "passes" if measure == "passes" else "wall time (ms)")
                plot.setLabel("bottom", series)
                for mode, color in COLORS.items():
                    self.curves[(series, measure, mode)] = plot.plot(
                        pen=pg.mkPen(color, width=2),
                        symbol="o",
                        symbolSize=6,
                        symbolBrush=color,
                        symbolPen=None,
                    )
                    star = pg.PlotDataItem(pen=None, symbol="star", symbolSize=16, symbolBrush=color)
                    plot.addItem(star)
                    self.mine[(series, measure, mode)] = star
        for mode in COLORS:
            self.legend.addItem(self.curves[("n", "passes", mode)], f"{mode} mode")
        self.plots.restyle()

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Sizes", self.sizes)
        form.addRow("Fixed size", self.fixed)
        form.addRow("Hidden width", self.hidden)
        form.addRow("Best of", self.repeats)
        side = QVBoxLayout()
        side.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.mine_button)
        side.addLayout(buttons)
        side.addWidget(self.message)
        side.addWidget(self.table, 1)
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(scrolling(side), 2)
        box.addWidget(self.plots, 5)

    def bind(self, document: Document) -> None:
        self.document = document
        for star in self.mine.values():
            star.setData([], [])
        self.legend.removeItem(self.mine[("n", "passes", "forward")])
        self.points = [p for p in self.points if p.series != "graph"]
        self.mine_label = ""
        self.message.setText(self.message.text().split("  ★")[0])  # the star was the last graph's
        self._dirty = True

    def chosen_sizes(self) -> list[int]:
        try:
            sizes = sorted({int(t) for t in self.sizes.text().replace(",", " ").split()})
        except ValueError:
            raise LabError(f"sizes must be whole numbers, not {self.sizes.text()!r}") from None
        if not sizes or sizes[0] < 1:
            raise LabError("give at least one size, each 1 or more")
        return sizes

    def run_sweep(self) -> None:
        try:
            sizes = self.chosen_sizes()
        except LabError as error:
            self._fail(str(error))
            return
        fixed, hidden, repeats = self.fixed.value(), self.hidden.value(), self.repeats.value()
        self.runner.cancel(self._job)
        self.points = [p for p in self.points if p.series == "graph"]
        self._dirty = True
        self.table.setRowCount(0)
        self.message.setText("Measuring…")
        self._job = self.runner.submit(
            lambda report: cost_sweep(sizes, fixed, hidden, repeats, report),
            self._done,
            self._fail,
            self._arrived,
        )

    def add_my_graph(self) -> None:
        if self.document is None:
            return
        report = self.document.report
        if not report.ok:
            self._fail(f"The graph has problems ({report.diagnostics[0]}): fix them to measure it.")
            return
        of, wrt = self.selection()
        if not of or not wrt:
            self._fail("Tick outputs and inputs in the Jacobian lab to measure your graph.")
            return
        program, repeats = self.document.program, self.repeats.value()
        names = Names(program, self.document.graph)
        self.mine_label = (
            f"{', '.join(map(names.value, of))} with respect to {', '.join(map(names.value, wrt))}"
        )
        self.runner.submit(
            lambda report: report(cost_point("graph", make_runtime(program), of, wrt, repeats)),
            self._done,
            self._fail,
            self._arrived,
        )

    def _arrived(self, point: CostPoint) -> None:
        self.points.append(point)
        self._dirty = True
        row = self.table.rowCount()
        self.table.insertRow(row)
        cells = [
            SERIES_ROWS[point.series],
            point.n,
            point.m,
            point.forward_passes,
            point.reverse_passes,
            f"{point.forward_seconds * 1e3:.3g}",
            f"{point.reverse_seconds * 1e3:.3g}",
        ]
        for column, text in enumerate(cells):
            self.table.setItem(row, column, QTableWidgetItem(str(text)))

    def _done(self, _: object) -> None:
        self._job = None
        self.message.setText(f"{len(self.points)} points measured.")
        self._redraw()
        self.finished.emit("")

    def _fail(self, message: str) -> None:
        self._job = None
        self.message.setText(message)
        self.finished.emit(message)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for series in SERIES_TITLES:
            points = sorted((p for p in self.points if p.series == series), key=lambda p: (p.n, p.m))
            xs = [p.n if series == "n" else p.m for p in points]
            for mode in COLORS:
                passes = [getattr(p, f"{mode}_passes") for p in points]
                ms = [getattr(p, f"{mode}_seconds") * 1e3 for p in points]
                self.curves[(series, "passes", mode)].setData(xs, passes)
                self.curves[(series, "ms", mode)].setData(xs, ms)
        for point in (p for p in self.points if p.series == "graph"):
            for series in SERIES_TITLES:
                x = point.n if series == "n" else point.m
                for mode in COLORS:
                    passes = getattr(point, f"{mode}_passes")
                    ms = getattr(point, f"{mode}_seconds") * 1e3
                    self.mine[(series, "passes", mode)].setData([x], [passes])
                    self.mine[(series, "ms", mode)].setData([x], [ms])
        if any(p.series == "graph" for p in self.points):
            self.message.setText(self.message.text().split("  ★")[0] + f"  ★ your graph: {self.mine_label}")
            star = self.mine[("n", "passes", "forward")]
            if all(sample.item is not star for sample, _ in self.legend.items):
                self.legend.addItem(star, "your graph")
