"""Blocks as a user meets them: the sigmoid neuron's body made a block (rubber band, Ctrl+B, a name
typed), then stepped: the block node lights up while its inner nodes run and the panel says which
("neuron ▸ wx"); opened, its inner nodes wear the badges the original graph's nodes wore (the same
numbers: a block is its nodes inlined). File ▸ Save and Open keep the definition and the instance."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.window import MainWindow
from graphcore.files.fileformat import load
from tests.app.canvas_gestures import GRAB, activate, press_run_action
from tests.app.test_blocks import INNER, double_click, make_neuron_block
from tests.flows.test_flow_stepper import expected_badges


def test_the_stepper_steps_into_the_block_and_shows_badges_inside(neuron: MainWindow, qtbot, examples: Path):
    window = neuron
    original = expected_badges(examples / "sigmoid_neuron.json")[-1]  # badges at the end of a pass
    instance = make_neuron_block(window, qtbot)
    stepper = window.run_tools.stepper
    press_run_action(window, "stepper_mode")
    assert stepper.session is not None, window.statusBar().currentMessage()
    seen_inside = []
    while not stepper.session.at_end:
        press_run_action(window, "step")
        event = stepper.session.current
        if event.node.startswith(f"{instance}/"):
            # the block node is framed while one of its inner nodes runs, and the panel names both
            assert stepper.overlay.current == instance
            inner = event.node.rpartition("/")[2]
            text = window.run_tools.stepper_panel.text
            assert f"{instance} ▸ {inner}" in text
            assert f"{instance}/" not in text  # inner nodes are named where they are, never by flat id
            seen_inside.append(inner)
    assert set(INNER) <= set(seen_inside)
    assert stepper.overlay.badge(instance).text == original["t"]  # the block wears its output's badge
    double_click(window, qtbot, window.scene.nodes[instance].mapToScene(GRAB))
    inside = stepper.inside_overlay
    assert inside is not None and inside.scene is window.scene
    for node in INNER:
        assert inside.badge(node).text == original[node], node
    activate(window, qtbot)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert stepper.inside_overlay is None and stepper.overlay.current is not None


def test_save_and_open_keep_the_block(neuron: MainWindow, qtbot, examples: Path):
    window = neuron
    instance = make_neuron_block(window, qtbot)
    window.menu["save"].trigger()
    assert not window.dirty
    saved = load(examples / "sigmoid_neuron.json")
    assert list(saved.blocks) == ["Neuron"]
    assert saved.node(instance).params == {"block": "Neuron", "repeat": 1}
    graph = window.document.graph
    ours, theirs = graph.blocks["Neuron"], saved.blocks["Neuron"]
    assert theirs.inputs == ours.inputs and theirs.outputs == ours.outputs
    assert [(n.id, n.type, n.params) for n in theirs.graph.nodes] == [
        (n.id, n.type, n.params) for n in ours.graph.nodes
    ]
    assert window.open_path(examples / "sigmoid_neuron.json")
    assert window.scene.nodes[instance].type_name == "Neuron"
    assert list(window.document.graph.blocks) == ["Neuron"]
    assert window.node_palette.item_for("block:Neuron") is not None
