"""The live derivative plot: one derivative by forward and by reverse mode, as a slider sweeps a
value or as training runs.

Choose an output element, a value to differentiate with respect to (one element, or a direction
vector over the whole value), and an input or parameter element to sweep. Each point is computed
by graphcore twice, one JVP and one VJP, off the GUI thread; the two curves lie on top of each
other and their difference, on its own axis below, stays at rounding level. The loss rides along
on a right-hand axis. With "Follow training" the x axis is the training step instead: the training
worker hands over copies of its weights at a bounded rate and each copy becomes one point, computed
on the first few training samples (the newest copy wins while the lab is busy). Curves are made once
and refreshed by a throttled timer.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.editing.document import Document
from app.lab.choices import parse_element, refill, select
from app.lab.names import Names
from app.lab.panel import LabPanel
from app.lab.runner import Runner
from app.lab.style import LabPlots, redraw_timer, scrolling
from graphcore.derivatives.lab import (
    SWEEPABLE_KINDS,
    DerivativeChoice,
    DerivativePoint,
    LabError,
    derivative_on_weights,
    differentiable_values,
    sweep,
)
from graphcore.program import Program
from graphcore.training.frames import WeightsFrame

BATCH = 4  # symbolic dims (N) have this size in the lab's runtime, as in graphcore's CLI
MAX_COMPONENTS = 64
REFRESH_MS = 50
LOSS_COLOR = "#16a34a"
NO_LOSS = "(none)"
ROUNDING = 1e-15  # the fwd − rev axis spans at least this much per unit of derivative


def components(value: str, shape: tuple) -> list[tuple[str, int]]:
    """(label, flat index) per element, named as graphcore's Jacobian rows and columns are."""
    if not shape:
        return [(value, 0)]
    size = math.prod(d if isinstance(d, int) else BATCH for d in shape)
    return [(f"{value}[{i}]", i) for i in range(min(size, MAX_COMPONENTS))]


def difference_span(points: list[DerivativePoint]) -> float:
    """Half the height of the fwd − rev axis: the largest difference with room above it, and never
    less than rounding level, so a difference of 0 reads as 0 on a scale of 1e-15, not as noise."""
    largest = max((abs(p.difference) for p in points), default=0.0)
    size = max((abs(p.forward) for p in points), default=0.0)
    return max(1.25 * largest, ROUNDING * max(1.0, size))


def difference_ticks(span: float) -> list[list[tuple[float, str]]]:
    """0 first (it is kept when the axis is too short for three labels), then ± a round number
    that fits within the span."""
    power = 10 ** math.floor(math.log10(span))
    tick = max(m * power for m in (1, 2, 5) if m * power <= span * 0.9) if span * 0.9 >= power else power / 2
    return [[(0.0, "0"), (-tick, f"{-tick:g}"), (tick, f"{tick:g}")]]


