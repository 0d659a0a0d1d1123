"""Automatic layout: columns by topological generation, no overlaps, one undoable step."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from app.canvas.view import readable_zoom
from app.commands import MoveNodes
from app.window import MainWindow
from graphcore.graph import PortRef


def test_auto_layout_orders_columns_by_generation_in_one_step(neuron: MainWindow):
    graph, stack = neuron.document.graph, neuron.document.stack
    stack.push(MoveNodes(graph, {n.id: (0.0, 0.0) for n in graph.nodes}))  # everything in one pile
    neuron.menu["layout"].trigger()
    x = {n.id: n.pos[0] for n in graph.nodes}
    generations = graph.generations()
    for column, later in zip(generations, generations[1:], strict=False):
        assert max(x[n] for n in column) < min(x[n] for n in later)
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
