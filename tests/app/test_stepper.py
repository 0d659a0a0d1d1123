"""The backprop stepper on the canvas: badges against `graphcore steps`, step back, run to end (in
slices, stoppable, the window live meanwhile), the side panel, the value viewer, and the optimizer
step against torch.optim."""

from __future__ import annotations

import json
import math

import pytest
import torch
from canvas_gestures import press_run_action
from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtTest import QTest

from app.stepper import controller
from app.stepper.format import describe
from app.stepper.viewer import ValueViewer
from app.window import MainWindow
from graphcore.cli.main import main as graphcore_main
from graphcore.files.fileformat import save
from graphcore.graph import Graph, Node, PortRef


@pytest.fixture
def stepping(neuron: MainWindow) -> MainWindow:
    neuron.run_tools.actions["stepper_mode"].setChecked(True)
    assert neuron.run_tools.stepper.active
    return neuron


def deep_mlp(layers: int) -> Graph:
    """x → (Linear → tanh) × layers → mean: a graph with many steps and tensor-valued badges."""
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": [4, 8]}))
    previous = "x"
    for i in range(layers):
        graph.add_node(Node(f"fc{i}", "Linear", {"in_features": 8, "out_features": 8}, pos=(260 * i, 0)))
        graph.add_node(Node(f"act{i}", "tanh", pos=(260 * i + 130, 120)))
        graph.connect(PortRef(previous, "out"), PortRef(f"fc{i}", "x"))
        graph.connect(PortRef(f"fc{i}", "out"), PortRef(f"act{i}", "x"))
        previous = f"act{i}"
    graph.add_node(Node("L", "mean", pos=(260 * layers, 0)))
    graph.connect(PortRef(previous, "out"), PortRef("L", "x"))
    return graph


@pytest.fixture
def stepping_deep(window: MainWindow, tmp_path) -> MainWindow:
    save(deep_mlp(20), tmp_path / "deep.json")
    assert window.open_path(tmp_path / "deep.json")
    window.run_tools.actions["stepper_mode"].setChecked(True)
    assert window.run_tools.stepper.active
    return window


@pytest.fixture
def one_step_slices(monkeypatch) -> None:
    """Run to End takes one step per slice and redraws after each, so a run spans many turns of the
    event loop on any machine."""
    monkeypatch.setattr(controller, "RUN_SLICE_SECONDS", 0.0)
    monkeypatch.setattr(controller, "RUN_REDRAW_SECONDS", 0.0)


def run_to_end(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.run_tools.stepper.ran_to_end, timeout=60_000):
        window.run_tools.actions["run_to_end"].trigger()


def badges(window: MainWindow) -> dict[str, tuple]:
    overlay = window.run_tools.stepper.overlay
    return {node: (b.value, b.grad) for node, b in overlay.badges.items() if b.isVisible()}


