"""Derivatives ▸ Loss Landscape…: the dock, its menu entry and its work in the lab's worker.

Compute snapshots the graph (its file text and weights) on the GUI thread and computes the landscape
(graphcore.landscape.landscape.compute) in the lab's one-thread runner, with a progress bar; Cancel
makes the next progress report raise, so the worker stops after the row or path it is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.lab.runner import Runner
from app.landscape.form import LandscapeForm
from app.landscape.view import LandscapeView
from graphcore.files.fileformat import dumps
from graphcore.landscape.coordinates import scalar_parameters
from graphcore.landscape.landscape import Landscape, Request
from graphcore.landscape.loss import LandscapeError

if TYPE_CHECKING:
    from app.editing.document import Document
    from app.shell import Shell


def landscape_job(text: str, weights: Any, base_dir: Path, request: Request) -> Any:
    """The work for the runner: `work(report)` computes from a private copy of the graph."""

    def work(report: Any) -> Landscape:
        from graphcore.files.fileformat import graph_from_dict, parse_json
        from graphcore.landscape.landscape import compute

        graph = graph_from_dict(parse_json(text))
        graph.weights = weights
        return compute(graph, request, base_dir, lambda done, total: report((done, total)))

    return work


class LandscapeDock(QWidget):
    """Controls on the left, plots on the right, a status line and progress under the controls."""

    def __init__(self) -> None:
        super().__init__()
        self.form = LandscapeForm()
        self.view = LandscapeView()
        self.compute = QPushButton("Compute")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.status = QLabel("Choose a plane and optimizers, then Compute.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setMinimumWidth(260)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute)
        buttons.addWidget(self.cancel)
        left = QVBoxLayout()
        left.addWidget(self.form)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addWidget(self.view, 1)


class LandscapeTool:
    """The dock and the Derivatives menu's Loss Landscape… entry; work goes to the lab's runner."""

    def __init__(self, shell: Shell, runner: Runner) -> None:
        self.shell, self.runner = shell, runner
        self.panel = LandscapeDock()
        self.dock = shell.add_dock(
            "landscape",
            "Loss Landscape",
            self.panel,
            Qt.DockWidgetArea.BottomDockWidgetArea,
            tab_with="lab_cost",
        )
        shell.raise_dock("diagnostics")  # a tab behind Problems, as the lab's are
        self.action = shell.menu_named("&Derivatives").addAction("Loss &Landscape…")
        self.action.triggered.connect(self.open)
        self.job: int | None = None
        self.panel.compute.clicked.connect(self.start)
        self.panel.cancel.clicked.connect(self.stop)
        shell.follow_document(self.switch)

    def open(self) -> None:
        self.follow(self.shell.document)
        self.dock.show()
        self.dock.raise_()

    def switch(self, document: Document | None) -> None:
        """Another graph: a computation for the last one is cancelled, its picture cleared."""
        self.stop()
        self.panel.view.clear()
        self.follow(document)

    def follow(self, document: Document | None) -> None:
        """The axes a plane can take: the current graph's scalar Parameters."""
        if document is None or not document.report.ok:
            self.panel.form.set_parameters([])
            return
        program = document.program
        nodes = scalar_parameters(program, document.report.shapes)
        self.panel.form.set_parameters([(node, program.by_node[node].title) for node in nodes])

    def start(self) -> None:
        document = self.shell.document
        if document is None:
            self.say("Open a graph first.")
            return
        if not document.report.ok:
            self.say("The graph has problems (see Problems): fix them first.")
            return
        self.follow(document)  # the graph may have gained or lost Parameters since the dock opened
        try:
            request = self.panel.form.request()
        except LandscapeError as error:
            self.say(str(error))
            return
        self.stop()
        work = landscape_job(dumps(document.graph), document.graph.weights, self.shell.folder(), request)
        self.panel.progress.setRange(0, request.resolution + len(request.specs))
        self.panel.progress.setValue(0)
        self.panel.cancel.setEnabled(True)
        self.say("Computing the grid and the paths…")
        self.job = self.runner.submit(work, self.done, self.failed, self.progressed)

    def stop(self) -> None:
        if self.job is not None:
            self.runner.cancel(self.job)
            self.job = None
            self.panel.cancel.setEnabled(False)
            self.say("Cancelled.")

    def progressed(self, item: tuple[int, int]) -> None:
        done, total = item
        self.panel.progress.setMaximum(total)
        self.panel.progress.setValue(done)

    def done(self, landscape: Landscape) -> None:
        self.job = None
        self.panel.cancel.setEnabled(False)
        self.panel.progress.setValue(self.panel.progress.maximum())
        self.panel.view.show_landscape(landscape)
        diverged = [p.label for p in landscape.paths if p.diverged]
        self.say(
            f"{landscape.loss} on {landscape.data}."
            + (f" Diverged: {', '.join(diverged)} (lower the learning rate)." if diverged else "")
            + (" Colours are log-scaled." if self.panel.view.log_scaled else "")
        )

    def failed(self, message: str) -> None:
        self.job = None
        self.panel.cancel.setEnabled(False)
        self.say(message)

    def say(self, text: str) -> None:
        self.panel.status.setText(text)
