"""Files: save and reopen exactly, the unsaved-changes star and prompts, broken files, recent files."""

from __future__ import annotations

from pathlib import Path

import pytest
from canvas_gestures import drag
from PySide6.QtCore import QPointF

from app.window import MainWindow
from graphcore.fileformat import dumps, load
from graphcore.graph import PortRef


def edit_a_lot(window: MainWindow) -> None:
    """One of each kind of edit, so a round trip has something to keep."""
    controller = window.controller
    node_id = controller.add_node("tanh", QPointF(900, 400))
    controller.connect(PortRef("z", "out"), PortRef(node_id, "x"))
    controller.set_label(node_id, "h")
    controller.set_param("x", "value", 2.5)
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
