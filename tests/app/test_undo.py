"""Every kind of edit is one undo step, and undoing it gives back the identical saved file.

Each case performs one user-level edit through the controller (or the commands it pushes); the
test saves before, undoes, saves again and compares the bytes, then redoes and undoes once more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from canvas_gestures import mouse, port_pos
from PySide6.QtCore import QEvent, QPointF, Qt

from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.editing import groups
from app.editing.commands import AddNode, Connect, Disconnect, MoveNodes, RemoveNodes, SetAttr, set_text
from app.editing.controller import Controller
from app.editing.document import Document
from app.main import EXAMPLES
from app.theme import LIGHT
from app.window import MainWindow
from graphcore.files.fileformat import load
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
    "rename id": (None, lambda w: w.controller.rename_node("wx", "product")),
    "rename grouped id": (group_then("rename id"), lambda w: w.controller.rename_node("z", "pre")),
    "rename id in a collapsed group": (
        lambda w: (group_then("collapse")(w), w.controller.toggle_collapsed("group1")),
        lambda w: w.controller.rename_node("wx", "product"),
    ),
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
        "Rename t = σ(z) to a",
        "Set (y − t)².exponent to 3.0",
    ]
    neuron.menu["undo"].trigger()
    assert neuron.document.graph.node("sq").params["exponent"] == 2.0
    neuron.menu["redo"].trigger()
    assert neuron.document.graph.node("sq").params["exponent"] == 3.0


def _press_move(window: MainWindow, ref: str, output: bool) -> QPointF:
    """Press on a port and drag a little: a wire is being carried."""
    start = port_pos(window, ref, output)
    mouse(window.view, QEvent.Type.MouseButtonPress, start)
    mouse(window.view, QEvent.Type.MouseMove, start + QPointF(60, 90), Qt.MouseButton.NoButton)
    assert window.scene.wire.isVisible()
    return start + QPointF(60, 90)


def _release(window: MainWindow, at: QPointF) -> None:
    mouse(window.view, QEvent.Type.MouseButtonRelease, at, buttons=Qt.MouseButton.NoButton)


def test_undo_while_dragging_a_wire_from_the_new_node_drops_the_wire(neuron: MainWindow, qtbot):
    relu = neuron.controller.add_node("relu", QPointF(700, 400))
    steps = neuron.document.stack.count()
    at = _press_move(neuron, f"{relu}.out", True)
    neuron.menu["undo"].trigger()  # Ctrl+Z with the other hand: the node the wire hangs from goes
    assert relu not in neuron.scene.nodes
    assert not neuron.scene.wire.isVisible()
    _release(neuron, at)
    at = _press_move(neuron, "t.out", True)  # the next wire starts from where it is pressed
    _release(neuron, at)
    assert neuron.document.stack.count() == steps and not neuron.scene.wire.isVisible()


def test_undo_while_carrying_a_picked_up_edge_leaves_the_history_alone(neuron: MainWindow):
    relu = neuron.controller.add_node("relu", QPointF(700, 400))
    assert neuron.controller.connect(PortRef("t", "out"), PortRef(relu, "x"))
    stack = neuron.document.stack
    at = _press_move(neuron, f"{relu}.x", False)  # picks up the edge t.out → relu.x
    neuron.menu["undo"].trigger()  # the edge it carries is undone under it
    _release(neuron, at + QPointF(300, 300))  # let go on empty canvas, which would disconnect it
    assert stack.index() == stack.count() - 1, "the release pushed a step"
    assert neuron.document.graph.source_of(PortRef(relu, "x")) is None
    assert PortRef(relu, "x") not in neuron.scene.edges and not neuron.scene.wire.isVisible()
    stack.redo()
    assert neuron.scene.edges[PortRef(relu, "x")].isVisible()


@pytest.fixture
def xor(qapp) -> Iterator[Controller]:
    """The XOR example on a bare scene and controller: cheaper than a window where none is needed."""
    document = Document(load(EXAMPLES / "xor.json"))
    scene = CanvasScene(document, LIGHT)
    view = CanvasView()
    view.setScene(scene)
    yield Controller(document, scene, view)
    view.setScene(None)
    document.close()
    document.deleteLater()


def test_a_second_auto_layout_adds_no_empty_step(xor: Controller):
    xor.auto_layout()
    stack = xor.document.stack
    assert stack.count() == 1
    stack.setClean()
    xor.auto_layout()
    assert stack.count() == 1 and stack.isClean()


def test_setting_a_group_to_what_it_is_adds_no_step(xor: Controller):
    xor.scene.select_nodes(["x", "h1"])
    group = xor.group_selection()
    assert group is not None
    stack = xor.document.stack
    xor.set_group(group, "Rename", title="Group 1")
    xor.set_group(group, "Colour", color=groups.find(groups.groups_of(xor.graph), group)["color"])
    assert stack.count() == 1
    xor.set_group(group, "Rename", title="Hidden")
    assert stack.count() == 2 and xor.scene.backdrops[group].title == "Hidden"


def test_params_of_a_placeholder_or_unknown_params_are_refused_with_a_message(xor: Controller):
    graph = xor.graph
    xor.document.push(AddNode(graph, Node("future", "FutureOp", {"alpha": 2})))
    said: list[str] = []
    xor.message.connect(said.append)
    assert not xor.set_param("future", "alpha", 3)
    assert not xor.set_param("fc1", "no_such_param", 3)
    assert graph.node("future").params == {"alpha": 2} and xor.document.stack.count() == 1
    assert said == [
        "future has no param 'alpha' that can be edited",
        "fc1 has no param 'no_such_param' that can be edited",
    ]


def history(window: MainWindow) -> list[str]:
    stack = window.document.stack
    return [stack.text(i) for i in range(stack.count())]


def test_history_texts_name_nodes_by_label_and_say_what_was_set(neuron: MainWindow):
    """Each step reads as what the user did, with the names on the canvas; ids only to tell apart."""
    c, graph = neuron.controller, neuron.document.graph
    relu = c.add_node("relu", QPointF(700, 400))
    c.connect(PortRef("t", "out"), PortRef(relu, "x"))
    c.connect(PortRef("x", "out"), PortRef("z", "b"))
    c.set_param("x", "value", 2.5)
    c.set_param("x", "shape", ["N"])
    c.set_label(relu, "act")
    c.rename_node(relu, "activation")
    neuron.document.push(
        MoveNodes(graph, {"t": (1.0, 2.0), "z": (3.0, 4.0), "w": (0.0, 9.0), "b": (1.0, 1.0)})
    )
    neuron.document.push(SetAttr(graph, "t", "pos", (5.0, 5.0)))
    neuron.scene.select_nodes(["w", "b"])
    c.group_selection()
    c.set_group("group1", title="affine")
    c.toggle_collapsed("group1")
    c.ungroup_selection()
    neuron.scene.select_nodes(["w", "b"])
    c.duplicate()
    c.delete_selection()
    neuron.document.push(Disconnect(graph, PortRef("z", "out"), PortRef("t", "x")))
    assert history(neuron) == [
        "Add relu relu",
        "Connect t → relu",
        "Connect x → z.b",
        "Set x.value to 2.5",
        "Set x.shape to [N]",
        "Rename relu to act",
        "Rename id relu to activation",
        "Move 4 nodes",
        "Move t",
        "Group w, b",
        "Rename group Group 1 to affine",
        "Collapse affine",
        "Ungroup affine",
        "Duplicate w (w2), b (b2)",  # the copies keep the labels: the ids tell them apart
        "Delete w (w2), b (b2)",
        "Disconnect z → t",
    ]


def test_a_merged_param_step_says_the_value_it_ends_at(neuron: MainWindow):
    for value in (3.0, 3.5, 4.0):
        neuron.controller.set_param("sq", "exponent", value)
    assert history(neuron) == ["Set (y − t)².exponent to 4.0"]


def test_renaming_an_id_keeps_edges_groups_training_and_selection(neuron: MainWindow):
    c, graph, stack = neuron.controller, neuron.document.graph, neuron.document.stack
    neuron.scene.select_nodes(["wx", "z"])
    c.group_selection()
    neuron.scene.select_nodes(["wx"])
    before = [(str(s), str(d)) for s, d in graph.edges]
    assert c.rename_node("wx", "product")
    assert [n.id for n in graph.nodes][4] == "product" and "wx" not in neuron.scene.nodes
    assert graph.source_of(PortRef("z", "a")) == PortRef("product", "out")
    assert groups.groups_of(graph)[0]["nodes"] == ["product", "z"]
    assert neuron.scene.group_of["product"] == "group1"
    assert neuron.scene.selected_node_ids() == ["product"] and neuron.inspector.node_id == "product"
    stack.undo()
    assert [(str(s), str(d)) for s, d in graph.edges] == before
    assert groups.groups_of(graph)[0]["nodes"] == ["wx", "z"]
    assert neuron.scene.selected_node_ids() == ["wx"] and neuron.inspector.id_edit.text() == "wx"
    said: list[str] = []
    c.message.connect(said.append)
    steps = stack.count()
    for bad in ("", "z", "a.b"):
        assert not c.rename_node("wx", bad)
    assert stack.count() == steps and "wx" in graph
    assert said == [
        "Cannot rename wx: a node id cannot be empty",
        "Cannot rename wx: there is already a node 'z'",
        "Cannot rename wx: a node id cannot contain '.' (id 'a.b')",
    ]


def test_set_text_names_the_entry_that_changed_and_its_value():
    """The one text builder for params and (for app/training/commands.py) the training section."""
    optimizer = {"name": "adam", "lr": 0.05}
    assert set_text("training.optimizer", optimizer, {**optimizer, "lr": 0.02}) == (
        "Set training.optimizer.lr to 0.02"
    )
    assert set_text("training.optimizer", optimizer, {"name": "sgd", "lr": 0.1}) == (
        "Set training.optimizer: name to sgd, lr to 0.1"
    )
    assert set_text("training.epochs", 10, 20) == "Set training.epochs to 20"
    assert set_text("x", {"shape": [], "value": 1.0}, {"shape": []}) == "Reset x.value"
    assert set_text("x", {"shape": ["N", 3]}, {"shape": ["N", 4]}) == "Set x.shape to [N, 4]"
    assert set_text("x", {"value": "a" * 100}, {"value": "b" * 100}) == f"Set x.value to {'b' * 39}…"
