"""The Train panel, its training process, the live plots and the non-finite watch, on real widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from canvas_gestures import press_run_action
from thread_child import train_in_a_thread

from app.plots.training_plots import CAPACITY, TrainingPlots
from app.training.changes import Structure
from app.training.commands import SetTraining
from app.window import MainWindow
from graphcore.files.fileformat import load
from graphcore.graph import Node, PortRef
from graphcore.training.frames import WeightsFrame
from graphcore.training.records import Progress
from tests.sample_graphs import OVERFLOW

BUILD_TIMEOUT = 60_000  # the first run in a process imports torch.optim (slow on small machines)


@pytest.fixture
def xor(window: MainWindow, examples: Path) -> MainWindow:
    assert window.open_path(examples / "xor.json")
    return window


def state(window: MainWindow) -> str:
    return window.run_tools.session.state


def test_start_pause_resume_stop(xor: MainWindow, qtbot):
    tools, dock = xor.run_tools, xor.run_tools.train_dock
    dock.steps.setValue(1_000_000)  # long enough to pause it
    assert xor.document.graph.training["steps"] == 1_000_000
    tools.actions["start"].trigger()
    qtbot.waitUntil(
        lambda: state(xor) == "running" and len(tools.plots.buffers["train loss"]) > 5, timeout=BUILD_TIMEOUT
    )
    assert not tools.actions["start"].isEnabled() and tools.actions["pause"].isEnabled()
    tools.actions["pause"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "paused", timeout=10_000)
    paused_at = tools.plots.buffers["train loss"].last_x
    assert tools.actions["resume"].isEnabled()
    tools.actions["resume"].trigger()
    qtbot.waitUntil(lambda: tools.plots.buffers["train loss"].last_x > paused_at + 20, timeout=10_000)
    tools.actions["stop"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "idle", timeout=10_000)
    tools.plots.redraw()
    x, y = tools.plots.curves["train loss"].getData()
    assert len(x) > 0 and len(x) == len(y)
    assert len(tools.plots.curves["lr"].getData()[0]) > 0
    assert len(tools.plots.curves["train accuracy"].getData()[0]) > 0
    assert {"grad fc1.weight", "grad fc2.bias"} <= set(tools.plots.curves)
    assert tools.boundary.frames > 0 and tools.boundary.image.image.shape == (64, 64)


def test_step_one_batch_and_reset_weights(xor: MainWindow, qtbot):
    tools = xor.run_tools
    tools.actions["step_batch"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "paused", timeout=BUILD_TIMEOUT)
    assert len(tools.plots.buffers["train loss"]) == 1
    tools.actions["step_batch"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "paused" and len(tools.plots.buffers["train loss"]) == 2)
    assert tools.plots.buffers["train loss"].last_x == 2
    tools.actions["reset_weights"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "paused")
    assert len(tools.plots.buffers["train loss"]) == 0
    tools.actions["step_batch"].trigger()
    qtbot.waitUntil(lambda: len(tools.plots.buffers["train loss"]) == 1)
    assert tools.plots.buffers["train loss"].last_x == 1  # the step count started over


def test_a_run_to_the_end_finishes(xor: MainWindow, qtbot):
    tools = xor.run_tools
    tools.train_dock.steps.setValue(40)
    with qtbot.waitSignal(tools.session.message, timeout=BUILD_TIMEOUT) as said:
        tools.actions["start"].trigger()
    assert said.args[0].startswith("Training finished after 40 steps")
    qtbot.waitUntil(lambda: state(xor) == "finished")
    assert tools.train_dock.progress.value() == 40


def test_hyperparameter_edits_are_undoable_edits_of_the_training_section(xor: MainWindow):
    dock, graph, stack = xor.run_tools.train_dock, xor.document.graph, xor.document.stack
    assert dock.optimizer.currentText() == "adam" and dock.lr.value() == pytest.approx(0.05)
    dock.lr.setValue(0.2)
    dock.lr.setValue(0.3)  # one undo step for both (the edits merge)
    assert graph.training["optimizer"] == {"name": "adam", "lr": 0.3}
    assert stack.undoText() == "Set training.optimizer.lr to 0.3"  # History says what was set to what
    dock.optimizer.setCurrentText("momentum")
    assert graph.training["optimizer"] == {"name": "momentum", "lr": 0.3}
    assert stack.undoText() == "Set training.optimizer.name to momentum"
    assert xor.windowTitle().startswith("xor.json*")
    stack.undo()
    assert graph.training["optimizer"]["name"] == "adam" and dock.optimizer.currentText() == "adam"
    stack.undo()
    assert graph.training["optimizer"] == {"name": "adam", "lr": 0.05} and dock.lr.value() == pytest.approx(
        0.05
    )
    stack.redo()
    assert dock.lr.value() == pytest.approx(0.3)
    dock.device.setCurrentText("cpu")
    assert graph.training["device"] == "cpu"


def test_edits_reach_a_running_training_from_its_next_step(xor: MainWindow, qtbot):
    tools, dock = xor.run_tools, xor.run_tools.train_dock
    dock.steps.setValue(1_000_000)
    tools.actions["start"].trigger()
    qtbot.waitUntil(lambda: len(tools.plots.buffers["lr"]) > 2, timeout=BUILD_TIMEOUT)
    assert tools.plots.buffers["lr"].last_y == pytest.approx(0.05)
    with qtbot.waitSignal(tools.session.message, timeout=10_000) as said:
        dock.lr.setValue(0.01)
    assert said.args[0] == "Training edits apply from the next step"
    qtbot.waitUntil(lambda: tools.plots.buffers["lr"].last_y == pytest.approx(0.01), timeout=10_000)
    assert state(xor) == "running"
    with qtbot.waitSignal(tools.session.message, timeout=10_000) as said:
        dock.batch_size.setValue(2)
    assert said.args[0].endswith("; batch_size at the next Start")
    tools.actions["pause"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "paused", timeout=10_000)
    with qtbot.waitSignal(tools.session.message, timeout=10_000):  # a paused run takes edits too
        dock.steps.setValue(500)
    assert tools.session.worker.query("describe")["total_steps"] == 500
    xor.document.stack.undo()  # undo is an edit like any other
    qtbot.waitUntil(
        lambda: tools.session.worker.query("describe")["total_steps"] == 1_000_000, timeout=10_000
    )
    tools.actions["stop"].trigger()
    qtbot.waitUntil(lambda: state(xor) == "idle", timeout=10_000)


def test_a_bad_training_section_is_a_message_naming_the_key(xor: MainWindow, qtbot):
    graph = xor.document.graph
    xor.document.push(SetTraining(graph, "optimizer", {"name": "bogus", "lr": 0.1}))
    with qtbot.waitSignal(xor.run_tools.session.failed, timeout=BUILD_TIMEOUT) as failed:
        xor.run_tools.actions["start"].trigger()
    assert failed.args[0].startswith("training.optimizer.name: unknown optimizer 'bogus'")
    qtbot.waitUntil(lambda: state(xor) == "idle")
    assert "training.optimizer.name" in xor.statusBar().currentMessage()
    assert "training.optimizer.name" in xor.run_tools.train_dock.status.text()


def test_plots_stay_bounded_over_100k_steps(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    for report in range(1000):
        steps = range(report * 100 + 1, report * 100 + 101)
        plots.add(
            Progress(
                steps[-1],
                report // 10,
                100_000,
                [(s, 1.0 / s) for s in steps],
                0.01,
                {"w": 0.5, "b": 0.0},
                {"loss": 0.5, "accuracy": 0.9} if report % 10 == 9 else {},
                0.8,
            )
        )
    plots.redraw()
    for name in ("train loss", "lr", "grad w", "grad b", "train accuracy"):
        x, _ = plots.curves[name].getData()
        assert 0 < len(x) <= CAPACITY + 1, name
    x, y = plots.buffers["train loss"].data()
    assert x[0] < 200 and x[-1] > 99_000  # the whole run, decimated
    shown = plots.curves["train loss"].getData()[0]  # and drawn (downsampled to the plot's pixels)
    assert shown[0] < 1000 and shown[-1] > 99_000
    (left, right), (low, high) = plots.loss_plot.viewRange()
    assert left <= 0 and right >= 100_000 and low <= min(y) and high >= max(y)  # every point in view
    assert len(plots.curves["validation loss"].getData()[0]) == 100
    assert plots.buffers["grad b"].data()[1].min() > 0  # zero norms are kept plottable on the log axis
    plots.log_loss.setChecked(True)
    assert plots.loss_plot.ctrl.logYCheck.isChecked()


def test_a_non_finite_value_pauses_and_names_the_node(window: MainWindow, tmp_path: Path, qtbot):
    path = tmp_path / "overflow.json"
    path.write_text(json.dumps(OVERFLOW))
    assert window.open_path(path)
    tools = window.run_tools
    tools.actions["start"].trigger()  # (wait on GUI-side state: the worker's signals come from its thread)
    qtbot.waitUntil(lambda: state(window) == "paused", timeout=BUILD_TIMEOUT)
    assert "node 'e2'" in tools.train_dock.problem.text() and tools.train_dock.problem.isVisible()
    assert "e2" in window.statusBar().currentMessage()
    assert window.scene.selected_node_ids() == ["e2"]
    frame = tools.overlay.frame
    assert frame.isVisible() and frame.pos() == window.scene.nodes["e2"].pos()
    assert not tools.actions["resume"].isEnabled() and tools.actions["reset_weights"].isEnabled()
    tools.actions["stop"].trigger()
    qtbot.waitUntil(lambda: state(window) == "idle")


def test_histograms_follow_the_selected_node(xor: MainWindow, qtbot):
    tools = xor.run_tools
    xor.scene.select_nodes(["fc1"])
    assert tools.histograms.node == "fc1"
    tools.actions["step_batch"].trigger()
    qtbot.waitUntil(lambda: "fc1 at step 1" in tools.histograms.label.text(), timeout=BUILD_TIMEOUT)
    for kind in ("value", "weight", "gradient"):
        x, y = tools.histograms.curves[kind].getData()
        assert len(x) == len(y) + 1 and y.sum() > 0, kind


def test_over_budget_or_a_node_raising_is_a_message_and_start_works_again(
    xor: MainWindow, qtbot, monkeypatch
):
    tools = xor.run_tools
    monkeypatch.setenv("BACKPROP_MEMORY_BUDGET", "256B")
    with qtbot.waitSignal(tools.session.failed, timeout=BUILD_TIMEOUT) as failed:
        press_run_action(xor, "start")
    assert failed.args[0].startswith("fc1: the graph needs ")
    assert failed.args[0].endswith("the budget is 0.25 KB (set BACKPROP_MEMORY_BUDGET to change it)")
    qtbot.waitUntil(lambda: state(xor) == "idle")
    assert "the budget is 0.25 KB" in tools.train_dock.status.text()
    assert "the budget is 0.25 KB" in xor.statusBar().currentMessage()
    assert tools.train_dock.problem.text() == failed.args[0]
    assert xor.scene.selected_node_ids() == ["fc1"]  # framed and selected, as a non-finite node is
    assert tools.actions["start"].isEnabled()

    monkeypatch.delenv("BACKPROP_MEMORY_BUDGET")
    tools.train_dock.steps.setValue(40)
    tools.session.shutdown()  # the next Start trains in a thread of this process, which the patch reaches
    train_in_a_thread(monkeypatch)
    linear = torch.nn.Linear.forward
    calls = []

    def fail_after_a_few_steps(self, x):
        calls.append(x)
        if len(calls) > 20 and self.in_features == 2:  # fc1, the first layer
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied\n(more torch detail)")
        return linear(self, x)

    monkeypatch.setattr(torch.nn.Linear, "forward", fail_after_a_few_steps)
    with qtbot.waitSignal(tools.session.failed, timeout=BUILD_TIMEOUT) as failed:
        press_run_action(xor, "start")
    assert failed.args[0] == "fc1 (Linear): RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    qtbot.waitUntil(lambda: state(xor) == "idle")
    assert "fc1 (Linear): RuntimeError" in tools.train_dock.status.text()
    assert "fc1 (Linear)" in xor.statusBar().currentMessage()
    assert tools.train_dock.problem.isVisible() and tools.train_dock.problem.text() == failed.args[0]
    assert xor.scene.selected_node_ids() == ["fc1"] and tools.overlay.frame.isVisible()
    assert tools.actions["start"].isEnabled() and not tools.actions["resume"].isEnabled()
    monkeypatch.setattr(torch.nn.Linear, "forward", linear)
    with qtbot.waitSignal(tools.session.message, timeout=BUILD_TIMEOUT) as said:
        press_run_action(xor, "start")
    assert said.args[0].startswith("Training finished after 40 steps")
    assert not tools.train_dock.problem.isVisible()


def test_the_notice_names_what_changed_in_the_graph_a_run_trains(examples: Path):
    graph = load(examples / "xor.json")
    trained = Structure.of(graph)
    graph.set_attr("fc1", "pos", (500.0, 80.0))
    graph.set_attr("fc1", "label", "hidden")
    graph.set_training({**graph.training, "steps": 9})
    assert trained.change(graph) == ""  # what a run trains is the same
    graph.set_param("fc2", "in_features", 3)
    assert trained.change(graph) == "set fc2.in_features"
    graph.set_param("fc2", "in_features", 4)
    graph.disconnect(PortRef("h1", "out"), PortRef("fc2", "x"))
    assert trained.change(graph) == "disconnected h1.out → fc2.x"
    graph.connect(PortRef("x", "out"), PortRef("fc2", "x"))
    assert trained.change(graph) == "disconnected h1.out → fc2.x, connected x.out → fc2.x"
    graph.remove_node("h1")
    graph.add_node(Node("h2", "relu"))
    assert trained.change(graph) == "deleted h1, added h2, connected x.out → fc2.x"  # h1's wires go with it
    graph.set_param("fc1", "bias", False)
    assert trained.change(graph) == "deleted h1, added h2, set hidden.bias and 1 more"  # named by label


def test_weights_of_the_previous_documents_run_never_reach_the_derivative_plot(xor: MainWindow, qtbot):
    session = xor.run_tools.session
    seen: list[object] = []
    session.weights.connect(seen.append)
    frame = WeightsFrame(step=3, state={}, inputs={})
    session.stale = True  # what opening another document mid-run sets
    session.worker.weights.emit(frame)
    assert seen == []
    session.stale = False
    session.worker.weights.emit(frame)
    assert seen == [frame]


def test_the_objectives_list_shows_any_objectives_as_plain_text(qtbot):
    from app.training.objectives_view import ObjectivesView

    view = ObjectivesView()
    qtbot.addWidget(view)
    edits = []
    view.lr_edited.connect(lambda index, lr: edits.append((index, lr)))
    view.show_objectives(
        [
            5,
            {"name": "<b>生成器</b>", "optimizer": "adam", "schedule": [], "every": 3},
            {"optimizer": {"lr": "x"}},
        ]
    )
    titles = [view.form.itemAt(row * 2, view.form.ItemRole.LabelRole).widget() for row in range(3)]
    assert [t.text() for t in titles] == ["?", "<b>生成器</b>", "?"]
    assert all(t.textFormat() == t.textFormat().PlainText for t in titles)
    assert [d.text() for d in view.descriptions] == [
        "sgd, constant, every step",
        "?, ?, every 3 steps",
        "sgd, constant, every step",
    ]
    assert [box.value() for box in view.rates] == [0.01, 1e-5, 1e-5]  # no rate to show: the field's least
    assert edits == []  # showing a section never edits it
    view.rates[2].setValue(0.5)
    assert edits == [(2, 0.5)]  # the row of objectives[2], whatever came before it


def test_plots_draw_one_loss_curve_per_objective(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    objectives = {"critic": [(1, 0.5), (2, 0.4)], "generator": [(2, 0.9)]}
    plots.add(Progress(2, 0, 10, objectives["critic"], 0.01, {}, {}, None, objectives))
    plots.redraw()
    assert plots.latest_losses() == {"critic": 0.4, "generator": 0.9}
    assert list(plots.curves["objective critic"].getData()[1]) == [0.5, 0.4]
    assert len(plots.buffers["train loss"]) == 0  # the lead's losses are its own curve's
    assert "critic loss 0.4  generator loss 0.9" in plots.status.text()
    plots.clear()
    assert not any(key.startswith("objective ") for key in plots.curves)
    odd = {"<b>a&b</b>": [(1, 0.5)], "生成器": [(1, 0.25)]}
    plots.add(Progress(1, 0, 10, odd["<b>a&b</b>"], 0.01, {}, {}, None, odd))
    assert [label.text for _, label in plots.legend.items][-2:] == ["&lt;b&gt;a&amp;b&lt;/b&gt;", "生成器"]
    assert plots.status.textFormat() == plots.status.textFormat().PlainText
    assert "<b>a&b</b> loss 0.5  生成器 loss 0.25" in plots.status.text()


def test_a_redraw_sets_only_the_curves_whose_points_changed(qtbot, monkeypatch):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    progress = Progress(1, 0, 10, [(1, 0.5)], 0.01, {"w": 0.5}, {"loss": 0.4}, None)
    plots.add(progress)
    plots.redraw()
    drawn: list[str] = []
    for name, curve in plots.curves.items():
        monkeypatch.setattr(curve, "setData", lambda *a, name=name: drawn.append(name))
    plots.add(Progress(2, 0, 10, [(2, 0.3)], 0.01, {"w": 0.25}, {"loss": 0.4}, None))
    plots.redraw()  # the same epoch's validation loss: its curve is left as it is
    assert sorted(drawn) == ["grad w", "lr", "train loss"]
    drawn.clear()
    plots.clear()
    plots.redraw()  # emptied curves are drawn empty
    assert {"train loss", "lr", "validation loss"} <= set(drawn)


def test_the_axes_hold_every_point_and_move_a_few_times_a_run(qtbot):
    """Autorange moved both axes at every redraw (and laid them out again); now the step axis ends at
    a round number (1, 1.5, 2, 3, ... × 10ⁿ) and the loss axis moves only when a point leaves it or
    the points fill under half of it."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    ranges = set()
    for step in range(1, 301):
        plots.add(Progress(step, 0, 300, [(step, 1.0 / step)], 0.01, {"w": 0.5}, {}, None))
        plots.redraw()
        (left, right), (low, high) = plots.loss_plot.viewRange()
        assert left <= 0 < step <= right and low <= 1.0 / step and 1.0 <= high, step
        ranges.add((round(right, 6), round(low, 6), round(high, 6)))
    assert plots.loss_plot.viewRange()[0][1] < 420  # the axis ends near the run, at 400
    assert len(ranges) <= 30  # of 300 redraws
