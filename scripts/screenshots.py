"""Screenshots of the real app for the README: each example, both themes, and the editor's key states.

    xvfb-run -a python scripts/screenshots.py            # writes docs/screenshots/*.png
    xvfb-run -a python scripts/screenshots.py --only blocks   # just the shots named

It opens the real MainWindow (with throwaway settings, so yours are untouched), drives it the way a
user would (selecting, dragging a wire, opening quick-add) and saves a grab of the whole window.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.examples import DEFAULT_EXAMPLE, EXAMPLES  # noqa: E402
from app.window import MainWindow  # noqa: E402
from graphcore.files.fileformat import save  # noqa: E402
from graphcore.graph import Graph, Node, PortRef  # noqa: E402
from graphcore.registry import REGISTRY  # noqa: E402
from scripts.screenshot_documents import residual_blocks_document  # noqa: E402
from scripts.shots_flow import shots as flow_shots  # noqa: E402
from scripts.shots_formulas import shots as formulas_shots  # noqa: E402
from scripts.shots_landscape import shots as landscape_shots  # noqa: E402
from scripts.shots_practice import shots as practice_shots  # noqa: E402

SIZE = (1920, 1080)  # a common screen: the default example fits at its readable zoom


def settle(app: QApplication) -> None:
    for _ in range(3):
        app.processEvents()


def press_and_hover(window: MainWindow, start: QPointF, over: QPointF) -> None:
    """Begin a wire at `start` and hold it over `over` (the mouse button stays down)."""
    viewport = window.view.viewport()
    for kind, at, button, buttons in (
        (QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton),
        (QEvent.Type.MouseMove, over, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton),
    ):
        local = QPointF(window.view.mapFromScene(at))
        modifiers = Qt.KeyboardModifier.NoModifier
        event = QMouseEvent(kind, local, viewport.mapToGlobal(local), button, buttons, modifiers)
        QApplication.sendEvent(viewport, event)


def port(window: MainWindow, ref: str, output: bool) -> QPointF:
    node, name = ref.split(".")
    return window.scene.nodes[node].port_scene_pos(name, output)


def refused_wire(window: MainWindow) -> None:
    """Mid-drag: L.out held over w·x's input a, which would close a cycle: red, with the reason."""
    window.open_path(DEFAULT_EXAMPLE)
    press_and_hover(window, port(window, "L.out", True), port(window, "wx.a", False))


def problems(window: MainWindow) -> None:
    """A shape mismatch and a loose node: red nodes and edges, listed in the Problems panel."""
    window.open_path(EXAMPLES / "xor.json")
    graph = window.document.graph
    layer = next(n.id for n in graph.nodes if n.type == "Linear")
    window.controller.set_param(layer, "in_features", 3)
    right = max(item.sceneBoundingRect().right() for item in window.scene.nodes.values())
    window.controller.add_node("tanh", QPointF(right - 60, -60))
    window.frame_all()
    window.show_node(layer)
    window.frame_all()


def quick_add(window: MainWindow) -> None:
    """Tab on the canvas, then typing: the quick-add list at the cursor."""
    window.open_path(DEFAULT_EXAMPLE)
    window.view.setFocus()
    at = window.scene.nodes["L"].sceneBoundingRect().bottomLeft() + QPointF(0, 60)
    window._open_quick_add("", at, None)
    window.quick_add.edit.setText("squash")


def groups(window: MainWindow) -> None:
    """Two groups: the neuron's pre-activation as a frame, the loss collapsed to one box."""
    window.open_path(EXAMPLES / "sigmoid_neuron.json")
    controller, scene = window.controller, window.scene
    scene.select_nodes(["w", "x", "b", "wx", "z"])
    first = controller.group_selection()
    controller.set_group(first, "Rename group", title="z = wx + b")
    scene.select_nodes(["r", "sq", "half", "L"])
    second = controller.group_selection()
    controller.set_group(second, "Rename group", title="loss ½(y − t)²")
    controller.toggle_collapsed(second)
    scene.select([scene.backdrops[first]])
    window.frame_all()


