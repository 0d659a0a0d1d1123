"""A shape problem inside a repeated block, as a user meets it: the block node is red on the file's
graph, its tooltip saying which inner node and why; the Problems dock lists "res1 ▸ copy 2 ▸ fc: …"
(copy 2 of the block gets 3 features where its Linear takes 4), and a click on it opens the block at
copy 2 with fc selected and red, the breadcrumb saying where. Inside the block the dock still lists the
whole file's problems, by path and label, and a click on one outside goes back out to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QListWidget, QToolTip

from app.window import MainWindow
from graphcore.graph import PortRef
from tests.app.canvas_gestures import GRAB, click_node, retype
from tests.app.test_blocks import double_click


def mismatched_document() -> dict:
    """x [2, 4] → Lin ×3, Lin a Linear from 4 features to 3: copy 1 is fine, copy 2 gets 3."""
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": {
            "Lin": {
                "description": "a Linear from 4 to 3",
                "inputs": ["h"],
                "outputs": {"out": "fc.out"},
                "nodes": [
                    {"id": "h", "type": "Input", "params": {"shape": ["N", 4]}, "pos": [0, 0]},
                    {
                        "id": "fc",
                        "type": "Linear",
                        "params": {"in_features": 4, "out_features": 3},
                        "pos": [220, 0],
                    },
                ],
                "edges": [{"from": "h.out", "to": "fc.x"}],
            }
        },
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [2, 4]}, "pos": [0, 0]},
            {"id": "res1", "type": "Block", "params": {"block": "Lin", "repeat": 3}, "pos": [240, 0]},
        ],
        "edges": [{"from": "x.out", "to": "res1.h"}],
    }


PROBLEM = "res1/2/fc: Linear in_features=4 but x has 3 features"
LISTED = "res1 ▸ copy 2 ▸ fc: Linear in_features=4 but x has 3 features"  # as the dock names it


def open_document(window: MainWindow, tmp_path: Path, document: dict) -> None:
    path = tmp_path / "mismatch.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert window.open_path(path)


def listed(panel_list: QListWidget) -> list[str]:
    """What the Problems dock shows, line by line."""
    return [panel_list.item(i).text() for i in range(panel_list.count())]


def click_problem(window: MainWindow, row: int) -> None:
    panel_list = window.diagnostics.list
    rect = panel_list.visualItemRect(panel_list.item(row))
    QTest.mouseClick(panel_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_clicking_a_problem_inside_a_block_opens_that_copy_with_the_node_selected(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    open_document(window, tmp_path, mismatched_document())
    assert window.diagnostics.messages() == [PROBLEM]
    assert listed(window.diagnostics.list) == [f"⚠ {LISTED}"]
    click_problem(window, 0)
    assert window.breadcrumb.isVisible() and window.breadcrumb.text == "mismatch ▸ Lin"
    assert window.breadcrumb.copy.text() == "copy 2 of 3"
    assert window.scene.selected_node_ids() == ["fc"]
    assert window.view.scene() is window.scene and "fc" in window.scene.nodes
    # the block's input h and its output, fc's value, wear badges saying so (the port is named once)
    badges = {m.parentItem().node.id: m.text() for m in window.blocks.shown.marks}
    assert badges == {"h": "block input h", "fc": "block output out ▶"}
    (input_badge,) = [m for m in window.blocks.shown.marks if m.parentItem().node.id == "h"]
    assert tooltip_at(window, input_badge.sceneBoundingRect().center(), monkeypatch) == (
        "Input port h of block Lin: each instance's wire into h arrives here"
    )
    # inside, fc is red at copy 2, whose input breaks it; at copy 1, which gets 4 features, it is not
    fc = window.scene.nodes["fc"]
    assert fc.problems == ["Linear in_features=4 but x has 3 features"]
    spin = window.breadcrumb.copy
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin.lineEdit(), "1")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.text() == "copy 1 of 3" and fc.problems == []
    # Esc goes back out to the file's graph, the problem still listed there
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.breadcrumb.isVisible() and window.diagnostics.messages() == [PROBLEM]


def test_a_problem_path_that_leads_nowhere_opens_nothing(window: MainWindow, tmp_path: Path):
    open_document(window, tmp_path, mismatched_document())
    outside = window.scene
    for node_id in ["res1/9/fc", "res1/2/nope", "x/fc", "nope/fc", "res1/2/fc/deeper", "/", "res1/"]:
        window.show_node(node_id)
        assert not window.breadcrumb.isVisible(), node_id
        assert window.scene is outside and window.scene.selected_node_ids() == [], node_id


def tooltip_at(window: MainWindow, at: QPointF, monkeypatch: pytest.MonkeyPatch) -> str:
    """Hover the canvas at scene point `at`: the tooltip the canvas shows there."""
    shown: list[str] = []
    monkeypatch.setattr(QToolTip, "showText", lambda at, text, widget=None: shown.append(text))
    view = window.view
    spot = view.mapFromScene(at)
    QApplication.sendEvent(
        view.viewport(), QHelpEvent(QEvent.Type.ToolTip, spot, view.viewport().mapToGlobal(spot))
    )
    assert len(shown) == 1, shown
    return shown[0]


def test_a_problem_inside_turns_the_block_node_red_with_the_problem_in_its_tooltip(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    open_document(window, tmp_path, mismatched_document())
    res1 = window.scene.nodes["res1"]
    assert res1.problems == ["copy 2 ▸ fc: Linear in_features=4 but x has 3 features"]
    # the problem is inside, not at the block's port: the port and the wire into it stay as they are
    assert not res1.inputs["h"].problem and not window.scene.edges[PortRef("res1", "h")].problem
    assert tooltip_at(window, res1.mapToScene(GRAB), monkeypatch).splitlines() == [
        "res1 — block Lin ×3: a Linear from 4 to 3",
        "3 copies in sequence, each with its own parameters",
        "inputs: h · outputs: out",
        "Double-click (or Enter) opens it",
        "copy 2 ▸ fc: Linear in_features=4 but x has 3 features",
    ]
    # one copy gets the 4 features it takes: the node is no longer red, the dock says so
    click_node(window, "res1")
    retype(qtbot, window.inspector.editors["repeat"], "1")
    assert window.document.graph.node("res1").params["repeat"] == 1
    assert res1.problems == [] and res1.type_name == "Lin"
    assert "No problems" in window.diagnostics.summary.text()


def labelled_document() -> dict:
    """The mismatch, the block node labelled "Residual", and a loose tanh labelled "Loose end" whose
    id, fc, a node inside the block has too."""
    document = mismatched_document()
    document["nodes"][1]["label"] = "Residual"
    document["nodes"].append({"id": "fc", "type": "tanh", "label": "Loose end", "pos": [0, 200]})
    return document


def test_inside_a_block_the_dock_lists_the_whole_files_problems_by_label(
    window: MainWindow, qtbot, tmp_path: Path
):
    open_document(window, tmp_path, labelled_document())
    whole = [
        "⚠ Loose end (port x): input is not connected",
        "⚠ Residual ▸ copy 2 ▸ fc: Linear in_features=4 but x has 3 features",
    ]
    assert listed(window.diagnostics.list) == whole
    double_click(window, qtbot, window.scene.nodes["res1"].mapToScene(GRAB))
    assert window.breadcrumb.text == "mismatch ▸ Lin" and "fc" in window.scene.nodes
    assert listed(window.diagnostics.list) == whole  # not only the inside's (which has none)
    assert window.diagnostics.summary.text().startswith("2 problems")
    # an edit inside that fixes the block: fc gives 4 features, so every copy gets the 4 it takes
    click_node(window, "fc")
    retype(qtbot, window.inspector.editors["out_features"], "4")
    assert listed(window.diagnostics.list) == ["⚠ Loose end (port x): input is not connected"]
    # a click on the problem outside goes back out, to that node (not to the inner fc)
    click_problem(window, 0)
    assert not window.breadcrumb.isVisible() and window.scene is window.blocks.levels[0].scene
    assert window.scene.selected_node_ids() == ["fc"] and window.scene.nodes["fc"].node.type == "tanh"
    assert listed(window.diagnostics.list) == ["⚠ Loose end (port x): input is not connected"]
    # one undo brings the block's problem back, listed at the file's graph too
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert listed(window.diagnostics.list) == whole
    assert window.scene.nodes["res1"].problems
