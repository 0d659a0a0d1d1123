"""Problems show at once: red nodes and edges with the message as tooltip, a list that leads to them."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from app.window import MainWindow
from graphcore.graph import PortRef


def test_a_problem_appears_and_clears_with_the_edit_that_fixes_it(neuron: MainWindow, qtbot):
    panel, scene = neuron.diagnostics, neuron.scene
    assert panel.messages() == [] and "No problems" in panel.summary.text()
    neuron.controller.add_node("relu", QPointF(1500, 300))
    assert panel.messages() == ["relu.x: input is not connected"]
    assert scene.nodes["relu"].problems == ["x: input is not connected"]
    assert "input is not connected" in scene.nodes["relu"].describe()
    assert scene.nodes["relu"].inputs["x"].problem
    assert "1 problem" in neuron.counts.text()
    neuron.controller.connect(PortRef("L", "out"), PortRef("relu", "x"))
    assert panel.messages() == [] and scene.nodes["relu"].problems == []
    assert not scene.nodes["relu"].inputs["x"].problem
    neuron.document.stack.undo()
    assert panel.messages() == ["relu.x: input is not connected"]


def test_a_shape_mismatch_turns_the_node_and_its_edges_red(neuron: MainWindow):
    neuron.controller.set_param("x", "shape", [2])
    neuron.controller.set_param("x", "value", [1.0, 2.0])
    neuron.controller.add_node("Linear", QPointF(0, 400))
    neuron.controller.set_param("linear", "in_features", 3)
    neuron.controller.connect(PortRef("x", "out"), PortRef("linear", "x"))
    edge = neuron.scene.edges[PortRef("linear", "x")]
    message = "Linear in_features=3 but x has 2 features"
    assert any(message in m for m in neuron.diagnostics.messages())
    assert neuron.scene.nodes["linear"].problems == [message]
    assert edge.problem == message and message in edge.describe()
    assert edge.label == "[2]"
    neuron.controller.set_param("linear", "in_features", 2)
    assert edge.problem == "" and neuron.scene.nodes["linear"].problems == []


def test_clicking_a_problem_selects_and_frames_its_node(neuron: MainWindow, qtbot):
    neuron.controller.add_node("tanh", QPointF(3000, 2000))
    neuron.frame_all()
    neuron.view.zoom_by(3)
    panel = neuron.diagnostics
    neuron.scene.clearSelection()
    rect = panel.list.visualItemRect(panel.list.item(0))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert neuron.scene.selected_node_ids() == ["tanh"]
    view = neuron.view
    assert (
        view.viewport()
        .rect()
        .contains(view.mapFromScene(neuron.scene.nodes["tanh"].sceneBoundingRect()).boundingRect())
    )


def test_a_problem_inside_a_collapsed_group_shows_the_group(neuron: MainWindow, qtbot):
    neuron.scene.select_nodes(["sq"])
    group = neuron.controller.group_selection()
    neuron.controller.toggle_collapsed(group)
    neuron.controller.set_param("sq", "exponent", None)  # refused: exponent must be given
    neuron.scene.select_nodes(["r"])
    neuron.controller.delete_selection()  # leaves sq.a, inside the collapsed group, unconnected
    panel = neuron.diagnostics
    row = next(i for i, m in enumerate(panel.messages()) if m.startswith("sq.a"))
    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [b.group_id for b in neuron.scene.selected_backdrops()] == [group]
    assert not neuron.scene.nodes["sq"].isVisible()
