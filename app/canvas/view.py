"""CanvasView: how the user looks at the canvas — zoom, pan, grid, framing — and where things are dropped.

Navigation follows the node editors users know: the wheel zooms around the cursor, the middle
button or Space + drag pans, F frames. Framing never zooms out so far that node titles drop below
READABLE_PX on screen: a graph too big for that is shown from its start, the minimap shows the rest.
Typing (or Tab) on the canvas asks for the quick-add popup and a node type dropped from the palette
asks for a node; the window wires both to the controller.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontInfo,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from app.canvas.items import fonts
from app.canvas.scene import SCENE_HALF, CanvasScene

NODE_MIME = "application/x-backprop-studio-node-type"
MIN_ZOOM, MAX_ZOOM, FRAME_MAX_ZOOM = 0.05, 4.0, 1.25
READABLE_PX = 11  # the smallest on-screen size of a node title that framing allows
FRAME_MARGIN = 40.0  # scene units left around what is framed


def readable_zoom() -> float:
    """The zoom at which node titles are READABLE_PX on screen (the title font's pixels × zoom)."""
    return READABLE_PX / QFontInfo(fonts()["title"][0]).pixelSize()


class CanvasView(QGraphicsView):
    quick_add_requested = Signal(str, QPointF)  # text typed so far, scene position
    node_dropped = Signal(str, QPointF)  # node type, scene position
    view_changed = Signal()
    open_requested = Signal()  # Enter: open the selected block
    leave_requested = Signal()  # Esc: back out of the block shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self._pan_from: QPoint | None = None
        self._space = False
        self._last_mouse: QPoint | None = None
        self._pending_frame: tuple[QRectF, QRectF | None] | None = None
        self.horizontalScrollBar().valueChanged.connect(self.view_changed)
        self.verticalScrollBar().valueChanged.connect(self.view_changed)
        self.view_changed.connect(self._on_view_changed)

    def canvas(self) -> CanvasScene:
        return self.scene()  # type: ignore[return-value]

    def setScene(self, scene: CanvasScene | None) -> None:  # type: ignore[override]
        if not math.isfinite(self.zoom) or self.zoom <= 0:
            self.resetTransform()  # a new scene never inherits a broken zoom (items size themselves by it)
        super().setScene(scene)
        if scene is not None:
            scene.set_zoom(self.zoom)

    def _on_view_changed(self) -> None:
        if self.scene() is not None:
            self.canvas().set_zoom(self.zoom)

    # --- zoom and framing ---------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by `factor`, keeping the scene point under `anchor` (a viewport point) where it is."""
        if not math.isfinite(factor) or factor <= 0:
            return
        if not math.isfinite(self.zoom) or self.zoom <= 0:
            self.resetTransform()  # never stay stuck at "zoom nan%"
        factor = max(MIN_ZOOM / self.zoom, min(MAX_ZOOM / self.zoom, factor))
        spot = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(spot)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        drift = self.mapFromScene(fixed) - spot
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())
        self.view_changed.emit()

    def frame(self, rect: QRectF, start: QRectF | None = None) -> None:
        """Fit `rect` in the view, between readable_zoom() and FRAME_MAX_ZOOM. When it does not fit at
        the readable zoom, show it from `start` (by default its top-left corner) onwards."""
        if rect.isEmpty() or not _finite(rect.x(), rect.y(), rect.width(), rect.height()):
            return
        if not math.isfinite(self.zoom):
            self.resetTransform()
        if not self.isVisible():
            self._pending_frame = (rect, start)  # the viewport has no final size yet
            return
        self._pending_frame = None
        port = self.viewport().rect()
        fit = min(
            port.width() / (rect.width() + 2 * FRAME_MARGIN),
            port.height() / (rect.height() + 2 * FRAME_MARGIN),
        )
        zoom = max(readable_zoom(), min(fit, FRAME_MAX_ZOOM))
        self.setTransform(QTransform.fromScale(zoom, zoom))
        start = start if start is not None else QRectF(rect.topLeft(), rect.topLeft())
        x = _axis_center(rect.left(), rect.right(), start.left(), port.width() / zoom)
        y = _axis_center(rect.top(), rect.bottom(), start.top(), port.height() / zoom)
        self.centerOn(x, y)
        self.view_changed.emit()

    def frame_selection(self) -> None:
        """F: frame the selection, or everything when nothing is selected."""
        scene = self.canvas()
        selected = scene.selectedItems()
        self.frame(scene.items_rect(selected if selected else None))

    def center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def state(self) -> dict[str, Any]:
        """What is saved in meta.view: where the view looks and how close."""
        center = self.center()
        return {"center": [round(center.x(), 1), round(center.y(), 1)], "zoom": round(self.zoom, 4)}

    def restore(self, state: Any) -> bool:
        """Look where meta.view says; False (and nothing changed) when it is not a usable view."""
        try:
            (x, y), zoom = state["center"], float(state["zoom"])
            x, y = float(x), float(y)
        except (TypeError, KeyError, ValueError, OverflowError):
            return False
        if not _finite(x, y, zoom) or zoom <= 0 or max(abs(x), abs(y)) > SCENE_HALF:
            return False
        center = QPointF(x, y)
        self.resetTransform()
        self.zoom_by(zoom)
        self.centerOn(center)
        return True

    def cursor_scene_pos(self) -> QPointF:
        """Where the mouse last was on the canvas (new nodes go there), else the centre."""
        if self._last_mouse is not None and self.viewport().rect().contains(self._last_mouse):
            return self.mapToScene(self._last_mouse)
        return self.center()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pending_frame is not None:
            self.frame(*self._pending_frame)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.view_changed.emit()

    # --- mouse and keys -----------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position().toPoint())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        )
        if pan:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._last_mouse = event.position().toPoint()
        if self._pan_from is not None:
            self.pan_by(self._last_mouse - self._pan_from)
            self._pan_from = self._last_mouse
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, delta: QPoint) -> None:
        """Move the content by `delta` viewport pixels, one axis at a time, painting the strip the
        first uncovers before the second scroll. Left to the event loop, the two strips would be
        painted as one L-shaped region, and under a clip of two rectangles Qt rasterises every wire
        that crosses either strip across the whole view: three times the cost of the strips apart."""
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() - delta.x())
        port, dx = self.viewport(), delta.x()
        if dx and delta.y() and abs(dx) < port.width():
            left = 0 if dx > 0 else port.width() + dx
            port.repaint(QRect(left, 0, abs(dx), port.height()))
        vertical.setValue(vertical.value() - delta.y())

    def event(self, event: QEvent) -> bool:
        """Tab belongs to the canvas (quick add), not to focus navigation."""
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:  # type: ignore[attr-defined]
            self.quick_add_requested.emit("", self.cursor_scene_pos())
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_requested.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.leave_requested.emit()
            return
        text = event.text()
        typing = event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        if typing and text and (text.isalnum() or text in "+-*/@"):
            self.quick_add_requested.emit(text, self.cursor_scene_pos())
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            return
        super().keyReleaseEvent(event)

    # --- drops from the palette -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        event.setAccepted(event.mimeData().hasFormat(NODE_MIME))

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.setAccepted(event.mimeData().hasFormat(NODE_MIME))

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(NODE_MIME):
            event.ignore()
            return
        node_type = bytes(event.mimeData().data(NODE_MIME).data()).decode()
        self.node_dropped.emit(node_type, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()

    # --- grid -------------------------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, exposed: QRectF | QRect) -> None:
        rect = QRectF(exposed)
        scene = self.canvas()
        theme = scene.theme
        painter.fillRect(rect, theme.color("canvas"))
        grid = scene.grid
        for step, color in ((grid, "grid"), (grid * 5, "grid_major")):
            if step * self.zoom < 8:
                continue
            left, top = int(rect.left() // step) * step, int(rect.top() // step) * step
            lines = [QLineF(x, rect.top(), x, rect.bottom()) for x in _range(left, rect.right(), step)]
            lines += [QLineF(rect.left(), y, rect.right(), y) for y in _range(top, rect.bottom(), step)]
            painter.setPen(QPen(theme.color(color), 0))
            painter.drawLines(lines)

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        """The graph's title (meta.title), pinned to the top-left corner of the view."""
        title = self.canvas().graph.meta.get("title")
        if not isinstance(title, str) or not title:
            return
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPointSizeF(12)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(self.canvas().theme.color("muted"))
        painter.drawText(
            QRectF(14, 10, self.viewport().width() - 28, 24),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title,
        )
        painter.restore()


def _axis_center(low: float, high: float, start: float, visible: float) -> float:
    """Where to centre one axis: the middle of [low, high] if it fits in `visible` scene units, else
    so that `start` is near the leading edge without showing empty space past `high`."""
    if high - low + 2 * FRAME_MARGIN <= visible:
        return (low + high) / 2
    leading = max(low - FRAME_MARGIN, min(start - FRAME_MARGIN, high + FRAME_MARGIN - visible))
    return leading + visible / 2


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _range(start: float, stop: float, step: float) -> list[float]:
    count = int((stop - start) // step) + 1
    return [start + i * step for i in range(max(count, 0))]
