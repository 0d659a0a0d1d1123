"""A repeated block as a user steps it: Run to End on a graph whose block runs 3 times, then opened,
the breadcrumb's "copy k of 3" spin box picks whose values the inside's badges show (typed digit by
digit or stepped with the arrow keys): each copy's m is its own (3, 6, 12), and copy 3's is the value
the block node wears outside."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox

from app.window import MainWindow
from tests.app.canvas_gestures import GRAB, press_run_action
from tests.app.test_blocks import double_click

A = 2.0  # the learnt factor each copy starts with: copy k of x = 1.5 gives 1.5·2^k


def repeated_document() -> dict:
    """x = 1.5 → Double ×3 (h·a, a a Parameter of 2) → L = d·d."""
    return {
        "format": "backprop-studio-graph",
        "version": 3,
        "blocks": {
            "Double": {
                "description": "h times a learnt a (2 at first)",
                "inputs": ["h"],
                "outputs": {"out": "m.out"},
                "nodes": [
                    {"id": "h", "type": "Input", "params": {"shape": []}, "pos": [0, 0]},
                    {
                        "id": "a",
                        "type": "Parameter",
                        "params": {"shape": [], "init": "value", "value": A},
                        "pos": [0, 120],
                    },
                    {"id": "m", "type": "mul", "pos": [220, 60]},
                ],
                "edges": [{"from": "h.out", "to": "m.a"}, {"from": "a.out", "to": "m.b"}],
            }
        },
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [], "value": 1.5}, "pos": [0, 0]},
            {"id": "d", "type": "Block", "params": {"block": "Double", "repeat": 3}, "pos": [240, 0]},
            {"id": "L", "type": "mul", "pos": [480, 0]},
        ],
        "edges": [
            {"from": "x.out", "to": "d.h"},
            {"from": "d.out", "to": "L.a"},
            {"from": "d.out", "to": "L.b"},
        ],
    }


def badge_text(overlay, node_id: str) -> str:
    badge = overlay.badge(node_id)
    assert badge is not None, node_id
    return badge.text


def value_line(text: str) -> str:
    """A badge's first line, the value ("= 12"); the gradient ("∂ 24") follows."""
    return text.splitlines()[0]


def test_the_breadcrumb_picks_which_copy_of_a_repeated_block_the_badges_show(
    window: MainWindow, qtbot, tmp_path: Path
):
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps(repeated_document()), encoding="utf-8")
    assert window.open_path(path)
    assert window.scene.nodes["d"].type_name == "Double ×3"
    stepper = window.run_tools.stepper
    press_run_action(window, "stepper_mode")
    assert stepper.session is not None, window.statusBar().currentMessage()
    press_run_action(window, "run_to_end")
    qtbot.waitUntil(lambda: stepper.session is not None and stepper.session.at_end, timeout=10000)
    outside_d = badge_text(stepper.overlay, "d")
    assert value_line(outside_d) == "= 12", outside_d  # 1.5 · 2 · 2 · 2
    double_click(window, qtbot, window.scene.nodes["d"].mapToScene(GRAB))
    spin = window.breadcrumb.copy
    assert isinstance(spin, QSpinBox) and spin.isVisible() and spin.text() == "copy 1 of 3"
    inside = stepper.inside_overlay
    assert inside is not None
    # copy 1's m is 1.5 · 2, not yet the block's output
    first = badge_text(inside, "m")
    assert value_line(first) == "= 3" and first != outside_d, first
    # type 3 digit by digit: copy 3's m is the value the block node wears outside
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin.lineEdit(), "3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.text() == "copy 3 of 3"
    inside = stepper.inside_overlay
    assert inside is not None and badge_text(inside, "m") == outside_d
    # the arrow key goes to copy 2: its m doubles copy 1's
    qtbot.keyClick(spin, Qt.Key.Key_Down)
    assert spin.text() == "copy 2 of 3"
    assert value_line(badge_text(stepper.inside_overlay, "m")) == "= 6"
    # no copy 4 or 0: the spin box stays within the block's repeat
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert spin.text() == "copy 3 of 3"
    # back out: the breadcrumb and its copy box go
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.breadcrumb.isVisible() and stepper.inside_overlay is None


def test_the_stepper_panel_names_each_copy_where_it_is_not_by_its_flat_id(
    window: MainWindow, qtbot, tmp_path: Path
):
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps(repeated_document()), encoding="utf-8")
    assert window.open_path(path)
    stepper = window.run_tools.stepper
    press_run_action(window, "stepper_mode")
    assert stepper.session is not None, window.statusBar().currentMessage()
    texts = []
    while not stepper.session.at_end:
        press_run_action(window, "step")
        texts.append(window.run_tools.stepper_panel.text)
    everything = re.sub(r"<img [^>]*>", "", "\n".join(texts))  # typeset formulas are base64 images
    assert "d/" not in everything  # never "(d/2/m).a" or "∂(d/3/m)"
    assert "d ▸ copy 2 ▸ m" in everything