def hundred_nodes(window: MainWindow) -> None:
    """A hundred nodes on screen (ten chains of ten), auto-laid-out: titles grow when zoomed out."""
    unary = [
        t
        for t, s in REGISTRY.items()
        if s.inputs == ("x",) and s.outputs == ("out",) and not s.param_problems({})
    ][:9]
    graph = Graph()
    for chain in range(10):
        previous = graph.add_node(Node(f"x{chain}", "Input", {"shape": ["N", 8]}, f"x{chain}"))
        for step in range(9):
            node = graph.add_node(Node(f"n{chain}_{step}", unary[(chain + step) % len(unary)]))
            graph.connect(PortRef(previous.id, "out"), PortRef(node.id, "x"))
            previous = node
    path = Path(tempfile.mkdtemp()) / "hundred.json"
    save(graph, path)
    window.open_path(path)
    window.auto_layout()


def wait_for(app: QApplication, done: Callable[[], bool], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def training(window: MainWindow) -> None:
    """Two moons mid-training: the loss and gradient-norm plots and the decision boundary filling in."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "two_moons.json")
    tools = window.run_tools
    window.scene.select_nodes(["fc2"])
    tools.actions["start"].trigger()
    wait_for(app, lambda: tools.plots.buffers["train loss"].last_x >= 250, seconds=240)
    tools.actions["pause"].trigger()
    wait_for(app, lambda: tools.session.state == "paused")
    plots, boundary = window.docks["plots"], window.docks["boundary"]
    window.removeDockWidget(boundary)  # out of the tabs, beside the plots
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, boundary, Qt.Orientation.Horizontal)
    boundary.show()
    plots.raise_()
    window.docks["train"].raise_()
    window.resizeDocks([plots], [360], Qt.Orientation.Vertical)
    window.resizeDocks([plots, boundary], [1180, 400], Qt.Orientation.Horizontal)
    for side in ("palette", "minimap"):  # the whole network in view, at a readable zoom, loss included
        window.docks[side].hide()
    tools.plots.redraw()
    settle(app)
    window.frame_all()


def stepper_backward(window: MainWindow) -> None:
    """The sigmoid neuron stepped into the backward pass: badges, the current node, the side panel."""
    window.open_path(EXAMPLES / "sigmoid_neuron.json")
    tools = window.run_tools
    tools.actions["stepper_mode"].setChecked(True)
    for _ in range(15):  # forward through L, backward through L, sq and r, to t = σ(z)
        tools.actions["step"].trigger()
    tools.stepper.overlay.animation.setCurrentTime(tools.stepper.overlay.animation.duration() // 2)
    tools.stepper.overlay.animation.pause()
    window.resizeDocks([window.docks["stepper"]], [380], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["diagnostics"]], [110], Qt.Orientation.Vertical)
    settle(QApplication.instance())
    window.frame_all()


def blocks(window: MainWindow) -> None:
    """A residual block repeated 3 times, stepped back to copy 2's Linear and opened at copy 2: the
    breadcrumb says where ("file ▸ Residual", "copy 2 of 3"), the inner nodes wear copy 2's values and
    gradients, the block's input and output are badged."""
    path = Path(tempfile.mkdtemp()) / "residual_blocks.json"
    path.write_text(json.dumps(residual_blocks_document()), encoding="utf-8")
    window.open_path(path)
    tools = window.run_tools
    tools.actions["stepper_mode"].setChecked(True)
    session = tools.stepper.session
    while session is not None and not session.at_end:
        tools.actions["step"].trigger()
        event = session.current
        if event is not None and event.phase == "backward" and event.node == "res/2/fc":
            break  # copy 2's Linear, its weight gradients in the panel
    window.blocks.open("res")
    window.breadcrumb.copy.setValue(2)
    window.resizeDocks([window.docks["stepper"]], [380], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["diagnostics"]], [110], Qt.Orientation.Vertical)
    settle(QApplication.instance())
    window.frame_all()


