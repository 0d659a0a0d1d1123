"""Derivatives ▸ Loss Landscape…: the user opens the dock from the menu, types learning rates digit by
digit, presses Compute and sees the heat map, each optimizer's path and loss curve, and moves the
step slider; typed nonsense gets a line in the dock; Cancel stops a computation."""

from __future__ import annotations

import json
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from app.window import MainWindow
from graphcore.files.fileformat import load
from graphcore.landscape.grid import display_values
from graphcore.landscape.landscape import Request, compute
from graphcore.landscape.paths import parse_specs


def menu_action(window: MainWindow, menu_text: str, text: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == menu_text)
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def type_into(edit: QLineEdit, text: str) -> None:
    """Select what the field holds and type over it, key by key."""
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(edit, text)


def open_dock(window: MainWindow, examples: Path, name: str, qtbot):
    assert window.open_path(examples / f"{name}.json")
    menu_action(window, "Derivatives", "Loss Landscape…").trigger()
    tool = window.landscape
    qtbot.waitUntil(lambda: tool.dock.isVisible())
    return tool


def compute_and_wait(tool, qtbot) -> None:
    QTest.mouseClick(tool.panel.compute, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tool.job is None and not tool.runner.busy, timeout=60_000)


def test_compute_draws_the_heat_map_the_paths_and_the_loss_curves(window: MainWindow, examples: Path, qtbot):
    tool = open_dock(window, examples, "ill_conditioned_quadratic", qtbot)
    form, view = tool.panel.form, tool.panel.view
    assert form.plane.currentText() == "Two parameters"
    assert (form.first.currentText(), form.second.currentText()) == ("x", "y")
    rows = {row.name: row for row in form.rows}
    QTest.mouseClick(rows["adam"].check, Qt.MouseButton.LeftButton)  # untick Adam: SGD and momentum stay
    assert not rows["adam"].check.isChecked()
    type_into(rows["sgd"].lr, "0.019")
    type_into(rows["momentum"].lr, "0.005")
    type_into(form.steps, "60")
    type_into(form.span, "4.5")
    type_into(form.resolution, "21")
    compute_and_wait(tool, qtbot)

    expected = compute(
        load(examples / "ill_conditioned_quadratic.json"),
        Request(
            tuple(parse_specs("sgd:lr=0.019,momentum:lr=0.005")), 60, ("x", "y"), span=4.5, resolution=21
        ),
    )
    shown, log_scaled = display_values(expected.grid.values)
    assert view.image.image.shape == (21, 21)
    assert (view.image.image == shown.T.numpy()).all() and log_scaled
    assert len(view.isocurves) == 12
    assert (
        tool.panel.status.text() == "f.out on the graph's inputs (seed 0, batch 4). Colours are log-scaled."
    )
    assert tool.panel.progress.value() == tool.panel.progress.maximum() == 21 + 2
    assert [label.text for _, label in view.legend.items] == ["SGD", "Momentum"]
    for line, path in zip(view.paths, expected.paths, strict=True):
        xs, ys = line.getData()
        assert len(xs) == 61 and list(zip(xs, ys)) == path.points
    for curve, path in zip(view.loss_curves, expected.paths, strict=True):
        assert list(curve.yData) == path.losses and view.loss_plot.ctrl.logYCheck.isChecked()
    assert view.slider.value() == 60 and view.step_label.text() == "step 60 of 60"

    view.slider.setFocus()
    QTest.keyClick(view.slider, Qt.Key.Key_Home)
    for _ in range(3):
        QTest.keyClick(view.slider, Qt.Key.Key_Right)
    assert view.step_label.text() == "step 3 of 60"
    sgd = expected.paths[0].points
    xs, ys = view.paths[0].getData()
    assert list(zip(xs, ys)) == sgd[:4]
    dot = view.dots[0].data[0]
    assert (dot["x"], dot["y"]) == sgd[3]
    assert sgd[3][1] < 0 < sgd[2][1]  # SGD's zig-zag across the steep axis, as drawn
    assert view.step_line.value() == 3

    QTest.mouseClick(view.play, Qt.MouseButton.LeftButton)
    assert view.play.text() == "Pause"
    qtbot.waitUntil(lambda: not view.play.isChecked(), timeout=10_000)
    assert view.slider.value() == 60 and len(view.paths[1].getData()[0]) == 61

    compute_and_wait(tool, qtbot)  # again: the picture is replaced, not drawn twice
    assert len(view.isocurves) == 12 and len(view.paths) == 2 and len(view.legend.items) == 2
    assert sum(isinstance(item, pg.IsocurveItem) for item in view.surface.scene().items()) == 12

    assert window.open_path(examples / "sigmoid_neuron.json")  # another graph: nothing of the last
    assert view.landscape is None and view.image.image is None and not view.paths
    assert not view.slider.isEnabled() and not view.play.isEnabled()
    assert (tool.panel.form.first.currentText(), tool.panel.form.second.currentText()) == ("w", "b")