class DerivativePlot(LabPanel):
    point_added = Signal(object)  # DerivativePoint
    finished = Signal(str)  # "" when a sweep completed, else the message shown
    follow_changed = Signal(int)  # training samples wanted with each weights copy (0: none)

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.points: dict[float, DerivativePoint] = {}
        self._dirty = False
        self._pending: WeightsFrame | None = None  # arrived while a point was being computed
        self._last_frame: WeightsFrame | None = None
        self.follow = QCheckBox("Follow training (x axis: training step)")
        self.follow.setToolTip(
            f"While training runs, plot the derivative at the current weights on the first {BATCH} "
            "training samples"
        )
        self.of_choice, self.wrt_choice = QComboBox(), QComboBox()
        self.sweep_choice, self.loss_choice = QComboBox(), QComboBox()
        self.use_direction = QCheckBox("along direction")
        self.direction = QLineEdit()
        self.direction.setPlaceholderText("e.g. 1, 0, -1: one number per element")
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setRange(-1e6, 1e6)
            box.setDecimals(3)
        self.count = QSpinBox()
        self.count.setRange(3, 1001)
        self.count.setValue(41)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.sweep_button = QPushButton("Sweep range")
        self.readout, self.message = QLabel(), QLabel()
        self.message.setWordWrap(True)
        self._plots()
        self._layout()
        self.timer = redraw_timer(self, self._redraw, REFRESH_MS)
        self.sweep_button.clicked.connect(self.sweep_range)
        self.slider.valueChanged.connect(self._slid)
        self.count.valueChanged.connect(lambda n: self.slider.setRange(0, n - 1))
        self.slider.setRange(0, self.count.value() - 1)
        self.sweep_choice.currentIndexChanged.connect(self._default_range)
        for combo in (self.of_choice, self.wrt_choice, self.sweep_choice, self.loss_choice):
            combo.currentIndexChanged.connect(self.forget)
        self.use_direction.toggled.connect(self.forget)
        self.direction.editingFinished.connect(self.forget)
        self.follow.toggled.connect(self._follow_toggled)

    def _plots(self) -> None:
        self.plots = LabPlots()
        self.legend = self.plots.add_legend(row=0, col=0)
        top = self.top = self.plots.add_plot(row=1, col=0, sides=("left", "bottom", "right"))
        top.setLabel("left", "derivative")
        top.showGrid(x=True, y=True, alpha=0.25)
        self.forward_curve = top.plot(pen=pg.mkPen("#2f6fdb", width=3))
        self.reverse_curve = top.plot(
            pen=pg.mkPen("#d9622b", width=1.5, style=Qt.PenStyle.DashLine),
            symbol="o",
            symbolSize=4,
            symbolBrush="#d9622b",
            symbolPen=None,
        )
        self.legend.addItem(self.forward_curve, "forward mode (JVP)")
        self.legend.addItem(self.reverse_curve, "reverse mode (VJP)")
        self.loss_box = pg.ViewBox()
        top.showAxis("right")
        top.scene().addItem(self.loss_box)
        top.getAxis("right").linkToView(self.loss_box)
        self.loss_box.setXLink(top)
        self.loss_curve = pg.PlotCurveItem(pen=pg.mkPen(LOSS_COLOR, width=1.5))
        self.loss_box.addItem(self.loss_curve)
        top.vb.sigResized.connect(lambda: self.loss_box.setGeometry(top.vb.sceneBoundingRect()))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888888", style=Qt.PenStyle.DotLine))
        top.addItem(self.marker)
        bottom = self.bottom = self.plots.add_plot(row=2, col=0)
        bottom.setXLink(top)
        bottom.setLabel("left", "fwd − rev")
        bottom.getAxis("left").enableAutoSIPrefix(False)  # no "(x1e-18)" beside a difference of 0
        bottom.showGrid(x=True, y=True, alpha=0.25)
        self.difference_curve = bottom.plot(pen=pg.mkPen("#8b5cf6", width=1.5))
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.plots.ci.layout.setRowStretchFactor(2, 1)
        self._retitle()

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Derivative of", self.of_choice)
        wrt = QHBoxLayout()
        wrt.addWidget(self.wrt_choice, 1)
        wrt.addWidget(self.use_direction)
        form.addRow("with respect to", wrt)
        form.addRow("direction", self.direction)
        form.addRow("Sweep", self.sweep_choice)
        span = QHBoxLayout()
        for widget in (QLabel("from"), self.low, QLabel("to"), self.high):
            span.addWidget(widget)
        span.addStretch(1)
        form.addRow("", span)
        form.addRow("points", self.count)
        form.addRow("Loss", self.loss_choice)
        side = QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.follow)
        side.addWidget(self.sweep_button)
        side.addWidget(self.slider)
        side.addWidget(self.readout)
        side.addWidget(self.message)
        side.addStretch(1)
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(scrolling(side), 2)
        box.addWidget(self.plots, 5)

    def _operand(self, combo: QComboBox) -> str:
        """The chosen element as it reads after ∂: "w", "x[1]", "(y − t)"."""
        data = combo.currentData()
        if data is None or self.names is None:
            return "?"
        value = data[0]
        index = combo.currentText()[len(self.names.value(value)) :]
        return self.names.value(value, bracket=True) + index

    def _retitle(self) -> None:
        """Title, x axis and legend name what is plotted, as the user named it."""
        wrt = self._operand(self.wrt_choice)
        if self.use_direction.isChecked():
            wrt = f"{wrt.partition('[')[0]} along the direction"
        question = f"∂{self._operand(self.of_choice)}/∂{wrt}"
        following = self.follow.isChecked()
        swept = self.sweep_choice.currentText() or "the swept value"
        self.plots.set_title(
            self.top, f"{question} during training" if following else f"{question} as {swept} varies"
        )
        self.bottom.setLabel("bottom", "training step" if following else f"{swept} (swept)")
        loss = self.loss_choice.currentData()
        name = self.loss_choice.currentText() if loss and loss[1] >= 0 else ""
        self.top.getAxis("right").setLabel(name or "loss", color=LOSS_COLOR)
        self.legend.removeItem(self.loss_curve)
        if name:
            self.legend.addItem(self.loss_curve, f"{name} (right axis)")

    # --- choices ----------------------------------------------------------------------------------

    def bind(self, document: Document) -> None:
        self.document = document
        self._last_frame = self._pending = None
        document.validated.connect(self.changed)
        for combo in (self.of_choice, self.wrt_choice, self.sweep_choice, self.loss_choice):
            combo.clear()  # a new graph: its own defaults, not the last graph's choices
        self.changed()
        self.forget()

    def refresh_now(self) -> None:
        if (program := self.valid_program()) is None:
            return
        assert self.document is not None
        report, self.names = self.document.report, Names(program, self.document.graph)
        floating = differentiable_values(program)
        every = [c for v in floating for c in components(v, report.shapes.get(v, ()))]
        sweepable = [
            c
            for i in program
            if i.spec.kind in SWEEPABLE_KINDS and i.outs[0] in floating
            for c in components(i.outs[0], report.shapes.get(i.outs[0], ()))
        ]
        scalars = [v for v in floating if report.shapes.get(v) == ()]
        sinks = [v for v in program.sinks if v in scalars]
        self._refill(self.of_choice, every, sinks[-1] if sinks else None)
        self._refill(self.wrt_choice, every, sweepable[0][0] if sweepable else None)
        self._refill(self.sweep_choice, sweepable, sweepable[-1][0] if sweepable else None)
        self._refill(
            self.loss_choice, [(NO_LOSS, -1)] + [(v, 0) for v in scalars], sinks[-1] if sinks else None
        )
        self._default_range()
        self._retitle()

    def _refill(self, combo: QComboBox, entries: list[tuple[str, int]], default: str | None) -> None:
        """Entries as graphcore names them ("x.out[1]", index), shown by the user's names ("x[1]")."""
        assert self.names is not None
        shown = [
            (self.names.element(label) if index >= 0 else label, (label.partition("[")[0], index))
            for label, index in entries
        ]
        refill(combo, shown, parse_element(default) if default else None)

    def choose(self, of: str, wrt: str, sweep: str, low: float, high: float, count: int) -> None:
        """Pick by graphcore's names for the values ("L.out", "x.out[1]")."""
        self.ensure_fresh()
        for combo, name in ((self.of_choice, of), (self.wrt_choice, wrt), (self.sweep_choice, sweep)):
            select(combo, parse_element(name))
        self.low.setValue(low)
        self.high.setValue(high)
        self.count.setValue(count)

    def _default_range(self) -> None:
        """Three either side of the swept value's literal, or of zero."""
        if self.document is None or self.sweep_choice.currentData() is None:
            return
        node = self.sweep_choice.currentData()[0].rpartition(".")[0]
        if node not in self.document.graph:
            return
        literal = self.document.graph.node(node).params.get("value")
        centre = float(literal) if isinstance(literal, int | float) else 0.0
        self.low.setValue(centre - 3)
        self.high.setValue(centre + 3)

    def choice(self) -> DerivativeChoice:
        of, wrt, swept = (
            self.of_choice.currentData(),
            self.wrt_choice.currentData(),
            self.sweep_choice.currentData(),
        )
        if of is None or wrt is None or swept is None:
            raise LabError("choose an output, a value to differentiate with respect to, and a value to sweep")
        loss = self.loss_choice.currentData()
        shapes = self.document.report.shapes if self.document else {}
        size = len(components(wrt[0], shapes.get(wrt[0], ())))
        if self.use_direction.isChecked():
            try:
                direction = tuple(float(t) for t in self.direction.text().replace(",", " ").split())
            except ValueError:
                raise LabError(f"the direction {self.direction.text()!r} is not a list of numbers") from None
            if len(direction) != size:
                name = self.names.value(wrt[0]) if self.names else wrt[0]
                raise LabError(f"the direction needs {size} numbers, one per element of {name}")
        else:
            direction = tuple(1.0 if i == wrt[1] else 0.0 for i in range(size))
        return DerivativeChoice(
            of[0], of[1], wrt[0], direction, swept[0], swept[1], loss[0] if loss and loss[1] >= 0 else None
        )

    def grid(self) -> list[float]:
        low, high, count = self.low.value(), self.high.value(), self.count.value()
        return [low + (high - low) * k / (count - 1) for k in range(count)]

    # --- computing --------------------------------------------------------------------------------

    def forget(self) -> None:
        """The question changed: old points answer another one (when following training, the last
        weights received are asked again at once)."""
        self.runner.cancel(self._job)
        self._job = None
        self.points.clear()
        self._dirty = True
        self.readout.clear()
        self._retitle()
        if self.follow.isChecked() and self._last_frame is not None:
            self._follow(self._last_frame)

    def sweep_range(self) -> None:
        self._run(self.grid(), "Sweeping…")

    def _slid(self, position: int) -> None:
        """Dragging the slider computes the point under it (a newer position cancels an older one)."""
        at = self.grid()[min(position, self.count.value() - 1)]
        self.marker.setValue(at)
        if at in self.points:
            self._read(self.points[at])
            return
        self._run([at], "")

    def _question(self) -> tuple[Program, DerivativeChoice] | None:
        """The graph and the chosen derivative, or None after saying why there is none to ask."""
        if self.document is None:
            return None
        report = self.document.report
        if not report.ok:
            self._fail(f"The graph has problems ({report.diagnostics[0]}): fix them to plot derivatives.")
            return None
        try:
            choice = self.choice()
        except LabError as error:
            self._fail(str(error))
            return None
        return self.document.program, choice

    def _run(self, points: list[float], note: str) -> None:
        if (question := self._question()) is None:
            return
        program, choice = question
        self.runner.cancel(self._job)
        self.message.setText(note)
        self._job = self.runner.submit(
            lambda report: sweep(program, choice, points, report), self._done, self._fail, self._arrived
        )

    def _arrived(self, point: DerivativePoint) -> None:
        self.points[point.at] = point
        self._dirty = True
        if self.follow.isChecked() or math.isclose(point.at, self.marker.value()):
            self._read(point)
        self.point_added.emit(point)

    def _read(self, point: DerivativePoint) -> None:
        where = f"step {point.at:.0f}" if self.follow.isChecked() else f"{point.at:.4g}"
        self.readout.setText(
            f"at {where}: forward {point.forward:.6g}, reverse {point.reverse:.6g}, "
            f"difference {point.difference:.2e}"
        )

    # --- following training -----------------------------------------------------------------------

    def _follow_toggled(self, on: bool) -> None:
        for widget in (self.sweep_choice, self.low, self.high, self.count, self.slider, self.sweep_button):
            widget.setEnabled(not on)
        self.marker.setVisible(not on)
        self.message.setText(
            "Start training (Run → Start) to plot the derivative as it learns." if on else ""
        )
        self._last_frame = self._pending = None
        self.forget()
        self.follow_changed.emit(BATCH if on else 0)

    def training_frame(self, frame: WeightsFrame) -> None:
        """New weights from the trainer: one more point (a smaller step means training started over)."""
        if not self.follow.isChecked() or self.document is None:
            return
        self._last_frame = frame
        if self.points and frame.step < max(self.points):
            self.forget()
            return
        if self._job is not None:
            self._pending = frame
            return
        self._follow(frame)

    def _follow(self, frame: WeightsFrame) -> None:
        if (question := self._question()) is None:
            return
        program, choice = question
        self._job = self.runner.submit(
            lambda: derivative_on_weights(program, choice, frame.state, frame.inputs, frame.step),
            self._followed,
            self._fail,
        )

    def _followed(self, point: DerivativePoint) -> None:
        self._job = None
        self._arrived(point)
        largest = max((abs(p.difference) for p in self.points.values()), default=0.0)
        self.message.setText(
            f"Following training: {len(self.points)} points, forward and reverse mode differ by at most "
            f"{largest:.1e}"
        )
        if self._pending is not None:
            frame, self._pending = self._pending, None
            self._follow(frame)

    def _done(self, _: object) -> None:
        self._job = None
        largest = max((abs(p.difference) for p in self.points.values()), default=0.0)
        self.message.setText(
            f"{len(self.points)} points: forward and reverse mode differ by at most {largest:.1e}"
        )
        self._redraw()
        self.finished.emit("")

    def _fail(self, message: str) -> None:
        self._job = None
        self._pending = None
        self.message.setText(message)
        self.finished.emit(message)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        ordered = [self.points[k] for k in sorted(self.points)]
        xs = [p.at for p in ordered]
        self.forward_curve.setData(xs, [p.forward for p in ordered])
        self.reverse_curve.setData(xs, [p.reverse for p in ordered])
        self.difference_curve.setData(xs, [p.difference for p in ordered])
        span = difference_span(ordered)
        self.bottom.setYRange(-span, span, padding=0)
        self.bottom.getAxis("left").setTicks(difference_ticks(span))
        losses = [p.loss for p in ordered]
        shown = not any(map(math.isnan, losses))
        self.loss_curve.setData(xs if shown else [], losses if shown else [])
        self.loss_box.enableAutoRange()
