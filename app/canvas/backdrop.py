"""BackdropItem: a group's titled, coloured frame, or, collapsed, one box with the group's outside ports.

The frame has no position of its own: the scene sizes it around the members whenever one moves,
so it cannot drift from them. Dragging its title bar moves the members (one undo step, recorded
by the scene on release); double-clicking it collapses or expands the group.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent, QStyleOptionGraphicsItem, QWidget

from app.canvas.items import HEADER, MIN_WIDTH, PAD, PORT_RADIUS, RADIUS, ROW, fonts, scene_of
from graphcore.graph import PortRef


class BackdropItem(QGraphicsItem):
    def __init__(self, group: dict[str, Any]) -> None:
        super().__init__()
        self.group_id: str = group["id"]
        self.inputs: list[PortRef] = []
        self.outputs: list[PortRef] = []
        self.rect = QRectF()
        self._press: QPointF | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.update_from(group)

    def update_from(self, group: dict[str, Any]) -> None:
        """Take the group's title, colour, members and collapsed flag from the model."""
        self.title = str(group.get("title", self.group_id))
        color = QColor(str(group.get("color", "")))
        self.color = color if color.isValid() else QColor("#5b8def")
        self.collapsed = bool(group.get("collapsed", False))
        self.members: list[str] = list(group["nodes"])
        self.setZValue(5 if self.collapsed else -10)
        self.update()

    def describe(self) -> str:
        """The tooltip."""
        action = "expand" if self.collapsed else "collapse"
        return f"{self.title}: {len(self.members)} nodes — double-click to {action}"

    def set_ports(self, inputs: list[PortRef], outputs: list[PortRef]) -> None:
        self.inputs, self.outputs = inputs, outputs

    def fit(self, members: QRectF) -> None:
        """Frame the members' bounding rect (expanded), or stand at its corner as one box (collapsed)."""
        self.prepareGeometryChange()
        if self.collapsed:
            metrics = fonts()["port"][1]
            names = [str(p) for p in self.inputs + self.outputs]
            width = max(
                MIN_WIDTH,
                fonts()["title"][1].horizontalAdvance(self.title) + 30,
                2 * max((metrics.horizontalAdvance(n) for n in names), default=0) + 40,
            )
            rows = max(len(self.inputs), len(self.outputs), 1)
            self.setPos(members.topLeft())
            self.rect = QRectF(0, 0, width, HEADER + 6 + ROW * rows + PAD)
        else:
            self.setPos(members.topLeft() - QPointF(2 * PAD, 2 * PAD + HEADER))
            self.rect = QRectF(0, 0, members.width() + 4 * PAD, members.height() + 4 * PAD + HEADER)
        self.update()

    def port_pos(self, ref: PortRef, is_output: bool) -> QPointF:
        """Scene position of an outside port on the collapsed box."""
        ports = self.outputs if is_output else self.inputs
        row = ports.index(ref) if ref in ports else 0
        return self.mapToScene(
            QPointF(self.rect.width() if is_output else 0, HEADER + 6 + ROW * row + ROW / 2)
        )

    def header_rect(self) -> QRectF:
        return QRectF(0, 0, self.rect.width(), HEADER)

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-PORT_RADIUS - 2, -2, PORT_RADIUS + 2, 2)

    def shape(self) -> QPainterPath:
        """Only the title bar of a frame takes clicks; inside it, clicks reach the canvas (rubber band)."""
        path = QPainterPath()
        path.addRect(self.rect if self.collapsed else self.header_rect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = scene_of(self).theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(theme.node_body) if self.collapsed else QColor(self.color)
        if not self.collapsed:
            fill.setAlpha(48 if theme.dark else 36)
        border = theme.color("selection") if self.isSelected() else QColor(self.color)
        painter.setPen(QPen(border, 2.5 if self.isSelected() or self.collapsed else 1.5))
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect, RADIUS, RADIUS)
        header = QColor(self.color)
        header.setAlpha(255 if self.collapsed else 190)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(header)
        painter.drawRoundedRect(self.header_rect().adjusted(1, 1, -1, 0), RADIUS, RADIUS)
        title_font, title_metrics = fonts()["title"]
        painter.setFont(title_font)
        painter.setPen(QColor("#111418") if self.color.lightnessF() > 0.55 else QColor("#f3f4f6"))
        mark = "▸ " if self.collapsed else "▾ "
        text = title_metrics.elidedText(
            mark + self.title, Qt.TextElideMode.ElideRight, self.rect.width() - 16
        )
        painter.drawText(QPointF(8, HEADER / 2 + title_metrics.ascent() / 2 - 1), text)
        if self.collapsed:
            self._paint_ports(painter, theme)

    def _paint_ports(self, painter: QPainter, theme: Any) -> None:
        font, metrics = fonts()["port"]
        painter.setFont(font)
        for ports, is_output in ((self.inputs, False), (self.outputs, True)):
            for row, ref in enumerate(ports):
                y = HEADER + 6 + ROW * row + ROW / 2
                x = self.rect.width() if is_output else 0.0
                painter.setPen(QPen(theme.color("node_border"), 1.5))
                painter.setBrush(theme.color("edge"))
                painter.drawEllipse(QPointF(x, y), PORT_RADIUS, PORT_RADIUS)
                name = str(ref)
                text_x = x - 12 - metrics.horizontalAdvance(name) if is_output else 12
                painter.setPen(theme.color("text"))
                painter.drawText(QPointF(text_x, y + metrics.ascent() / 2 - 1), name)
        if not self.inputs and not self.outputs:
            painter.setPen(theme.color("muted"))
            painter.drawText(
                QPointF(12, HEADER + 6 + ROW / 2 + metrics.ascent() / 2), f"{len(self.members)} nodes"
            )

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        super().mousePressEvent(event)  # selection, as for any selectable item
        self._press = event.scenePos()
        scene_of(self).begin_group_drag(self)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._press is not None:
            scene_of(self).drag_group(self, event.scenePos() - self._press)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene_of(self).group_toggled.emit(self.group_id)
