"""DerivativeLab: the lab's docks, its Derivatives menu and its worker, added through the window's Shell.

The lab follows the shell's document; the training session it is given lets the derivative plot
follow training. Everything else lives here, so the window's side of the lab is one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from app.canvas.scene import CanvasScene
from app.editing.document import Document
from app.lab.cost_plot import CostPlot
from app.lab.derivative_plot import DerivativePlot
from app.lab.jacobian_dock import JacobianDock
from app.lab.path_view import PathView
from app.lab.runner import Runner

if TYPE_CHECKING:
    from app.shell import Shell
    from app.training.session import TrainingSession

DOCK_HEIGHT = 360


class DerivativeLab(QObject):
    def __init__(self, shell: Shell, training: TrainingSession) -> None:
        super().__init__(shell)
        self.shell = shell
        self.runner = Runner(self)
        self.path_view = PathView(self.runner)
        self.jacobian = JacobianDock(self.runner)
        self.derivative_plot = DerivativePlot(self.runner)
        self.cost_plot = CostPlot(self.runner, self.jacobian.chosen)
        areas = Qt.DockWidgetArea
        self.docks: dict[str, QDockWidget] = {}
        self.docks["paths"] = shell.add_dock(
            "lab_paths", "Path View", self.path_view, areas.RightDockWidgetArea, tab_with="inspector"
        )
        shell.raise_dock("inspector")
        below = "history"
        for key, name, title, widget in (
            ("jacobian", "lab_jacobian", "Jacobian Lab", self.jacobian),
            ("derivative", "lab_derivative", "Derivative Plot", self.derivative_plot),
            ("cost", "lab_cost", "Cost of Modes", self.cost_plot),
        ):
            self.docks[key] = shell.add_dock(name, title, widget, areas.BottomDockWidgetArea, tab_with=below)
            below = name
        shell.raise_dock("diagnostics")
        self._menu()
        training.weights.connect(self.derivative_plot.training_frame)  # the plot can follow training
        self.derivative_plot.follow_changed.connect(
            lambda rows: training.share_weights(rows, "derivative plot")
        )
        shell.follow_document(self._follow)

    def _menu(self) -> None:
        menu = self.shell.add_menu("&Derivatives")
        self.path_action = menu.addAction("&Path View on Canvas")
        self.path_action.setCheckable(True)
        self.path_action.toggled.connect(self.show_paths)
        self.path_view.enabled.toggled.connect(self.path_action.setChecked)
        menu.addSeparator()
        for key, text in (
            ("jacobian", "&Jacobian Lab"),
            ("derivative", "&Derivative Plot"),
            ("cost", "&Cost of Modes"),
        ):
            menu.addAction(text).triggered.connect(lambda _=False, key=key: self.open(key))

    def _follow(self, document: Document | None) -> None:
        if document is not None and self.shell.scene is not None:
            self.bind(document, self.shell.scene)

    def bind(self, document: Document, scene: CanvasScene) -> None:
        self.path_view.bind(document, scene)
        self.jacobian.bind(document)
        self.derivative_plot.bind(document)
        self.cost_plot.bind(document)

    def shutdown(self) -> None:
        """The window closes: wait for the worker, and drop results that would land on a dead scene."""
        self.runner.shutdown()

    def show_paths(self, on: bool) -> None:
        self.path_view.enabled.setChecked(on)
        if on:
            self.open("paths")

    def open(self, key: str) -> QDockWidget:
        """Show and raise one of the lab's docks; a bottom dock gets room for its plots."""
        dock = self.docks[key]
        dock.show()
        dock.raise_()
        if key != "paths":
            self.shell.resize_dock(dock.objectName(), DOCK_HEIGHT, Qt.Orientation.Vertical)
        return dock
