"""Building a graph as a user does: nodes from the palette or from Tab, wires dragged port to port
(or dropped on a node's body), values typed into the inspector, refusals read in the status bar.

Everything goes through real input events on the window's widgets; the tests read what the user
sees: the status bar's counts and messages, the Problems summary, the node's texts and the popup's list.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtTest import QTest

from app.window import MainWindow
from graphcore.graph import PortRef
from tests.app.canvas_gestures import GRAB, click, drag, mouse, port_pos, retype

# L = ½(y − σ(wx + b))²: (name, type, where its header goes, value typed into the inspector)
NEURON = [
    ("w", "Parameter", (-420, -240), "0.5"),
    ("x", "Input", (-420, -120), None),
    ("b", "Parameter", (-420, 80), "-0.3"),
    ("wx", "mul", (-220, -240), None),
    ("z", "add", (-220, -120), None),
    ("y", "Input", (-220, 80), None),
    ("t", "sigmoid", (-20, -240), None),
    ("r", "sub", (-20, -120), None),
    ("sq", "pow", (180, -240), None),
    ("half", "Constant", (180, -120), "0.5"),
    ("L", "mul", (180, 80), None),
]
NEURON_WIRES = [
    ("w.out", "wx.a"),
    ("x.out", "wx.b"),
    ("wx.out", "z.a"),
    ("b.out", "z.b"),
    ("z.out", "t.x"),
    ("y.out", "r.a"),
    ("t.out", "r.b"),
    ("r.out", "sq.a"),
    ("half.out", "L.a"),
    ("sq.out", "L.b"),
]


def new_node(window: MainWindow, before: set[str]) -> str:
    (added,) = {n.id for n in window.document.graph} - before
    return added


def set_value(window: MainWindow, qtbot, node_id: str, text: str) -> None:
    """Select the node by clicking its header, then type the value into the inspector."""
    item = window.scene.nodes[node_id]
    click(window.view, item.mapToScene(GRAB))
    assert window.inspector.node_id == node_id
    retype(qtbot, window.inspector.editors["value"], text)


def wire(window: MainWindow, ids: dict[str, str], wires: list[tuple[str, str]]) -> None:
    """Drag a wire from each output port to its input port."""
    for src, dst in wires:
        (a, out), (b, inp) = src.split("."), dst.split(".")
        drag(
            window.view, port_pos(window, f"{ids[a]}.{out}", True), port_pos(window, f"{ids[b]}.{inp}", False)
        )
        assert window.document.graph.source_of(PortRef(ids[b], inp)) == PortRef(ids[a], out), (src, dst)


def add_by_tab(window: MainWindow, qtbot, node_type: str, at: QPointF) -> str:
    """Point at `at`, press Tab, type the type's name, check the popup offers it first, press Enter."""
    before = {n.id for n in window.document.graph}
    view, popup = window.view, window.quick_add
    mouse(view, QEvent.Type.MouseMove, at, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    QTest.keyClick(view, Qt.Key.Key_Tab)
    assert popup.isVisible() and popup.edit.hasFocus()
    qtbot.keyClicks(popup.edit, node_type)
    assert popup.list.currentItem().text().split()[0] == node_type
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    return new_node(window, before)


def assert_neuron_built(window: MainWindow, ids: dict[str, str]) -> None:
    graph = window.document.graph
    assert window.counts.text() == "11 nodes · 10 edges · valid"
    assert "No problems" in window.diagnostics.summary.text()
    for src, dst in NEURON_WIRES:
        (a, out), (b, inp) = src.split("."), dst.split(".")
        assert graph.source_of(PortRef(ids[b], inp)) == PortRef(ids[a], out)


def test_build_the_sigmoid_neuron_from_the_palette(window: MainWindow, qtbot):
    """Search the palette, double-click each type, drag the new node by its header to its place."""
    palette, view, tree = window.node_palette, window.view, window.node_palette.tree
    assert window.counts.text() == "0 nodes · 0 edges · valid"
    ids: dict[str, str] = {}
    for name, node_type, (x, y), value in NEURON:
        before = {n.id for n in window.document.graph}
        QTest.mouseClick(palette.search, Qt.MouseButton.LeftButton)
        qtbot.keyClick(palette.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(palette.search, node_type)
        spot = tree.visualItemRect(palette.item_for(node_type)).center()
        QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=spot)
        QTest.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=spot)
        ids[name] = node_id = new_node(window, before)
        if len(ids) == 1:
            assert window.counts.text() == "1 node · 0 edges · valid"  # one is not "1 nodes"
        item = window.scene.nodes[node_id]
        grab = item.mapToScene(GRAB)
        drag(view, grab, grab + QPointF(x, y) - item.pos(), steps=8)
        assert (item.x(), item.y()) == (x, y) == window.document.graph.node(node_id).pos
        if node_type == "Constant":
            assert item.param_lines == ["value = 1.0"]  # a new Constant shows what it is
        if value is not None:
            set_value(window, qtbot, node_id, value)
    assert window.scene.nodes[ids["half"]].param_lines == ["value = 0.5"]
    assert window.counts.text().startswith("11 nodes · 0 edges")
    wire(window, ids, NEURON_WIRES)
    assert_neuron_built(window, ids)


def test_build_the_sigmoid_neuron_with_tab(window: MainWindow, qtbot):
    """Point on the canvas, Tab, type the type, Enter: the node appears under the pointer."""
    ids: dict[str, str] = {}
    for name, node_type, (x, y), value in NEURON:
        ids[name] = node_id = add_by_tab(window, qtbot, node_type, QPointF(x + 75, y + 13))
        assert window.scene.nodes[node_id].pos() == QPointF(x, y)
        if value is not None:
            set_value(window, qtbot, node_id, value)
    wire(window, ids, NEURON_WIRES)
    assert_neuron_built(window, ids)


