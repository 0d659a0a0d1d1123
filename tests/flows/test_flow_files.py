"""Files as a user handles them: edit, save with Ctrl+Shift+S and Ctrl+S, open again with Ctrl+O; close
over unsaved work and answer the real prompt; export Python after reading the Code preview.

Input goes through real key presses and clicks on the window's widgets; the file dialogs' getters are
answered (as tests/app/test_export_ui.py does) and the modal prompt's buttons are clicked as it shows.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QTabBar

from app.window import MainWindow
from graphcore.files.fileformat import dumps, load
from tests.app.canvas_gestures import activate, click_node, retype
from tests.app.conftest import OFFSCREEN_NOTICE

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def press(window: MainWindow, qtbot, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.view, key, modifiers)


def answer_file_dialogs(monkeypatch, save: Path | None = None, open_: Path | None = None) -> list[str]:
    """Answer the Save and Open dialogs with these paths; returns the list of dialogs asked."""
    asked: list[str] = []

    def answer(kind: str, path: Path | None) -> Callable[..., tuple[str, str]]:
        def getter(*_args, **_kwargs) -> tuple[str, str]:
            asked.append(kind)
            return (str(path), "") if path else ("", "")

        return getter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer("save", save))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer("open", open_))
    return asked


def test_edit_save_as_save_and_open_again(neuron: MainWindow, tmp_path: Path, qtbot, monkeypatch):
    activate(neuron, qtbot)
    click_node(neuron, "x")
    retype(qtbot, neuron.inspector.editors["value"], "2.5")
    click_node(neuron, "half")
    press(neuron, qtbot, Qt.Key.Key_Delete)
    assert neuron.document.graph.node("x").params["value"] == 2.5 and "half" not in neuron.document.graph
    assert neuron.windowTitle() == "sigmoid_neuron.json* — Backprop Studio"
    asked = answer_file_dialogs(monkeypatch, save=tmp_path / "mine")
    press(neuron, qtbot, Qt.Key.Key_S, CTRL | SHIFT)
    target = tmp_path / "mine.json"  # the dialog's name without a suffix gets .json
    assert asked == ["save"] and target.exists()
    assert neuron.windowTitle() == "mine.json — Backprop Studio"
    click_node(neuron, "t")
    retype(qtbot, neuron.inspector.label_edit, "activation")
    assert neuron.windowTitle() == "mine.json* — Backprop Studio"
    press(neuron, qtbot, Qt.Key.Key_S, CTRL)
    assert asked == ["save"]  # a file with a name saves without asking
    assert neuron.windowTitle() == "mine.json — Backprop Studio"
    saved = dumps(neuron.document.graph)
    assert target.read_text(encoding="utf-8") == saved
    answer_file_dialogs(monkeypatch, open_=target)
    press(neuron, qtbot, Qt.Key.Key_O, CTRL)
    assert dumps(neuron.document.graph) == saved and neuron.document.path == target
    assert neuron.windowTitle() == "mine.json — Backprop Studio"
    assert set(neuron.scene.nodes) == {n.id for n in load(target).nodes}
    assert neuron.scene.nodes["t"].title == "activation" and "half" not in neuron.scene.nodes


def click_when_asked(qtbot, button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Once the modal prompt shows, click `button` on it (recording its text); poll until it does."""

    def attempt() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, attempt)
            return
        seen.append(box.text())
        qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, attempt)


def test_closing_over_unsaved_work_cancel_keeps_it_and_save_saves(neuron: MainWindow, examples, qtbot):
    del neuron.ask_save_changes  # the fixture's "discard": this test answers the real prompt
    activate(neuron, qtbot)
    click_node(neuron, "t")
    retype(qtbot, neuron.inspector.label_edit, "mine")
    seen: list[str] = []
    click_when_asked(qtbot, QMessageBox.StandardButton.Cancel, seen)
    assert not neuron.close()  # the title bar's close button
    assert seen == ["Save the changes to sigmoid_neuron.json?"]
    assert neuron.isVisible() and neuron.document.graph.node("t").label == "mine" and neuron.dirty
    click_when_asked(qtbot, QMessageBox.StandardButton.Save, seen)
    assert neuron.close() and not neuron.isVisible()
    assert len(seen) == 2 and load(examples / "sigmoid_neuron.json").node("t").label == "mine"


def test_closing_over_unsaved_work_discard_closes_and_keeps_the_file(neuron: MainWindow, examples, qtbot):
    del neuron.ask_save_changes
    before = (examples / "sigmoid_neuron.json").read_bytes()
    activate(neuron, qtbot)
    click_node(neuron, "half")
    press(neuron, qtbot, Qt.Key.Key_Delete)
    seen: list[str] = []
    click_when_asked(qtbot, QMessageBox.StandardButton.Discard, seen)
    assert neuron.close() and not neuron.isVisible() and len(seen) == 1
    assert (examples / "sigmoid_neuron.json").read_bytes() == before


def click_menu(window: MainWindow, qtbot, *path: str) -> None:
    """Click through the menu bar: File, then Export, then Python… (texts without their & mnemonic)."""
    bar = window.menuBar()
    actions = bar.actions()
    menu: QMenu | None = None
    for depth, text in enumerate(path):
        action = next(a for a in actions if a.text().replace("&", "") == text)
        where = bar.actionGeometry(action) if menu is None else menu.actionGeometry(action)
        QTest.mouseClick(bar if menu is None else menu, Qt.MouseButton.LeftButton, pos=where.center())
        if depth < len(path) - 1:
            menu = action.menu()
            qtbot.waitUntil(menu.isVisible)
            actions = menu.actions()


def click_tab(window: MainWindow, text: str) -> None:
    """Click a dock's tab in the tab bar under the canvas."""
    for bar in window.findChildren(QTabBar):
        for index in range(bar.count()):
            if bar.tabText(index) == text and bar.isVisible():
                QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
                return
    pytest.fail(f"no visible tab {text!r}")


# menus opened offscreen: the platform plugin says it cannot raise them nor grab the keyboard for them
@pytest.mark.qt_log_ignore(OFFSCREEN_NOTICE, "This plugin does not support (raise|grabbing the keyboard)")
def test_export_python_writes_what_the_code_preview_shows(
    neuron: MainWindow, tmp_path: Path, qtbot, monkeypatch
):
    activate(neuron, qtbot)
    click_node(neuron, "x")
    retype(qtbot, neuron.inspector.editors["value"], "2.5")
    click_tab(neuron, "Code")
    preview = neuron.export_tools.preview
    qtbot.waitUntil(lambda: preview.isVisible() and not preview.stale and "2.5" in preview.text.toPlainText())
    shown = preview.text.toPlainText()
    assert shown.startswith('"""') and "class SigmoidNeuron" in shown
    assert "File ▸ Export ▸ Python writes this" in preview.status.text()
    target = tmp_path / "neuron"
    asked = answer_file_dialogs(monkeypatch, save=target)
    click_menu(neuron, qtbot, "File", "Export", "Python…")
    written = tmp_path / "neuron.py"  # the dialog's name without a suffix gets .py
    assert asked == ["save"] and written.read_text(encoding="utf-8") == shown
    assert neuron.statusBar().currentMessage() == f"Exported {written}"
    ran = subprocess.run(
        [sys.executable, str(written)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    name, equals, value = ran.stdout.strip().partition(" = ")
    assert (name, equals) == ("L.out", " = ")
    assert float(value) == pytest.approx(0.5 * (1 - 1 / (1 + math.exp(-(0.5 * 2.5 - 0.3)))) ** 2)  # x = 2.5
