"""The README's stepper flow as a user does it, with clicks on the Stepper toolbar: step forward to
the end of the backward pass and back to the start, Run to End, take an optimizer step; at every
step the badges a user reads are checked against graphcore's own Stepper."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtTest import QTest

from app.stepper.format import describe
from app.window import MainWindow
from graphcore.files.fileformat import load
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper


def click(window: MainWindow, name: str) -> None:
    """Press a Stepper action's button on its toolbar."""
    tools = window.run_tools
    toolbar = next(t for t in tools.toolbars if tools.actions[name] in t.actions())
    button = toolbar.widgetForAction(tools.actions[name])
    assert button.isVisible() and button.isEnabled(), name
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def expected_badges(path: Path) -> list[dict[str, str]]:
    """After each step of graphcore's Stepper, the text each node's badge should read: its value,
    and the sum of the gradients that have reached it."""
    program = lower(load(path))
    stepper = Stepper(Runtime(program, dtype="float64", device="cpu", seed=0))
    values: dict[str, float] = {}
    parts: dict[str, dict[str, float]] = {}
    after: list[dict[str, str]] = []
    for event in stepper.events():
        for name, value in event.outputs.items():
            values[name.partition(".")[0]] = float(value)
        for name, grad in event.upstream.items():
            if name == stepper.of:
                parts.setdefault(name.partition(".")[0], {})[name] = float(grad)
        for port, grad in event.passed.items():
            node, _, input_name = port.partition(".")
            instr = program.by_node[node]
            source = instr.args[instr.spec.inputs.index(input_name)]
            parts.setdefault(source.partition(".")[0], {})[port] = float(grad)
        for name, total in event.accumulated.items():  # the engine's own sum where a value fans out
            assert sum(parts[name.partition(".")[0]].values()) == pytest.approx(float(total), abs=1e-15)
        texts = {node: f"= {describe(value)}" for node, value in values.items()}
        for node, arrived in parts.items():
            texts[node] += f"\n∂ {describe(sum(arrived.values()))}"
        after.append(texts)
    return after


def shown(window: MainWindow) -> dict[str, str]:
    overlay = window.run_tools.stepper.overlay
    return {node: badge.text for node, badge in overlay.badges.items() if badge.isVisible()}


def assert_fits(window: MainWindow) -> None:
    """The side panel's text, laid out at the panel's width, is nowhere wider: nothing is cut off."""
    label = window.run_tools.stepper_panel.label
    document = QTextDocument()
    document.setDefaultFont(label.font())
    document.setHtml(label.text())
    width = label.contentsRect().width() - 2 * label.margin()
    document.setTextWidth(width)
    assert document.idealWidth() <= width


@pytest.mark.parametrize("name", ["sigmoid_neuron", "sigmoid_neuron_l2"])
def test_step_to_the_end_and_back_then_an_optimizer_step(window: MainWindow, examples: Path, qtbot, name):
    path = examples / f"{name}.json"
    assert window.open_path(path)
    expected = expected_badges(path)
    click(window, "stepper_mode")
    assert window.statusBar().currentMessage() == f"Stepper: {len(expected)} steps, differentiating L"
    assert shown(window) == {}
    for step, texts in enumerate(expected, 1):
        click(window, "step")
        assert shown(window) == texts, step
        assert f"step {step} / {len(expected)}" in window.run_tools.stepper_panel.text
    assert window.run_tools.stepper.session.at_end and window.run_tools.actions["optimizer_step"].isEnabled()
    if name == "sigmoid_neuron_l2":  # w feeds w·x and w²: its badge shows the two gradients summed
        text = window.run_tools.stepper_panel.text
        assert "Contributions" in text and "via (w·x).a" in text and "via w².a" in text
        assert expected[-1]["w"] == "= 0.5\n∂ -0.03886"  # −0.1389 through w·x, +0.1 through w²
    for step in range(len(expected) - 1, 0, -1):  # and back, to the first step
        click(window, "step_back")
        assert shown(window) == expected[step - 1], step

    with qtbot.waitSignal(window.run_tools.stepper.ran_to_end, timeout=20_000):
        click(window, "run_to_end")
    assert shown(window) == expected[-1]
    gradients = {
        node: float(text.rpartition("∂ ")[2]) for node, text in expected[-1].items() if node in ("w", "b")
    }
    click(window, "optimizer_step")
    session = window.run_tools.stepper.session
    new_values = {}
    for node, start in (("w", 0.5), ("b", -0.3)):
        update = next(u for u in session.updates if u.name == node)
        new = new_values[node] = start - 0.01 * float(update.grad)  # SGD, lr 0.01: no training section
        assert float(update.grad) == pytest.approx(gradients[node], rel=1e-3)
        badge = window.run_tools.stepper.overlay.badge(node).text
        assert badge == f"= {describe(new)} new\n  was {describe(start)}\n∂ {describe(update.grad)} used"
    text = window.run_tools.stepper_panel.text
    assert "Optimizer step · sgd" in text and text.count("after</td>") == 2
    assert_fits(window)
    click(window, "step")  # a new pass starts with the new weights
    assert shown(window)["w"] == f"= {describe(new_values['w'])}"
