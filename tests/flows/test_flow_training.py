"""Training as a user does it: the Train panel's buttons clicked, its fields typed into key by key and
its arrows clicked while a run goes, another document opened after training, a node deleted mid-run
on the canvas. Each step checks what the panel, the plots and the status bar show."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QStyle,
    QStyleOptionSpinBox,
    QToolButton,
)

from app.window import MainWindow

TIMEOUT = 60_000  # the first run in a process imports torch.optim (slow on small machines)
RUN = 100_000  # long enough to edit while it goes; every run is stopped or paused long before


def button(window: MainWindow, name: str) -> QToolButton:
    """The Train panel's button for a Run action."""
    action = window.run_tools.actions[name]
    return next(
        b for b in window.run_tools.train_dock.findChildren(QToolButton) if b.defaultAction() is action
    )


def press(window: MainWindow, name: str) -> None:
    QTest.mouseClick(button(window, name), Qt.MouseButton.LeftButton)


def enabled(window: MainWindow) -> set[str]:
    """The Train panel's buttons a user can press now."""
    names = ("start", "pause", "resume", "step_batch", "stop", "reset_weights")
    return {name for name in names if button(window, name).isEnabled()}


def type_keys(field: QAbstractSpinBox, text: str) -> None:
    """Click into a field, select what it shows and type over it, key by key (no Enter yet)."""
    QTest.mouseClick(field.lineEdit(), Qt.MouseButton.LeftButton)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, text)


def retype(field: QAbstractSpinBox, text: str) -> None:
    type_keys(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)


def click_arrow(field: QAbstractSpinBox, up: bool = True) -> None:
    option = QStyleOptionSpinBox()
    field.initStyleOption(option)
    part = QStyle.SubControl.SC_SpinBoxUp if up else QStyle.SubControl.SC_SpinBoxDown
    rect = field.style().subControlRect(QStyle.ComplexControl.CC_SpinBox, option, part, field)
    QTest.mouseClick(field, Qt.MouseButton.LeftButton, pos=rect.center())


def choose(combo: QComboBox, text: str) -> None:
    """Pick an entry of a combo box with the keyboard: focus it, type the entry's start (after a
    pause, or the keys would extend the last search)."""
    QTest.qWait(QApplication.keyboardInputInterval() + 50)
    combo.setFocus()
    QTest.keyClicks(combo, text)
    assert combo.currentText() == text


def steps_done(window: MainWindow) -> int:
    """The steps the progress bar shows as done."""
    return max(window.run_tools.train_dock.progress.value(), 0)


def state(window: MainWindow) -> str:
    return window.run_tools.session.state


def message(window: MainWindow) -> str:
    return window.statusBar().currentMessage()


def keeps_running(window: MainWindow, qtbot, steps: int = 10) -> None:
    """The run goes on: more steps are plotted, and nothing stopped or paused it."""
    done = steps_done(window)
    qtbot.waitUntil(lambda: steps_done(window) >= done + steps, timeout=TIMEOUT)
    dock = window.run_tools.train_dock
    assert state(window) == "running" and dock.status.text().startswith("Running: ")
    assert not dock.problem.isVisible()


def lr_now(window: MainWindow) -> float:
    return window.run_tools.plots.buffers["lr"].last_y


