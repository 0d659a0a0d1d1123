"""Editing as a user does, read back from the History panel: a click and the Delete key, values and
names typed into the inspector key by key, a node dragged, a wire dragged port to port, Ctrl+Z.
Each step reads as what was done, naming nodes as the canvas shows them."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from app.window import MainWindow
from graphcore.graph import PortRef
from tests.app.canvas_gestures import GRAB, activate, click_node, drag, port_pos, retype

CTRL = Qt.KeyboardModifier.ControlModifier


def history(window: MainWindow) -> list[str]:
    """The History panel's rows, as shown ("Opened" first)."""
    model = window.history.model()
    return [model.index(i, 0).data() for i in range(model.rowCount())]


def test_the_history_reads_as_what_the_user_did(neuron: MainWindow, qtbot):
    activate(neuron, qtbot)
    graph = neuron.document.graph
    click_node(neuron, "half")
    qtbot.keyClick(neuron.view, Qt.Key.Key_Delete)
    click_node(neuron, "sq")
    retype(qtbot, neuron.inspector.editors["exponent"].lineEdit(), "3")
    click_node(neuron, "w")
    retype(qtbot, neuron.inspector.editors["value"], "0.75")
    click_node(neuron, "wx")
    retype(qtbot, neuron.inspector.id_edit, "product")
    click_node(neuron, "t")
    qtbot.keyClick(neuron.view, Qt.Key.Key_F2)
    qtbot.keyClicks(neuron.inspector.label_edit, "activation")
    qtbot.keyClick(neuron.inspector.label_edit, Qt.Key.Key_Return)
    header = neuron.scene.nodes["L"].mapToScene(GRAB)
    drag(neuron.view, header, header + QPointF(120, 60))
    drag(neuron.view, port_pos(neuron, "x.out", True), port_pos(neuron, "z.b", False))
    assert graph.source_of(PortRef("z", "b")) == PortRef("x", "out")
    assert history(neuron) == [
        "Opened",
        "Delete ½",
        "Set (y − t)².exponent to 3.0",
        "Set w.value to 0.75",
        "Rename id wx to product",
        "Rename t = σ(z) to activation",
        "Move L",
        "Connect x → z.b",
    ]
    qtbot.keyClick(neuron.view, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(neuron.view, Qt.Key.Key_Z, CTRL)
    assert neuron.document.stack.index() == 5  # two steps back: the wire and the move
    assert neuron.history.selectionModel().currentIndex().row() == 5  # the panel marks "Rename t = σ(z) …"
    assert graph.source_of(PortRef("z", "b")) == PortRef("b", "out")
    assert "L" in graph and neuron.scene.nodes["L"].mapToScene(GRAB) == header  # the move undone


def test_a_refused_id_is_named_and_adds_no_step(neuron: MainWindow, qtbot):
    click_node(neuron, "r")
    retype(qtbot, neuron.inspector.id_edit, "z")
    assert neuron.statusBar().currentMessage() == "Cannot rename r: there is already a node 'z'"
    retype(qtbot, neuron.inspector.id_edit, "r.1")
    assert neuron.statusBar().currentMessage() == "Cannot rename r: a node id cannot contain '.' (id 'r.1')"
    assert history(neuron) == ["Opened"] and neuron.inspector.id_edit.text() == "r"
    retype(qtbot, neuron.inspector.id_edit, "residual")
    assert history(neuron) == ["Opened", "Rename id r to residual"]
    assert neuron.scene.selected_node_ids() == ["residual"]
