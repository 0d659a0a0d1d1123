"""The loss-landscape dock's screenshot: Rosenbrock's valley with six optimizers' paths (app/landscape)."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.examples import EXAMPLES
from app.window import MainWindow

RATES = {"sgd": "0.001", "momentum": "0.0005", "nesterov": "0.0005", "adagrad": "0.5", "rmsprop": "0.01"}


def rosenbrock_landscape(window: MainWindow) -> None:
    """Rosenbrock from (−1.2, 1), span 2.5, 300 steps: SGD crawls, momentum runs down the valley."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "rosenbrock.json")
    tool = window.landscape
    window.resizeDocks([tool.dock], [560], Qt.Orientation.Vertical)
    tool.action.trigger()
    form = tool.panel.form
    form.span.setText("2.5")
    form.steps.setText("300")
    form.resolution.setText("101")
    for row in form.rows:
        row.check.setChecked(True)
        if row.name in RATES:
            row.lr.setText(RATES[row.name])
    tool.panel.compute.click()
    deadline = time.monotonic() + 120
    while tool.job is not None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    window.resizeDocks([tool.dock], [560], Qt.Orientation.Vertical)
    window.frame_all()


def shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    return [("landscape", "dark", rosenbrock_landscape)]
