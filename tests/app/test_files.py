"""Files: save and reopen exactly, the unsaved-changes star and prompts, broken files, recent files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from canvas_gestures import drag
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QTransform
from PySide6.QtWidgets import QApplication, QMessageBox

from app.panels.inspector import unwritable
from app.window import MainWindow
from graphcore.files.fileformat import dumps, load
from graphcore.graph import PortRef


def edit_a_lot(window: MainWindow) -> None:
    """One of each kind of edit, so a round trip has something to keep."""
    controller = window.controller
    node_id = controller.add_node("tanh", QPointF(900, 400))
    controller.connect(PortRef("z", "out"), PortRef(node_id, "x"))
    controller.set_label(node_id, "h")
    controller.set_param("x", "value", 2.5)
    controller.rename_node("half", "one_half")
    window.scene.select_nodes(["w", "x"])
    controller.group_selection()
    item = window.scene.nodes["L"]
    drag(window.view, item.mapToScene(QPointF(30, 10)), item.mapToScene(QPointF(130, 50)))


def test_save_then_open_gives_back_the_same_graph(neuron: MainWindow, tmp_path: Path, qtbot):
    edit_a_lot(neuron)
    target = tmp_path / "mine.json"
    neuron.ask_save_path = lambda: target
    assert neuron.menu["save_as"].trigger() is None and target.exists()
    saved = dumps(neuron.document.graph)
    assert target.read_text(encoding="utf-8") == saved
    positions = {i: (item.x(), item.y()) for i, item in neuron.scene.nodes.items()}
    other = MainWindow(neuron.settings)
    qtbot.addWidget(other)
    assert other.open_path(target)
    assert dumps(other.document.graph) == saved
    assert {i: (item.x(), item.y()) for i, item in other.scene.nodes.items()} == positions
    assert set(other.scene.backdrops) == set(neuron.scene.backdrops)


def test_title_star_follows_unsaved_changes(neuron: MainWindow):
    assert neuron.windowTitle() == "sigmoid_neuron.json — Backprop Studio"
    neuron.controller.set_label("t", "σ")
    assert neuron.windowTitle() == "sigmoid_neuron.json* — Backprop Studio"
    assert neuron.save()
    assert neuron.windowTitle() == "sigmoid_neuron.json — Backprop Studio"
    neuron.document.stack.undo()
    assert neuron.dirty and "*" in neuron.windowTitle()
    neuron.document.stack.redo()
    assert not neuron.dirty


@pytest.mark.parametrize(
    "answer, closes, saved", [("cancel", False, False), ("discard", True, False), ("save", True, True)]
)
def test_closing_with_unsaved_changes_asks_first(neuron: MainWindow, examples: Path, answer, closes, saved):
    asked = []
    neuron.ask_save_changes = lambda: asked.append(1) or answer
    neuron.controller.set_label("t", "changed")
    assert neuron.close() is closes
    assert asked == [1] and neuron.isVisible() is not closes
    assert (load(examples / "sigmoid_neuron.json").node("t").label == "changed") is saved


def test_closing_a_saved_document_does_not_ask(neuron: MainWindow):
    neuron.ask_save_changes = lambda: pytest.fail("asked although nothing changed")
    assert neuron.close()


def test_opening_over_unsaved_changes_asks_and_cancel_keeps_the_work(neuron: MainWindow, examples: Path):
    neuron.controller.set_label("t", "mine")
    neuron.ask_save_changes = lambda: "cancel"
    assert not neuron.open_path(examples / "path_sum.json")
    assert neuron.document.graph.node("t").label == "mine" and neuron.dirty
    neuron.ask_save_changes = lambda: "cancel"
    assert not neuron.new_document()
    neuron.ask_save_changes = lambda: "discard"
    assert neuron.open_path(examples / "path_sum.json")
    assert neuron.document.name == "path_sum.json" and not neuron.dirty


def test_a_broken_file_is_reported_and_the_open_graph_kept(neuron: MainWindow, tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "backprop-studio-graph", "version": 1, "nodes": [{"id": "a", "type": 5}]}')
    before = dumps(neuron.document.graph)
    assert not neuron.open_path(broken)
    message = neuron.statusBar().currentMessage()
    assert str(broken) in message and "nodes[0]" in message and "type" in message
    assert neuron.error_box is not None and neuron.error_box.text() == message
    assert dumps(neuron.document.graph) == before and neuron.document.name == "sigmoid_neuron.json"
    neuron.error_box.close()
    (tmp_path / "not.json").write_text("{oops")
    assert not neuron.open_path(tmp_path / "not.json")
    assert "not valid JSON" in neuron.statusBar().currentMessage()


def test_a_failed_save_says_why_and_stays_unsaved(neuron: MainWindow, tmp_path: Path):
    neuron.controller.set_label("t", "x")
    neuron.ask_save_path = lambda: tmp_path / "no such folder" / "g.json"
    assert not neuron.save_as()
    assert "no such folder" in neuron.statusBar().currentMessage() and neuron.dirty
    neuron.error_box.close()


def test_new_gives_an_empty_untitled_graph(neuron: MainWindow):
    assert neuron.new_document()
    assert len(neuron.document.graph) == 0 and neuron.scene.nodes == {}
    assert neuron.windowTitle() == "Untitled — Backprop Studio"
    neuron.controller.add_node("relu", QPointF(0, 0))
    saved_to = []
    neuron.ask_save_path = lambda: saved_to.append(1)  # cancelled dialog: returns None
    neuron.ask_save_changes = lambda: "save"
    assert not neuron.new_document() and saved_to == [1]


def test_recent_files_and_examples_menus(window: MainWindow, examples: Path):
    assert window.open_path(examples / "path_sum.json")
    assert window.open_path(examples / "sigmoid_neuron.json")
    recent = window.recent_files()
    assert recent[:2] == [
        str((examples / "sigmoid_neuron.json").resolve()),
        str((examples / "path_sum.json").resolve()),
    ]
    menu = window.menu.recent
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions()][:2] == recent[:2]
    menu.actions()[1].trigger()
    assert window.document.name == "path_sum.json"
    window.menu.examples.aboutToShow.emit()
    listed = [a.toolTip() for a in window.menu.examples.actions()]
    assert listed == [str(p) for p in window.example_files()] and len(listed) >= 3
    window.menu.examples.actions()[0].trigger()
    assert window.document.path == window.example_files()[0]


def what_shows(window: MainWindow) -> tuple:
    """Title, canvas, panels and undo history: what a failed open must leave as it was."""
    return (
        window.windowTitle(),
        dumps(window.document.graph),
        sorted(window.scene.nodes),
        len(window.scene.items()),
        window.view.scene() is window.scene,
        window.inspector.document is window.document,
        window.run_tools._document is window.document,
        window.undo_group.activeStack() is window.document.stack,
        window.counts.text(),
    )


@pytest.mark.parametrize("panel", ["run_tools", "lab", "inspector"])
def test_a_document_that_fails_while_being_shown_puts_the_old_one_back(
    neuron: MainWindow, examples: Path, monkeypatch, panel: str
):
    neuron.controller.set_label("t", "unsaved")
    neuron.ask_save_changes = lambda: "discard"
    before = what_shows(neuron)
    real = getattr(neuron, panel).bind

    def bind(*args):
        if neuron.document.path == examples / "xor.json":
            raise TypeError("a panel could not show this document")
        return real(*args)

    monkeypatch.setattr(getattr(neuron, panel), "bind", bind)
    assert not neuron.open_path(examples / "xor.json")
    assert what_shows(neuron) == before
    message = neuron.statusBar().currentMessage()
    assert message.startswith(str(examples / "xor.json")) and "a panel could not show" in message
    assert "Traceback" in neuron.error_box.detailedText()
    neuron.error_box.close()
    neuron.controller.add_node("relu", QPointF(0, 0))  # the old document still works
    assert len(neuron.scene.nodes) == len(neuron.document.graph) == len(before[2]) + 1
    neuron.document.stack.undo()
    assert what_shows(neuron) == before


def test_a_bad_training_section_is_refused_and_the_window_kept(neuron: MainWindow, examples: Path, tmp_path):
    data = json.loads((examples / "xor.json").read_text(encoding="utf-8"))
    before = what_shows(neuron)
    for bad in ({"device": 5}, {"optimizer": {"name": [1]}}, {"gamma": "x"}):
        (tmp_path / "t.json").write_text(json.dumps({**data, "training": {**data["training"], **bad}}))
        neuron.ask_open_path = lambda: tmp_path / "t.json"
        neuron.menu["open"].trigger()
        assert "training" in neuron.statusBar().currentMessage() and neuron.error_box.isVisible()
        assert what_shows(neuron) == before
        neuron.error_box.close()


def test_a_huge_bad_value_gives_one_short_line_and_details(neuron: MainWindow, tmp_path: Path):
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"format": "backprop-studio-graph", "version": 1, "x" * 10_000_000: 1}))
    assert not neuron.open_path(huge)
    box = neuron.error_box
    assert len(box.text()) <= 300 and box.text() == neuron.statusBar().currentMessage()
    assert len(box.detailedText()) <= 20_100
    neuron.show_error("Cannot open file", "y" * 10_000_000)  # however long the loader's line
    assert box is not neuron.error_box and len(neuron.error_box.text()) <= 300
    assert neuron.error_box.text().endswith("…") and neuron.error_box.detailedText().endswith(
        "more characters)"
    )


def test_closed_error_boxes_are_deleted(neuron: MainWindow, tmp_path: Path, qtbot):
    (tmp_path / "not.json").write_text("{oops")
    for _ in range(5):
        assert not neuron.open_path(tmp_path / "not.json")
        box = neuron.error_box
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert neuron.error_box is None
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert neuron.findChildren(QMessageBox) == []


@pytest.mark.parametrize("obstacle", ["folder in the way", "missing folder", "unwritable label"])
def test_failed_saves_say_why_keep_the_star_and_leave_no_temporary_file(
    neuron: MainWindow, tmp_path: Path, obstacle: str
):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "g.json"
    if obstacle == "folder in the way":
        target.mkdir()
    elif obstacle == "missing folder":
        target = folder / "gone" / "g.json"
    neuron.controller.set_label("t", "\ud800" if obstacle == "unwritable label" else "x")
    neuron.ask_save_path = lambda: target
    assert not neuron.save_as()
    message = neuron.statusBar().currentMessage()
    assert str(target) in message and neuron.error_box.text() == message
    assert neuron.dirty and neuron.windowTitle().startswith("sigmoid_neuron.json*")
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == []
    neuron.error_box.close()


def test_a_non_finite_view_is_ignored_and_never_sticks(neuron: MainWindow, examples: Path, tmp_path: Path):
    view = neuron.view
    for state in (
        {"center": [float("nan"), 0], "zoom": 1},
        {"center": [0, 0], "zoom": float("nan")},
        {"center": [float("inf"), 0], "zoom": 1},
        {"center": [0, 0], "zoom": 0},
        {"center": [0, 0], "zoom": "1e999"},
    ):
        assert not view.restore(state) and math.isfinite(view.zoom)
    view.zoom_by(float("nan"))
    assert math.isfinite(view.zoom) and view.zoom > 0
    view.setTransform(QTransform(float("nan"), 0, 0, float("nan"), 0, 0))  # as a bad file once left it
    assert neuron.open_path(examples / "xor.json")
    assert math.isfinite(view.zoom) and "nan" not in neuron.zoom_label.text()
    data = json.loads((examples / "xor.json").read_text(encoding="utf-8"))
    data["meta"]["view"] = {"center": [0, 0], "zoom": 1e-300}
    (tmp_path / "v.json").write_text(json.dumps(data))
    assert neuron.open_path(tmp_path / "v.json") and view.zoom == pytest.approx(0.05)


def test_typing_a_label_character_by_character(neuron: MainWindow, examples: Path, qtbot):
    neuron.scene.select_nodes(["t"])
    field = neuron.inspector.label_edit
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    for char in "ok λ😀\ud800!":  # a lone surrogate never reaches the field (Qt drops it)
        QApplication.sendEvent(
            field, QKeyEvent(QEvent.Type.KeyPress, 0, Qt.KeyboardModifier.NoModifier, char)
        )
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert neuron.document.graph.node("t").label == "ok λ😀!"
    assert neuron.save() and load(examples / "sigmoid_neuron.json").node("t").label == "ok λ😀!"


def test_text_that_cannot_be_saved_is_named():
    assert unwritable("ok λ😀") is None
    assert unwritable("ab\ud800") == "character 3 ('\\ud800') cannot be saved as UTF-8"