def cli_steps(capsys, path) -> dict:
    assert graphcore_main(["steps", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def badge_numbers(window: MainWindow, node: str) -> tuple[float | None, float | None]:
    badge = window.run_tools.stepper.overlay.badge(node)
    assert badge is not None and badge.isVisible(), node
    value = None if badge.value is None else float(badge.value)
    grad = None if badge.grad is None else float(badge.grad)
    return value, grad


def test_every_badge_matches_graphcore_steps(stepping: MainWindow, examples, capsys):
    expected = cli_steps(capsys, examples / "sigmoid_neuron.json")
    tools = stepping.run_tools
    program = tools.stepper.session.program
    assert tools.stepper.session.of == expected["of"] == "L.out"
    grads: dict[str, float] = {}
    for record in expected["steps"]:
        tools.actions["step"].trigger()
        event = tools.stepper.session.current
        assert (event.index, event.phase, event.node) == (record["index"], record["phase"], record["node"])
        assert tools.stepper.overlay.current == record["node"]
        for value_name, value in record.get("outputs", {}).items():
            shown, _ = badge_numbers(stepping, value_name.split(".")[0])
            assert shown == pytest.approx(value, abs=1e-12)
        for name, value in record.get("upstream", {}).items():
            if name == expected["of"]:
                grads[name] = value
        for port, value in record.get("passed", {}).items():
            node, _, name = port.partition(".")
            instr = program.by_node[node]
            grads[instr.args[instr.spec.inputs.index(name)]] = value
        for value_name, grad in grads.items():  # every gradient that has arrived so far is on its badge
            node = value_name.split(".")[0]
            value, shown = badge_numbers(stepping, node)
            assert shown == pytest.approx(grad, abs=1e-12), node
            badge = tools.stepper.overlay.badge(node)
            assert badge.text == f"= {describe(value)}\n∂ {describe(shown)}"
    assert tools.stepper.session.at_end and tools.actions["optimizer_step"].isEnabled()
    assert badge_numbers(stepping, "w") == pytest.approx((0.5, -0.13886101614965027))
    assert badge_numbers(stepping, "t")[1] == pytest.approx(-0.38936076605077796)


def test_step_back_and_run_to_end(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    session = tools.stepper.session
    for _ in range(12):  # through the forward pass, and the first backward step (L)
        tools.actions["step"].trigger()
    assert session.current.phase == "backward" and badge_numbers(stepping, "sq")[1] == pytest.approx(0.5)
    tools.actions["step_back"].trigger()
    assert session.current.node == "L" and session.current.phase == "forward"
    assert badge_numbers(stepping, "sq")[1] is None  # the gradient has not arrived yet
    assert tools.stepper.overlay.frame.pos() == stepping.scene.nodes["L"].pos()
    run_to_end(stepping, qtbot)
    assert session.at_end and session.position == session.total - 1 == 16
    tools.actions["stepper_reset"].trigger()
    assert session.position == -1 and tools.stepper.overlay.badge("w").isVisible() is False


def test_the_side_panel_explains_a_backward_step(stepping: MainWindow):
    tools = stepping.run_tools
    for _ in range(15):  # ... up to the backward step of t = σ(z)
        tools.actions["step"].trigger()
    event = tools.stepper.session.current
    assert (event.phase, event.node) == ("backward", "t")
    text = tools.stepper_panel.text
    sigma = 0.610639233949222
    assert "backward · t = σ(z)" in text and "Formula" in text
    assert "Upstream gradient" in text and describe(-0.38936076605077796) in text
    assert f"∂t/∂z</code></td><td>&nbsp;{describe(sigma * (1 - sigma))}" in text  # σ' = σ(1 − σ)
    assert "Upstream gradient ∂L/∂t" in text and "via (y − t).b" in text  # labels, not ids
    assert "x → z</code>" in text and describe(-0.09257401076643351) in text


def test_a_badge_click_opens_a_viewer(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    run_to_end(stepping, qtbot)
    badge = tools.stepper.overlay.badge("w")
    view = stepping.view
    view.centerOn(badge.parentItem())
    # a badge ignores the zoom: find where it is on screen through its device transform
    at = badge.deviceTransform(view.viewportTransform()).map(badge.boundingRect().center()).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    viewer = tools.stepper.viewer
    assert isinstance(viewer, ValueViewer) and viewer.isVisible()
    assert viewer.kind == "number" and viewer.windowTitle() == "w"
    assert (
        viewer.label.text()
        == "<p><b>w</b> = <code>0.5</code></p><p><b>∂L/∂w</b> = <code>-0.1388610161</code></p>"
    )
    assert viewer.width() < 300 and viewer.height() < 150  # a popup sized to two numbers
    badge_box = QRect(view.viewport().mapToGlobal(at), QSize(1, 1))
    assert abs(viewer.geometry().top() - badge_box.top()) < 60  # beside the badge, not across the screen
    QTest.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isVisible()
    small = ValueViewer("s", {"s": torch.arange(6.0).reshape(2, 3)})
    assert small.kind == "numbers" and "<code>&nbsp;5</code>" in small.label.text()
    matrix = ValueViewer("m", {"m": torch.arange(60.0).reshape(6, 10)})
    vector = ValueViewer("v", {"v": torch.arange(60.0)})
    assert (matrix.kind, vector.kind) == ("heatmap", "histogram") and matrix.width() == 520


def test_the_optimizer_step_matches_torch_optim(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    session = tools.stepper.session
    run_to_end(stepping, qtbot)
    grads = session.stepper.gradients()
    tools.actions["optimizer_step"].trigger()
    updates = {u.name: u for u in session.updates}
    assert set(updates) == {"w", "b"}
    for name, start in (("w", 0.5), ("b", -0.3)):
        reference = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        reference.grad = grads[f"{name}.out"].clone()
        torch.optim.SGD([reference], lr=0.01).step()  # no training section: plain SGD, lr 0.01
        assert float(updates[name].after) == pytest.approx(float(reference.detach()), abs=1e-15)
        assert float(updates[name].delta) == pytest.approx(-0.01 * float(grads[f"{name}.out"]), abs=1e-15)
    assert "Optimizer step · sgd" in tools.stepper_panel.text
    assert not tools.actions["optimizer_step"].isEnabled()
    loss_before = float(session.history[10].outputs["L.out"])
    run_to_end(stepping, qtbot)  # a new pass with the updated weights: the loss went down
    assert session.passes == 2 and float(session.history[10].outputs["L.out"]) < loss_before
    assert math.isclose(float(session.history[0].outputs["w.out"]), float(updates["w"].after))


def test_editing_the_graph_restarts_the_stepper_and_leaving_clears_the_canvas(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    run_to_end(stepping, qtbot)
    stepping.controller.set_param("x", "value", 2.0)
    session = tools.stepper.session
    assert session.position == -1
    tools.actions["step"].trigger()
    tools.actions["step"].trigger()
    assert badge_numbers(stepping, "x")[0] == 2.0
    tools.actions["stepper_mode"].setChecked(False)
    assert tools.stepper.overlay is None
    assert not any(type(i).__name__ == "Badge" for i in stepping.scene.items())


def test_a_graph_that_cannot_be_stepped_says_why(window: MainWindow, examples):
    assert window.open_path(examples / "path_sum.json")
    window.controller.add_node("add", window.view.center())  # an unconnected node: a problem
    window.run_tools.actions["stepper_mode"].setChecked(True)
    assert not window.run_tools.actions["stepper_mode"].isChecked()
    assert "Cannot step this graph" in window.statusBar().currentMessage()


def test_run_to_end_gives_the_badges_of_stepping_one_by_one(stepping_deep: MainWindow, qtbot):
    tools = stepping_deep.run_tools
    session = tools.stepper.session
    run_to_end(stepping_deep, qtbot)
    assert session.at_end and not tools.stepper.running and tools.actions["optimizer_step"].isEnabled()
    assert session.total == 83 and "step 83 / 83" in tools.stepper_panel.text
    ran, ran_gradients = badges(stepping_deep), session.stepper.gradients()
    tools.actions["stepper_reset"].trigger()
    for _ in range(session.total):
        tools.actions["step"].trigger()
    stepped, stepped_gradients = badges(stepping_deep), session.stepper.gradients()
    assert ran.keys() == stepped.keys() and len(ran) == 42
    for node, (value, grad) in ran.items():
        assert torch.equal(value, stepped[node][0]) and torch.equal(grad, stepped[node][1]), node
    assert ran_gradients.keys() == stepped_gradients.keys()
    assert all(torch.equal(ran_gradients[k], stepped_gradients[k]) for k in ran_gradients)


def test_the_window_stays_live_during_run_to_end(stepping_deep: MainWindow, qtbot, one_step_slices):
    tools = stepping_deep.run_tools
    stepper, action = tools.stepper, tools.actions["run_to_end"]
    progress: list[int] = []
    stepper.run_progressed.connect(progress.append)
    seen_running: list[bool] = []  # another timer's ticks: the event loop turns between slices
    other = QTimer(stepping_deep, interval=0)
    other.timeout.connect(lambda: seen_running.append(stepper.running))
    other.start()
    texts: list[str] = []
    stepper.run_progressed.connect(lambda _: texts.append(action.text()))
    run_to_end(stepping_deep, qtbot)
    other.stop()
    assert progress == list(range(1, stepper.session.total + 1))  # badges redrawn after every slice
    assert seen_running.count(True) >= 10
    assert set(texts[:-1]) == {"Stop Run"} and action.text() == "Run to End"


def test_run_to_end_stops_halfway(stepping_deep: MainWindow, qtbot, one_step_slices):
    tools = stepping_deep.run_tools
    stepper, action = tools.stepper, tools.actions["run_to_end"]
    session = stepper.session
    tools.actions["play"].setChecked(True)
    action.trigger()
    assert stepper.running and action.text() == "Stop Run"
    assert not tools.actions["play"].isChecked()  # Run to End takes over from auto-play
    qtbot.waitUntil(lambda: session.position >= 20)
    action.trigger()  # the same button stops it
    reached = session.position
    assert not stepper.running and action.text() == "Run to End" and reached < session.total - 1
    assert "Stopped at step" in stepping_deep.statusBar().currentMessage()
    with qtbot.assertNotEmitted(stepper.run_progressed, wait=50):
        pass
    assert session.position == reached and not tools.actions["optimizer_step"].isEnabled()
    tools.actions["step"].trigger()  # Step carries on from where the run stopped
    assert session.position == reached + 1
    run_to_end(stepping_deep, qtbot)
    assert session.at_end


def test_other_moves_stop_a_run(stepping_deep: MainWindow, qtbot, one_step_slices):
    tools = stepping_deep.run_tools
    stepper = tools.stepper
    session = stepper.session
    action = tools.actions["run_to_end"]

    def run_a_little() -> int:
        action.trigger()
        start = session.position
        qtbot.waitUntil(lambda: session.position >= start + 5)
        return session.position

    reached = run_a_little()
    tools.actions["step_back"].trigger()
    assert not stepper.running and session.position == reached - 1
    run_a_little()
    tools.actions["stepper_reset"].trigger()
    assert not stepper.running and session.position == -1
    run_a_little()
    tools.actions["play"].setChecked(True)  # auto-play goes on from where the run was
    assert not stepper.running and stepper.timer.isActive()
    tools.actions["play"].setChecked(False)
    run_a_little()
    stepping_deep.controller.set_param("x", "shape", [2, 8])  # an edit starts the stepper over
    assert not stepper.running and stepper.session is not session and stepper.session.position == -1
    assert action.text() == "Run to End"
    session = stepper.session
    run_a_little()
    tools.actions["stepper_mode"].setChecked(False)
    assert not stepper.running and stepper.overlay is None


def test_closing_the_window_during_a_run(stepping_deep: MainWindow, qtbot, one_step_slices):
    stepper = stepping_deep.run_tools.stepper
    stepping_deep.run_tools.actions["run_to_end"].trigger()
    qtbot.waitUntil(lambda: stepper.session.position >= 5)
    assert stepping_deep.close()
    assert not stepper.running and stepper.session is None
    with qtbot.assertNotEmitted(stepper.run_progressed, wait=50):
        pass


def test_over_the_memory_budget_stepper_mode_says_which_node_and_how_much(
    neuron: MainWindow, monkeypatch, tmp_path
):
    tools = neuron.run_tools
    monkeypatch.setenv("BACKPROP_MEMORY_BUDGET", "100B")
    press_run_action(neuron, "stepper_mode")
    assert not tools.actions["stepper_mode"].isChecked() and not tools.stepper.active
    message = neuron.statusBar().currentMessage()
    assert message.startswith("Cannot step this graph: ") and "the graph needs" in message
    assert message.endswith("the budget is 0.0977 KB (set BACKPROP_MEMORY_BUDGET to change it)")
    assert "the budget is 0.0977 KB" in tools.stepper_panel.text
    monkeypatch.delenv("BACKPROP_MEMORY_BUDGET")
    press_run_action(neuron, "stepper_mode")
    assert tools.stepper.active
    press_run_action(neuron, "stepper_mode")
    # with the default budget: an Input too large for any machine, refused with its size
    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": [100000, 100000, 100000]}))
    graph.add_node(Node("t", "tanh"))
    graph.connect(PortRef("x", "out"), PortRef("t", "x"))
    save(graph, tmp_path / "huge.json")
    assert neuron.open_path(tmp_path / "huge.json")
    press_run_action(neuron, "stepper_mode")
    assert not tools.stepper.active
    assert (
        neuron.statusBar()
        .currentMessage()
        .startswith(
            "Cannot step this graph: x: needs 14,901,161 GB for its output [100000, 100000, 100000] (float64)"
        )
    )


def test_a_node_that_raises_stops_the_pass_with_its_name_and_reset_starts_over(
    neuron: MainWindow, monkeypatch, qtbot
):
    tools = neuron.run_tools
    sigmoid = torch.sigmoid
    monkeypatch.setattr(torch, "sigmoid", lambda x: x[99])  # IndexError
    press_run_action(neuron, "stepper_mode")
    press_run_action(neuron, "run_to_end")  # the failure comes in a slice of Run to End
    qtbot.waitUntil(lambda: not tools.stepper.running, timeout=10_000)
    assert (
        neuron.statusBar().currentMessage().startswith("Stepping stopped: t = σ(z) (sigmoid): IndexError: ")
    )
    press_run_action(neuron, "stepper_reset")
    monkeypatch.setattr(torch, "sigmoid", lambda x: torch.empty(10**6).reshape(7, -1))  # a torch error
    for _ in range(12):  # now step by step
        press_run_action(neuron, "step")
    session = tools.stepper.session
    assert session.current.node == "z" and session.exhausted  # the step into t failed
    message = neuron.statusBar().currentMessage()
    assert message.startswith(
        "Stepping stopped: t = σ(z) (sigmoid): RuntimeError: shape '[7, -1]' is invalid"
    )
    assert "Stepping stopped: t = σ(z) (sigmoid): RuntimeError" in tools.stepper_panel.text
    press_run_action(neuron, "run_to_end")
    assert not tools.stepper.running and session.current.node == "z"
    monkeypatch.setattr(torch, "sigmoid", sigmoid)
    press_run_action(neuron, "stepper_reset")
    assert "Stepping stopped" not in tools.stepper_panel.text
    press_run_action(neuron, "run_to_end")
    qtbot.waitUntil(lambda: not tools.stepper.running, timeout=10_000)
    assert tools.stepper.session.at_end and tools.actions["optimizer_step"].isEnabled()
    out_of_memory = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nadvice")

    def fail(*args, **kwargs):
        raise out_of_memory

    monkeypatch.setattr(torch.optim.SGD, "step", fail)
    press_run_action(neuron, "optimizer_step")
    message = neuron.statusBar().currentMessage()
    assert message == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert tools.stepper.session.updates == [] and tools.actions["optimizer_step"].isEnabled()


def test_after_an_optimizer_step_the_badges_show_new_values_and_the_table_fits(stepping: MainWindow, qtbot):
    tools = stepping.run_tools
    assert stepping.statusBar().currentMessage() == "Stepper: 17 steps, differentiating L"  # a label
    run_to_end(stepping, qtbot)
    badge = tools.stepper.overlay.badge("w")
    assert badge.text == "= 0.5\n∂ -0.1389"
    press_run_action(stepping, "optimizer_step")
    after = 0.5 - 0.01 * -0.13886101614965027
    assert badge.text == f"= {describe(after)} new\n  was 0.5\n∂ -0.1389 used"  # never −lr·g as a ∂
    assert badge.value == pytest.approx(after) and badge.grad == pytest.approx(-0.13886101614965027)
    text = tools.stepper_panel.text
    for row in ("before</td><td>&nbsp;0.5", "gradient</td><td>&nbsp;-0.1389", "after</td><td>&nbsp;0.5014"):
        assert row in text
    assert "update</td><td>&nbsp;0.001389" in text
    label = tools.stepper_panel.label
    document = QTextDocument()
    document.setDefaultFont(label.font())
    document.setHtml(label.text())
    width = label.contentsRect().width() - 2 * label.margin()
    document.setTextWidth(width)
    assert 200 < width and document.idealWidth() <= width  # nothing cut off at the dock's width


SMALL_EXAMPLES = ("sigmoid_neuron", "sigmoid_neuron_l2", "path_sum", "xor", "two_moons", "residual_mlp")


def screen_rect(window: MainWindow, item) -> QRectF:
    return QRectF(window.view.mapFromScene(item.sceneBoundingRect()).boundingRect())


def overlaps(window: MainWindow) -> list[str]:
    """Stepper badges that, on screen at zoom 1 and 0.5, cover a node, another badge or a path-view
    badge, or stand off from their own node."""
    found = []
    tags = list(window.lab.path_view.overlay.badges.values())
    shown = [b for b in window.run_tools.stepper.overlay.badges.values() if b.isVisible()]
    for zoom in (1.0, 0.5):  # the same at any zoom: the badges scale with the nodes
        window.view.resetTransform()
        window.view.scale(zoom, zoom)
        nodes = {n: screen_rect(window, item) for n, item in window.scene.nodes.items()}
        others = [screen_rect(window, t) for t in tags]
        for badge in shown:
            box = screen_rect(window, badge)
            if any(box.intersects(r) for r in [*nodes.values(), *others]):
                found.append(f"{badge.node_id} covers something at zoom {zoom}")
            others.append(box)
            reach = nodes[badge.node_id].adjusted(-120 * zoom, -120 * zoom, 120 * zoom, 120 * zoom)
            if not reach.intersects(box):
                found.append(f"{badge.node_id} is far from its node at zoom {zoom}")
    return found


def show_paths(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.lab.path_view.computed, timeout=60_000):
        if not window.lab.path_action.isChecked():
            window.lab.path_action.trigger()
        else:
            window.lab.path_view.refresh()


def test_badges_cover_no_node_no_other_badge_and_no_path_view_badge(window: MainWindow, examples, qtbot):
    with_tags = 0  # examples on which the path view shows its badges too
    for name in SMALL_EXAMPLES:
        assert window.open_path(examples / f"{name}.json")
        show_paths(window, qtbot)
        with_tags += bool(window.lab.path_view.overlay.badges)
        press_run_action(window, "stepper_mode")
        run_to_end(window, qtbot)
        assert len([b for b in window.run_tools.stepper.overlay.badges.values() if b.isVisible()]) == len(
            window.scene.nodes
        )
        assert overlaps(window) == [], name
        press_run_action(window, "stepper_mode")
    assert with_tags >= 4
    # the other way round: the stepper's badges first, then the path view's make them move
    assert window.open_path(examples / "sigmoid_neuron_l2.json")
    press_run_action(window, "stepper_mode")
    run_to_end(window, qtbot)
    window.lab.path_action.trigger()
    show_paths(window, qtbot)
    assert window.lab.path_view.overlay.badges
    qtbot.waitUntil(lambda: overlaps(window) == [], timeout=20_000)  # after the scene's change reaches them
