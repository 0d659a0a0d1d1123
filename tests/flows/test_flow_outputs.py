"""A node whose outputs follow its params, as a user meets it: chunks typed into the inspector key by
key, the ports on the canvas following, a wire from a new port, and Ctrl+Z bringing back ports and
edges that a smaller value took away."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from app.window import MainWindow
from graphcore.graph import PortRef
from tests.app.canvas_gestures import activate, click_node, drag, port_pos, retype

CTRL = Qt.KeyboardModifier.ControlModifier

GRAPH = {
    "format": "backprop-studio-graph",
    "version": 2,
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": ["N", 12]}, "pos": [0, 0]},
        {"id": "parts", "type": "chunk", "params": {"dim": 1}, "pos": [260, 0]},
        {"id": "first", "type": "relu", "pos": [560, -120]},
        {"id": "second", "type": "tanh", "pos": [560, 40]},
        {"id": "third", "type": "sigmoid", "pos": [560, 200]},
    ],
    "edges": [
        {"from": "x.out", "to": "parts.x"},
        {"from": "parts.out0", "to": "first.x"},
        {"from": "parts.out1", "to": "second.x"},
    ],
}


def problems(window: MainWindow) -> list[str]:
    return [str(d) for d in window.document.report.diagnostics]


def drawn_outputs(window: MainWindow, node_id: str) -> list[str]:
    return list(window.scene.nodes[node_id].outputs)


def test_typing_chunks_changes_the_ports_and_undo_brings_edges_back(
    window: MainWindow, tmp_path: Path, qtbot
):
    path = tmp_path / "parts.json"
    path.write_text(json.dumps(GRAPH), encoding="utf-8")
    assert window.open_path(path)
    activate(window, qtbot)
    graph, stack = window.document.graph, window.document.stack
    assert drawn_outputs(window, "parts") == ["out0", "out1"]

    click_node(window, "parts")
    retype(qtbot, window.inspector.editors["chunks"].lineEdit(), "12")  # "1", then "12", then Enter
    assert graph.node("parts").params["chunks"] == 12
    assert drawn_outputs(window, "parts") == [f"out{i}" for i in range(12)]
    assert window.document.report.shapes["parts.out11"] == ("N", 1)

    drag(window.view, port_pos(window, "parts.out2", True), port_pos(window, "third.x", False))
    assert graph.source_of(PortRef("third", "x")) == PortRef("parts", "out2")
    assert window.document.report.ok

    click_node(window, "parts")
    retype(qtbot, window.inspector.editors["chunks"].lineEdit(), "2")
    assert drawn_outputs(window, "parts") == ["out0", "out1"]
    assert graph.source_of(PortRef("third", "x")) is None  # out2 is gone, and its wire with it
    assert graph.source_of(PortRef("second", "x")) == PortRef("parts", "out1")
    assert "disconnected parts.out2 → third" in window.statusBar().currentMessage()
    assert problems(window) == ["third.x: input is not connected"]  # no edge left from a missing port

    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)  # one step: the value and the wire together
    assert graph.node("parts").params["chunks"] == 12
    assert graph.source_of(PortRef("third", "x")) == PortRef("parts", "out2")
    assert drawn_outputs(window, "parts") == [f"out{i}" for i in range(12)]
    assert window.scene.edges[PortRef("third", "x")].src == PortRef("parts", "out2")
    assert window.inspector.editors["chunks"].value() == 12

    for _ in range(2):  # the wire, then the first value
        qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert stack.index() == 0 and drawn_outputs(window, "parts") == ["out0", "out1"]
    assert graph.source_of(PortRef("third", "x")) is None
    assert problems(window) == ["third.x: input is not connected"]
