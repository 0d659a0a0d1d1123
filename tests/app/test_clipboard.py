"""Cut, copy, paste and duplicate: unique ids, internal edges kept, one undo step each."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.window import MainWindow
from graphcore.files.fileformat import loads
from graphcore.graph import PortRef


def test_copy_paste_makes_unique_ids_and_keeps_internal_edges(neuron: MainWindow, qtbot):
    graph, scene = neuron.document.graph, neuron.scene
    scene.select_nodes(["w", "x", "wx"])
    neuron.view.setFocus()
    qtbot.keyClick(neuron.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    fragment = loads(QGuiApplication.clipboard().text())
    assert {n.id for n in fragment.nodes} == {"w", "x", "wx"} and len(fragment.edges) == 2
    qtbot.keyClick(neuron.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert scene.selected_node_ids() == ["w2", "x2", "wx2"]
    assert graph.source_of(PortRef("wx2", "a")) == PortRef("w2", "out")
    assert graph.source_of(PortRef("wx2", "b")) == PortRef("x2", "out")
    assert graph.consumers_of(PortRef("wx2", "out")) == []  # the edge to z was not internal
    assert graph.node("wx2").label == "w·x" and graph.node("w2").params == graph.node("w").params
    assert graph.node("w2").pos == (graph.node("w").pos[0] + 40, graph.node("w").pos[1] + 40)
    qtbot.keyClick(neuron.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert {"w3", "x3", "wx3"} <= set(scene.nodes)
    stack = neuron.document.stack
    assert stack.count() == 2
    stack.undo()
    stack.undo()
    assert set(scene.nodes) == {n.id for n in graph.nodes} and "w2" not in graph


def test_cut_removes_and_paste_brings_back(neuron: MainWindow):
    graph = neuron.document.graph
    neuron.scene.select_nodes(["half"])
    neuron.menu["cut"].trigger()
    assert "half" not in graph and neuron.document.stack.undoText() == "Cut ½"
    neuron.menu["paste"].trigger()
    assert "half" in graph and graph.node("half").params == {"value": 0.5}
    assert graph.source_of(PortRef("L", "a")) is None  # edges to the outside are not pasted


def test_duplicate_is_one_step(neuron: MainWindow):
    neuron.scene.select_nodes(["t"])
    neuron.menu["duplicate"].trigger()
    assert neuron.scene.selected_node_ids() == ["t2"]
    assert neuron.document.graph.node("t2").type == "sigmoid"
    assert neuron.document.stack.count() == 1 and neuron.document.stack.undoText().startswith("Duplicate")


def test_paste_of_something_else_says_so(neuron: MainWindow):
    QGuiApplication.clipboard().setText("not a graph")
    count = len(neuron.document.graph)
    neuron.menu["paste"].trigger()
    assert neuron.statusBar().currentMessage() == "The clipboard holds no Backprop Studio nodes"
    assert len(neuron.document.graph) == count and neuron.document.stack.count() == 0


def test_delete_removes_nodes_and_selected_edges(neuron: MainWindow, qtbot):
    graph, scene = neuron.document.graph, neuron.scene
    scene.select([scene.nodes["half"], scene.edges[PortRef("t", "x")]])
    neuron.view.setFocus()
    qtbot.keyClick(neuron.view, Qt.Key.Key_Delete)
    assert "half" not in graph and graph.source_of(PortRef("t", "x")) is None
    assert neuron.document.stack.count() == 1
    neuron.document.stack.undo()
    assert "half" in scene.nodes and PortRef("t", "x") in scene.edges
