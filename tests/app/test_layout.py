"""Automatic layout: data flows left to right, no overlaps, no wire under a node, one undoable step."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF

from app.canvas.view import readable_zoom
from app.editing.commands import MoveNodes
from app.window import MainWindow
from graphcore.graph import PortRef


def test_auto_layout_makes_data_flow_left_to_right_in_one_step(neuron: MainWindow):
    graph, stack = neuron.document.graph, neuron.document.stack
    stack.push(MoveNodes(graph, {n.id: (0.0, 0.0) for n in graph.nodes}))  # everything in one pile
    neuron.menu["layout"].trigger()
    x = {n.id: n.pos[0] for n in graph.nodes}
    assert all(x[src.node] < x[dst.node] for src, dst in graph.edges)
    target = graph.node("y").pos[0]  # a source sits just before its consumer, not in the first column
    assert target > min(x.values()) and not any(target < x[n] < x[graph.edges_of("y")[0][1].node] for n in x)
    rects = [item.sceneBoundingRect() for item in neuron.scene.nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
    assert stack.undoText() == "Auto layout" and stack.count() == 2
    visible = neuron.view.mapToScene(neuron.view.viewport().rect()).boundingRect()
    first = neuron.scene.nodes[graph.nodes[0].id].sceneBoundingRect()
    assert visible.contains(first) and neuron.view.zoom >= readable_zoom()  # too wide: from its start
    stack.undo()
    assert all(n.pos == (0.0, 0.0) for n in graph.nodes)


def test_auto_layout_of_an_empty_graph_says_so(window: MainWindow):
    window.menu["layout"].trigger()
    assert window.statusBar().currentMessage() == "Nothing to lay out" and window.document.stack.count() == 0


def test_separate_pieces_are_laid_out_apart(window: MainWindow):
    controller, graph = window.controller, window.document.graph
    for name in ("a", "b"):
        start = controller.add_node("Input", QPointF(0, 0))
        end = controller.add_node("relu", QPointF(0, 0))
        controller.connect(PortRef(start, "out"), PortRef(end, "x"))
        controller.set_label(start, name)
    controller.auto_layout()
    first, second = [n for n in graph.nodes if n.type == "Input"]
    relus = [n for n in graph.nodes if n.type == "relu"]
    assert first.pos[0] == second.pos[0] < relus[0].pos[0] == relus[1].pos[0]  # same columns
    assert second.pos[1] > first.pos[1]  # stacked, the first piece on top
    rects = [item.sceneBoundingRect() for item in window.scene.nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])


def wires_under_nodes(window: MainWindow) -> list[str]:
    """Each wire that runs through a node other than its two ends, as "src → dst under node"."""
    crossings = []
    for edge in window.scene.edges.values():
        points = [edge.path().pointAtPercent(i / 100) for i in range(101)]
        for node_id, item in window.scene.nodes.items():
            body = item.sceneBoundingRect().adjusted(4, 4, -4, -4)
            if node_id not in (edge.src.node, edge.dst.node) and any(body.contains(p) for p in points):
                crossings.append(f"{edge.src} → {edge.dst} under {node_id}")
    return crossings


@pytest.mark.parametrize("name", ["sigmoid_neuron_l2", "vae_bars_stripes"])
def test_auto_layout_routes_no_wire_under_a_node(window: MainWindow, examples: Path, name: str):
    window.open_path(examples / f"{name}.json")
    window.document.stack.push(
        MoveNodes(window.document.graph, {n.id: (0.0, 0.0) for n in window.document.graph.nodes})
    )
    window.menu["layout"].trigger()
    assert wires_under_nodes(window) == []
    rects = [item.sceneBoundingRect() for item in window.scene.nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
