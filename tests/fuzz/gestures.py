"""Real mouse and keyboard gestures for the edit fuzz, on a shown view: wires and nodes dragged on
the viewport (sometimes with a shortcut halfway), rubber bands, shortcuts typed on the canvas,
double clicks on group title bars. They reach the same item, scene, view and controller code as a
user's hand, which the controller-level edits in edits.py skip.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from canvas_gestures import drag, mouse
from edits import Canvas, pick_nodes, pick_ports, port_names, visible_ids
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from app.canvas.items import HEADER
from graphcore.graph import PortRef


def frame_on(canvas: Canvas, rect: QRectF) -> None:
    """Centre `rect` in the view at a zoom where ports can be aimed at (Qt maps a press outside the
    viewport's rectangle to the scene all the same, so a wide rect needs no zooming out)."""
    view = canvas.view
    view.frame(rect)
    view.zoom_by(1 / view.zoom)
    view.centerOn(rect.center())


def drag_wire(canvas: Canvas, rng: random.Random) -> str | None:
    """A real mouse drag from one port to another (or to empty canvas) on the viewport; now and then
    the keyboard acts halfway (Ctrl+Z, Delete), as a user's other hand may. Often the wire starts
    at a node added just before, the way a graph is built (and Ctrl+Z then takes that node away)."""
    added = rng.choice((None, "relu", "Linear", "add")) if len(canvas.scene.nodes) > 1 else None
    if added is not None:
        added = canvas.controller.add_node(added, canvas.view.center() + QPointF(200, 120))
    ports = pick_ports(canvas, rng, only_visible=True)
    if ports is None:
        return None
    src, dst = ports
    if added is not None:
        src = next((p for p in (PortRef(added, n) for n in port_names(canvas, added, True))), src)
    scene = canvas.scene
    rect = scene.nodes[src.node].sceneBoundingRect().united(scene.nodes[dst.node].sceneBoundingRect())
    frame_on(canvas, rect)
    start, end = scene.port_scene_pos(src, True), scene.port_scene_pos(dst, False)
    if rng.random() < 0.5:
        start, end = end, start
    if rng.random() < 0.15:
        end = rect.bottomRight() + QPointF(30, 30)
    meanwhile = rng.choice((None, None, "undo", "undo", "redo", "delete", "select_all"))
    if meanwhile is None:
        drag(canvas.view, start, end)
    else:
        drag_acting(canvas, start, end, meanwhile)
    scene.clearSelection()
    return (
        (f"add {added}, then " if added else "")
        + f"drag wire {src} → {dst} from ({start.x():.0f}, {start.y():.0f}) to ({end.x():.0f}, {end.y():.0f})"
        + (f", {meanwhile} halfway" if meanwhile else "")
    )


def drag_acting(canvas: Canvas, start: QPointF, end: QPointF, action: str) -> None:
    """A mouse drag with a menu action (its shortcut) halfway, turned into pixels before anything moves."""
    view, buttons = canvas.view, Qt.MouseButton
    first, last = view.mapFromScene(start), view.mapFromScene(end)
    mouse(view, QEvent.Type.MouseButtonPress, first)
    mouse(view, QEvent.Type.MouseMove, first + (last - first) / 2, buttons.NoButton)
    canvas.act(action)
    mouse(view, QEvent.Type.MouseMove, last, buttons.NoButton)
    mouse(view, QEvent.Type.MouseButtonRelease, last, buttons.LeftButton, buttons.NoButton)


def drag_node(canvas: Canvas, rng: random.Random) -> str | None:
    """A real mouse drag of a node by its header, or of a group by its title bar."""
    scene = canvas.scene
    frames = [b for b in scene.backdrops.values() if b.isVisible()]
    if frames and rng.random() < 0.3:
        item = rng.choice(frames)
        grab = item.mapToScene(QPointF(20, HEADER / 2))
        what = item.group_id
    else:
        ids = visible_ids(canvas)
        if not ids:
            return None
        item = scene.nodes[rng.choice(ids)]
        grab = item.mapToScene(QPointF(item.width / 2, HEADER / 2))
        what = item.node.id
    by = QPointF(rng.choice((40, -60, 25)), rng.choice((0, 40, -35)))
    frame_on(canvas, item.sceneBoundingRect().adjusted(-80, -80, 80, 80))
    meanwhile = rng.choice((None, None, None, "undo", "redo", "delete", "layout", "collapse"))
    if meanwhile is None:
        drag(canvas.view, grab, grab + by)
    else:
        drag_acting(canvas, grab, grab + by, meanwhile)
    return f"drag {what} by ({by.x()}, {by.y()})" + (f", {meanwhile} halfway" if meanwhile else "")


KEYS = (
    ("Delete", Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier),
    ("Ctrl+D", Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+G", Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+Shift+G", Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
    ("Ctrl+E", Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+X", Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+V", Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+Z", Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+Y", Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier),
    ("Ctrl+L", Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier),
)


def band_and_key(canvas: Canvas, rng: random.Random) -> str | None:
    """A rubber band dragged around a few nodes (from empty canvas, when there is some), then a
    shortcut typed on the canvas."""
    scene, view = canvas.scene, canvas.view
    ids = [i for i in pick_nodes(canvas, rng, 2) if scene.nodes[i].isVisible()]
    if not ids:
        return None
    rect = QRectF()
    for node_id in ids:
        rect = rect.united(scene.nodes[node_id].sceneBoundingRect())
    frame_on(canvas, rect.adjusted(-60, -60, 60, 60))
    drag(view, rect.topLeft() - QPointF(25, 45), rect.bottomRight() + QPointF(10, 10))
    name, key, modifiers = rng.choice(KEYS)
    view.setFocus()
    if name == "Ctrl+V":
        QTest.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(view, key, modifiers)
    return f"band around {ids}, then {name} on {scene.selected_node_ids()}"


def double_click_frame(canvas: Canvas, rng: random.Random) -> str | None:
    """A double click on a group's title bar: collapse or expand it."""
    frames = [b for b in canvas.scene.backdrops.values() if b.isVisible()]
    if not frames:
        return None
    frame = rng.choice(frames)
    frame_on(canvas, frame.sceneBoundingRect())
    at = frame.mapToScene(QPointF(20, HEADER / 2))
    view, none = canvas.view, Qt.MouseButton.NoButton
    event = QEvent.Type
    for kind in (
        event.MouseButtonPress,
        event.MouseButtonRelease,
        event.MouseButtonDblClick,
        event.MouseButtonRelease,
    ):
        released = kind == event.MouseButtonRelease
        mouse(view, kind, at, buttons=none if released else Qt.MouseButton.LeftButton)
    return f"double-click {frame.group_id}"


GESTURES: list[tuple[Callable[[Canvas, random.Random], str | None], int]] = [
    (drag_wire, 10),
    (drag_node, 5),
    (band_and_key, 6),
    (double_click_frame, 2),
]
