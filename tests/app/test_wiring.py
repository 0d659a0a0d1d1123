"""Wiring by dragging between ports: connect, refuse with a reason, replace, pick up, drop on nothing."""

from __future__ import annotations

from canvas_gestures import drag, mouse, port_pos
from PySide6.QtCore import QEvent, QPointF, Qt

from app.window import MainWindow
from graphcore.graph import PortRef


def add(window: MainWindow, node_type: str, x: float, y: float) -> str:
    node_id = window.controller.add_node(node_type, QPointF(x, y))
    assert node_id is not None
    return node_id


def test_drag_from_output_to_input_connects(neuron: MainWindow):
    relu = add(neuron, "relu", 700, 400)
    drag(neuron.view, port_pos(neuron, "L.out", True), port_pos(neuron, f"{relu}.x", False))
    graph = neuron.document.graph
    assert graph.source_of(PortRef(relu, "x")) == PortRef("L", "out")
    assert PortRef(relu, "x") in neuron.scene.edges
    assert neuron.scene.edges[PortRef(relu, "x")].label == "[]"
    assert neuron.document.report.ok
    assert neuron.document.stack.text(neuron.document.stack.index() - 1) == f"Connect L → {relu}"


def test_drag_from_input_to_output_connects_too(neuron: MainWindow):
    relu = add(neuron, "relu", 700, 400)
    drag(neuron.view, port_pos(neuron, f"{relu}.x", False), port_pos(neuron, "t.out", True))
    assert neuron.document.graph.source_of(PortRef(relu, "x")) == PortRef("t", "out")


def test_candidate_port_lights_green_or_red_while_dragging(neuron: MainWindow):
    relu = add(neuron, "relu", 700, 400)
    view, scene = neuron.view, neuron.scene
    mouse(view, QEvent.Type.MouseButtonPress, port_pos(neuron, f"{relu}.out", True))
    mouse(view, QEvent.Type.MouseMove, port_pos(neuron, "sq.a", False), Qt.MouseButton.NoButton)
    assert scene.nodes["sq"].inputs["a"].highlight == "ok"
    assert scene.wire.isVisible()
    mouse(view, QEvent.Type.MouseMove, port_pos(neuron, "w.out", True), Qt.MouseButton.NoButton)
    assert scene.nodes["sq"].inputs["a"].highlight is None
    assert scene.nodes["w"].outputs["out"].highlight == "bad"
    assert "both outputs" in neuron.statusBar().currentMessage()
    mouse(
        view, QEvent.Type.MouseButtonRelease, port_pos(neuron, "w.out", True), buttons=Qt.MouseButton.NoButton
    )
    assert not scene.wire.isVisible() and scene.nodes["w"].outputs["out"].highlight is None
    assert neuron.document.stack.text(neuron.document.stack.index() - 1).startswith("Add relu")


def test_a_cycle_is_refused_with_the_reason(neuron: MainWindow):
    graph, count = neuron.document.graph, len(neuron.document.graph.edges)
    drag(neuron.view, port_pos(neuron, "L.out", True), port_pos(neuron, "wx.a", False))
    assert graph.source_of(PortRef("wx", "a")) == PortRef("w", "out")
    assert len(graph.edges) == count and neuron.document.stack.count() == 0
    assert neuron.statusBar().currentMessage() == "Cannot connect: L.out → wx.a would make a cycle"


def test_connecting_into_an_occupied_input_replaces_the_edge(neuron: MainWindow):
    graph, stack = neuron.document.graph, neuron.document.stack
    drag(neuron.view, port_pos(neuron, "y.out", True), port_pos(neuron, "t.x", False))
    assert graph.source_of(PortRef("t", "x")) == PortRef("y", "out")
    assert neuron.scene.edges[PortRef("t", "x")].src == PortRef("y", "out")
    assert stack.count() == 1
    stack.undo()
    assert graph.source_of(PortRef("t", "x")) == PortRef("z", "out")
    assert neuron.scene.edges[PortRef("t", "x")].src == PortRef("z", "out")


def test_picking_up_a_wire_and_dropping_it_on_nothing_disconnects(neuron: MainWindow):
    graph = neuron.document.graph
    drag(neuron.view, port_pos(neuron, "t.x", False), port_pos(neuron, "t.x", False) + QPointF(-60, 150))
    assert graph.source_of(PortRef("t", "x")) is None and PortRef("t", "x") not in neuron.scene.edges
    assert any(d.node == "t" and d.port == "x" for d in neuron.document.report.diagnostics)
    neuron.document.stack.undo()
    assert graph.source_of(PortRef("t", "x")) == PortRef("z", "out")
    assert neuron.scene.edges[PortRef("t", "x")].isVisible()


def test_picked_up_wire_moves_to_another_input_in_one_step(neuron: MainWindow):
    relu = add(neuron, "relu", 700, 400)
    stack = neuron.document.stack
    steps = stack.count()
    drag(neuron.view, port_pos(neuron, "t.x", False), port_pos(neuron, f"{relu}.x", False))
    graph = neuron.document.graph
    assert graph.source_of(PortRef(relu, "x")) == PortRef("z", "out")
    assert graph.source_of(PortRef("t", "x")) is None
    assert stack.count() == steps + 1 and stack.undoText().startswith("Reconnect")


def test_wire_dropped_on_the_canvas_offers_a_connected_node(neuron: MainWindow, qtbot):
    end = port_pos(neuron, "L.out", True) + QPointF(150, 0)
    drag(neuron.view, port_pos(neuron, "L.out", True), end)
    popup = neuron.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "relu")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    graph = neuron.document.graph
    assert graph.source_of(PortRef("relu", "x")) == PortRef("L", "out")
    assert neuron.document.stack.count() == 1  # add and connect: one step
    neuron.document.stack.undo()
    assert "relu" not in graph and "relu" not in neuron.scene.nodes


def test_edges_are_curves_that_follow_their_ports(neuron: MainWindow):
    edge = neuron.scene.edges[PortRef("t", "x")]
    assert edge.path().elementCount() == 4  # one cubic segment: move + three control points
    assert edge.path().pointAtPercent(0) == port_pos(neuron, "z.out", True)
    assert edge.path().pointAtPercent(1) == port_pos(neuron, "t.x", False)
