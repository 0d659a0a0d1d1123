"""Training in its own process, as a user meets it: the window stays the same window whatever
happens to the child (killed mid-run: one sentence, the document untouched, Start trains again),
and a second window trains on the child the first one left, with nothing of the first run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from canvas_gestures import press_run_action
from PySide6.QtCore import QSettings

from app.window import MainWindow

TIMEOUT = 60_000  # a fresh child imports torch first


def test_a_killed_training_process_is_one_sentence_and_start_trains_again(
    window: MainWindow, examples: Path, qtbot
):
    assert window.open_path(examples / "xor.json")
    tools, dock = window.run_tools, window.run_tools.train_dock
    dock.steps.setValue(1_000_000)
    press_run_action(window, "start")
    qtbot.waitUntil(lambda: len(tools.plots.buffers["train loss"]) > 3, timeout=TIMEOUT)
    killed = tools.session.worker.child
    assert killed is not None and killed.process.pid != os.getpid()

    with qtbot.waitSignal(tools.session.failed, timeout=TIMEOUT) as failed:
        os.kill(killed.process.pid, signal.SIGKILL)  # as the out-of-memory killer would
    sentence = "The training process was killed (SIGKILL); Start trains again from the graph"
    assert failed.args[0] == sentence
    assert tools.session.state == "idle" and dock.status.text() == f"Cannot Train: {sentence}"
    assert window.statusBar().currentMessage() == sentence
    assert window.document.graph.training["steps"] == 1_000_000  # the document is as it was
    assert tools.actions["start"].isEnabled() and not tools.actions["resume"].isEnabled()

    dock.steps.setValue(30)
    with qtbot.waitSignal(tools.session.message, timeout=TIMEOUT) as said:
        press_run_action(window, "start")
    assert said.args[0].startswith("Training finished after 30 steps")
    assert tools.session.worker.child is not killed and tools.session.worker.child.alive()


def test_a_second_window_trains_on_the_child_the_first_one_left(
    window: MainWindow, examples: Path, qtbot, tmp_path: Path
):
    assert window.open_path(examples / "two_moons.json")
    tools = window.run_tools
    tools.train_dock.steps.setValue(1_000_000)
    press_run_action(window, "start")
    qtbot.waitUntil(lambda: tools.session.state == "running", timeout=TIMEOUT)
    child = tools.session.worker.child
    window.close()  # mid-run: the child is stopped, reset and kept
    assert tools.session.worker.child is None

    second = MainWindow(QSettings(str(tmp_path / "second.ini"), QSettings.Format.IniFormat))
    second.ask_save_changes = lambda: "discard"
    qtbot.addWidget(second)
    second.show()
    assert second.open_path(examples / "xor.json")
    reports = []
    second.run_tools.session.worker.progress.connect(reports.append)
    second.run_tools.train_dock.steps.setValue(20)
    with qtbot.waitSignal(second.run_tools.session.message, timeout=TIMEOUT) as said:
        press_run_action(second, "start")
    assert said.args[0].startswith("Training finished after 20 steps")
    assert second.run_tools.session.worker.child is child  # no second torch import
    assert reports and all(report.total_steps == 20 for report in reports)  # none of two_moons' run


def test_a_prepared_process_is_the_one_start_trains_in(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    session = window.run_tools.session
    session.prepare()  # what the app does a second after its first paint
    prepared = session.worker.child
    assert prepared is not None and prepared.alive() and session.state == "idle"
    window.run_tools.train_dock.steps.setValue(10)
    with qtbot.waitSignal(session.message, timeout=TIMEOUT) as said:
        press_run_action(window, "start")
    assert said.args[0].startswith("Training finished after 10 steps")
    assert session.worker.child is prepared
