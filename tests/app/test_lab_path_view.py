"""The path view on e = (a + b)(b + 1): edge derivatives, forward and reverse badges, stepping, paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF

from app.editing.commands import Disconnect
from app.lab.path_view import BACKWARD, PathView
from app.window import MainWindow
from graphcore.graph import PortRef


@pytest.fixture
def paths(window: MainWindow, examples: Path, qtbot) -> PathView:
    """The path_sum example open, the path view switched on, X = b and Z = e, results in."""
    assert window.open_path(examples / "path_sum.json")
    view = window.lab.path_view
    view.choose(x="b.out", z="e.out")
    with qtbot.waitSignal(view.computed, timeout=20_000):
        window.lab.path_action.trigger()
    assert view.enabled.isChecked() and window.lab.docks["paths"].isVisible()
    return view


def badges(view: PathView) -> dict[str, str]:
    return {node: tag.text for node, tag in view.overlay.badges.items()}


def test_edges_carry_their_local_derivative(paths: PathView):
    labels = {edge: tag.text for edge, tag in paths.overlay.edge_labels.items()}
    assert labels == {
        ("a.out", "c.a"): "1",
        ("b.out", "c.b"): "1",
        ("b.out", "d.a"): "1",
        ("one.out", "d.b"): "1",
        ("c.out", "e.a"): "2",  # a = 2, b = 1: c = 3, d = 2, so ∂e/∂c = d = 2 and ∂e/∂d = c = 3
        ("d.out", "e.b"): "3",
    }
    tag = paths.overlay.edge_labels[("c.out", "e.a")]
    assert tag.parentItem() is paths.scene.edges[next(d for d in paths.scene.edges if str(d) == "e.a")].pill


def test_forward_badges_hold_d_node_d_x(paths: PathView):
    assert badges(paths) == {"b": "∂b/∂b = 1", "c": "∂c/∂b = 1", "d": "∂d/∂b = 1", "e": "∂e/∂b = 5"}
    assert paths.overlay.badges["e"].parentItem() is paths.scene.nodes["e"]


def test_reverse_badges_hold_d_z_d_node(paths: PathView):
    paths.backward_button.click()
    assert paths.direction == BACKWARD
    shown = badges(paths)
    assert shown["a"] == "∂e/∂a = 2" and shown["b"] == "∂e/∂b = 5"
    assert shown["c"] == "∂e/∂c = 2" and shown["d"] == "∂e/∂d = 3" and shown["e"] == "∂e/∂e = 1"


def test_stepping_reveals_nodes_in_each_modes_order(paths: PathView):
    paths.reset_button.click()
    assert badges(paths) == {}
    assert [paths.step() for _ in range(4)] == ["b", "c", "d", "e"] and paths.step() is None
    assert "= 2 × 1 + 3 × 1 = 5" in paths.caption.text()  # the sum at e over its two incoming edges
    paths.set_direction(BACKWARD)
    paths.reset()
    first = paths.step()
    assert first == "e" and badges(paths) == {"e": "∂e/∂e = 1"} and "seed" in paths.caption.text()
    assert (
        paths.overlay.badges["e"].brush().color().name()
        != paths.overlay.badges["e"].label.brush().color().name()
    )
    assert [paths.step() for _ in range(5)] == ["d", "c", "one", "b", "a"]
    assert paths.revealed == len(paths.order) and not paths.step_button.isEnabled()


def test_backward_step_at_a_fan_out_sums_both_consumers(paths: PathView):
    paths.set_direction(BACKWARD)
    paths.reset()
    while paths.step() != "b":
        pass
    assert paths.caption.text() == "∂e/∂b = 1 × 2 + 1 × 3 = 5"


def test_the_sum_over_paths_equals_both_modes(paths: PathView):
    rows = [
        [paths.paths.topLevelItem(i).text(c) for c in range(3)]
        for i in range(paths.paths.topLevelItemCount())
    ]
    assert rows == [["b → c → e", "1 × 2", "2"], ["b → d → e", "1 × 3", "3"]]
    summary = paths.summary.text()
    assert "Σ over 2 paths: ∂e/∂b = <b>5</b>" in summary
    assert "forward mode: ∂e/∂b = 5 ✓" in summary and "reverse mode: ∂e/∂b = 5 ✓" in summary


def test_edits_recompute_and_problems_are_explained(paths: PathView, window: MainWindow, qtbot):
    with qtbot.waitSignal(paths.computed, timeout=20_000):
        window.controller.set_param("a", "value", 4.0)  # c = 5: ∂e/∂d = 5, ∂e/∂b = 2 + 5 = 7
    assert badges(paths)["e"] == "∂e/∂b = 7"
    with qtbot.waitSignal(paths.computed, timeout=20_000):
        window.document.push(Disconnect(window.document.graph, PortRef("d", "out"), PortRef("e", "b")))
    assert "problems" in paths.message.text() and badges(paths) == {}
    assert paths.overlay.edge_labels == {}


def test_tensor_graphs_show_shapes_and_norms_and_no_path_list(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    view = window.lab.path_view
    view.choose(x="x.out", z="loss.out")
    with qtbot.waitSignal(view.computed, timeout=20_000):
        view.enabled.setChecked(True)
    assert badges(view)["fc1"].startswith("∂fc1/∂x = [4×4] ‖·‖=")
    assert view.paths.topLevelItemCount() == 0 and "scalar graphs" in view.summary.text()


def test_values_added_by_an_edit_can_be_chosen(paths: PathView, window: MainWindow, qtbot):
    with qtbot.waitSignal(paths.computed, timeout=20_000):
        node = window.controller.add_node("exp", QPointF(600, 0), (PortRef("e", "out"), True))
    assert paths.z_choice.findData(f"{node}.out") >= 0 and paths.x_choice.findData(f"{node}.out") >= 0
    with qtbot.waitSignal(paths.computed, timeout=20_000):
        paths.choose(z=f"{node}.out")
    assert badges(paths)[node].startswith(f"∂{node}/∂b = ")


def test_closing_the_window_drops_work_in_flight(paths: PathView, window: MainWindow, qtbot):
    """Retiring the document on close recomputes; that result must not land on the deleted scene."""
    runner = window.lab.runner
    window.controller.set_param("a", "value", 3.0)  # a recomputation is in flight
    assert runner.busy
    window.close()
    assert runner.closed and not runner.busy
    runner.submit(lambda: 1, lambda _: pytest.fail("answered after close"), pytest.fail)
    assert not runner.busy and runner.pool.activeThreadCount() == 0  # nothing was started