@pytest.mark.parametrize(
    "field, text, message",
    [
        ("lr_sgd", "abc", "SGD learning rate: expected a number, got 'abc'"),
        ("lr_sgd", "-1", "SGD learning rate: expected a number in (0, 1e+06], got -1"),
        ("momentum_momentum", "x", "momentum.momentum must be a number, got 'x'"),
        ("betas_adam", "0.9", "adam.betas: expected two numbers in [0, 1)"),
        ("steps", "0", "Steps: expected a whole number from 1 to 10000, got '0'"),
        ("resolution", "5000", "Resolution: expected a whole number from 2 to 201, got '5000'"),
        ("span", "nan", "Span: expected a number in (0, 1e+06], got nan"),
    ],
)
def test_typed_nonsense_gets_a_line_in_the_dock(
    window: MainWindow, examples: Path, qtbot, field, text, message
):
    tool = open_dock(window, examples, "sigmoid_neuron", qtbot)
    type_into(tool.panel.findChild(QLineEdit, field), text)
    QTest.mouseClick(tool.panel.compute, Qt.MouseButton.LeftButton)
    assert tool.job is None and message in tool.panel.status.text()
    assert tool.panel.view.landscape is None


def test_random_directions_through_the_current_weights(window: MainWindow, examples: Path, qtbot):
    tool = open_dock(window, examples, "sigmoid_neuron", qtbot)
    form = tool.panel.form
    form.plane.setFocus()
    QTest.keyClick(form.plane, Qt.Key.Key_Down)
    assert form.plane.currentText() == "Random directions" and not form.first.isEnabled()
    type_into(form.resolution, "5")
    compute_and_wait(tool, qtbot)
    view = tool.panel.view
    assert view.landscape is not None and view.landscape.plane.axes == ("α", "β")
    assert view.surface.getAxis("bottom").labelText == "α"
    assert all(line.getData()[0][0] == 0.0 for line in view.paths)


def test_cancel_stops_the_computation(window: MainWindow, examples: Path, qtbot):
    tool = open_dock(window, examples, "two_moons", qtbot)
    form = tool.panel.form
    type_into(form.resolution, "201")
    type_into(form.steps, "10000")
    QTest.mouseClick(tool.panel.compute, Qt.MouseButton.LeftButton)
    assert tool.panel.cancel.isEnabled()
    QTest.mouseClick(tool.panel.cancel, Qt.MouseButton.LeftButton)
    assert tool.panel.status.text() == "Cancelled." and not tool.panel.cancel.isEnabled()
    qtbot.waitUntil(lambda: not tool.runner.busy, timeout=60_000)
    assert tool.panel.progress.value() < tool.panel.progress.maximum()
    assert tool.panel.view.landscape is None and tool.panel.status.text() == "Cancelled."


def test_a_graph_without_a_loss_is_told_so_in_the_dock(window: MainWindow, examples: Path, qtbot):
    data = json.loads((examples / "sigmoid_neuron.json").read_text())
    data["nodes"].append({"id": "extra", "type": "square", "pos": [0, 300]})
    data["edges"].append({"from": "w.out", "to": "extra.x"})
    (examples / "two_outputs.json").write_text(json.dumps(data))
    tool = open_dock(window, examples, "two_outputs", qtbot)
    compute_and_wait(tool, qtbot)
    assert tool.panel.status.text() == (
        "the graph has no loss: give it a training section, or exactly one scalar output"
    )
    assert tool.panel.view.landscape is None and not tool.panel.cancel.isEnabled()
