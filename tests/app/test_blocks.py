"""Blocks on the canvas, driven as a user does: a rubber-band selection and Ctrl+B make a block (the
name typed into the dialog), one Ctrl+Z puts every node and edge back; the block node shows its name
and ×N, the inspector's spin box sets `repeat`; the palette adds another instance; a double-click
opens the block (breadcrumb "file ▸ Block"), Esc goes back out where the view was."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QSpinBox

from app.panels.palette import BLOCKS
from app.window import MainWindow
from graphcore.graph import BLOCK_TYPE, PortRef
from tests.app.canvas_gestures import GRAB, activate, click, drag, mouse

INNER = ["wx", "z", "t"]  # w·x, + b, σ: the neuron's body, between its inputs and the loss


def snapshot(window: MainWindow) -> tuple:
    """What the user's file holds: every node (id, type, params, label, place) and edge, in order."""
    graph = window.document.graph
    nodes = [(n.id, n.type, copy.deepcopy(n.params), n.label, n.pos) for n in graph.nodes]
    return nodes, [(str(s), str(d)) for s, d in graph.edges], dict(graph.blocks)


def answer_name(qtbot, name: str) -> None:
    """When the name dialog comes up, type `name` into its field key by key and press Enter."""

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog), dialog
        field = dialog.findChild(QLineEdit)
        field.selectAll()
        qtbot.keyClick(field, Qt.Key.Key_Backspace)  # the suggested name goes
        for char in name:  # one key event per character, as a keyboard layout or input method sends it
            QApplication.sendEvent(
                field,
                QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char),
            )
        qtbot.keyClick(field, Qt.Key.Key_Return)

    QTimer.singleShot(0, fill)


def rubber_band_neuron_body(window: MainWindow) -> None:
    """Drag a rubber band from empty canvas (bottom right) over w·x, z and t, and nothing else."""
    nodes = window.scene.nodes
    top = nodes["y"].sceneBoundingRect().bottom() + 4  # y, an Input, sits above z and t
    bottom = nodes["b"].sceneBoundingRect().top() - 4  # b, a Parameter, below w·x
    right = nodes["r"].sceneBoundingRect().left() - 4  # started left of w·x, it would press on w's wire
    drag(window.view, QPointF(right, bottom), QPointF(nodes["wx"].x() - 20, top))
    assert window.scene.selected_node_ids() == INNER


def make_neuron_block(window: MainWindow, qtbot, name: str = "Neuron") -> str:
    rubber_band_neuron_body(window)
    activate(window, qtbot)
    window.view.setFocus()
    answer_name(qtbot, name)
    qtbot.keyClick(window.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: name in window.document.graph.blocks)
    activate(window, qtbot)  # the name dialog has closed: keys reach the window again
    window.view.setFocus()
    (instance,) = [n.id for n in window.document.graph.nodes if n.type == BLOCK_TYPE]
    return instance


