"""The gradient-flow shot (app/canvas/gradient_flow.py): init_small trained with View ▸ Gradient Flow
on, then one more batch, so the badges carry update ratios too."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QApplication

from app.examples import EXAMPLES
from app.window import MainWindow


def _wait_for(done: Callable[[], bool], seconds: float = 120.0) -> None:
    app, deadline = QApplication.instance(), time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def gradient_flow(window: MainWindow) -> None:
    """init_small: the wires thicken and redden towards the loss; fc1-fc7 vanish, fc8-fc9 barely move."""
    window.open_path(EXAMPLES / "init_small.json")
    window.about_graph.banner.close_button.click()
    flow, tools = window.gradient_flow, window.run_tools
    flow.action.trigger()
    tools.actions["start"].trigger()
    _wait_for(lambda: tools.session.state == "finished")
    tools.actions["step_batch"].trigger()
    _wait_for(lambda: flow.frame is not None and bool(flow.frame.ratios) and tools.session.state != "busy")
    QApplication.instance().processEvents()
    view = window.view  # zoomed out to the last six layers: vanishing (red), Δ/w (amber), then fine
    view.zoom_by(0.65 / view.zoom)
    view.centerOn(window.scene.nodes["act8"].sceneBoundingRect().center())


def shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    return [("gradient-flow", "light", gradient_flow)]