def scheduled_lr(schedule: dict, lr: float, total_steps: int, step: int) -> float:
    """The rate of training step `step` (counted from 1) for a base rate `lr`, in closed form (the
    panel's step schedule: x0.1 every 100 steps; cosine down to 0); tests/graphcore checks torch's."""
    warmup = schedule.get("warmup_steps", 0)
    if step <= warmup:
        return lr * step / warmup
    t = step - 1 - warmup
    if schedule["name"] == "step":
        return lr * 0.1 ** (t // 100)
    if schedule["name"] == "cosine":
        return lr * (1 + math.cos(math.pi * t / max(1, total_steps - warmup))) / 2
    return lr


def assert_plotted_rate(window: MainWindow, schedule: dict, lr: float) -> None:
    """The last plotted rate is what the schedule gives at that step for a base rate `lr`."""
    step = int(window.run_tools.plots.buffers["lr"].last_x)
    expected = scheduled_lr(schedule, lr, RUN, step)
    assert lr_now(window) == pytest.approx(expected, rel=1e-6), (step, message(window))


def live_edit(window: MainWindow, qtbot, edit: Callable[[], None]) -> None:
    """Edit while the run goes: the status bar says the run took it, and the run goes on."""
    with qtbot.waitSignal(window.run_tools.session.message, timeout=TIMEOUT):
        edit()
    assert message(window) == "Training edits apply from the next step"
    keeps_running(window, qtbot)


SCHEDULES = [(name, warmup) for name in ("constant", "step", "cosine") for warmup in (0, 10)]


def test_each_schedule_trains_and_takes_live_edits_of_every_field(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "two_moons.json")  # cosine with a 20-step warm-up, adam
    dock, graph = window.run_tools.train_dock, window.document.graph
    retype(dock.steps, str(RUN))
    assert dock.steps.text() == str(RUN) and graph.training["steps"] == RUN

    press(window, "start")  # the shipped file first: its cosine warm-up crashed on an lr edit
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)
    live_edit(window, qtbot, lambda: click_arrow(dock.lr))
    assert dock.lr.text() == "0.01100" and graph.training["optimizer"]["lr"] == pytest.approx(0.011)
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert dock.status.text() == "Idle"

    assert window.open_path(examples / "xor.json")  # four samples a step: the fastest to train
    dock, graph = window.run_tools.train_dock, window.document.graph
    retype(dock.steps, str(RUN))
    choose(dock.optimizer, "momentum")
    assert dock.momentum.isEnabled() and dock.momentum.text() == "0.900"
    for name, warmup in SCHEDULES:
        choose(dock.schedule, name)
        retype(dock.warmup, str(warmup))
        expected = {"name": name, **({"warmup_steps": warmup} if warmup else {})}
        assert graph.training["schedule"] == expected
        assert dock.warmup.text() == (str(warmup) if warmup else "none")
        retype(dock.lr, "0.01")
        press(window, "start")
        qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 20, timeout=TIMEOUT)
        assert enabled(window) == {"pause", "stop"}
        assert_plotted_rate(window, expected, 0.01)

        live_edit(window, qtbot, lambda: click_arrow(dock.lr))  # 0.01 -> 0.011: the schedule x1.1
        assert dock.lr.text() == "0.01100"
        assert_plotted_rate(window, expected, 0.011)
        live_edit(window, qtbot, lambda: retype(dock.lr, "0.002"))  # typed digit by digit
        assert dock.lr.text() == "0.00200" and graph.training["optimizer"]["lr"] == 0.002
        assert_plotted_rate(window, expected, 0.002)

        live_edit(window, qtbot, lambda: retype(dock.momentum, "0.5"))
        live_edit(window, qtbot, lambda: retype(dock.clip, "1.5"))
        trainer = window.run_tools.session.worker.query("describe")  # the run took both
        assert trainer["param_groups"][0][0]["momentum"] == 0.5 and trainer["clip_grad_norm"] == 1.5
        assert dock.momentum.text() == "0.500" and dock.clip.text() == "1.500"
        live_edit(window, qtbot, lambda: click_arrow(dock.clip, up=False))
        assert graph.training["clip_grad_norm"] == pytest.approx(1.4) and dock.clip.text() == "1.400"

        live_edit(window, qtbot, lambda: retype(dock.steps, "200000"))
        assert dock.progress.text().endswith(" / 200000 steps")
        live_edit(window, qtbot, lambda: click_arrow(dock.steps))
        assert dock.progress.text().endswith(" / 200001 steps") and dock.steps.text() == "200001"
        press(window, "stop")
        qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
        retype(dock.momentum, "0.9")
        retype(dock.clip, "0")
        retype(dock.steps, str(RUN))
        assert dock.clip.text() == "off" and "clip_grad_norm" not in graph.training


def test_typing_a_rate_commits_it_whole_and_never_a_refused_value(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    dock, graph = window.run_tools.train_dock, window.document.graph
    retype(dock.steps, str(RUN))
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)
    type_keys(dock.lr, "")
    for key in "0.02":  # nothing is set before Enter: after "0" the rate would be 0
        QTest.keyClicks(dock.lr, key)
        assert graph.training["optimizer"]["lr"] == 0.05 and window.document.stack.count() == 1
    assert dock.lr.text() == "0.02"
    QTest.keyClick(dock.lr, Qt.Key.Key_Return)
    assert graph.training["optimizer"] == {"name": "adam", "lr": 0.02} and dock.lr.text() == "0.02000"
    qtbot.waitUntil(lambda: lr_now(window) == pytest.approx(0.02), timeout=TIMEOUT)
    retype(dock.lr, "0")  # the training section refuses a rate of 0: the field goes back
    assert graph.training["optimizer"]["lr"] == 0.02 and dock.lr.text() == "0.02000"
    for _ in range(5):
        click_arrow(dock.lr, up=False)
    assert graph.training["optimizer"]["lr"] == pytest.approx(0.015) and dock.lr.text() == "0.01500"
    keeps_running(window, qtbot)

    type_keys(dock.batch_size, "2")  # a field left by a click elsewhere commits what it shows
    assert graph.training["batch_size"] == 4
    QTest.mouseClick(dock.steps.lineEdit(), Qt.MouseButton.LeftButton)
    assert graph.training["batch_size"] == 2
    qtbot.waitUntil(lambda: message(window).endswith("; batch_size at the next Start"), timeout=TIMEOUT)
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)

    choose(dock.optimizer, "nesterov")  # nesterov needs a positive momentum
    retype(dock.momentum, "0")
    assert graph.training["optimizer"] == {"name": "nesterov", "lr": pytest.approx(0.015)}
    assert dock.momentum.text() == "0.900"
    assert message(window).startswith("Not set: training.optimizer.nesterov: needs a positive momentum")
    choose(dock.optimizer, "adam")
    assert not dock.momentum.isEnabled()


