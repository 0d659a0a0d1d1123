"""The inspector: widgets fitted to each param, edits that change the model, refusals, undo, rename."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QSpinBox

from app.mathtext.widgets import FormulaLabel
from app.window import MainWindow
from graphcore.files.fileformat import dumps
from graphcore.graph import PortRef
from graphcore.registry import REGISTRY


def select(window: MainWindow, node_id: str) -> dict:
    window.scene.select_nodes([node_id])
    assert window.inspector.node_id == node_id
    return window.inspector.editors


def texts(window: MainWindow) -> str:
    return "\n".join(label.text() for label in window.inspector.widget().findChildren(QLabel))


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    line = widget if isinstance(widget, QLineEdit) else widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def test_editors_fit_each_param_kind_range_and_choices(window: MainWindow):
    window.controller.add_node("Linear", QPointF(0, 0))
    editors = select(window, "linear")
    spec = REGISTRY["Linear"]
    assert isinstance(editors["in_features"], QSpinBox)
    assert editors["in_features"].minimum() == spec.param("in_features").min
    assert isinstance(editors["bias"], QCheckBox) and editors["bias"].isChecked()
    window.controller.add_node("MSELoss", QPointF(300, 0))
    editors = select(window, "mseloss")
    combo = editors["reduction"]
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == list(spec_choices("MSELoss", "reduction"))
    window.controller.add_node("Input", QPointF(0, 300))
    editors = select(window, "input")
    assert isinstance(editors["shape"], QLineEdit) and isinstance(editors["dtype"], QComboBox)
    assert editors["value"].placeholderText() == "null"  # optional


def spec_choices(node_type: str, param: str) -> tuple:
    return tuple(str(c) for c in REGISTRY[node_type].param(param).choices)


def test_every_registered_param_gets_an_editor(window: MainWindow):
    """Registry-driven: whatever kinds the node library declares, the inspector can show them."""
    for index, node_type in enumerate(REGISTRY):
        node_id = window.controller.add_node(node_type, QPointF(index * 10.0, 0))
        editors = select(window, node_id)
        assert set(editors) == {p.name for p in REGISTRY[node_type].params}


def test_description_and_formula_are_shown(neuron: MainWindow):
    select(neuron, "t")
    shown = texts(neuron)
    assert REGISTRY["sigmoid"].doc in shown
    (formula,) = neuron.inspector.widget().findChildren(FormulaLabel)  # typeset, not plain text
    assert formula.formula == REGISTRY["sigmoid"].formula and not formula.pixmap().isNull()
    assert "← z" in shown  # the input and where it comes from (by the name z's label gives), with its shape


def test_editing_a_param_changes_the_model_in_one_step(neuron: MainWindow, qtbot):
    spin = select(neuron, "sq")["exponent"]
    assert isinstance(spin, QDoubleSpinBox)
    type_into(qtbot, spin, "3")
    graph, stack = neuron.document.graph, neuron.document.stack
    assert graph.node("sq").params["exponent"] == 3.0 and stack.count() == 1
    for _ in range(3):  # arrow steps on the same param merge into that step
        qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert graph.node("sq").params["exponent"] == 3.3 and stack.count() == 1
    stack.undo()
    assert graph.node("sq").params["exponent"] == 2.0 and spin.value() == 2.0


def test_shape_fields_accept_bare_names_and_refuse_bad_values(neuron: MainWindow, qtbot):
    field = select(neuron, "x")["shape"]
    graph = neuron.document.graph
    type_into(qtbot, field, "[N]")
    assert graph.node("x").params["shape"] == ["N"]
    assert field.text() == "[N]"
    type_into(qtbot, field, "[2, -1]")
    assert graph.node("x").params["shape"] == ["N"]
    assert neuron.statusBar().currentMessage().startswith("x.shape: expected a list of sizes")
    assert "dc2626" in field.styleSheet()
    type_into(qtbot, field, "[2,")
    assert neuron.statusBar().currentMessage().startswith("x.shape: cannot read '[2,'")
    assert graph.node("x").params["shape"] == ["N"] and neuron.document.stack.count() == 1


def test_a_value_that_breaks_shapes_is_taken_and_diagnosed(neuron: MainWindow, qtbot):
    type_into(qtbot, select(neuron, "x")["value"], "[1, 2]")
    assert neuron.document.graph.node("x").params["value"] == [1, 2]
    assert any(d.node == "x" for d in neuron.document.report.diagnostics)
    assert neuron.scene.nodes["x"].problems


def test_rename_with_f2_and_the_label_field(neuron: MainWindow, qtbot):
    select(neuron, "t")
    neuron.view.setFocus()
    neuron.activateWindow()
    neuron.menu["rename"].trigger()
    field = neuron.inspector.label_edit
    assert field.hasFocus() and field.selectedText() == "t = σ(z)"
    qtbot.keyClicks(field, "activation")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert neuron.document.graph.node("t").label == "activation"
    assert neuron.scene.nodes["t"].title == "activation"
    neuron.document.stack.undo()
    assert field.text() == "t = σ(z)" and neuron.scene.nodes["t"].title == "t = σ(z)"


def test_leaving_a_field_without_typing_records_nothing(neuron: MainWindow, qtbot):
    field = select(neuron, "x")["shape"]
    field.setFocus()
    neuron.inspector.label_edit.setFocus()
    assert neuron.document.stack.count() == 0


def test_several_nodes_or_none_selected(neuron: MainWindow):
    neuron.scene.select_nodes(["w", "x"])
    assert "2 nodes selected" in texts(neuron)
    neuron.scene.clearSelection()
    assert "Tab" in texts(neuron) and neuron.inspector.node_id is None


def test_the_inspector_names_what_feeds_each_port_by_its_label(neuron: MainWindow):
    """Clicking z shows its inputs as the user named them ("← w·x", "← b"), not as ids ("wx.out")."""
    from canvas_gestures import mouse
    from PySide6.QtCore import QEvent

    item = neuron.scene.nodes["z"]
    at = item.sceneBoundingRect().center()
    mouse(neuron.view, QEvent.Type.MouseButtonPress, at)
    mouse(neuron.view, QEvent.Type.MouseButtonRelease, at, buttons=Qt.MouseButton.NoButton)
    assert neuron.inspector.node_id == "z"
    shown = texts(neuron)
    assert "← w·x" in shown and "← b" in shown
    assert "wx.out" not in shown


def test_the_id_is_renamed_from_its_field_in_one_step(neuron: MainWindow, qtbot):
    select(neuron, "wx")
    graph, stack = neuron.document.graph, neuron.document.stack
    field = neuron.inspector.id_edit
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "product")
    assert "wx" in graph and stack.count() == 0  # nothing happens per keystroke
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert "product" in graph and "wx" not in graph and stack.count() == 1
    assert graph.source_of(PortRef("z", "a")) == PortRef("product", "out")
    assert neuron.inspector.node_id == "product" and neuron.inspector.id_edit.text() == "product"
    assert "← w" in texts(neuron)  # the form shows the renamed node's ports and what feeds them
    assert stack.text(0) == "Rename id wx to product"
    stack.undo()
    assert "wx" in graph and neuron.inspector.id_edit.text() == "wx"
    assert graph.source_of(PortRef("z", "a")) == PortRef("wx", "out")


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Cannot rename wx: a node id cannot be empty"),
        ("z", "Cannot rename wx: there is already a node 'z'"),
        ("w.x", "Cannot rename wx: a node id cannot contain '.' (id 'w.x')"),
    ],
)
def test_a_refused_id_says_why_and_changes_nothing(neuron: MainWindow, qtbot, typed: str, message: str):
    select(neuron, "wx")
    before = dumps(neuron.document.graph)
    field = neuron.inspector.id_edit
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, typed)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert neuron.statusBar().currentMessage() == message
    assert dumps(neuron.document.graph) == before and neuron.document.stack.count() == 0
    assert neuron.inspector.id_edit.text() == "wx"


def test_leaving_the_id_field_commits_the_new_id(neuron: MainWindow, qtbot):
    select(neuron, "t")
    field = neuron.inspector.id_edit
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "sig")
    neuron.inspector.label_edit.setFocus()  # focus out, as a click elsewhere does
    assert "sig" in neuron.document.graph and neuron.inspector.node_id == "sig"
    assert neuron.document.stack.count() == 1
