"""What the stepper draws over the canvas: a badge per node (its value, then the gradient that has
reached it), a frame around the current node, and dots running along the edges being traversed
(with the data in the forward pass, against it in the backward pass).

These items only decorate the scene; they are removed when the stepper stops, and the canvas'
own items are never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEasingCurve, QLineF, QObject, QPointF, QRectF, Qt, QVariantAnimation
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.items import HEADER, NodeItem, paint_badge
from app.canvas.scene import CanvasScene
from app.stepper.format import describe
from app.stepper.placement import GAP, free_spot, is_free
from graphcore.graph import PortRef

PHASE_COLORS = {"forward": "#2563eb", "backward": "#ea580c", "accumulate": "#9333ea", "nonfinite": "#dc2626"}
GRAD_COLOR = "#c2410c"


class Badge(QGraphicsItem):
    """A node's value and gradient in a small box beside it (a thin line leads back from a box
    placed further off); a click opens a viewer."""

    def __init__(self, node_id: str, on_click: Callable[[str], Any]) -> None:
        super().__init__()
        self.node_id, self.on_click = node_id, on_click
        self.value: Any = None
        self.grad: Any = None
        self.output = ""  # the output port whose value is shown (the leader line starts there)
        self.lines: list[tuple[str, str]] = []  # (text, colour)
        self.font = QFont()
        self.font.setPointSizeF(9)
        self.font.setFamily("DejaVu Sans Mono")
        self._rect = QRectF()
        self.leader = QGraphicsLineItem(self)
        self.leader.setPen(QPen(QColor("#9aa3b0"), 1))
        self.leader.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)
        self.setZValue(20)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    @property
    def text(self) -> str:
        return "\n".join(text for text, _ in self.lines)

    def set_values(self, value: Any, grad: Any) -> bool:
        """Show a value and a gradient; True when the box changed size (or appeared), so that
        its spot has to be checked again."""
        lines = []
        if value is not None:
            lines.append((f"= {describe(value)}", "#1d2128"))
        if grad is not None:
            lines.append((f"∂ {describe(grad)}", GRAD_COLOR))
        return self._set(value, grad, lines)

    def ask(self, part: str) -> bool:
        """Practice mode: the value (part "value") or the gradient ("grad") reads "?" until answered,
        and a click's viewer leaves it out; True when the box changed size."""
        value, grad = (None, self.grad) if part == "value" else (self.value, None)
        self.set_values(value, grad)
        mark = [("= ?", "#1d2128")] if part == "value" else [("∂ ?", GRAD_COLOR)]
        return self._set(value, grad, mark + self.lines if part == "value" else self.lines + mark)

    def set_update(self, before: Any, after: Any, grad: Any) -> bool:
        """After an optimizer step: the parameter's new value, and the gradient that made it."""
        lines = [
            (f"= {describe(after)} new", "#1d2128"),
            (f"  was {describe(before)}", "#5b6472"),
            (f"∂ {describe(grad)} used", GRAD_COLOR),
        ]
        return self._set(after, grad, lines)

    def _set(self, value: Any, grad: Any, lines: list[tuple[str, str]]) -> bool:
        self.value, self.grad = value, grad
        appeared = not self.isVisible() and bool(lines)
        self.setVisible(bool(lines))
        if lines == self.lines:  # redrawing a big graph touches every badge: leave the same ones be
            return appeared
        metrics = QFontMetricsF(self.font)
        width = max((metrics.horizontalAdvance(t) for t, _ in lines), default=0) + 12
        rect = QRectF(0, 0, width, metrics.height() * len(lines) + 6)
        resized = rect != self._rect
        self.prepareGeometryChange()
        self.lines, self._rect = lines, rect
        self.update()
        return resized or appeared

    def place(self, node: NodeItem, anchor: QPointF) -> None:
        """Keep a spot that is still free; else move to the free spot nearest `anchor` (the node's
        output), with a line back to it when that spot is off the node's edge."""
        size = (self._rect.width(), self._rect.height())
        if not is_free(self.sceneBoundingRect(), self):  # where it was is taken now (or is its node)
            self.setPos(free_spot(node, anchor, size, self))
        box = self._rect.translated(self.pos())
        near = QPointF(
            min(max(anchor.x(), box.left()), box.right()), min(max(anchor.y(), box.top()), box.bottom())
        )
        touching = node.boundingRect().adjusted(-GAP - 2, -GAP - 2, GAP + 2, GAP + 2).intersects(box)
        self.leader.setVisible(not touching)
        self.leader.setLine(QLineF(anchor - self.pos(), near - self.pos()))

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        paint_badge(painter, self._rect, QColor(255, 251, 235, 240), self.font, self.lines)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.boundingRect().contains(event.pos()):
            self.on_click(self.node_id)


