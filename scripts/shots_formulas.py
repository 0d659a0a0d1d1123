"""The `formulas` screenshot: typeset formulas on the canvas (the card under the selected node, at a
zoom where it reads) and in the stepper panel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.examples import EXAMPLES
from app.window import MainWindow


def formulas(window: MainWindow) -> None:
    """XOR stepped to the backward step of its first Linear layer, that node selected and zoomed in."""
    window.open_path(EXAMPLES / "xor.json")
    tools = window.run_tools
    tools.actions["stepper_mode"].setChecked(True)
    session = tools.stepper.session
    while session is not None and not session.at_end:
        tools.actions["step"].trigger()
        event = session.current
        if event is not None and event.phase == "backward" and event.node == "fc1":
            break
    window.resizeDocks([window.docks["stepper"]], [430], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["diagnostics"]], [110], Qt.Orientation.Vertical)
    window.scene.select_nodes(["fc1"])
    QApplication.processEvents()
    tools.stepper_panel.show_session(session)  # typeset again at the panel's final width
    node = window.scene.nodes["fc1"]
    window.view.zoom_by(2.0 / window.view.zoom)
    window.view.centerOn(node.sceneBoundingRect().center())


def shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    return [("formulas", "light", formulas)]
