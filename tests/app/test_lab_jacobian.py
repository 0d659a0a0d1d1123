"""The Jacobian lab dock: the same matrices and pass counts as `graphcore jacobian --json`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QRectF

from app.editing.commands import Disconnect
from app.lab.jacobian_dock import JacobianDock, checked_values
from app.window import MainWindow
from graphcore.cli import main as cli
from graphcore.files.fileformat import graph_from_dict, save
from graphcore.graph import PortRef


def computed(dock: JacobianDock, qtbot) -> None:
    with qtbot.waitSignal(dock.computed, timeout=30_000):
        dock.compute_button.click()


def cli_jacobian(path: Path, of: list[str], wrt: list[str], capsys) -> dict:
    capsys.readouterr()
    args = [str(path), "--of", ",".join(of), "--wrt", ",".join(wrt), "--json", "--device", "cpu"]
    assert cli.main(["jacobian", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("example", "of", "wrt"),
    [
        ("path_sum.json", ["e.out"], ["a.out", "b.out", "c.out"]),  # an intermediate value as an input
        ("xor.json", ["p.out", "loss.out"], ["x.out", "fc1.out"]),  # tensors: 5 rows, 8 + 16 columns
    ],
)
def test_the_dock_matches_graphcore_jacobian_json(
    window: MainWindow, examples: Path, qtbot, capsys, example, of, wrt
):
    assert window.open_path(examples / example)
    dock = window.lab.jacobian
    window.lab.open("jacobian")
    dock.choose(of, wrt)
    assert checked_values(dock.outputs) == of and checked_values(dock.inputs) == wrt
    computed(dock, qtbot)
    expected = cli_jacobian(examples / example, of, wrt, capsys)
    results = dock.results
    assert results.rows == expected["rows"] and results.columns == expected["columns"]
    for method in ("forward", "reverse", "fd"):
        ours = results.results[method]
        np.testing.assert_allclose(
            ours.matrix.detach().numpy(), np.array(expected[method]["matrix"]), rtol=0, atol=1e-12
        )
        assert ours.passes == expected[method]["passes"]
        shown = dock.images[method].image
        np.testing.assert_array_equal(
            shown, ours.matrix.detach().numpy()
        )  # the heat map is the matrix itself
    n, m = len(results.columns), len(results.rows)
    assert results.results["forward"].passes == n and results.results["reverse"].passes == m
    table = {dock.table.item(r, 0).text(): dock.table.item(r, 1).text() for r in range(dock.table.rowCount())}
    assert table["forward mode (JVPs)"] == str(n) and table["reverse mode (VJPs)"] == str(m)
    assert table["central differences"] == str(2 * n)
    assert results.max_difference[("forward", "reverse")] < 1e-12
    assert abs(results.max_difference[("fd", "reverse")] - expected["max_abs_diff"]) < 1e-12
    levels = [tuple(dock.images[m].levels) for m in ("forward", "reverse", "fd")]
    assert levels[0] == levels[1] == levels[2] and levels[0][0] == -levels[0][1]  # one colour scale


def test_defaults_tick_the_outputs_and_the_sources(window: MainWindow, examples: Path):
    assert window.open_path(examples / "path_sum.json")
    dock = window.lab.jacobian
    assert dock.chosen() == (["e.out"], ["a.out", "b.out"])


def test_bad_selections_are_explained(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "path_sum.json")
    dock = window.lab.jacobian
    dock.choose([], ["a.out"])
    computed(dock, qtbot)
    assert dock.message.text() == "Choose at least one output and one input."
    window.document.push(Disconnect(window.document.graph, PortRef("d", "out"), PortRef("e", "b")))
    dock.choose(["e.out"], ["a.out"])
    computed(dock, qtbot)
    assert "The graph has problems" in dock.message.text()


def test_a_node_without_forward_mode_leaves_reverse_and_differences(
    window: MainWindow, tmp_path: Path, qtbot
):
    graph = graph_from_dict(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": [3]}},
                {"id": "drop", "type": "Dropout", "params": {"p": 0.5}, "label": "dropout"},
            ],
            "edges": [{"from": "x.out", "to": "drop.x"}],
        }
    )
    save(graph, tmp_path / "dropout.json")
    assert window.open_path(tmp_path / "dropout.json")
    dock = window.lab.jacobian
    computed(dock, qtbot)
    assert "forward: dropout: forward mode is not available for Dropout"  # its label in dock.message.text()
    assert set(dock.results.results) == {"reverse", "fd"}
    assert dock.panels["forward"].titleLabel.text.endswith("not available")
    assert dock.table.item(0, 1).text() == "—" and dock.table.item(1, 1).text() == "3"


def test_over_budget_or_a_node_raising_the_lab_says_which_node(
    window: MainWindow, examples: Path, qtbot, monkeypatch
):
    assert window.open_path(examples / "xor.json")
    dock = window.lab.jacobian
    window.lab.open("jacobian")
    dock.choose(["loss.out"], ["x.out"])
    monkeypatch.setenv("BACKPROP_MEMORY_BUDGET", "256B")
    computed(dock, qtbot)
    assert dock.message.text().startswith("fc1: the graph needs ")
    assert dock.message.text().endswith("the budget is 0.25 KB (set BACKPROP_MEMORY_BUDGET to change it)")
    assert dock.compute_button.isEnabled()
    monkeypatch.delenv("BACKPROP_MEMORY_BUDGET")

    assert window.open_path(examples / "sigmoid_neuron.json")
    dock.choose(["L.out"], ["w.out"])
    monkeypatch.setattr(torch, "sigmoid", lambda x: x.reshape(5, -1))
    computed(dock, qtbot)
    assert dock.message.text().startswith("t = σ(z) (sigmoid): RuntimeError: shape '[5, -1]' is invalid")
    monkeypatch.undo()
    computed(dock, qtbot)  # the lab keeps working
    assert set(dock.results.results) == {"forward", "reverse", "fd"}


def cell_numbers(dock: JacobianDock, method: str) -> list:
    return dock.numbers[method].texts


def test_cell_numbers_fit_their_cells_or_are_not_written(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "sigmoid_neuron.json")
    dock = window.lab.jacobian
    window.lab.open("jacobian")
    dock.choose(["z.out", "L.out"], ["w.out", "x.out", "b.out"])
    computed(dock, qtbot)
    sizes = set()
    for method, panel in dock.panels.items():
        numbers = cell_numbers(dock, method)
        assert sorted(n.textItem.toPlainText() for n in numbers) == sorted(
            ["1.5", "0.5", "1", "-0.1389", "-0.04629", "-0.09257"]
        )
        rects = [n.sceneBoundingRect() for n in numbers if n.isVisible()]
        assert len(rects) == 6
        for number, rect in zip(numbers, rects):
            x, y = number.pos().x(), number.pos().y()
            cell = panel.vb.mapViewToScene(QRectF(x - 0.5, y - 0.5, 1, 1)).boundingRect()
            assert cell.contains(rect), (method, number.textItem.toPlainText())
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
        sizes |= {n.textItem.font().pointSizeF() for n in numbers}
    assert len(sizes) == 1  # one size in all three maps
    assert window.open_path(examples / "xor.json")
    dock.choose(["loss.out"], ["x.out", "y.out"])
    computed(dock, qtbot)
    numbers = cell_numbers(dock, "forward")
    assert len(numbers) == 12 and not any(n.isVisible() for n in numbers)  # 12 cells, too narrow
