"""The canvas mirrors the model, and navigating it works as in other node editors."""

from __future__ import annotations

import json

import pytest
from canvas_gestures import drag, mouse
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.canvas.scene import CanvasScene
from app.canvas.view import readable_zoom
from app.editing.document import Document
from app.main import DEFAULT_EXAMPLE
from app.theme import LIGHT
from app.window import MainWindow
from graphcore.files.fileformat import load, loads
from graphcore.graph import PortRef
from graphcore.registry import show


def test_the_default_example_opens_laid_out_and_valid(window: MainWindow):
    assert window.open_path(DEFAULT_EXAMPLE)
    graph = window.document.graph
    assert set(window.scene.nodes) == {n.id for n in graph.nodes}
    assert set(window.scene.edges) == {dst for _, dst in graph.edges}
    assert window.document.report.ok and "No problems" in window.diagnostics.summary.text()
    assert_readable_from_the_start(window.view, window.scene.nodes[graph.nodes[0].id])


def test_items_show_the_model(neuron: MainWindow):
    scene, graph, report = neuron.scene, neuron.document.graph, neuron.document.report
    for node in graph.nodes:
        item = scene.nodes[node.id]
        assert (item.x(), item.y()) == node.pos
        assert item.title == node.title
    for src, dst in graph.edges:
        assert scene.edges[dst].src == src
        assert scene.edges[dst].label == show(report.shapes[str(src)])
    assert set(scene.nodes["wx"].inputs) == {"a", "b"} and set(scene.nodes["wx"].outputs) == {"out"}
    assert "shape []" in scene.nodes["t"].outputs["out"].describe()


def test_ports_are_easy_to_aim_at_and_the_nearest_one_wins(neuron: MainWindow):
    """A press 9.5 px below wx.a (10.5 px above wx.b, rows 20 apart) takes wx.a: it picks up the
    edge into it, which moves to relu.x, dropped 10 px left of that port."""
    relu = neuron.controller.add_node("relu", QPointF(700, 400))
    item = neuron.scene.nodes["wx"]
    assert item.inputs["b"].pos.y() - item.inputs["a"].pos.y() == 20
    start = neuron.scene.port_scene_pos(PortRef("wx", "a"), False) + QPointF(0, 9.5)
    end = neuron.scene.port_scene_pos(PortRef(relu, "x"), False) + QPointF(-10, 0)
    drag(neuron.view, start, end)
    graph = neuron.document.graph
    assert graph.source_of(PortRef(relu, "x")) == PortRef("w", "out")
    assert graph.source_of(PortRef("wx", "a")) is None
    assert graph.source_of(PortRef("wx", "b")) == PortRef("x", "out")


def test_a_node_keeps_its_width_whatever_its_label_and_values(neuron: MainWindow):
    """Ports stay put when a node is renamed or a value edited; long texts are elided instead."""
    controller, half = neuron.controller, neuron.scene.nodes["half"]
    width, out = half.width, half.port_scene_pos("out", True)
    assert half.param_lines == ["value = 0.5"]
    controller.set_param("half", "value", [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]])
    controller.set_label("half", "one half, the factor in front of the squared error")
    assert (half.width, half.port_scene_pos("out", True)) == (width, out)
    assert half.param_lines[0].endswith("…") and half.title.endswith("…")
    fresh = neuron.scene.nodes[controller.add_node("Constant", QPointF(700, 400))]
    assert fresh.param_lines == ["value = 1.0"]  # a Constant always shows what it is


