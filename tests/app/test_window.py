"""The window as a whole: start-up, the Open dialog, undo keys, themes, and what shows at each zoom."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QByteArray, QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

import app.main
from app.canvas.items import OVERVIEW_LOD, PORTS_LOD
from app.theme import DARK, LIGHT
from app.window import MainWindow


def test_backprop_studio_file_opens_that_file_else_the_default_example(monkeypatch, qapp, tmp_path):
    opened, prepared = [], []

    class Recorder:
        recovery = tmp_path  # no recovery files: nothing is offered
        run_tools = SimpleNamespace(session=SimpleNamespace(prepare=lambda: prepared.append(True)))

        def open_path(self, path: Path) -> bool:
            opened.append(Path(path))
            return True

        def show(self) -> None:
            pass

    def run_the_event_loop_briefly(self) -> int:
        QTest.qWait(app.main.PREPARE_TRAINING_MS + 200)
        return 0

    monkeypatch.setattr("app.window.MainWindow", Recorder)
    monkeypatch.setattr(QApplication, "exec", run_the_event_loop_briefly)
    assert app.main.main(["examples/xor.json"]) == 0
    assert app.main.main([]) == 0
    assert opened == [Path("examples/xor.json"), app.main.DEFAULT_EXAMPLE]
    assert prepared == [True, True]  # the training process starts while the user looks


def test_backprop_studio_badfile_opens_the_window_and_says_why(monkeypatch, qtbot, settings, tmp_path):
    data = json.loads((app.main.EXAMPLES / "xor.json").read_text(encoding="utf-8"))
    data["training"]["device"] = 5  # once a traceback before any window showed
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    made: list[MainWindow] = []

    def make(_settings=None) -> MainWindow:
        made.append(MainWindow(settings))
        qtbot.addWidget(made[-1])
        return made[-1]

    monkeypatch.setattr("app.window.MainWindow", make)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    assert app.main.main([str(bad)]) == 0
    (window,) = made
    assert window.isVisible() and window.document.name == "Untitled"
    message = window.statusBar().currentMessage()
    assert message.startswith(str(bad)) and "training" in message
    assert window.error_box is not None and window.error_box.isVisible()


def test_open_dialog_asks_for_a_file(window: MainWindow, examples: Path):
    window.ask_open_path = lambda: examples / "path_sum.json"
    window.menu["open"].trigger()
    assert window.document.name == "path_sum.json" and len(window.document.graph) == 6
    window.ask_open_path = lambda: None  # cancelled
    assert not window.open_dialog() and window.document.name == "path_sum.json"


def test_undo_and_redo_keys(neuron: MainWindow, qtbot):
    neuron.controller.set_label("t", "σ")
    neuron.activateWindow()
    neuron.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is neuron)
    qtbot.keyClick(neuron.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert neuron.document.graph.node("t").label == "t = σ(z)"
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(neuron.view, Qt.Key.Key_Z, shift_ctrl)
    assert neuron.document.graph.node("t").label == "σ"


def test_themes_switch_everything_and_are_remembered(neuron: MainWindow, settings):
    assert neuron.scene.theme is LIGHT
    before = neuron.scene.nodes["t"].color.name()
    neuron.menu["theme_dark"].trigger()
    assert neuron.scene.theme is DARK and neuron.view.canvas().theme is DARK
    assert neuron.scene.nodes["t"].color.name() != before
    assert neuron.scene.edges[next(iter(neuron.scene.edges))].pen().color().name() == DARK.edge
    assert QApplication.palette().window().color().name() == DARK.window
    assert settings.value("theme") == "dark"
    again = MainWindow(settings)
    assert again.theme is DARK and again.menu["theme_dark"].isChecked()
    again.deleteLater()
    neuron.menu["theme_light"].trigger()
    assert QApplication.palette().window().color().name() == LIGHT.window


def test_zoomed_out_the_canvas_shows_less_detail(neuron: MainWindow):
    view, scene = neuron.view, neuron.scene
    pill = next(iter(scene.edges.values())).pill
    view.zoom_by(OVERVIEW_LOD * 0.9 / view.zoom)
    assert not pill.isVisible() and scene.ports_shown
    view.zoom_by(PORTS_LOD * 0.9 / view.zoom)
    assert not scene.ports_shown and scene.port_at(neuron.scene.nodes["t"].port_scene_pos("x", False)) is None
    view.zoom_by(1 / view.zoom)
    assert pill.isVisible() and scene.ports_shown
    assert "zoom 100%" in neuron.zoom_label.text()


def test_ports_and_nodes_explain_themselves(neuron: MainWindow):
    port = neuron.scene.nodes["wx"].inputs["a"]
    assert port.describe() == "wx.a — input, from w.out\nshape []"
    assert neuron.scene.nodes["wx"].describe().startswith("wx — mul: Product")


def test_hovering_shows_a_tooltip_written_on_demand(neuron: MainWindow, monkeypatch):
    shown = []
    monkeypatch.setattr(QToolTip, "showText", lambda at, text, widget=None: shown.append(text))
    view = neuron.view
    for at in (
        neuron.scene.nodes["wx"].port_scene_pos("a", False),
        neuron.scene.nodes["wx"].mapToScene(40, 40),
    ):
        spot = view.mapFromScene(at)
        QApplication.sendEvent(
            view.viewport(), QHelpEvent(QEvent.Type.ToolTip, spot, view.viewport().mapToGlobal(spot))
        )
    assert shown == ["wx.a — input, from w.out\nshape []", neuron.scene.nodes["wx"].describe()]


@pytest.mark.parametrize("state", [b"not a layout", "older"])
def test_a_broken_or_older_saved_layout_gives_the_default_one(qtbot, settings, state):
    if state == "older":  # a layout from before LAYOUT_VERSION, with a huge right dock
        old = MainWindow(settings)
        old.resizeDocks([old.docks["inspector"]], [1100], Qt.Orientation.Horizontal)
        state = old.saveState()  # version 0
        old.deleteLater()
    settings.setValue("window_state", QByteArray(state))
    window = MainWindow(settings)
    window.ask_save_changes = lambda: "discard"
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.view.width() >= window.width() / 2 and window.view.height() >= window.height() / 2
