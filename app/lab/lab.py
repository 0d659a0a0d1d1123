"""DerivativeLab: the lab's docks, its Derivatives menu and its worker, added to a MainWindow.

The window makes one and calls `bind` for every document it shows; everything else lives here, so
the window's side of the lab is two lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from app.canvas.scene import CanvasScene
from app.document import Document
from app.lab.cost_plot import CostPlot
from app.lab.derivative_plot import DerivativePlot
from app.lab.jacobian_dock import JacobianDock
from app.lab.path_view import PathView
from app.lab.runner import Runner

if TYPE_CHECKING:
    from app.window import MainWindow

DOCK_HEIGHT = 360


class DerivativeLab(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.runner = Runner(self)
        self.path_view = PathView(self.runner)
        self.jacobian = JacobianDock(self.runner)
        self.derivative_plot = DerivativePlot(self.runner)
        self.cost_plot = CostPlot(self.runner, self.jacobian.chosen)
        areas = Qt.DockWidgetArea
        self.docks: dict[str, QDockWidget] = {}
        path = self.docks["paths"] = window.add_dock(
            "lab_paths", "Path View", self.path_view, areas.RightDockWidgetArea
        )
        if "inspector" in window.docks:
            window.tabifyDockWidget(window.docks["inspector"], path)
            window.docks["inspector"].raise_()
        below = window.docks.get("history")
        for key, name, title, widget in (
            ("jacobian", "lab_jacobian", "Jacobian Lab", self.jacobian),
            ("derivative", "lab_derivative", "Derivative Plot", self.derivative_plot),
            ("cost", "lab_cost", "Cost of Modes", self.cost_plot),
        ):
            dock = self.docks[key] = window.add_dock(name, title, widget, areas.BottomDockWidgetArea)
            if below is not None:
                window.tabifyDockWidget(below, dock)
            below = dock
        if "diagnostics" in window.docks:
            window.docks["diagnostics"].raise_()
        self._menu()
        session = window.run_tools.session  # the derivative plot can follow training
        session.weights.connect(self.derivative_plot.training_frame)
        self.derivative_plot.follow_changed.connect(session.share_weights)

    def _menu(self) -> None:
        bar = self.window.menuBar()
        menu = bar.addMenu("&Derivatives")
        last = bar.actions()[-2] if len(bar.actions()) > 1 else None  # keep Help at the end
        if last is not None and last.text().replace("&", "") == "Help":
            bar.insertMenu(last, menu)
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
            self.window.resizeDocks([dock], [DOCK_HEIGHT], Qt.Orientation.Vertical)
        return dock
