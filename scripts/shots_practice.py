"""Screenshot of Run ▸ Practice Mode (app/stepper/practice.py) for the README."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.examples import EXAMPLES
from app.window import MainWindow


def practice_wrong_answer(window: MainWindow) -> None:
    """The sigmoid neuron in practice mode: ∂L/∂z answered wrong, the chain-rule step explained."""
    window.open_path(EXAMPLES / "sigmoid_neuron.json")
    tools, practice = window.run_tools, window.practice
    practice.action.setChecked(True)
    for _ in range(5):  # the sources, then w·x: answered right
        tools.actions["step"].trigger()
    practice.box.answer.setText("0.75")
    practice.submit()
    while practice.question is None or not practice.question.label.startswith("∂L/∂z"):
        tools.actions["step"].trigger()
        if practice.question is not None and not practice.question.label.startswith("∂L/∂z"):
            practice.box.answer.setText(f"{practice.question.answer:.4g}")
            practice.submit()
    practice.box.answer.setText("-0.25")
    practice.submit()
    tools.stepper.overlay.animation.stop()
    window.resizeDocks([window.docks["stepper"]], [440], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["diagnostics"]], [110], Qt.Orientation.Vertical)
    QApplication.instance().processEvents()
    window.frame_all()


def shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    return [("practice", "light", practice_wrong_answer)]
