"""A shape problem inside a repeated block, as a user meets it: the Problems dock lists
"res1/2/fc: …" (copy 2 of the block gets 3 features where its Linear takes 4), and a click on it
opens the block at copy 2 with fc selected, the breadcrumb saying where."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.window import MainWindow


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


def test_clicking_a_problem_inside_a_block_opens_that_copy_with_the_node_selected(
    window: MainWindow, qtbot, tmp_path: Path
):
    path = tmp_path / "mismatch.json"
    path.write_text(json.dumps(mismatched_document()), encoding="utf-8")
    assert window.open_path(path)
    assert window.diagnostics.messages() == [PROBLEM]
    listed = window.diagnostics.list
    item = listed.item(0)
    assert item.text() == f"⚠ {PROBLEM}"
    QTest.mouseClick(listed.viewport(), Qt.MouseButton.LeftButton, pos=listed.visualItemRect(item).center())
    assert window.breadcrumb.isVisible() and window.breadcrumb.text == "mismatch ▸ Lin"
    assert window.breadcrumb.copy.text() == "copy 2 of 3"
    assert window.scene.selected_node_ids() == ["fc"]
    assert window.view.scene() is window.scene and "fc" in window.scene.nodes
    # Esc goes back out to the file's graph, the problem still listed there
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.breadcrumb.isVisible() and window.diagnostics.messages() == [PROBLEM]


def test_a_problem_path_that_leads_nowhere_opens_nothing(window: MainWindow, tmp_path: Path):
    path = tmp_path / "mismatch.json"
    path.write_text(json.dumps(mismatched_document()), encoding="utf-8")
    assert window.open_path(path)
    outside = window.scene
    for node_id in ["res1/9/fc", "res1/2/nope", "x/fc", "nope/fc", "res1/2/fc/deeper", "/", "res1/"]:
        window.show_node(node_id)
        assert not window.breadcrumb.isVisible(), node_id
        assert window.scene is outside and window.scene.selected_node_ids() == [], node_id