class Overlay(QObject):
    """Badges, the current-node frame and the edge dots on one scene."""

    def __init__(self, scene: CanvasScene, on_badge_click: Callable[[str], Any]) -> None:
        super().__init__(scene)
        self.scene = scene
        self.on_badge_click = on_badge_click
        self.badges: dict[str, Badge] = {}
        self.frame = QGraphicsPathItem()
        self.frame.setZValue(15)
        self.frame.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.frame.hide()
        scene.addItem(self.frame)
        scene.changed.connect(self._make_room)
        self.current: str | None = None
        self.dots: list[QGraphicsEllipseItem] = []
        self.paths: list[QPainterPath] = []
        self.animation = QVariantAnimation(self)
        self.animation.setStartValue(0.0)
        self.animation.setEndValue(1.0)
        self.animation.setEasingCurve(QEasingCurve.Type.InOutQuad)
        self.animation.valueChanged.connect(self._move_dots)
        self.traversed: list[tuple[PortRef, bool]] = []  # (edge's input port, against the data)

    def badge(self, node_id: str) -> Badge | None:
        return self.badges.get(node_id)

    def show_states(self, states: dict[str, Any]) -> None:
        for node_id, item in self.scene.nodes.items():
            state = states.get(node_id)
            badge = self.badges.get(node_id)
            if state is None:
                if badge is not None:
                    badge.hide()
                continue
            if badge is None:
                badge = self.badges[node_id] = Badge(node_id, self.on_badge_click)
                badge.setParentItem(item)
            badge.output = next(iter(state.values), "").rpartition(".")[2]
            value = next(iter(state.values.values()), None)
            grad = next(iter(state.grads.values()), None)
            if badge.set_values(value, grad):
                self.place(node_id)

    def place(self, node_id: str) -> None:
        """Put a node's badge where it covers nothing, led from the output it shows."""
        item, badge = self.scene.nodes[node_id], self.badges[node_id]
        port = item.port(badge.output, True) if badge.output else None
        badge.place(item, port.pos if port else QPointF(item.width, HEADER / 2))

    def _make_room(self, regions: list[QRectF]) -> None:
        """Something changed on the canvas (a node dragged, the path view's tags shown): a badge
        in a changed region that now covers something moves to a free spot."""
        for node_id, badge in self.badges.items():
            box = badge.sceneBoundingRect()
            if node_id not in self.scene.nodes or not badge.isVisible():
                continue
            if any(box.intersects(r) for r in regions) and not is_free(box, badge):
                self.place(node_id)

    def highlight(self, node_id: str | None, phase: str) -> None:
        """Frame the current node in its phase's colour (red for a non-finite value)."""
        self.current = node_id
        item = self.scene.nodes.get(node_id or "")
        if item is None:
            self.frame.hide()
            return
        path = QPainterPath()
        path.addRoundedRect(QRectF(-5, -5, item.width + 10, item.height + 10), 9, 9)
        self.frame.setPath(path)
        self.frame.setPen(QPen(QColor(PHASE_COLORS.get(phase, "#2563eb")), 4))
        self.frame.setPos(item.pos())
        self.frame.show()

    def traverse(self, edges: list[tuple[PortRef, bool]], duration_ms: int) -> None:
        """Run a dot along each edge (keyed by its input port), backwards when the flag is set."""
        self.animation.stop()
        self.traversed = [(dst, back) for dst, back in edges if dst in self.scene.edges]
        self.paths = [self.scene.edges[dst].path() for dst, _ in self.traversed]
        while len(self.dots) < len(self.paths):
            dot = QGraphicsEllipseItem(-6, -6, 12, 12)
            dot.setZValue(18)
            dot.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self.scene.addItem(dot)
            self.dots.append(dot)
        for index, dot in enumerate(self.dots):
            dot.setVisible(index < len(self.paths))
            if index < len(self.paths):
                color = QColor(PHASE_COLORS["backward" if self.traversed[index][1] else "forward"])
                dot.setBrush(color)
                dot.setPen(QPen(QColor("#ffffff"), 1.5))
        if self.paths:
            self.animation.setDuration(max(60, duration_ms))
            self.animation.start()
            self._move_dots(0.0)

    def _move_dots(self, t: Any) -> None:
        for dot, path, (_, back) in zip(self.dots, self.paths, self.traversed):
            dot.setPos(path.pointAtPercent(1.0 - float(t) if back else float(t)))

    def clear(self) -> None:
        self.animation.stop()
        for badge in self.badges.values():
            badge.setParentItem(None)  # type: ignore[arg-type]  # None: no parent, as Qt documents
            if badge.scene() is not None:
                badge.scene().removeItem(badge)
        self.badges.clear()
        for item in [self.frame, *self.dots]:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.dots, self.paths, self.traversed = [], [], []
        self.current = None
