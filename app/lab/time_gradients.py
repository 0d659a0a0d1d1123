"""Derivatives ▸ Gradient per Time Step: a bar per step t of the selected node's sequence output,
its height ‖∂L/∂v_t‖ (graphcore.derivatives.time_steps), L being the training loss (or the graph's
only scalar output).

Select a sequence-valued node on the canvas (the LSTM's input, the LSTM itself) and open the view:
before training an LSTM's early steps get orders of magnitude less gradient than its late ones, so
the y axis is logarithmic. The numbers are computed on the lab's inputs (seed 0, batch 4, float64).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.lab.style import LabPlots
from graphcore.derivatives.lab import make_runtime
from graphcore.derivatives.time_steps import StepGradients, TimeStepError, gradient_per_step
from graphcore.graph import Graph
from graphcore.program import Program

if TYPE_CHECKING:
    from app.shell import Shell

TINY = 1e-300  # a zero bar drawn on the log axis
BAR_COLOR = "#2563eb"


def loss_of(graph: Graph, program: Program, shapes: Mapping[str, Any]) -> str | None:
    """The training section's loss, else the one scalar output that nothing consumes."""
    loss = graph.training.get("loss") if isinstance(graph.training, dict) else None
    if isinstance(loss, str) and loss in program.consumers:
        return loss
    scalars = [v for v in program.sinks if tuple(shapes.get(v, (None,))) == ()]
    return scalars[0] if len(scalars) == 1 else None


class TimeGradientView(QWidget):
    """The bar plot and a line saying what it shows (or why there is nothing to show)."""

    def __init__(self) -> None:
        super().__init__()
        self.status = QLabel(
            "Select a node with a sequence output, then Derivatives ▸ Gradient per Time Step."
        )
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.plots = LabPlots()
        self.plot = self.plots.add_plot(0, 0, "gradient norm per time step")
        self.plot.setLogMode(y=True)
        self.plot.setLabel("bottom", "time step t")
        self.plot.setLabel("left", "‖∂L/∂v_t‖")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BAR_COLOR)
        self.plot.addItem(self.bars)
        self.result: StepGradients | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)

    def show_result(self, result: StepGradients) -> None:
        self.result = result
        heights = [math.log10(max(n, TINY)) for n in result.norms]  # BarGraphItem draws in log coordinates
        self.bars.setOpts(x=list(range(len(heights))), height=heights, y0=min(heights, default=0) - 1)
        self.plot.autoRange()
        self.status.setText(
            f"‖∂{result.of}/∂{result.value}[t]‖ for each of {len(result.norms)} steps along dim "
            f"{result.time_dim} of {list(result.shape)}; largest at t = "
            f"{max(range(len(result.norms)), key=result.norms.__getitem__)}."
        )

    def show_problem(self, text: str) -> None:
        self.result = None
        self.bars.setOpts(x=[], height=[])
        self.status.setText(text)


class TimeGradients:
    """The view's dock and its Derivatives menu entry."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.view = TimeGradientView()
        self.dock = shell.add_dock(
            "lab_time_gradients", "Gradient per Time Step", self.view, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.dock.hide()
        self.action = shell.menu_named("&Derivatives").addAction("Gradient per &Time Step")
        self.action.triggered.connect(self.open)

    def open(self) -> None:
        self.dock.show()
        self.dock.raise_()
        self.compute()

    def compute(self) -> None:
        """The selected node's first floating-point output, differentiated from the loss."""
        document, scene = self.shell.document, self.shell.scene
        selected = scene.selected_node_ids() if scene is not None else []
        if document is None or len(selected) != 1:
            self.view.show_problem("Select one node with a sequence output on the canvas first.")
            return
        graph = document.graph
        report = document.report
        if not report.ok:
            self.view.show_problem("The graph has problems (see Problems): fix them first.")
            return
        program = document.program  # lowered once per edit, shared with the other views
        of = loss_of(graph, program, report.shapes)
        if of is None:
            self.view.show_problem("The graph has no loss: give it a training loss or one scalar output.")
            return
        value = program.by_node[selected[0]].outs[0]
        try:
            runtime = make_runtime(program)
            self.view.show_result(gradient_per_step(runtime, of, value))
        except (TimeStepError, ValueError) as error:
            self.view.show_problem(f"{value}: {error}")
