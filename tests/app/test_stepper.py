"""The backprop stepper on the canvas: badges against `graphcore steps`, step back, run to end, the
side panel, the value viewer, and the optimizer step against torch.optim."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PySide6.QtCore import Qt

from app.stepper.format import describe
from app.stepper.panel import ValueViewer
from app.window import MainWindow
from graphcore.cli import main as graphcore_main


@pytest.fixture
def stepping(neuron: MainWindow) -> MainWindow:
    neuron.run_tools.actions["stepper_mode"].setChecked(True)
    assert neuron.run_tools.stepper.active
    return neuron


def cli_steps(capsys, path) -> dict:
    assert graphcore_main(["steps", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def badge_numbers(window: MainWindow, node: str) -> tuple[float | None, float | None]:
    badge = window.run_tools.stepper.overlay.badge(node)
    assert badge is not None and badge.isVisible(), node
    value = None if badge.value is None else float(badge.value)
    grad = None if badge.grad is None else float(badge.grad)
    return value, grad


def test_every_badge_matches_graphcore_steps(stepping: MainWindow, examples, capsys):
    expected = cli_steps(capsys, examples / "sigmoid_neuron.json")
    tools = stepping.run_tools
    program = tools.stepper.session.program
    assert tools.stepper.session.of == expected["of"] == "L.out"
    grads: dict[str, float] = {}
    for record in expected["steps"]:
        tools.actions["step"].trigger()
        event = tools.stepper.session.current
        assert (event.index, event.phase, event.node) == (record["index"], record["phase"], record["node"])
        assert tools.stepper.overlay.current == record["node"]
        for value_name, value in record.get("outputs", {}).items():
            shown, _ = badge_numbers(stepping, value_name.split(".")[0])
            assert shown == pytest.approx(value, abs=1e-12)
        for name, value in record.get("upstream", {}).items():
            if name == expected["of"]:
                grads[name] = value
        for port, value in record.get("passed", {}).items():
            node, _, name = port.partition(".")
            instr = program.by_node[node]
            grads[instr.args[instr.spec.inputs.index(name)]] = value
        for value_name, grad in grads.items():  # every gradient that has arrived so far is on its badge
            node = value_name.split(".")[0]
            value, shown = badge_numbers(stepping, node)
            assert shown == pytest.approx(grad, abs=1e-12), node
            badge = tools.stepper.overlay.badge(node)
            assert badge.text == f"= {describe(value)}\n∂ {describe(shown)}"
    assert tools.stepper.session.at_end and tools.actions["optimizer_step"].isEnabled()
    assert badge_numbers(stepping, "w") == pytest.approx((0.5, -0.13886101614965027))
    assert badge_numbers(stepping, "t")[1] == pytest.approx(-0.38936076605077796)


def test_step_back_and_run_to_end(stepping: MainWindow):
    tools = stepping.run_tools
    session = tools.stepper.session
    for _ in range(12):  # through the forward pass, and the first backward step (L)
        tools.actions["step"].trigger()
    assert session.current.phase == "backward" and badge_numbers(stepping, "sq")[1] == pytest.approx(0.5)
    tools.actions["step_back"].trigger()
    assert session.current.node == "L" and session.current.phase == "forward"
    assert badge_numbers(stepping, "sq")[1] is None  # the gradient has not arrived yet
    assert tools.stepper.overlay.frame.pos() == stepping.scene.nodes["L"].pos()
    tools.actions["run_to_end"].trigger()
    assert session.at_end and session.position == session.total - 1 == 16
    tools.actions["stepper_reset"].trigger()
    assert session.position == -1 and tools.stepper.overlay.badge("w").isVisible() is False


def test_the_side_panel_explains_a_backward_step(stepping: MainWindow):
    tools = stepping.run_tools
    for _ in range(15):  # ... up to the backward step of t = σ(z)
        tools.actions["step"].trigger()
    event = tools.stepper.session.current
    assert (event.phase, event.node) == ("backward", "t")
    text = tools.stepper_panel.text
    sigma = 0.610639233949222
    assert "backward · t = σ(z)" in text and "Formula" in text
    assert "Upstream gradient" in text and describe(-0.38936076605077796) in text
    assert f"∂out/∂x</code></td><td>&nbsp;{describe(sigma * (1 - sigma))}" in text  # σ' = σ(1 − σ)
    assert "t.x → z.out" in text and describe(-0.09257401076643351) in text


def test_a_badge_click_opens_a_viewer(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    tools.actions["run_to_end"].trigger()
    badge = tools.stepper.overlay.badge("w")
    view = stepping.view
    view.centerOn(badge.parentItem())
    # a badge ignores the zoom: find where it is on screen through its device transform
    at = badge.deviceTransform(view.viewportTransform()).map(badge.boundingRect().center()).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    viewer = tools.stepper.viewer
    assert isinstance(viewer, ValueViewer) and viewer.isVisible()
    assert viewer.windowTitle() == "w gradient" and viewer.kind == "number"
    matrix = ValueViewer("m", torch.arange(6.0).reshape(2, 3))
    vector = ValueViewer("v", torch.arange(6.0))
    assert (matrix.kind, vector.kind) == ("heatmap", "histogram")
    viewer.close()


def test_the_optimizer_step_matches_torch_optim(stepping: MainWindow):
    tools = stepping.run_tools
    session = tools.stepper.session
    tools.actions["run_to_end"].trigger()
    grads = session.stepper.gradients()
    tools.actions["optimizer_step"].trigger()
    updates = {u.name: u for u in session.updates}
    assert set(updates) == {"w", "b"}
    for name, start in (("w", 0.5), ("b", -0.3)):
        reference = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        reference.grad = grads[f"{name}.out"].clone()
        torch.optim.SGD([reference], lr=0.01).step()  # no training section: plain SGD, lr 0.01
        assert float(updates[name].after) == pytest.approx(float(reference.detach()), abs=1e-15)
        assert float(updates[name].delta) == pytest.approx(-0.01 * float(grads[f"{name}.out"]), abs=1e-15)
    assert "Optimizer step · sgd" in tools.stepper_panel.text
    assert not tools.actions["optimizer_step"].isEnabled()
    loss_before = float(session.history[10].outputs["L.out"])
    tools.actions["run_to_end"].trigger()  # a new pass with the updated weights: the loss went down
    assert session.passes == 2 and float(session.history[10].outputs["L.out"]) < loss_before
    assert math.isclose(float(session.history[0].outputs["w.out"]), float(updates["w"].after))


def test_editing_the_graph_restarts_the_stepper_and_leaving_clears_the_canvas(stepping: MainWindow):
    tools = stepping.run_tools
    tools.actions["run_to_end"].trigger()
    stepping.controller.set_param("x", "value", 2.0)
    session = tools.stepper.session
    assert session.position == -1
    tools.actions["step"].trigger()
    tools.actions["step"].trigger()
    assert badge_numbers(stepping, "x")[0] == 2.0
    tools.actions["stepper_mode"].setChecked(False)
    assert tools.stepper.overlay is None
    assert not any(type(i).__name__ == "Badge" for i in stepping.scene.items())


def test_a_graph_that_cannot_be_stepped_says_why(window: MainWindow, examples):
    assert window.open_path(examples / "path_sum.json")
    window.controller.add_node("add", window.view.center())  # an unconnected node: a problem
    window.run_tools.actions["stepper_mode"].setChecked(True)
    assert not window.run_tools.actions["stepper_mode"].isChecked()
    assert "Cannot step this graph" in window.statusBar().currentMessage()