def test_pause_resume_and_stop_with_the_panel_buttons(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    dock = window.run_tools.train_dock
    assert enabled(window) == {"start", "step_batch"} and dock.status.text() == "Idle"
    retype(dock.steps, str(RUN))
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)
    assert dock.status.text() == f"Running: {RUN} steps on cpu"
    for part in range(3):  # the finish counts the steps of every part of the run
        press(window, "pause")
        qtbot.waitUntil(lambda: state(window) == "paused", timeout=TIMEOUT)
        assert dock.status.text() == "Paused"
        assert enabled(window) == {"start", "resume", "step_batch", "stop", "reset_weights"}
        paused_at = steps_done(window)
        if part == 2:  # a budget a few steps on: the run finishes soon after it resumes
            budget = paused_at + 20
            retype(dock.steps, str(budget))
            shows = f"{paused_at} / {budget} steps"  # a paused run takes the new budget at once
            qtbot.waitUntil(lambda text=shows: dock.progress.text() == text, timeout=TIMEOUT)
        assert dock.progress.text() == f"{paused_at} / {budget if part == 2 else RUN} steps"
        press(window, "resume")
        qtbot.waitUntil(lambda at=paused_at: steps_done(window) > at + 5, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: state(window) == "finished", timeout=TIMEOUT)
    assert message(window).startswith(f"Training finished after {budget} steps (")
    assert dock.progress.text() == f"{budget} / {budget} steps"
    assert dock.status.text().startswith(f"Finished: {budget} steps in ")
    assert enabled(window) == {"start", "step_batch", "stop", "reset_weights"}
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert dock.status.text() == "Idle" and enabled(window) == {"start", "step_batch"}


def test_another_document_opens_with_a_fresh_train_panel(
    window: MainWindow, examples: Path, qtbot, monkeypatch
):
    assert window.open_path(examples / "two_moons.json")
    dock = window.run_tools.train_dock
    retype(dock.steps, "40")
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "finished", timeout=TIMEOUT)
    assert dock.progress.text() == "40 / 40 steps"
    monkeypatch.setenv("BACKPROP_MEMORY_BUDGET", "256B")
    press(window, "start")
    qtbot.waitUntil(lambda: dock.problem.isVisible(), timeout=TIMEOUT)
    assert dock.status.text().startswith("Cannot Train: ")
    monkeypatch.delenv("BACKPROP_MEMORY_BUDGET")

    assert window.open_path(examples / "xor.json")
    assert dock.progress.text() == "" and dock.status.text() == "Idle" and not dock.problem.isVisible()
    assert enabled(window) == {"start", "step_batch"} and dock.steps.text() == "500"
    retype(dock.steps, str(RUN))
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)

    assert window.open_path(examples / "path_sum.json")  # mid-run: that run's last reports are not shown
    assert dock.progress.text() == "" and dock.status.text() == "Idle"
    assert dock.missing.isVisible() and not dock.lr.isEnabled()
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert dock.progress.text() == "" and dock.status.text() == "Idle"
    assert len(window.run_tools.plots.buffers["train loss"]) == 0
    assert enabled(window) == set()


def click_node(window: MainWindow, node: str) -> None:
    """Click a node's title bar on the canvas."""
    rect = window.scene.nodes[node].sceneBoundingRect()
    at = window.view.mapFromScene(QPointF(rect.center().x(), rect.top() + 6))
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(at))


def test_deleting_a_node_mid_run_stops_it_with_a_notice(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "two_moons.json")
    dock = window.run_tools.train_dock
    retype(dock.steps, str(RUN))
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)
    click_node(window, "fc2")
    assert window.scene.selected_node_ids() == ["fc2"]
    keeps_running(window, qtbot, steps=5)  # selecting is no edit
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert "fc2" not in window.document.graph
    notice = "Training stopped: the graph changed (deleted fc2)"
    assert message(window) == notice
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
    assert dock.status.text() == notice and enabled(window) == {"start", "step_batch"}

    press(window, "start")  # the graph as it is now, without fc2
    qtbot.waitUntil(lambda: dock.status.text().startswith("Cannot Train: "), timeout=TIMEOUT)
    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "fc2" in window.document.graph
    press(window, "start")
    qtbot.waitUntil(lambda: state(window) == "running" and steps_done(window) > 5, timeout=TIMEOUT)
    assert dock.status.text() == f"Running: {RUN} steps on cpu"
    press(window, "stop")
    qtbot.waitUntil(lambda: state(window) == "idle", timeout=TIMEOUT)
