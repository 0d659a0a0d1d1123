"""View ▸ Gradient Flow on the real window: the menu toggle, Start on the Train toolbar, wires drawn
by the frame's numbers, the legend, the badges and flags of init_small; off gives the plain look."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from canvas_gestures import press_run_action
from PySide6.QtGui import QAction, QColor

from app.canvas.gradient_flow import COLORS, FLAG_COLORS, THICK, THIN, log_range, wire_pen
from app.window import MainWindow
from graphcore.graph import PortRef

BUILD_TIMEOUT = 60_000  # the first run in a process imports torch.optim (slow on small machines)


@pytest.fixture
def small(window: MainWindow, examples: Path) -> MainWindow:
    assert window.open_path(examples / "init_small.json")
    return window


def flow_action(window: MainWindow) -> QAction:
    """The toggle as the View menu lists it."""
    view = window.shell.menu_named("&View")
    return next(a for a in view.actions() if a.text().replace("&", "") == "Gradient Flow")


def pens(window: MainWindow) -> dict[PortRef, tuple[str, float, object]]:
    return {
        dst: (edge.pen().color().name(), edge.pen().widthF(), edge.pen().style())
        for dst, edge in window.scene.edges.items()
    }


def test_training_with_the_toggle_on_draws_the_gradient_flow(small: MainWindow, qtbot) -> None:
    flow, session = small.gradient_flow, small.run_tools.session
    plain = pens(small)
    assert {width for _, width, _ in plain.values()} == {1.5}
    flow_action(small).trigger()
    assert flow.action.isChecked() and flow.legend.isVisible()
    assert flow.legend.caption.startswith("Gradient flow: waiting")
    press_run_action(small, "start")
    qtbot.waitUntil(
        lambda: session.state == "finished" and flow.frame is not None and flow.frame.step > 0,
        timeout=BUILD_TIMEOUT,
    )
    frame = flow.frame
    assert frame is not None
    edges = small.scene.edges
    span = log_range(list(frame.wires.values()))
    for dst, edge in edges.items():
        norm = frame.wires.get((str(edge.src), str(dst)))
        if norm is None:  # the labels: integers carry no gradient, and the wire keeps its look
            assert dst == PortRef("loss", "target") and pens(small)[dst] == plain[dst]
            continue
        expected = wire_pen(norm, span)
        assert edge.pen().widthF() == pytest.approx(expected.widthF()), dst
        assert edge.pen().color().name() == expected.color().name(), dst
        assert f"{norm:.4g}" in edge.describe()
    # the gradient grows by orders of magnitude from the input to the loss: thin navy to thick red
    first, last = edges[PortRef("fc1", "x")], edges[PortRef("loss", "input")]
    assert first.pen().widthF() == pytest.approx(THIN, abs=0.2)
    assert last.pen().widthF() == pytest.approx(THICK, abs=0.2)
    assert first.pen().color().name() == QColor(COLORS[0]).name()
    assert last.pen().color().name() == QColor(COLORS[-1]).name()
    widths = [edges[PortRef(f"fc{i}", "x")].pen().widthF() for i in range(1, 11)]
    assert widths == sorted(widths) and widths[-1] - widths[0] > 3
    # the legend: the step and a number at each decade of the frame's range
    legend = flow.legend
    assert legend.isVisible() and legend.caption == f"‖∂L/∂ wire‖ at step {frame.step} (log scale)"
    exponents = [int(label[2:]) for _, label in legend.ticks]
    assert exponents[0] == math.ceil(span[0]) and exponents[-1] <= math.floor(span[1])
    assert len(exponents) >= 3 and all(0 <= at <= 1 for at, _ in legend.ticks)
    image = legend.grab().toImage()
    right = image.pixelColor(legend.width() - 16, 32)
    assert right.red() > 180 and right.green() < 90  # the bar ends in the colour of the largest
    # badges: every layer's ‖∇‖; fc1's flag says how far it is below fc10, in red, with an outline
    badges = flow.marks.badges
    assert set(badges) == {f"fc{i}" for i in range(1, 11)}
    assert frame.flags["fc1"].startswith("vanishing gradient: ‖∇‖ = 8")
    assert badges["fc1"].text.splitlines()[1:] == frame.flags["fc1"].split(": ", 1)
    assert badges["fc1"].lines[1][1] == FLAG_COLORS["gradient"]
    assert badges["fc1"].text.startswith("‖∇‖ 8")
    assert "‖∂L/∂fc1.weight‖ = " in badges["fc1"].describe()
    outline = flow.marks.outlines["fc1"]
    assert outline.isVisible() and outline.pen().color().name() == QColor(FLAG_COLORS["gradient"]).name()
    assert "fc10" not in flow.marks.outlines or not frame.flags["fc10"].startswith("vanishing")
    # off: the wires' own pens, no badges, no legend
    flow_action(small).trigger()
    assert not flow.action.isChecked()
    assert pens(small) == plain
    assert not legend.isVisible() and flow.marks is None
    assert not any(isinstance(item, type(badges["fc1"])) for item in small.scene.items())
    assert all(edge.describe().count("\n") == 0 for edge in edges.values())


def test_step_batch_shows_the_update_ratios(small: MainWindow, qtbot) -> None:
    flow = small.gradient_flow
    press_run_action(small, "step_batch")  # a trainer waits: turning the view on asks it for a frame
    qtbot.waitUntil(lambda: small.run_tools.session.state == "paused", timeout=BUILD_TIMEOUT)
    flow_action(small).trigger()
    qtbot.waitUntil(lambda: flow.frame is not None, timeout=10_000)
    assert flow.frame.ratios == {} and flow.frame.step == 1
    assert "Δ/w" not in flow.marks.badges["fc10"].text
    press_run_action(small, "step_batch")
    qtbot.waitUntil(lambda: flow.frame.step == 2, timeout=10_000)
    frame = flow.frame
    ratio = frame.ratios["fc10.weight"]
    assert ratio > 0
    badge = flow.marks.badges["fc10"]
    assert f"Δ/w {ratio:.1e}" in badge.text or f"Δ/w {ratio:.2g}" in badge.text
    assert f"‖Δ‖/‖w‖ = {ratio:.6g}" in badge.describe()


def test_a_frame_is_dropped_when_another_file_opens(small: MainWindow, examples: Path, qtbot) -> None:
    flow = small.gradient_flow
    flow_action(small).trigger()
    press_run_action(small, "step_batch")
    qtbot.waitUntil(lambda: flow.frame is not None, timeout=BUILD_TIMEOUT)
    assert small.open_path(examples / "init_he.json")
    assert flow.frame is None and flow.marks is None
    assert flow.legend.isVisible() and flow.legend.caption.startswith("Gradient flow: waiting")
    assert {edge.pen().widthF() for edge in small.scene.edges.values()} == {1.5}


def test_inside_an_open_block_its_inner_wires_show_their_copys_numbers(
    window: MainWindow, examples: Path, qtbot
) -> None:
    from canvas_gestures import click_node
    from PySide6.QtCore import Qt

    assert window.open_path(examples / "resnet_blocks.json")  # res: ResBlock ×3
    flow = window.gradient_flow
    flow_action(window).trigger()
    press_run_action(window, "step_batch")
    qtbot.waitUntil(lambda: flow.frame is not None and flow.frame.step == 1, timeout=BUILD_TIMEOUT)
    frame, top = flow.frame, window.scene
    span = log_range(list(frame.wires.values()))
    out = top.edges[PortRef("act", "x")]  # the block's output: the last copy's skip.out
    assert out.pen().widthF() == pytest.approx(
        wire_pen(frame.wires[("res/3/skip.out", "act.x")], span).widthF()
    )
    into = top.edges[PortRef("res", "x")]  # read by two inner nodes: not drawn
    assert into.flow is None and into.pen().widthF() == 1.5
    click_node(window, "res")
    qtbot.keyClick(window.view, Qt.Key.Key_Return)  # open the block
    qtbot.waitUntil(lambda: window.scene is not top)
    window.breadcrumb.copy.setValue(2)
    inside = window.scene
    assert inside is flow.marks.scene and flow.marks.prefix == "res/2/"
    wire = inside.edges[PortRef("act", "x")]
    norm = frame.wires[("res/2/fc1.out", "res/2/act.x")]
    assert wire.pen().color().name() == wire_pen(norm, span).color().name()
    assert f"{norm:.4g}" in wire.describe()
    badge = flow.marks.badges["fc1"]
    assert badge.describe().startswith("res/2/fc1 at step 1")
    assert {edge.flow is None for edge in top.edges.values()} == {True}  # the file's canvas is plain
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)  # back out: the file's canvas shows the frame again
    qtbot.waitUntil(lambda: window.scene is top)
    assert flow.marks.scene is top and out.flow is not None


def test_the_host_arms_before_a_step_and_collects_after_it(examples: Path, monkeypatch) -> None:
    """Run in this thread: with no wait between frames, every other step is armed, then measured."""
    from graphcore.files.fileformat import dumps, load
    from graphcore.training import host as host_module
    from graphcore.training.host import Request, TrainingHost

    monkeypatch.setattr(host_module, "FLOW_INTERVAL", 0.0)
    frames: list = []
    host = TrainingHost(lambda kind, payload: frames.append(payload) if kind == "flow" else None)
    host.watch_flow = True
    graph = load(examples / "init_he.json")
    host.handle(Request("run", graph_text=dumps(graph), base_dir=str(examples), steps=6))
    steps = [frame.step for frame in frames]
    assert steps[0] == 0 and not frames[0].ratios  # the trainer's first frame, before any step
    assert steps[1:] == [1, 3, 5, 6]  # armed before steps 1, 3, 5; the last one when the run ends
    assert all(frame.ratios for frame in frames[1:4]) and frames[4].ratios == {}
    assert all(0 < frames[1].ratios[f"fc{i}.weight"] < 0.02 for i in range(1, 11))  # He: about 1e-3
    host.watch_flow = False
    host.handle(Request("step"))
    assert len(frames) == 5  # off: no more frames


def test_odd_numbers_in_a_frame_are_drawn_without_a_crash(small: MainWindow) -> None:
    """Zero, NaN, ±inf, 1e-300 and 1e300, and names of another graph: each wire gets a pen."""
    from PySide6.QtCore import Qt

    from graphcore.training.flow import FlowFrame

    flow_action(small).trigger()
    values = [0.0, math.nan, math.inf, 1e-300, 1e300, 1.0]
    wires = {
        (str(edge.src), str(dst)): values[i % len(values)]
        for i, (dst, edge) in enumerate(small.scene.edges.items())
    }
    wires[("ghost.out", "nowhere.x")] = 5.0
    grad_norms = {"fc1.weight": math.nan, "fc1.bias": 1.0, "fc2.weight": math.inf, "ghost.w": 1.0}
    flags = {"fc1": "exploding gradient: ‖∇‖ = nan (not finite)", "ghost": "vanishing gradient: x"}
    small.run_tools.session.flow.emit(FlowFrame(7, wires, grad_norms, {"fc2.weight": math.inf}, flags))
    edges = small.scene.edges
    styles = {values[i % len(values)]: edge.pen() for i, edge in enumerate(edges.values())}
    assert styles[0.0].style() == Qt.PenStyle.DashLine
    assert styles[math.inf].style() == Qt.PenStyle.DotLine and styles[math.inf].widthF() == THICK
    assert styles[1e-300].widthF() == pytest.approx(THIN) and styles[1e300].widthF() == pytest.approx(THICK)
    assert 1 <= len(small.gradient_flow.legend.ticks) <= 6  # 600 decades: a label every 100 or so
    badges = small.gradient_flow.marks.badges
    assert badges["fc1"].text.splitlines() == ["‖∇‖ nan", "exploding gradient", "‖∇‖ = nan (not finite)"]
    assert badges["fc2"].text == "‖∇‖ inf  Δ/w inf"
    assert "ghost" not in badges