def lab_path_view(window: MainWindow) -> None:
    """The derivative lab's path view on e = (a + b)(b + 1), reverse mode stepped to the fan-out at b."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "path_sum.json")
    view = window.lab.path_view
    view.choose(x="b.out", z="e.out")
    window.lab.show_paths(True)
    wait_for(app, lambda: view.data is not None)
    view.set_direction("backward")
    view.reset()
    while view.step() not in ("b", None):
        pass
    window.resizeDocks([window.lab.docks["paths"]], [420], Qt.Orientation.Horizontal)
    window.frame_all()


def lab_jacobian(window: MainWindow) -> None:
    """The Jacobian lab on XOR: ∂(p, loss)/∂(x, fc1) by forward mode, reverse mode and differences."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "xor.json")
    dock = window.lab.jacobian
    window.lab.open("jacobian")
    window.resizeDocks([window.lab.docks["jacobian"]], [430], Qt.Orientation.Vertical)
    dock.choose(["p.out", "loss.out"], ["x.out", "fc1.out"])
    dock.compute()
    wait_for(app, lambda: dock.results is not None)
    window.frame_all()


def lab_derivative_training(window: MainWindow) -> None:
    """The live derivative plot following two-moons training: ∂loss/∂h1 by both modes, step by step."""
    app = QApplication.instance()
    window.open_path(EXAMPLES / "two_moons.json")
    plot = window.lab.derivative_plot
    window.lab.open("derivative")
    window.resizeDocks([window.lab.docks["derivative"]], [400], Qt.Orientation.Vertical)
    for combo, label in ((plot.of_choice, "loss"), (plot.wrt_choice, "h1[3]")):
        combo.setCurrentIndex(combo.findText(label))
    plot.follow.setChecked(True)
    tools = window.run_tools
    tools.actions["start"].trigger()
    wait_for(app, lambda: max(plot.points, default=0) >= 600, seconds=240)
    tools.actions["pause"].trigger()
    wait_for(app, lambda: tools.session.state == "paused" and plot._job is None)
    window.lab.open("derivative")  # Start brought the training plots to the front
    window.resizeDocks([window.lab.docks["derivative"]], [440], Qt.Orientation.Vertical)
    plot._redraw()
    settle(app)
    window.frame_all()


def lab_shots() -> list[tuple[str, str, Callable[[MainWindow], None]]]:
    """The derivative lab's shots (app/lab)."""
    return [
        ("lab-path-view", "light", lab_path_view),
        ("lab-jacobian", "light", lab_jacobian),
        ("lab-derivative-training", "light", lab_derivative_training),
    ]


def example(path: Path, select: str | None = None) -> Callable[[MainWindow], None]:
    def show(window: MainWindow) -> None:
        window.open_path(path)
        if select and select in window.scene.nodes:
            window.scene.select_nodes([select])

    return show


def main() -> None:
    from scripts.shots_inputs import shots as inputs_shots  # it imports wait_for from here

    parser = argparse.ArgumentParser(description="Save PNG screenshots of the app into docs/screenshots/.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", nargs="*", help="names of the shots to take (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Backprop Studio")
    settings_dir = Path(tempfile.mkdtemp())
    shots: list[tuple[str, str, Callable[[MainWindow], None]]] = [
        ("main-light", "light", example(DEFAULT_EXAMPLE, "t")),
        ("main-dark", "dark", example(DEFAULT_EXAMPLE, "t")),
        ("wiring-refused", "light", refused_wire),
        ("problems", "light", problems),
        ("quick-add", "dark", quick_add),
        ("groups", "light", groups),
        ("hundred-nodes", "light", hundred_nodes),
        ("training", "light", training),
        ("stepper-backward", "light", stepper_backward),
        ("blocks", "light", blocks),
    ]
    shots += [(f"example-{p.stem}", "light", example(p)) for p in sorted(EXAMPLES.glob("*.json"))]
    shots += lab_shots()
    shots += practice_shots()
    shots += formulas_shots()
    shots += inputs_shots()
    shots += landscape_shots()
    shots += flow_shots()
    for name, theme, arrange in shots:
        if args.only and name not in args.only:
            continue
        settings = QSettings(str(settings_dir / f"{name}.ini"), QSettings.Format.IniFormat)
        settings.setValue("theme", theme)
        window = MainWindow(settings)
        window.resize(*SIZE)
        window.show()
        settle(app)
        arrange(window)
        window.minimap.refresh()
        settle(app)
        target = args.out / f"{name}.png"
        window.grab().save(str(target))
        print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
        window.ask_save_changes = lambda: "discard"
        window.close()
        settle(app)


if __name__ == "__main__":
    main()
