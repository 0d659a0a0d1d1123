"""Editing inside an opened block as a user does: deleting the node an output port exposes is refused
in one line in the status bar (the definition never points at a missing node), Delete and Cut alike;
deleting an unexposed node still works and one Ctrl+Z brings it back; deleting an Input inside takes
its port and the wire into it away outside in the same undo step, and undo (inside or out) restores
both; renaming the exposed node or an Input inside renames it in the definition (and moves the
wire into a renamed port outside) in the same undo step. An edit inside one instance is an edit of the
block: opening another instance shows it, and one undo takes it back from both."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from app.window import MainWindow
from graphcore.blocks import definition_problems
from graphcore.graph import PortRef
from tests.app.canvas_gestures import GRAB, click, click_node, retype
from tests.app.test_blocks import double_click, make_neuron_block


def open_neuron(window: MainWindow, qtbot) -> None:
    instance = make_neuron_block(window, qtbot)
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.breadcrumb.text == "sigmoid_neuron ▸ Neuron"
    assert not window.breadcrumb.copy.isVisible()  # one copy: nothing to choose


def select(window: MainWindow, node_id: str) -> None:
    click(window.view, window.scene.nodes[node_id].mapToScene(GRAB))
    window.view.setFocus()
    assert window.scene.selected_node_ids() == [node_id]


def test_deleting_the_exposed_node_inside_a_block_is_refused_in_one_line(neuron: MainWindow, qtbot):
    window = neuron
    open_neuron(window, qtbot)
    definition = window.document.graph.blocks["Neuron"]
    ((port, value),) = definition.outputs.items()
    exposed = value.split(".")[0]
    steps = window.document.stack.count()
    for key, modifier in [
        (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Backspace, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier),
    ]:
        select(window, exposed)
        qtbot.keyClick(window.view, key, modifier)
        assert window.statusBar().currentMessage() == (
            f"Cannot delete {exposed}: block Neuron exposes it as output {port!r}"
        )
        assert exposed in definition.graph and exposed in window.scene.nodes
        assert window.document.stack.count() == steps
    assert definition_problems(definition) == []


def test_an_unexposed_node_inside_still_deletes_and_undo_restores_it(neuron: MainWindow, qtbot):
    window = neuron
    open_neuron(window, qtbot)
    definition = window.document.graph.blocks["Neuron"]
    exposed = {v.split(".")[0] for v in definition.outputs.values()}
    (victim,) = [n for n in ["wx", "z", "t"] if n not in exposed][:1]
    select(window, victim)
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert victim not in definition.graph and victim not in window.scene.nodes
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert victim in definition.graph and victim in window.scene.nodes


def test_deleting_an_input_inside_takes_its_port_and_wire_away_outside_in_one_step(neuron: MainWindow, qtbot):
    window = neuron
    root = window.document.graph
    instance = make_neuron_block(window, qtbot)
    outside = window.scene
    definition = root.blocks["Neuron"]
    ports = root.input_ports_of(instance)
    port = ports[0]
    wire = root.source_of(PortRef(instance, port))
    assert wire is not None and port in outside.nodes[instance].inputs
    double_click(window, qtbot, outside.nodes[instance].mapToScene(GRAB))
    steps = window.document.stack.count()
    select(window, port)
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert window.document.stack.count() == steps + 1  # one undo step
    assert port not in definition.graph and port not in definition.inputs
    assert root.input_ports_of(instance) == ports[1:] and root.source_of(PortRef(instance, port)) is None
    assert definition_problems(definition) == []
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert port in definition.graph and root.input_ports_of(instance) == ports
    assert root.source_of(PortRef(instance, port)) == wire
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.view, Qt.Key.Key_Z, redo)
    assert root.input_ports_of(instance) == ports[1:]
    # undo from outside: the port is back on the node the user sees, wired as before
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert window.scene is outside and port not in outside.nodes[instance].inputs
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert root.input_ports_of(instance) == ports and root.source_of(PortRef(instance, port)) == wire
    assert port in outside.nodes[instance].inputs
    assert window.diagnostics.messages() == []


def test_an_input_added_inside_is_a_new_port_outside_and_undo_takes_it_away(neuron: MainWindow, qtbot):
    window = neuron
    root = window.document.graph
    instance = make_neuron_block(window, qtbot)
    outside = window.scene
    ports = root.input_ports_of(instance)
    double_click(window, qtbot, outside.nodes[instance].mapToScene(GRAB))
    search = window.node_palette.search
    qtbot.keyClicks(search, "Input")
    assert window.node_palette.types_shown()[0] == "Input"
    steps = window.document.stack.count()
    qtbot.keyClick(search, Qt.Key.Key_Return)
    definition = root.blocks["Neuron"]
    (added,) = [n.id for n in definition.graph.nodes if n.id not in ports and n.type == "Input"]
    assert window.document.stack.count() == steps + 1
    assert root.input_ports_of(instance) == (*ports, added) and definition_problems(definition) == []
    # outside, the block node has the new port, unwired: the instance says so
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert window.scene is outside and added in outside.nodes[instance].inputs
    assert any(m.startswith(instance) and added in m for m in window.diagnostics.messages()), (
        window.diagnostics.messages()
    )
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert root.input_ports_of(instance) == ports and added not in definition.graph
    assert added not in outside.nodes[instance].inputs and window.diagnostics.messages() == []


def rename_in_inspector(window: MainWindow, qtbot, node_id: str, new_id: str) -> None:
    select(window, node_id)
    field = window.inspector.id_edit
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, new_id)  # one key per character
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_renaming_the_exposed_node_and_an_input_inside_keeps_the_definition_and_wires(
    neuron: MainWindow, qtbot
):
    window = neuron
    root = window.document.graph
    instance = make_neuron_block(window, qtbot)
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    definition = root.blocks["Neuron"]
    ((port, value),) = definition.outputs.items()
    exposed, out = value.split(".")
    ports = root.input_ports_of(instance)
    first, wire = ports[0], root.source_of(PortRef(instance, ports[0]))
    steps = window.document.stack.index()
    rename_in_inspector(window, qtbot, exposed, "sig_out")
    assert definition.outputs == {port: f"sig_out.{out}"} and window.document.stack.index() == steps + 1
    rename_in_inspector(window, qtbot, first, "inp")
    assert root.input_ports_of(instance) == ("inp", *ports[1:])
    assert root.source_of(PortRef(instance, "inp")) == wire and definition_problems(definition) == []
    assert window.diagnostics.messages() == []
    undo = Qt.KeyboardModifier.ControlModifier
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, undo)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, undo)
    assert definition.outputs == {port: value} and root.input_ports_of(instance) == ports
    assert root.source_of(PortRef(instance, first)) == wire and window.document.stack.index() == steps


def two_instances_document() -> dict:
    """x → a → b, a and b both instances of block Leaky (one LeakyReLU, slope 0.01 at first)."""
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": {
            "Leaky": {
                "inputs": ["h"],
                "outputs": {"out": "act.out"},
                "nodes": [
                    {"id": "h", "type": "Input", "params": {"shape": ["N", 4]}, "pos": [0, 0]},
                    {"id": "act", "type": "LeakyReLU", "pos": [220, 0]},
                ],
                "edges": [{"from": "h.out", "to": "act.x"}],
            }
        },
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [2, 4]}, "pos": [0, 0]},
            {"id": "a", "type": "Block", "params": {"block": "Leaky", "repeat": 1}, "pos": [240, 0]},
            {"id": "b", "type": "Block", "params": {"block": "Leaky", "repeat": 1}, "pos": [480, 0]},
        ],
        "edges": [{"from": "x.out", "to": "a.h"}, {"from": "a.out", "to": "b.h"}],
    }


def open_instance(window: MainWindow, qtbot, instance: str) -> None:
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    assert window.breadcrumb.text == "leaky ▸ Leaky"


def leave(window: MainWindow, qtbot) -> None:
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.breadcrumb.isVisible()


def slope_shown(window: MainWindow) -> list[str]:
    """The param lines the act node shows on the canvas of the block opened."""
    return window.scene.nodes["act"].param_lines


def test_an_edit_inside_one_instance_changes_every_instance_and_one_undo_restores_them(
    window: MainWindow, qtbot, tmp_path
):
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps(two_instances_document()), encoding="utf-8")
    assert window.open_path(path)
    steps = window.document.stack.count()
    open_instance(window, qtbot, "a")
    assert slope_shown(window) == []  # the default slope is not shown
    click_node(window, "act")
    retype(qtbot, window.inspector.editors["negative_slope"], "0.25")
    assert slope_shown(window) == ["negative_slope = 0.25"]
    assert window.document.stack.count() == steps + 1  # one step, whichever instance it was made in
    leave(window, qtbot)
    open_instance(window, qtbot, "b")  # the other instance has the same inside
    assert slope_shown(window) == ["negative_slope = 0.25"]
    click_node(window, "act")
    assert window.inspector.editors["negative_slope"].text() == "0.25"
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert slope_shown(window) == []
    leave(window, qtbot)
    open_instance(window, qtbot, "a")  # undone in b's inside, undone in a's too
    assert slope_shown(window) == []
    assert window.document.graph.blocks["Leaky"].graph.node("act").params.get("negative_slope", 0.01) == 0.01
    assert window.document.stack.count() == steps + 1 and window.document.stack.index() == steps


def test_copy_and_paste_of_a_block_with_what_feeds_it_keeps_the_wire(neuron: MainWindow, qtbot):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    graph = window.document.graph
    (port,) = [d.port for s, d in graph.edges if d.node == instance and s.node == "w"]
    window.scene.select_nodes(["w", instance])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = [n for n in window.scene.selected_node_ids() if n != "w2"]
    assert len(pasted) == 1 and graph.node(pasted[0]).params["block"] == "Neuron"
    assert graph.source_of(PortRef(pasted[0], port)) == PortRef("w2", "out")
    assert window.scene.nodes[pasted[0]].inputs[port].connected


def test_a_block_renamed_to_no_definition_and_back_by_undo_shows_its_wires_again(neuron: MainWindow, qtbot):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    item = window.scene.nodes[instance]
    wired = {d.port for s, d in window.document.graph.edges if d.node == instance}
    select(window, instance)
    retype(qtbot, window.inspector.editors["block"], "Nowhere")
    assert window.document.graph.node(instance).params["block"] == "Nowhere"
    assert window.document.report.for_node(instance)  # no such block: a problem at the node
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.document.graph.node(instance).params["block"] == "Neuron"
    assert {name for name, port in item.inputs.items() if port.connected} == wired


def test_a_block_pasted_into_another_document_brings_its_definition(neuron: MainWindow, qtbot):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    definition = window.document.graph.blocks["Neuron"]
    window.scene.select_nodes([instance])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    window.new_document()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    graph = window.document.graph
    assert set(graph.blocks) == {"Neuron"}
    assert graph.blocks["Neuron"].outputs == definition.outputs
    (pasted,) = window.scene.selected_node_ids()
    assert set(window.scene.nodes[pasted].inputs) == set(definition.inputs)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not graph.blocks and not len(graph)  # one undo takes the node and its definition