def test_dragging_a_node_is_one_undo_step_and_snaps(neuron: MainWindow):
    view, item, stack = neuron.view, neuron.scene.nodes["t"], neuron.document.stack
    before = neuron.document.graph.node("t").pos
    grab = item.mapToScene(QPointF(40, 10))
    drag(view, grab, grab + QPointF(93, 47), steps=12)
    moved = neuron.document.graph.node("t").pos
    assert moved == (item.x(), item.y()) != before
    assert moved[0] % 20 == 0 and moved[1] % 20 == 0  # snapped to the grid
    assert stack.count() == 1 and stack.text(0).startswith("Move")
    edge = neuron.scene.edges[next(dst for src, dst in neuron.document.graph.edges if src.node == "t")]
    assert edge.path().pointAtPercent(0) == item.port_scene_pos("out", True)  # its edge followed
    stack.undo()
    assert neuron.document.graph.node("t").pos == before == (item.x(), item.y())


def test_moving_without_snap_keeps_the_exact_position(neuron: MainWindow):
    neuron.menu["snap"].trigger()
    assert not neuron.scene.snap
    neuron.view.zoom_by(1 / neuron.view.zoom)  # 1:1, so a mouse step is exactly one scene unit
    item = neuron.scene.nodes["t"]
    grab = item.mapToScene(QPointF(40, 10))
    start = neuron.document.graph.node("t").pos
    drag(neuron.view, grab, grab + QPointF(13, 7))
    assert neuron.document.graph.node("t").pos == (start[0] + 13, start[1] + 7)


def test_rubber_band_click_and_select_all(neuron: MainWindow, qtbot):
    scene, view = neuron.scene, neuron.view
    rect = scene.nodes["w"].sceneBoundingRect().united(scene.nodes["x"].sceneBoundingRect())
    drag(view, rect.topLeft() - QPointF(15, 15), rect.bottomRight() + QPointF(5, 5))
    assert scene.selected_node_ids() == ["w", "x"]
    mouse(view, QEvent.Type.MouseButtonPress, scene.nodes["t"].mapToScene(QPointF(30, 40)))
    mouse(
        view,
        QEvent.Type.MouseButtonRelease,
        scene.nodes["t"].mapToScene(QPointF(30, 40)),
        buttons=Qt.MouseButton.NoButton,
    )
    assert scene.selected_node_ids() == ["t"]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert set(scene.selected_node_ids()) == set(scene.nodes)


def test_wheel_zooms_around_the_cursor(neuron: MainWindow):
    view = neuron.view
    spot = QPoint(200, 150)
    under = view.mapToScene(spot)
    zoom = view.zoom
    event = QWheelEvent(
        QPointF(spot),
        QPointF(view.viewport().mapToGlobal(spot)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom > zoom * 1.3
    after = view.mapToScene(spot)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2


def test_middle_drag_and_space_drag_pan(neuron: MainWindow, qtbot):
    view = neuron.view
    center = view.center()
    drag(view, QPoint(300, 300), QPoint(350, 320), button=Qt.MouseButton.MiddleButton)
    moved = view.center()
    assert abs((center - moved).x() - 50 / view.zoom) < 2
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag(view, QPoint(300, 300), QPoint(300, 200))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert abs((view.center() - moved).y() - 100 / view.zoom) < 2
    assert neuron.document.stack.count() == 0 and neuron.scene.selected_node_ids() == []


def test_a_diagonal_pan_shows_what_a_full_repaint_draws(neuron: MainWindow):
    """A pan paints only the strips it uncovers, one axis at a time (CanvasView.pan_by): what is on
    screen afterwards is the canvas as a fresh full paint draws it, up to antialiasing noise."""
    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("reads the window's backing store, which the offscreen platform hands out")
    view = neuron.view
    viewport = view.viewport()
    mouse(view, QEvent.Type.MouseButtonPress, QPoint(300, 300), Qt.MouseButton.MiddleButton)
    for step in range(1, 16):
        at = QPoint(300 - 7 * step, 300 - 5 * step)
        mouse(view, QEvent.Type.MouseMove, at, Qt.MouseButton.NoButton, Qt.MouseButton.MiddleButton)
        QApplication.processEvents()  # each move paints before the next, as on screen
    mouse(view, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.MiddleButton, Qt.MouseButton.NoButton)
    QApplication.processEvents()
    area = QRect(viewport.mapTo(neuron, QPoint(0, 0)), viewport.size())  # with what lies over it
    shown = QGuiApplication.primaryScreen().grabWindow(neuron.winId()).toImage().copy(area)
    fresh = neuron.grab(area).toImage()
    fmt = QImage.Format.Format_RGB32
    shown, fresh = shown.convertToFormat(fmt), fresh.convertToFormat(fmt)
    assert shown.size() == fresh.size()
    gaps = (
        max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue()))
        for y in range(0, shown.height(), 2)
        for x in range(0, shown.width(), 2)
        if (a := QColor(shown.pixel(x, y))) != (b := QColor(fresh.pixel(x, y)))
    )
    assert max(gaps, default=0) <= 12


