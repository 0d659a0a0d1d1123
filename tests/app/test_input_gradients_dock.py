"""Derivatives ▸ Input Gradients…: a user opens the dock from the menu, picks a unit, types numbers
key by key, presses the buttons, and sees the pictures graphcore.input_grads computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QLineEdit

from app.panels.lazy import on_screen
from app.window import MainWindow
from graphcore.input_grads.adversarial import fgsm
from graphcore.input_grads.model import InputModel
from graphcore.input_grads.saliency import saliency
from graphcore.input_grads.unit import Unit
from tests.flows.test_flow_time_gradients import menu_action
from tests.flows.test_flow_training import TIMEOUT, state
from tests.flows.test_flow_weights import train

WAIT = 60_000


def open_dock(window: MainWindow, qtbot, example: Path | None = None):
    """Open `example` (unless None: the document shown), then the dock from the Derivatives menu."""
    if example is not None:
        assert window.open_path(example)
    menu_action(window, "Derivatives", "Input Gradients…").trigger()
    feature = window.input_gradients
    qtbot.waitUntil(feature.dock.isVisible)
    return feature, feature.view


def type_into(field: QLineEdit, text: str) -> None:
    """Select what the field holds and type over it, one key at a time."""
    QTest.mouseClick(field, Qt.MouseButton.LeftButton)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(field, Qt.Key.Key_Delete)
    QTest.keyClicks(field, text)


def choose(box: QComboBox, value: str) -> None:
    """Focus the combo box and type the start of the entry, as a keyboard user picks one."""
    box.setFocus()
    QTest.keyClicks(box, value)
    assert box.currentData() == value


def click_and_wait(qtbot, view, button) -> str:
    with qtbot.waitSignal(view.shown, timeout=WAIT) as blocker:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    while blocker.args == ["Computing…"]:  # the first line says the work started
        with qtbot.waitSignal(view.shown, timeout=WAIT) as blocker:
            pass
    return blocker.args[0]


def model_for(window: MainWindow, examples: Path, sample: int, value: str, state=None) -> InputModel:
    document = window.document
    return InputModel(
        document.program, "x", sample=sample, values=[value], base_dir=examples,
        training=document.graph.training, state=state,
    )  # fmt: skip


def test_saliency_of_a_digit_logit_is_drawn_as_an_8x8_map(window: MainWindow, examples: Path, qtbot):
    feature, view = open_dock(window, qtbot, examples / "digits_mlp.json")
    assert view.value_box.currentData() == "fc2.out"  # the training section's prediction
    assert [view.input_box.itemData(i) for i in range(view.input_box.count())] == ["x"]  # y holds labels
    assert "untrained" in view.weights.text()
    type_into(view.index, "3")
    QTest.keyClicks(view.sample, "5")
    view.sample.selectAll()
    QTest.keyClicks(view.sample, "5")
    assert view.sample.value() == 5
    assert click_and_wait(qtbot, view, view.saliency.compute_button) == ""
    expected = saliency(model_for(window, examples, 5, "fc2.out"), Unit("fc2.out", (3,)))
    shown = view.saliency.gradient.shown
    assert shown.shape == (8, 8)
    np.testing.assert_allclose(shown, expected.gradient.reshape(8, 8).numpy(), rtol=1e-12)
    np.testing.assert_allclose(view.saliency.input.shown, expected.x.reshape(8, 8).numpy())
    largest = float(expected.gradient.abs().max())
    assert view.saliency.gradient.levels == (-largest, largest)  # centred on 0
    text = view.saliency.status.text()
    assert text.startswith(f"fc2.out[3] = {expected.value:.4g}") and "64 features shown as 8×8" in text
    assert view.saliency.gradient.plot.titleLabel.text == "∂ fc2.out[3] / ∂ x"


def test_a_bad_index_and_bad_fields_are_one_line(window: MainWindow, examples: Path, qtbot):
    feature, view = open_dock(window, qtbot, examples / "digits_mlp.json")
    type_into(view.index, "12")
    message = click_and_wait(qtbot, view, view.saliency.compute_button)
    assert "index 12 on axis 0 is out of range 0..9" in message
    view.tabs.setCurrentWidget(view.adversarial)
    type_into(view.adversarial.eps, "-1")
    QTest.mouseClick(view.adversarial.attack_button, Qt.MouseButton.LeftButton)
    assert view.message.text() == "ε: must be a number from 0 to 1e+06, got -1"
    type_into(view.adversarial.eps, "nan")
    QTest.mouseClick(view.adversarial.attack_button, Qt.MouseButton.LeftButton)
    assert view.message.text().startswith("ε: must be a number")
    view.tabs.setCurrentWidget(view.maximize)
    type_into(view.maximize.steps, "0")
    QTest.mouseClick(view.maximize.start_button, Qt.MouseButton.LeftButton)
    assert view.message.text().startswith("Steps: expected a whole number from 1 to")


def test_fgsm_after_training_uses_the_trained_weights(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "digits_mlp.json")
    train(window, qtbot, steps=40)
    feature, view = open_dock(window, qtbot)
    qtbot.waitUntil(lambda: feature.frame is not None and feature.frame.step == 40, timeout=TIMEOUT)
    assert view.weights.text() == "Weights: the training run's, at step 40."
    view.tabs.setCurrentWidget(view.adversarial)
    view.sample.setValue(3)
    type_into(view.adversarial.eps, "0.25")
    assert click_and_wait(qtbot, view, view.adversarial.attack_button) == ""
    expected = fgsm(model_for(window, examples, 3, "fc2.out", feature.frame.state), "fc2.out", 0.25)
    tab = view.adversarial
    np.testing.assert_allclose(tab.before.heights, expected.before)
    np.testing.assert_allclose(tab.after.heights, expected.after)
    assert expected.after[3] < expected.before[3]
    np.testing.assert_allclose(np.abs(tab.perturbation.shown), 0.25)
    np.testing.assert_allclose(tab.adversarial.shown, expected.adversarial.reshape(8, 8).numpy())
    title = tab.before.plot.titleLabel.text
    assert (
        title
        == f"before: predicted {expected.predicted_before} ({expected.before[expected.predicted_before]:.0%})"
    )
    assert "Trained weights (step 40)" in tab.status.text() and "Class 3:" in tab.status.text()
    assert state(window) == "finished"


def test_the_ascent_animates_then_cancel_stops_it(window: MainWindow, examples: Path, qtbot):
    feature, view = open_dock(window, qtbot, examples / "digits_cnn.json")
    choose(view.value_box, "conv2.out")
    type_into(view.index, "c=3")
    tab = view.maximize
    view.tabs.setCurrentWidget(tab)
    type_into(tab.steps, "30")
    type_into(tab.lr, "0.5")
    type_into(tab.tv, "0.1")
    assert click_and_wait(qtbot, view, tab.start_button) == ""
    xs, ys = tab.curve.getData()
    assert list(xs) == list(range(31)) and ys[-1] > ys[0]
    assert tab.picture.shown.shape == (8, 8)
    assert tab.status.text().startswith("conv2.out:c=3: ")
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()
    type_into(tab.steps, "100000")
    QTest.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.cancel_button.isEnabled() and not tab.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(tab.points) >= 3, timeout=WAIT)  # frames arrive as it ascends
    assert tab.picture.plot.titleLabel.text.startswith("input at step ")
    QTest.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert tab.start_button.isEnabled()
    qtbot.waitUntil(lambda: not feature.runner.busy, timeout=WAIT)
    assert not tab.status.text().startswith("conv2.out:c=3: ")  # no result of the cancelled run


def test_a_vector_input_is_drawn_as_bars(window: MainWindow, examples: Path, qtbot):
    feature, view = open_dock(window, qtbot, examples / "xor.json")
    choose(view.value_box, "p.out")
    type_into(view.index, "0")
    assert click_and_wait(qtbot, view, view.saliency.compute_button) == ""
    bars = view.saliency.gradient
    assert bars.image.image is None and len(bars.shown) == 2
    graph = window.document.graph
    model = InputModel(
        window.document.program, "x", values=["p.out"], base_dir=examples, training=graph.training
    )
    expected = saliency(model, Unit("p.out", (0,))).gradient
    np.testing.assert_allclose(bars.shown, expected.numpy())
    assert torch.is_tensor(expected)


def test_closing_the_window_mid_ascent_waits_for_the_worker(window: MainWindow, examples: Path, qtbot):
    feature, view = open_dock(window, qtbot, examples / "digits_mlp.json")
    tab = view.maximize
    type_into(tab.steps, "100000")
    QTest.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(tab.points) >= 1, timeout=WAIT)
    window.close()
    assert feature.runner.pool.activeThreadCount() == 0


def test_weights_are_shared_while_the_dock_is_on_screen_or_the_plot_follows(
    window: MainWindow, examples: Path, qtbot
):
    """Each copy of the weights crosses from the training process: none is made that nobody shows."""
    worker = window.run_tools.session.worker
    assert worker.weights_rows == 0
    feature, _ = open_dock(window, qtbot, examples / "digits_mlp.json")
    assert worker.weights_rows == 4
    window.lab.open("derivative")  # its tab goes in front of the dock's: the dock needs none now
    qtbot.waitUntil(lambda: not on_screen(feature.view))
    assert worker.weights_rows == 0
    window.lab.derivative_plot.follow.setChecked(True)  # the plot wants them while it follows
    assert worker.weights_rows == 4
    menu_action(window, "Derivatives", "Input Gradients…").trigger()
    qtbot.waitUntil(lambda: on_screen(feature.view))
    window.lab.derivative_plot.follow.setChecked(False)  # the dock, in front again, still wants them
    assert worker.weights_rows == 4
    feature.dock.close()
    assert worker.weights_rows == 0


def test_an_edit_made_while_the_dock_is_behind_a_tab_shows_when_it_comes_back(
    window: MainWindow, examples: Path, qtbot
):
    feature, view = open_dock(window, qtbot, examples / "digits_mlp.json")
    titles = lambda: [view.value_box.itemText(i) for i in range(view.value_box.count())]  # noqa: E731
    assert "fc1.out  (hidden)" in titles()
    window.lab.open("derivative")
    qtbot.waitUntil(lambda: not on_screen(feature.view))
    window.controller.set_label("fc1", "first layer")
    assert "fc1.out  (hidden)" in titles()  # out of sight: its lists wait (each edit would refill them)
    menu_action(window, "Derivatives", "Input Gradients…").trigger()
    qtbot.waitUntil(lambda: on_screen(feature.view))
    assert "fc1.out  (first layer)" in titles() and "fc1.out  (hidden)" not in titles()
