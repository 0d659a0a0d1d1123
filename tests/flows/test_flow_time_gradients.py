"""Derivatives ▸ Gradient per Time Step: the user opens the LSTM example, clicks the input x on the
canvas, opens the view from the menu and sees one bar per time step, as high as graphcore's
‖∂L/∂x_t‖ (which tests/examples/test_time_steps.py checks against torch autograd)."""

from __future__ import annotations

import math
from pathlib import Path

from app.window import MainWindow
from graphcore.derivatives.lab import make_runtime
from graphcore.derivatives.time_steps import gradient_per_step
from graphcore.program import lower
from tests.app.canvas_gestures import click_node


def menu_action(window: MainWindow, menu_text: str, text: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == menu_text)
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def test_the_view_shows_one_bar_per_time_step(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "lstm_sequence_sign.json")
    click_node(window, "x")
    menu_action(window, "Derivatives", "Gradient per Time Step").trigger()
    view = window.time_gradients.view
    qtbot.waitUntil(lambda: window.time_gradients.dock.isVisible())
    expected = gradient_per_step(make_runtime(lower(window.document.graph)), "loss.out", "x.out").norms
    assert len(expected) == 20
    drawn = view.bars.opts
    assert list(drawn["x"]) == list(range(20))
    assert [10**h for h in drawn["height"]] == [float(10 ** math.log10(n)) for n in expected]
    assert view.status.text().startswith("‖∂loss.out/∂x.out[t]‖ for each of 20 steps along dim 1")
    assert view.plot.titleLabel.text == "gradient norm per time step"


def test_a_node_without_time_steps_says_why(window: MainWindow, examples: Path):
    assert window.open_path(examples / "lstm_sequence_sign.json")
    click_node(window, "loss")
    menu_action(window, "Derivatives", "Gradient per Time Step").trigger()
    view = window.time_gradients.view
    assert "a sequence has a time axis" in view.status.text()
    assert len(view.bars.opts["height"]) == 0
    click_node(window, "y")
    menu_action(window, "Derivatives", "Gradient per Time Step").trigger()
    assert "holds integers" in view.status.text()