def test_f_frames_the_selection_then_everything(neuron: MainWindow, qtbot):
    view, scene = neuron.view, neuron.scene
    view.zoom_by(0.2)
    scene.select_nodes(["t"])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.viewport().rect().contains(view.mapFromScene(scene.nodes["t"].sceneBoundingRect().center()))
    assert view.zoom > 1
    scene.clearSelection()
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert_readable_from_the_start(view, scene.nodes[neuron.document.graph.nodes[0].id])


def assert_readable_from_the_start(view, first) -> None:
    """Framing everything shows the whole graph if it fits at a readable zoom, else its first node."""
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert view.zoom >= readable_zoom() - 1e-9
    assert visible.contains(first.sceneBoundingRect())


def test_minimap_marks_the_view_and_moves_it(neuron: MainWindow, qtbot):
    minimap = neuron.minimap
    minimap.refresh()
    assert len(minimap.boxes) == len(neuron.scene.nodes)
    target = neuron.scene.nodes["L"].sceneBoundingRect().center()
    world, scale = minimap._transform()
    point = minimap._to_widget(neuron.scene.nodes["L"].sceneBoundingRect(), world, scale).center().toPoint()
    qtbot.mouseClick(minimap, Qt.MouseButton.LeftButton, pos=point)
    center = neuron.view.center()
    assert abs(center.x() - target.x()) < 10 / scale and abs(center.y() - target.y()) < 10 / scale


def test_saved_view_state_is_restored(neuron: MainWindow, examples, qtbot):
    neuron.view.zoom_by(1.7)
    neuron.view.centerOn(QPointF(300, 100))
    zoom, center = neuron.view.zoom, neuron.view.center()
    assert neuron.save()
    assert load(examples / "sigmoid_neuron.json").meta["view"]["zoom"] == round(zoom, 4)
    neuron.new_document()
    assert neuron.open_path(examples / "sigmoid_neuron.json")
    assert abs(neuron.view.zoom - zoom) < 1e-3
    assert abs(neuron.view.center().x() - center.x()) < 2 and abs(neuron.view.center().y() - center.y()) < 2


def test_a_placeholder_grown_by_a_later_port_moves_its_earlier_edges(qapp):
    """A node of a type this build does not know gets a port per edge; when a long port name widens
    it, the wires already on its output side must move with the output ports."""
    text = json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "a", "type": "Input", "params": {"shape": ["N", 3]}, "pos": [0, 0]},
                {"id": "b", "type": "relu", "pos": [400, 0]},
                {"id": "p", "type": "FutureOp", "pos": [200, 0]},
            ],
            "edges": [  # b's input is connected first: p's output port exists before its wide input
                {"from": "p.some_rather_long_output_name", "to": "b.x"},
                {"from": "a.out", "to": "p.a_long_input_port_name"},
            ],
        }
    )
    document = Document(loads(text))
    scene = CanvasScene(document, LIGHT)
    try:
        for dst, edge in scene.edges.items():
            assert edge.path().pointAtPercent(0) == scene.port_scene_pos(edge.src, True), dst
            assert edge.path().pointAtPercent(1) == scene.port_scene_pos(dst, False), dst
    finally:
        document.close()
        document.deleteLater()
