"""Real mouse gestures on the canvas for the GUI tests: events sent to the view's viewport, so they
go through the same item, scene, view and controller code as a user's hand."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.window import MainWindow

GRAB = QPointF(40, 10)  # a point on a node's header, away from its ports


def mouse(
    view,
    kind: QEvent.Type,
    at: QPointF | QPoint,
    button=Qt.MouseButton.LeftButton,
    buttons=Qt.MouseButton.LeftButton,
    modifiers=Qt.KeyboardModifier.NoModifier,
) -> None:
    """Send one mouse event to the canvas, at a scene position (QPointF) or a viewport pixel (QPoint)."""
    local = QPointF(view.mapFromScene(at)) if isinstance(at, QPointF) else QPointF(at)
    viewport = view.viewport()
    event = QMouseEvent(
        kind, local, QPointF(viewport.mapToGlobal(local.toPoint())), button, buttons, modifiers
    )
    QApplication.sendEvent(viewport, event)


def drag(
    view,
    start: QPointF | QPoint,
    end: QPointF | QPoint,
    steps: int = 5,
    button=Qt.MouseButton.LeftButton,
    modifiers=Qt.KeyboardModifier.NoModifier,
) -> None:
    """Press at `start`, move in steps, release at `end`: scene positions (QPointF) or viewport pixels
    (QPoint), turned into pixels once, before anything moves, as a hand on the mouse would."""
    first = view.mapFromScene(start) if isinstance(start, QPointF) else start
    last = view.mapFromScene(end) if isinstance(end, QPointF) else end
    mouse(view, QEvent.Type.MouseButtonPress, first, button, button, modifiers)
    for i in range(1, steps + 1):
        point = first + (last - first) * (i / steps)
        mouse(view, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, button, modifiers)
    mouse(view, QEvent.Type.MouseButtonRelease, last, button, Qt.MouseButton.NoButton, modifiers)


def click(view, at: QPointF) -> None:
    """Press and release the left button at a scene position."""
    mouse(view, QEvent.Type.MouseButtonPress, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, buttons=Qt.MouseButton.NoButton)


def click_node(window: MainWindow, node_id: str) -> None:
    """Click a node's header, which selects it and shows it in the inspector."""
    click(window.view, window.scene.nodes[node_id].mapToScene(GRAB))
    window.view.setFocus()  # as the click on the canvas gives it
    assert window.inspector.node_id == node_id


def retype(qtbot, field, text: str) -> None:
    """Click a field, select what is there, type `text` key by key and press Enter."""
    QTest.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def activate(window: MainWindow, qtbot) -> None:
    """Shortcuts reach only the active window."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def port_pos(window: MainWindow, ref: str, output: bool) -> QPointF:
    node, port = ref.split(".")
    return window.scene.nodes[node].port_scene_pos(port, output)


def press_run_action(window: MainWindow, name: str) -> None:
    """Press a Run action's button on its toolbar, as a user would."""
    tools = window.run_tools
    toolbar = next(t for t in tools.toolbars if tools.actions[name] in t.actions())
    QTest.mouseClick(toolbar.widgetForAction(tools.actions[name]), Qt.MouseButton.LeftButton)
