"""Seeing problems at once, as a user does: a value typed into the inspector that breaks a shape
turns its node and edge red and lists the problem; clicking the entry brings the node into view;
Ctrl+Z puts everything back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.window import MainWindow
from graphcore.graph import PortRef
from tests.app.canvas_gestures import click_node, retype


def test_a_typed_value_that_breaks_a_shape_is_shown_at_once_and_found_from_the_list(
    window: MainWindow, examples: Path, qtbot
):
    assert window.open_path(examples / "xor.json")
    fc1 = window.scene.nodes["fc1"]
    click_node(window, "fc1")
    assert window.inspector.node_id == "fc1"
    retype(qtbot, window.inspector.editors["in_features"], "3")

    assert window.counts.text() == "7 nodes · 6 edges · 1 problem"
    assert window.diagnostics.summary.text().startswith("1 problem")
    (entry,) = [window.diagnostics.list.item(i).text() for i in range(window.diagnostics.list.count())]
    assert "fc1" in entry and "in_features=3" in entry and "2 features" in entry
    assert fc1.problems and any("in_features=3" in p for p in fc1.problems)  # the node is drawn red
    assert window.scene.edges[PortRef("fc1", "x")].problem  # so is the wire into it

    window.view.centerOn(fc1.sceneBoundingRect().center().x() + 5000, 0)  # scrolled far away
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert not visible.intersects(fc1.sceneBoundingRect())
    list_widget = window.diagnostics.list
    QTest.mouseClick(
        list_widget.viewport(),
        Qt.MouseButton.LeftButton,
        pos=list_widget.visualItemRect(list_widget.item(0)).center(),
    )
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(fc1.sceneBoundingRect()) and window.scene.selected_node_ids() == ["fc1"]

    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.counts.text() == "7 nodes · 6 edges · valid"
    assert "No problems" in window.diagnostics.summary.text()
    assert not fc1.problems and not window.scene.edges[PortRef("fc1", "x")].problem
