"""A GAN (examples/gan_2d.json, two objectives) trained as a user does: Start in the Train panel, one
loss curve per objective in the Training Plots, each objective's loss in the panel, an objective's
learning rate typed while it trains, Pause/Resume/Stop; the Precision and Compile settings with undo;
the stepper stepping the first objective."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.training.dock import NO_COMPILER, NO_CUDA
from app.window import MainWindow
from tests.app.conftest import OFFSCREEN_NOTICE
from tests.flows.test_flow_plots import legend_texts
from tests.flows.test_flow_stepper import click
from tests.flows.test_flow_training import (
    RUN,
    TIMEOUT,
    choose,
    enabled,
    message,
    press,
    retype,
    state,
    steps_done,
    type_keys,
)


def points(window: MainWindow, name: str) -> int:
    """The points the loss curve of objective `name` draws now (0 before its first report)."""
    curve = window.run_tools.plots.curves.get(f"objective {name}")
    if curve is None:
        return 0
    xs, _ = curve.getData()
    return 0 if xs is None else len(xs)


def undo(window: MainWindow) -> None:
    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def test_a_gan_trains_with_a_curve_and_a_loss_per_objective(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "gan_2d.json")
    tools, dock, graph = window.run_tools, window.run_tools.train_dock, window.document.graph
    view = dock.objectives
    assert view.isVisible() and not dock.form.isRowVisible(dock.lr)  # no one optimizer to show
    assert [box.value() for box in view.rates] == [0.002, 0.002]
    assert [label.text() for label in view.descriptions] == ["adam, constant, every step"] * 2
    retype(dock.steps, str(RUN))

    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 20, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: points(window, "discriminator") > 5 and points(window, "generator") > 5)
    assert legend_texts(tools.plots.legend) == ["train", "validation", "discriminator", "generator"]
    assert points(window, "discriminator") == points(window, "generator")  # both update every step
    losses = tools.plots.latest_losses()
    assert set(losses) == {"discriminator", "generator"}
    qtbot.waitUntil(lambda: "generator loss" in dock.losses.text())
    assert dock.losses.isVisible() and dock.losses.text().startswith("discriminator loss ")
    assert (
        "discriminator loss " in tools.plots.status.text() and "generator loss " in tools.plots.status.text()
    )

    # the generator's rate, typed digit by digit while it trains: nothing is set before Enter
    type_keys(view.rates[1], "0.0005")
    assert graph.training["objectives"][1]["optimizer"]["lr"] == 0.002
    with qtbot.waitSignal(tools.session.message, timeout=TIMEOUT):
        QTest.keyClick(view.rates[1], Qt.Key.Key_Return)
    assert message(window) == "Training edits apply from the next step"
    assert graph.training["objectives"][1]["optimizer"] == {
        "name": "adam",
        "lr": 0.0005,
        "betas": [0.5, 0.999],
    }
    assert graph.training["objectives"][0]["optimizer"]["lr"] == 0.002
    groups = tools.session.worker.query("describe")["param_groups"]  # asked of the training process
    assert groups[1][0]["lr"] == pytest.approx(0.0005)
    assert groups[0][0]["lr"] == pytest.approx(0.002)
    assert state(window) == "running"

    press(window, "pause")
    qtbot.waitUntil(lambda: state(window) == "paused", timeout=TIMEOUT)
    paused_at = steps_done(window)
    press(window, "resume")
    qtbot.waitUntil(lambda: steps_done(window) > paused_at + 10, timeout=TIMEOUT)
    assert state(window) == "running" and points(window, "generator") > 5
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert enabled(window) >= {"start"} and dock.status.text() == "Idle"

    undo(window)  # the rate edit is one step of the history
    assert graph.training["objectives"][1]["optimizer"]["lr"] == 0.002 and view.rates[1].text() == "0.00200"
    retype(view.rates[0], "0.001")  # each objective's rate is a step of its own in the history
    retype(view.rates[1], "0.003")
    assert [o["optimizer"]["lr"] for o in graph.training["objectives"]] == [0.001, 0.003]
    undo(window)
    assert [o["optimizer"]["lr"] for o in graph.training["objectives"]] == [0.001, 0.002]
    assert [box.text() for box in view.rates] == ["0.00100", "0.00200"]
    undo(window)
    assert [o["optimizer"]["lr"] for o in graph.training["objectives"]] == [0.002, 0.002]

    press(window, "start")  # Start clears the plots: the curves begin again from the new run
    assert points(window, "generator") == 0 and legend_texts(window.run_tools.plots.legend) == [
        "train",
        "validation",
    ]
    qtbot.waitUntil(lambda: state(window) == "running" and points(window, "generator") > 0, timeout=TIMEOUT)
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)


@pytest.mark.qt_log_ignore(OFFSCREEN_NOTICE, "This plugin does not support (raise|grabbing the keyboard)")
def test_precision_and_compile_are_settings_with_undo(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "two_moons.json")
    dock, graph = window.run_tools.train_dock, window.document.graph
    assert dock.precision.currentText() == "fp32" and not dock.compile.isChecked()
    choose(dock.precision, "bf16")
    assert graph.training["precision"] == "bf16"
    QTest.mouseClick(dock.compile, Qt.MouseButton.LeftButton)
    assert graph.training["compile"] is True and dock.compile.isChecked()
    undo(window)
    assert "compile" not in graph.training and not dock.compile.isChecked()
    undo(window)
    assert "precision" not in graph.training and dock.precision.currentText() == "fp32"

    QTest.mouseClick(dock.precision, Qt.MouseButton.LeftButton)  # the list opens: fp16 needs CUDA
    qtbot.waitUntil(lambda: dock.precision.view().isVisible())
    fp16 = dock.precision.model().item(2)
    if torch.cuda.is_available():
        assert fp16.isEnabled()
    else:
        assert not fp16.isEnabled() and fp16.toolTip() == NO_CUDA
    QTest.keyClick(dock.precision.view(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dock.precision.view().isVisible())
    assert dock.precision.currentText() == "fp32"

    choose(dock.precision, "bf16")  # a bf16 run on the CPU trains
    retype(dock.steps, "30")
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "finished", timeout=TIMEOUT)
    assert window.run_tools.session.last_result.step == 30
    assert window.run_tools.session.worker.query("describe")["precision"] == "bf16"


def test_the_stepper_steps_the_first_objective(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "gan_2d.json")
    click(window, "stepper_mode")
    session = window.run_tools.stepper.session
    assert session is not None and session.of == "d_loss.out"
    click(window, "run_to_end")
    qtbot.waitUntil(lambda: session.at_end, timeout=TIMEOUT)
    generator = {k: v.detach().clone() for k, v in session.parameters().items() if k.startswith("g_")}
    click(window, "optimizer_step")
    updated = sorted(u.name for u in session.updates)
    assert updated == ["d_fc1.bias", "d_fc1.weight", "d_fc2.bias", "d_fc2.weight"]
    assert all(u.delta.abs().max() > 0 for u in session.updates)
    for name, before in generator.items():  # the discriminator's step leaves the generator alone
        assert torch.equal(session.parameters()[name], before), name


@pytest.fixture
def no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("shutil.which", lambda _name: None)


@pytest.mark.qt_log_ignore(OFFSCREEN_NOTICE, "This plugin does not support (raise|grabbing the keyboard)")
def test_without_a_compiler_the_compile_box_is_greyed_with_the_reason(no_compiler, window, examples, qtbot):
    assert window.open_path(examples / "two_moons.json")
    dock = window.run_tools.train_dock
    assert not dock.compile.isEnabled() and dock.compile.toolTip() == NO_COMPILER
    QTest.mouseClick(dock.compile, Qt.MouseButton.LeftButton)
    assert "compile" not in window.document.graph.training and not dock.compile.isChecked()