def test_wrong_wires_are_refused_with_the_reason(neuron: MainWindow):
    graph, stack, view = neuron.document.graph, neuron.document.stack, neuron.view
    edges = sorted(map(str, graph.edges))
    drag(view, port_pos(neuron, "w.out", True), port_pos(neuron, "y.out", True))
    assert neuron.statusBar().currentMessage() == (
        "Cannot connect: w.out and y.out are both outputs; drag from an output to an input"
    )
    body = neuron.scene.nodes["L"].mapToScene(QPointF(75, 40))  # the middle of L's own body
    drag(view, port_pos(neuron, "L.out", True), body)
    assert neuron.statusBar().currentMessage().startswith("Cannot connect: L.out → L.")
    assert neuron.statusBar().currentMessage().endswith("would make a cycle")
    assert not neuron.quick_add.isVisible()
    assert sorted(map(str, graph.edges)) == edges and stack.count() == 0
    assert neuron.counts.text() == "11 nodes · 10 edges · valid"


def test_a_wire_dropped_on_a_node_body_finds_its_port(neuron: MainWindow, qtbot):
    graph, view = neuron.document.graph, neuron.view
    relu = add_by_tab(neuron, qtbot, "relu", port_pos(neuron, "L.out", True) + QPointF(200, 0))
    # 13 px right of relu's input: on its body, not on the port
    drag(view, port_pos(neuron, "L.out", True), port_pos(neuron, f"{relu}.x", False) + QPointF(13, 0))
    assert graph.source_of(PortRef(relu, "x")) == PortRef("L", "out")
    assert not neuron.quick_add.isVisible()
    assert neuron.counts.text() == "12 nodes · 11 edges · valid"

    # a free input before an occupied one, even when the occupied one is nearer
    add = add_by_tab(neuron, qtbot, "add", port_pos(neuron, "L.out", True) + QPointF(200, 150))
    drag(view, port_pos(neuron, "y.out", True), port_pos(neuron, f"{add}.a", False))
    # dropped on the body beside add's output: the wire still goes to an input
    drag(view, port_pos(neuron, "t.out", True), port_pos(neuron, f"{add}.out", True) - QPointF(10, 0))
    assert graph.source_of(PortRef(add, "a")) == PortRef("y", "out")
    assert graph.source_of(PortRef(add, "b")) == PortRef("t", "out")

    # from an input onto a node's body: its output
    relu2 = add_by_tab(neuron, qtbot, "relu", port_pos(neuron, "L.out", True) + QPointF(200, 300))
    t_body = neuron.scene.nodes["t"].mapToScene(QPointF(60, 40))
    drag(view, port_pos(neuron, f"{relu2}.x", False), t_body)
    assert graph.source_of(PortRef(relu2, "x")) == PortRef("t", "out")
    assert neuron.counts.text() == "14 nodes · 14 edges · valid"


def test_a_wire_dropped_on_the_canvas_offers_only_types_that_take_it(neuron: MainWindow, qtbot):
    popup, view = neuron.quick_add, neuron.view

    def listed() -> list[str]:
        return [popup.list.item(i).text().split()[0] for i in range(popup.list.count())]

    empty = port_pos(neuron, "L.out", True) + QPointF(160, 60)
    mouse(view, QEvent.Type.MouseMove, empty, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    QTest.keyClick(view, Qt.Key.Key_Tab)
    assert {"Constant", "Input", "Parameter"} <= set(listed())  # Tab alone: every type
    qtbot.keyClick(popup.edit, Qt.Key.Key_Escape)
    assert not popup.isVisible()

    drag(view, port_pos(neuron, "L.out", True), empty)
    assert popup.isVisible() and popup.edit.placeholderText() == "Add a node fed by L.out…"
    assert listed() and not {"Constant", "Input", "Parameter"} & set(listed())
    qtbot.keyClicks(popup.edit, "Const")
    assert "Constant" not in listed()
    qtbot.keyClick(popup.edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(popup.edit, "sigmoid")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert neuron.document.graph.source_of(PortRef("sigmoid", "x")) == PortRef("L", "out")
    assert neuron.counts.text() == "12 nodes · 11 edges · valid"


def test_renaming_a_node_does_not_move_its_ports(neuron: MainWindow, qtbot):
    item, view = neuron.scene.nodes["t"], neuron.view
    ports = [port_pos(neuron, "t.x", False), port_pos(neuron, "t.out", True)]
    click(view, item.mapToScene(GRAB))
    long_name = "the squashed pre-activation of the neuron, sigma(z)"
    retype(qtbot, neuron.inspector.label_edit, long_name)
    assert neuron.document.graph.node("t").label == long_name
    assert [port_pos(neuron, "t.x", False), port_pos(neuron, "t.out", True)] == ports
    assert item.title.endswith("…") and long_name in item.describe()  # elided, whole in the tooltip
    edge = neuron.scene.edges[next(d for s, d in neuron.document.graph.edges if s.node == "t")]
    assert edge.path().pointAtPercent(0) == ports[1]


def test_palette_entries_added_in_a_row_do_not_hide_each_other(window: MainWindow):
    palette, tree = window.node_palette, window.node_palette.tree
    for _ in range(3):
        spot = tree.visualItemRect(palette.item_for("Parameter")).center()
        QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=spot)
        QTest.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    rects = [item.sceneBoundingRect() for item in window.scene.nodes.values()]
    assert len(rects) == 3
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert all(visible.contains(rect.center()) for rect in rects)
    assert not any(rects[i].intersects(other) for i in range(3) for other in rects[i + 1 :])
