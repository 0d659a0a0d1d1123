"""The minimap: the whole graph in miniature with the visible area marked; click or drag to go there.

The map's extent is the graph's, not the view's, so dragging in it is stable. It draws plain
rectangles from the items' positions rather than rendering the scene, and keeps them drawn in a
pixmap, so a pan or zoom repaints only the pixmap and the visible area's frame (a 10,000-node graph
pans as smoothly as a small one); redraws after scene changes are coalesced by a short timer.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from app.canvas.view import CanvasView

MARGIN = 6.0


class Minimap(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: CanvasView | None = None
        self.world = QRectF()
        self.boxes: list[tuple[QRectF, QColor]] = []
        self._extent = QRectF()  # the boxes' union, found once per refresh
        self._drawn: tuple[QPixmap, QSize, str] | None = None  # the boxes as last drawn, at a size and theme
        self._timer = QTimer(self, singleShot=True, interval=100)
        self._timer.timeout.connect(self.refresh)
        self.setMinimumSize(120, 60)
        # it paints every pixel (the pixmap), so Qt need not repaint the dock behind it on each pan
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole graph; click or drag to move the view")

    def sizeHint(self) -> QSize:
        return QSize(240, 160)

    def bind(self, view: CanvasView) -> None:
        """Follow this view: call once, then `follow_scene` for each scene it shows."""
        self.view = view
        view.view_changed.connect(self.update)

    def follow_scene(self) -> None:
        """The view shows a new scene (another document): redraw when that scene changes."""
        assert self.view is not None
        self.view.canvas().changed.connect(self._on_scene_changed)
        self.refresh()

    def _on_scene_changed(self, _regions: object) -> None:
        self._timer.start()

    def refresh(self) -> None:
        """Re-read item rectangles from the scene (after edits or drags). Any repaint of an item (a
        hover, a selection) asks for this too: when no box moved, nothing is drawn again."""
        scene = self.view.canvas() if self.view is not None else None
        if scene is None:  # between documents
            return
        boxes = []
        for backdrop in scene.backdrops.values():
            if backdrop.isVisible():
                color = QColor(backdrop.color)
                color.setAlpha(255 if backdrop.collapsed else 70)
                boxes.append((backdrop.sceneBoundingRect(), color))
        for item in scene.nodes.values():
            if item.isVisible():  # nodes are untransformed top-level items: this is sceneBoundingRect
                boxes.append((item.boundingRect().translated(item.pos()), item.color))
        if boxes == self.boxes and self._drawn is not None:
            return
        self.boxes = boxes
        self._extent = QRectF()
        for rect, _ in self.boxes:
            self._extent = self._extent.united(rect)
        self._drawn = None
        self.update()

    def _transform(self) -> tuple[QRectF, float]:
        """The world rect shown (graph and visible area) and its scale into this widget."""
        world = QRectF(self._extent)
        if world.isEmpty() and self.view is not None:
            world = self._visible()  # nothing drawn yet: show where the view is
        world = world.adjusted(-60, -60, 60, 60)
        area = QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        scale = min(area.width() / max(world.width(), 1.0), area.height() / max(world.height(), 1.0))
        return world, scale

    def _visible(self) -> QRectF:
        assert self.view is not None
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def _to_widget(self, rect: QRectF, world: QRectF, scale: float) -> QRectF:
        return _scaled(rect, self._origin(world, scale), scale)

    def _origin(self, world: QRectF, scale: float) -> QPointF:
        """Where the scene's (0, 0) lands in this widget."""
        offset = self._offset(world, scale)
        return QPointF(offset.x() - world.x() * scale, offset.y() - world.y() * scale)

    def _offset(self, world: QRectF, scale: float) -> QPointF:
        return QPointF(
            (self.width() - world.width() * scale) / 2, (self.height() - world.height() * scale) / 2
        )

    def to_scene(self, point: QPointF) -> QPointF:
        world, scale = self._transform()
        offset = self._offset(world, scale)
        return QPointF(
            world.x() + (point.x() - offset.x()) / scale, world.y() + (point.y() - offset.y()) / scale
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self.view is None or self.view.canvas() is None:  # opaque: what shows must be painted
            painter.fillRect(self.rect(), self.palette().window())
            painter.end()
            return
        theme = self.view.canvas().theme
        world, scale = self._transform()
        painter.drawPixmap(0, 0, self._boxes_pixmap(world, scale))
        visible = self._to_widget(self._visible(), world, scale)
        painter.setPen(QPen(theme.color("selection"), 2.0))
        painter.setBrush(theme.color("selection", 18))
        painter.drawRect(visible.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        painter.end()

    def _boxes_pixmap(self, world: QRectF, scale: float) -> QPixmap:
        """The canvas colour and the boxes, drawn again only after a refresh, a resize or a new theme."""
        assert self.view is not None
        theme = self.view.canvas().theme
        canvas = theme.color("canvas")
        if self._drawn is not None and self._drawn[1:] == (self.size(), canvas.name()):
            return self._drawn[0]
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(canvas)
        painter = QPainter(pixmap)
        painter.setPen(Qt.PenStyle.NoPen)
        origin = self._origin(world, scale)  # once, not once per box
        for rect, color in self.boxes:
            painter.fillRect(_scaled(rect, origin, scale), color)
        painter.end()
        self._drawn = (pixmap, self.size(), canvas.name())
        return pixmap

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._go(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event)

    def _go(self, event: QMouseEvent) -> None:
        if self.view is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self.to_scene(event.position()))
            self.update()


def _scaled(rect: QRectF, origin: QPointF, scale: float) -> QRectF:
    """A scene rectangle in the widget, whose scene (0, 0) is at `origin`."""
    return QRectF(
        origin.x() + rect.x() * scale,
        origin.y() + rect.y() * scale,
        rect.width() * scale,
        rect.height() * scale,
    )
