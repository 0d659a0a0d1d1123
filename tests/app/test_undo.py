"""Every kind of edit is one undo step, and undoing it gives back the identical saved file.

Each case performs one user-level edit through the controller (or the commands it pushes); the
test saves before, undoes, saves again and compares the bytes, then redoes and undoes once more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF

from app.commands import AddNode, Connect, Disconnect, MoveNodes, RemoveNodes, SetAttr
from app.window import MainWindow
from graphcore.graph import Node, PortRef


def select(*ids: str) -> Callable[[MainWindow], None]:
    return lambda w: w.scene.select_nodes(list(ids))


def group_then(action: str) -> Callable[[MainWindow], None]:
    """Prepare a saved group, so the edit under test is the action on it."""

    def prepare(w: MainWindow) -> None:
        w.scene.select_nodes(["wx", "z"])
        w.controller.group_selection()
        w.scene.select([w.scene.backdrops["group1"]])

    return prepare


EDITS: dict[str, tuple[Callable[[MainWindow], None] | None, Callable[[MainWindow], None]]] = {
    "add node": (None, lambda w: w.controller.add_node("relu", QPointF(10, 10))),
    "add node command": (None, lambda w: w.document.push(AddNode(w.document.graph, Node("n", "exp")))),
    "delete first node": (select("w"), lambda w: w.controller.delete_selection()),
    "delete middle nodes": (select("z", "t"), lambda w: w.controller.delete_selection()),
    "remove nodes command": (None, lambda w: w.document.push(RemoveNodes(w.document.graph, ["x", "sq"]))),
    "connect": (
        None,
        lambda w: w.document.push(Connect(w.document.graph, PortRef("t", "out"), PortRef("L", "a"))),
    ),
    "connect replacing": (None, lambda w: w.controller.connect(PortRef("x", "out"), PortRef("z", "b"))),
    "disconnect": (
        None,
        lambda w: w.document.push(Disconnect(w.document.graph, PortRef("z", "out"), PortRef("t", "x"))),
    ),
    "set param": (None, lambda w: w.controller.set_param("sq", "exponent", 3.0)),
    "set label": (None, lambda w: w.controller.set_label("t", "activation")),
    "set pos": (None, lambda w: w.document.push(SetAttr(w.document.graph, "t", "pos", (5.0, 5.0)))),
    "move": (
        None,
        lambda w: w.document.push(MoveNodes(w.document.graph, {"t": (1.0, 2.0), "z": (3.0, 4.0)})),
    ),
    "paste": (select("w", "x", "wx"), lambda w: w.controller.paste(w.controller.copy() and None)),
    "duplicate": (select("r", "sq"), lambda w: w.controller.duplicate()),
    "cut": (select("half"), lambda w: w.controller.cut()),
    "auto layout": (None, lambda w: w.controller.auto_layout()),
    "group": (select("wx", "z"), lambda w: w.controller.group_selection()),
    "ungroup": (group_then("ungroup"), lambda w: w.controller.ungroup_selection()),
    "collapse": (group_then("collapse"), lambda w: w.controller.toggle_collapsed("group1")),
    "rename group": (
        group_then("rename"),
        lambda w: w.controller.set_group("group1", "Rename", title="affine"),
    ),
    "delete frame": (group_then("delete"), lambda w: w.controller.delete_selection()),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_undo_gives_back_the_identical_file(neuron: MainWindow, examples: Path, name: str):
    prepare, edit = EDITS[name]
    path = examples / "sigmoid_neuron.json"
    if prepare is not None:
        prepare(neuron)
    assert neuron.save()
    saved = path.read_bytes()
    stack = neuron.document.stack
    steps = stack.count()
    edit(neuron)
    assert stack.count() == steps + 1, f"{name} took {stack.count() - steps} undo steps"
    assert neuron.dirty
    edited = _saved(neuron, path)
    assert edited != saved
    stack.undo()
    assert _saved(neuron, path) == saved
    stack.redo()
    assert _saved(neuron, path) == edited
    stack.undo()
    assert _saved(neuron, path) == saved and not neuron.dirty
    assert set(neuron.scene.nodes) == {n.id for n in neuron.document.graph.nodes}


def _saved(window: MainWindow, path: Path) -> bytes:
    assert window.save()
    return path.read_bytes()


def test_the_history_panel_lists_the_steps(neuron: MainWindow):
    neuron.controller.set_label("t", "a")
    neuron.controller.set_param("sq", "exponent", 3.0)
    model = neuron.history.model()
    assert [model.index(i, 0).data() for i in range(model.rowCount())] == [
        "Opened",
        "Rename 't'",
        "Set sq.exponent",
    ]
    neuron.menu["undo"].trigger()
    assert neuron.document.graph.node("sq").params["exponent"] == 2.0
    neuron.menu["redo"].trigger()
    assert neuron.document.graph.node("sq").params["exponent"] == 3.0
