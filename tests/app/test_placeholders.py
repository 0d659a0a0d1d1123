"""A node of a type this build does not know opens as a greyed placeholder with its edges' ports."""

import json
from pathlib import Path

from PySide6.QtCore import QPointF

from app.window import MainWindow
from graphcore.files.fileformat import load


def test_a_file_with_an_unknown_type_opens_greyed_and_saves_unchanged(window: MainWindow, tmp_path: Path):
    future = {"id": "q", "type": "Quux", "params": {"knob": [1, 2]}, "label": "Q", "pos": [300, 0]}
    data = {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [2]}, "pos": [0, 0]},
            future,
            {"id": "n", "type": "neg", "pos": [600, 0]},
        ],
        "edges": [
            {"from": "x.out", "to": "q.a"},
            {"from": "x.out", "to": "q.b"},
            {"from": "q.y", "to": "n.x"},
        ],
    }
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    assert window.open_path(path)
    item = window.scene.nodes["q"]
    assert item.opacity() < 1 and window.scene.nodes["n"].opacity() == 1
    assert list(item.inputs) == ["a", "b"] and list(item.outputs) == ["y"]
    assert item.inputs["a"].pos.y() < item.inputs["b"].pos.y()  # one row per port, none on top of another
    edge_end = window.scene.port_scene_pos(next(iter(window.scene.nodes["n"].edges)).src, True)
    assert edge_end == item.mapToScene(item.outputs["y"].pos) != item.mapToScene(QPointF(0, 0))
    assert any("unknown node type 'Quux'" in p for p in item.problems)
    assert window.save()
    saved = json.loads(path.read_text())
    assert saved["nodes"][1] == {**future, "pos": [300.0, 0.0]} and load(path).node("q").params == {
        "knob": [1, 2]
    }