def test_make_block_from_a_rubber_band_selection_then_undo_and_redo(neuron: MainWindow, qtbot):
    window = neuron
    before = snapshot(window)
    instance = make_neuron_block(window, qtbot)
    graph = window.document.graph
    assert not set(INNER) & {n.id for n in graph.nodes}
    assert set(INNER).isdisjoint(window.scene.nodes) and instance in window.scene.nodes
    item = window.scene.nodes[instance]
    assert item.type_name == "Neuron"
    # wired as before: what fed w·x and z feeds the block, what t fed is fed by it
    feeding = {str(s) for s, d in graph.edges if d.node == instance}
    assert feeding == {"w.out", "x.out", "b.out"}
    assert [str(d) for s, d in graph.edges if s.node == instance] == ["r.b"]
    assert set(item.inputs) == {d.port for s, d in graph.edges if d.node == instance}
    assert window.undo_group.undoText().startswith("Make block Neuron")
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert snapshot(window) == before
    assert set(INNER) <= set(window.scene.nodes) and instance not in window.scene.nodes
    qtbot.keyClick(
        window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert instance in window.scene.nodes and "Neuron" in window.document.graph.blocks


def test_a_refused_selection_says_why_in_the_status_bar(neuron: MainWindow, qtbot):
    window = neuron
    activate(window, qtbot)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "Select the nodes to make a block of first"
    make_neuron_block(window, qtbot)
    before = snapshot(window)
    click(window.view, window.scene.nodes["sq"].mapToScene(GRAB))
    answer_name(qtbot, "Neuron")  # taken
    qtbot.keyClick(window.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "Cannot make a block: there is already a block 'Neuron'"
    assert snapshot(window) == before


def test_the_inspector_sets_repeat_digit_by_digit_and_the_node_shows_times_n(neuron: MainWindow, qtbot):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    click(window.view, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.inspector.node_id == instance
    spin = window.inspector.editors["repeat"]
    assert isinstance(spin, QSpinBox) and spin.minimum() == 1
    QTest.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.document.graph.node(instance).params["repeat"] == 3
    assert window.scene.nodes[instance].type_name == "Neuron ×3"
    assert window.scene.nodes[instance].overview_name == "Neuron ×3"  # what it says zoomed far out
    window.undo_group.undo()
    assert window.scene.nodes[instance].type_name == "Neuron"


def test_the_palette_lists_the_files_blocks_and_adds_another_instance(neuron: MainWindow, qtbot):
    window = neuron
    assert window.node_palette.item_for("block:Neuron") is None
    make_neuron_block(window, qtbot)
    entry = window.node_palette.item_for("block:Neuron")
    assert entry is not None and entry.parent().text(0) == BLOCKS
    search = window.node_palette.search
    qtbot.keyClicks(search, "neur")
    assert window.node_palette.types_shown()[0] == "block:Neuron"
    qtbot.keyClick(search, Qt.Key.Key_Return)
    blocks = [n for n in window.document.graph.nodes if n.type == BLOCK_TYPE]
    assert len(blocks) == 2 and blocks[1].params == {"block": "Neuron", "repeat": 1}
    assert window.scene.selected_node_ids() == [blocks[1].id]
    window.undo_group.undo()
    assert window.node_palette.item_for("block:Neuron") is not None  # the block stays defined
    window.undo_group.undo()  # "Make block"
    assert window.node_palette.item_for("block:Neuron") is None


def double_click(window: MainWindow, qtbot, at: QPointF) -> None:
    """Double-click the canvas at `at`, then wait for the block there to open."""
    view = window.view
    mouse(view, QEvent.Type.MouseButtonPress, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, buttons=Qt.MouseButton.NoButton)
    mouse(view, QEvent.Type.MouseButtonDblClick, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, buttons=Qt.MouseButton.NoButton)
    qtbot.waitUntil(window.breadcrumb.isVisible)


def test_open_a_block_edit_inside_and_go_back_out(neuron: MainWindow, qtbot, examples: Path):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    outside_scene, outside_view = window.scene, window.view.state()
    assert not window.breadcrumb.isVisible()
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.breadcrumb.isVisible() and window.breadcrumb.text == "sigmoid_neuron ▸ Neuron"
    inner = window.scene
    assert inner is not outside_scene and window.view.scene() is inner
    definition = window.document.graph.blocks["Neuron"]
    assert set(inner.nodes) == {n.id for n in definition.graph.nodes}
    assert set(INNER) <= set(inner.nodes)
    # a badge over each Input says which port of the block it is, one over t which output shows it
    badges = {m.parentItem().node.id: m.text() for m in window.blocks.shown.marks}
    inputs = definition.inputs
    assert badges == {**{i: f"block input {i}" for i in inputs}, "t": "block output t ▶"}
    for mark in window.blocks.shown.marks:  # above its node, clear of the node's own texts
        assert mark.sceneBoundingRect().bottom() < mark.parentItem().sceneBoundingRect().top() + 3
    # an edit inside is one more step on the file's own undo stack
    steps = window.document.stack.count()
    click(window.view, inner.nodes["z"].mapToScene(GRAB))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert "z" not in definition.graph and window.document.stack.count() == steps + 1
    assert window.windowTitle().startswith("sigmoid_neuron.json*")
    # the problems list names the inner node by its path: t's input lost its wire
    listed = [window.diagnostics.list.item(i).text() for i in range(window.diagnostics.list.count())]
    assert f"⚠ {instance} ▸ t = σ(z) (port x): input is not connected" in listed, listed
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "z" in definition.graph and "z" in inner.nodes and inner.graph.source_of(PortRef("t", "x"))
    assert window.diagnostics.messages() == []
    # back out with Esc: the outside as it was, where the view looked
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert window.scene is outside_scene and window.view.scene() is outside_scene
    assert not window.breadcrumb.isVisible()
    assert window.view.state()["zoom"] == pytest.approx(outside_view["zoom"])
    # Enter on the selected block opens it again; the first crumb goes back out
    click(window.view, window.scene.nodes[instance].mapToScene(GRAB))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert window.breadcrumb.isVisible()
    QTest.mouseClick(window.breadcrumb.crumbs[0], Qt.MouseButton.LeftButton)
    assert window.scene is outside_scene and not window.breadcrumb.isVisible()


def test_undoing_make_block_from_inside_goes_back_out(neuron: MainWindow, qtbot):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.breadcrumb.isVisible()
    window.undo_group.undo()
    assert not window.breadcrumb.isVisible() and window.view.scene() is window.scene
    assert set(INNER) <= set(window.scene.nodes)
    assert window.statusBar().currentMessage() == "Block Neuron is no longer in the file"


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("", "a block name is a non-empty string"),
        ("   ", "a block name is a non-empty string"),
        (
            "two words",
            "a block name is a Python name (letters, digits, _), as the exported class is; got 'two words'",
        ),
        (
            "class",
            "a block name is a Python name (letters, digits, _), as the exported class is; got 'class'",
        ),
        ("1st", "a block name is a Python name (letters, digits, _), as the exported class is; got '1st'"),
        ("a.b", "a block name is a Python name (letters, digits, _), as the exported class is; got 'a.b'"),
        ("N" * 201, "a block name has at most 200 characters (201 given)"),
    ],
)
def test_a_name_that_cannot_name_a_block_is_refused_in_one_line(neuron: MainWindow, qtbot, typed, reason):
    window = neuron
    before = snapshot(window)
    rubber_band_neuron_body(window)
    activate(window, qtbot)
    window.view.setFocus()
    answer_name(qtbot, typed)
    qtbot.keyClick(window.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None)
    assert window.statusBar().currentMessage() == f"Cannot make a block: {reason}"
    assert snapshot(window) == before and window.scene.selected_node_ids() == INNER


def test_a_unicode_name_is_a_block_name(neuron: MainWindow, qtbot):
    instance = make_neuron_block(neuron, qtbot, "Блок_σ")
    assert neuron.scene.nodes[instance].type_name == "Блок_σ"
    assert neuron.node_palette.item_for("block:Блок_σ") is not None


def test_opening_another_file_from_inside_a_block_shows_that_files_graph(
    neuron: MainWindow, qtbot, examples: Path
):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.open_path(examples / "path_sum.json")
    assert not window.breadcrumb.isVisible() and window.blocks.depth == 0
    assert window.view.scene() is window.scene and set(window.scene.nodes) == {
        n.id for n in window.document.graph
    }
    assert window.node_palette.item_for("block:Neuron") is None
