"""The live derivative plot and the cost-of-modes plot."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF

from app.lab.cost_plot import CostPlot
from app.lab.derivative_plot import DerivativePlot, difference_span, difference_ticks
from app.lab.names import Names
from app.lab.style import LabPlots
from app.panels.lazy import on_screen
from app.window import MainWindow
from graphcore.derivatives.lab import DerivativePoint
from graphcore.files.fileformat import graph_from_dict
from graphcore.graph import PortRef
from graphcore.program import Program, lower
from tests.flows.test_flow_lab import assert_readable, drawn_labels

EXPONENTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def swept(plot: DerivativePlot, qtbot) -> str:
    with qtbot.waitSignal(plot.finished, timeout=30_000) as finished:
        plot.sweep_button.click()
    return finished.args[0]


def test_forward_and_reverse_curves_agree_over_a_slider_sweep(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "sigmoid_neuron.json")
    plot = window.lab.derivative_plot
    window.lab.open("derivative")
    assert plot.of_choice.currentText() == "L" and plot.loss_choice.currentText() == "L"
    plot.choose(of="L.out", wrt="w.out", sweep="x.out", low=-2.0, high=2.0, count=11)
    assert swept(plot, qtbot) == ""
    points = [plot.points[k] for k in sorted(plot.points)]
    assert [p.at for p in points] == plot.grid() and len(points) == 11
    assert all(abs(p.forward - p.reverse) <= 1e-9 for p in points)
    assert len({round(p.forward, 6) for p in points}) > 5  # the derivative really changes along the sweep
    qtbot.waitUntil(lambda: len(plot.forward_curve.getData()[0]) == 11)
    forward, reverse = plot.forward_curve.getData()[1], plot.reverse_curve.getData()[1]
    assert max(abs(forward - reverse)) <= 1e-9
    assert max(abs(plot.difference_curve.getData()[1])) <= 1e-9
    assert list(plot.loss_curve.getData()[1]) == [p.loss for p in points]
    plot.slider.setValue(3)  # a point already computed: read out at once
    assert plot.marker.value() == points[3].at and "forward" in plot.readout.text()


def test_dragging_the_slider_computes_the_point_under_it(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "sigmoid_neuron.json")
    plot = window.lab.derivative_plot
    plot.choose(of="L.out", wrt="b.out", sweep="w.out", low=-1.0, high=1.0, count=5)
    with qtbot.waitSignal(plot.point_added, timeout=30_000) as added:
        plot.slider.setValue(4)
    point = added.args[0]
    assert point.at == 1.0 and abs(point.forward - point.reverse) <= 1e-9
    qtbot.waitUntil(lambda: plot.readout.text().startswith("at 1:"))


def test_a_directional_derivative_and_a_bad_direction(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    plot = window.lab.derivative_plot
    plot.choose(of="loss.out", wrt="x.out[0]", sweep="y.out[1]", low=0.0, high=1.0, count=4)
    plot.use_direction.setChecked(True)
    plot.direction.setText("1 0 0 0 0 0 0")
    assert "needs 8 numbers" in swept(plot, qtbot)
    plot.direction.setText("1, 0, 0, -1, 0, 0, 0.5, 0")
    assert swept(plot, qtbot) == ""
    assert len(plot.points) == 4 and all(abs(p.forward - p.reverse) <= 1e-9 for p in plot.points.values())


def test_the_cost_sweep_counts_n_and_m_passes(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "path_sum.json")
    plot: CostPlot = window.lab.cost_plot
    window.lab.open("cost")
    plot.sizes.setText("1, 2, 4")
    plot.fixed.setValue(2)
    plot.hidden.setValue(4)
    plot.repeats.setValue(1)
    with qtbot.waitSignal(plot.finished, timeout=30_000):
        plot.run_button.click()
    by_series = {
        s: [(p.n, p.m, p.forward_passes, p.reverse_passes) for p in plot.points if p.series == s]
        for s in "nm"
    }
    assert by_series["n"] == [(1, 2, 1, 2), (2, 2, 2, 2), (4, 2, 4, 2)]  # forward: n passes, reverse: m
    assert by_series["m"] == [(2, 1, 2, 1), (2, 2, 2, 2), (2, 4, 2, 4)]
    assert all(p.forward_seconds > 0 and p.reverse_seconds > 0 for p in plot.points)
    qtbot.waitUntil(lambda: len(plot.curves[("n", "passes", "forward")].getData()[0]) == 3)
    assert list(plot.curves[("m", "passes", "reverse")].yData) == [1, 2, 4]  # getData() is log10 here
    assert plot.table.rowCount() == 6
    with qtbot.waitSignal(plot.finished, timeout=30_000):
        plot.mine_button.click()  # the Jacobian lab's defaults: e with respect to a and b
    mine = [p for p in plot.points if p.series == "graph"]
    assert [(p.n, p.m, p.forward_passes, p.reverse_passes) for p in mine] == [(2, 1, 2, 1)]
    qtbot.waitUntil(lambda: len(plot.mine[("n", "passes", "forward")].getData()[0]) == 1)


def test_bad_sizes_are_explained(window: MainWindow, qtbot):
    plot = window.lab.cost_plot
    plot.sizes.setText("1, two")
    with qtbot.waitSignal(plot.finished, timeout=5_000) as finished:
        plot.run_button.click()
    assert "whole numbers" in finished.args[0]


def test_the_derivative_follows_training(window: MainWindow, examples: Path, qtbot):
    assert window.open_path(examples / "xor.json")
    plot, session = window.lab.derivative_plot, window.run_tools.session
    window.lab.open("derivative")
    for combo, label in ((plot.of_choice, "loss"), (plot.wrt_choice, "h1[2]")):
        combo.setCurrentIndex(combo.findText(label))
    plot.follow.setChecked(True)
    assert session.worker.weights_rows == 4 and not plot.sweep_button.isEnabled()
    assert plot.top.titleLabel.text == "∂loss/∂h1[2] during training"
    assert plot.bottom.getAxis("bottom").labelText == "training step"
    window.run_tools.actions["start"].trigger()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=60_000)
    qtbot.waitUntil(lambda: 500 in plot.points and plot._job is None, timeout=30_000)
    steps = sorted(plot.points)
    assert len(steps) >= 2 and all(float(s).is_integer() for s in steps)
    points = [plot.points[s] for s in steps]
    assert all(abs(p.forward - p.reverse) <= 1e-9 for p in points)
    assert abs(points[0].forward) > 10 * abs(points[-1].forward)  # it shrinks as the network learns
    # the last point was taken at the trained weights: its loss is the trainer's own on these 4 samples
    assert abs(points[-1].loss - session.last_result.train["loss"]) <= 1e-5
    assert plot.readout.text().startswith("at step 500:")
    plot.follow.setChecked(False)
    assert session.worker.weights_rows == 0 and plot.sweep_button.isEnabled() and plot.points == {}


def test_hidden_lab_views_refill_their_choices_only_when_shown(window: MainWindow, examples: Path):
    assert window.open_path(examples / "sigmoid_neuron.json")
    plot, jacobian = window.lab.derivative_plot, window.lab.jacobian
    assert not on_screen(plot) and not on_screen(jacobian)  # behind other tabs
    node = window.controller.add_node("exp", QPointF(0, 300), (PortRef("L", "out"), True))
    assert window.document.report.ok and plot.stale and jacobian.stale
    assert plot.of_choice.findText(node) < 0
    window.lab.open("derivative")
    assert not plot.stale and plot.of_choice.findText(node) >= 0
    assert jacobian.stale  # still hidden, until someone needs its lists
    outputs, _ = jacobian.chosen()
    assert not jacobian.stale and outputs == [f"{node}.out"]  # the new sink is ticked


# --- what the lab's texts and axes read --------------------------------------------------------------


def lowered(nodes: list[dict], edges: list[dict]) -> Program:
    return lower(
        graph_from_dict({"format": "backprop-studio-graph", "version": 1, "nodes": nodes, "edges": edges})
    )


def test_names_are_labels_with_ids_only_where_two_read_the_same():
    program = lowered(
        [
            {
                "id": "parameter",
                "type": "Parameter",
                "params": {"shape": [], "init": "value", "value": 1.0},
                "label": "w",
            },
            {
                "id": "parameter2",
                "type": "Parameter",
                "params": {"shape": [], "init": "value", "value": 2.0},
                "label": "w",
            },
            {"id": "mul2", "type": "mul", "label": "L = w · w"},
            {"id": "neg", "type": "neg"},
            {"id": "halves", "type": "split", "label": "parts"},
        ],
        [
            {"from": "parameter.out", "to": "mul2.a"},
            {"from": "parameter2.out", "to": "mul2.b"},
            {"from": "mul2.out", "to": "neg.x"},
        ],
    )
    names = Names(program)
    assert [names.value(f"{n}.out") for n in ("parameter", "parameter2", "mul2", "neg")] == [
        "w (parameter)",
        "w (parameter2)",
        "L",  # "L = w · w" defines L
        "neg",  # no label: the id
    ]
    assert names.derivative("mul2.out", "parameter.out") == "∂L/∂w (parameter)"
    assert names.element("neg.out[3]") == "neg[3]"
    assert names.value("halves.out0") == "parts.out0"  # several outputs: the port says which


def test_a_name_of_several_words_is_bracketed_after_d():
    program = lowered(
        [
            {"id": "x", "type": "Input", "params": {"shape": [], "value": 1.0}},
            {"id": "r", "type": "neg", "label": "y − t"},
            {"id": "sq", "type": "square", "label": "(y − t)²"},
        ],
        [{"from": "x.out", "to": "r.x"}, {"from": "r.out", "to": "sq.x"}],
    )
    names = Names(program)
    assert names.derivative("sq.out", "r.out") == "∂(y − t)²/∂(y − t)"
    assert names.derivative("r.out", "x.out") == "∂(y − t)/∂x"


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (-12, 2),  # gradient norms of a run that vanished
        (-3.2, 1.2),
        (0, 1.8),  # sizes 1 to 64
        (0.1, 0.9),  # between 1.3 and 8: no decade at all
    ],
)
def test_log_axes_label_powers_of_ten_none_over_another(qtbot, low, high):
    """pyqtgraph's own log axis writes 2·10⁰ … 9·10⁰ too; on a short axis they print over each other."""
    plots = LabPlots()
    qtbot.addWidget(plots)
    plots.resize(260, 160)
    plot = plots.add_plot(row=0, col=0)
    plot.setLogMode(x=True, y=True)
    plot.setRange(xRange=(low, high), yRange=(low, high), padding=0)
    plots.show()
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        qtbot.waitUntil(lambda axis=axis: len(drawn_labels(axis)) >= 2)  # laid out around its labels
        texts = assert_readable(axis, log=True)
        decades = [t for t in texts if not t.startswith(("2·", "5·"))]
        exponents = [int(t[2:].translate(EXPONENTS)) for t in decades]
        steps = {b - a for a, b in zip(exponents, exponents[1:])}
        assert exponents == sorted(exponents) and len(steps) <= 1  # evenly spaced decades
        if len(decades) < 2:  # less than two decades in view: 2 and 5 say where the axis is
            assert any(t.startswith(("2·", "5·")) for t in texts)
        else:
            assert decades == texts


def test_the_difference_axis_of_a_zero_difference_is_rounding_level():
    points = [DerivativePoint(at, forward=5.0, reverse=5.0, value=0.0, loss=0.0) for at in range(3)]
    span = difference_span(points)
    assert 0 < span <= 1e-13
    ticks = difference_ticks(span)[0]
    assert ticks[0] == (0.0, "0") and all(abs(v) < span for v, _ in ticks)
    assert ticks[1][0] == -ticks[2][0] and ticks[2][1] == f"{ticks[2][0]:g}"
    wide = [DerivativePoint(0, forward=1.0, reverse=1.0 - 3e-4, value=0.0, loss=0.0)]
    assert difference_span(wide) == pytest.approx(1.25 * 3e-4)
