"""Badges on a block's inside: which Input nodes are the block's input ports, which values it exposes.

Inside a block an Input looks like any graph's Input, yet it is where an instance's wire arrives; a
badge above the node says so ("block input x"), and one above an exposed node says which output port
shows its value outside ("block output out ▶"). Each is a child of its node's item, so it moves with it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.items import NodeItem, fonts, text_width

BADGE_COLOR = "#7c3aed"  # one colour for every block port badge, apart from the category colours
PAD_X, GAP = 6.0, 4.0  # room beside the text; space between the badge and the node under it


class PortBadge(QGraphicsItem):
    """A rounded tag above a node of a block's inside, left-aligned over an input, right over an output."""

    def __init__(self, node_item: NodeItem, text: str, about: str, on_right: bool, row: int = 0) -> None:
        super().__init__(node_item)
        self._text, self.about = text, about
        metrics = fonts()["small"][1]
        width, height = text_width("small", text) + 2 * PAD_X, metrics.height() + 4
        self._rect = QRectF(0, 0, width, height)
        self._baseline = 2 + metrics.ascent()
        # a node that is two ports (two outputs exposing it) wears a badge per port, stacked up
        self.setPos(QPointF(node_item.width - width if on_right else 0.0, -(height + GAP) * (row + 1)))

    def text(self) -> str:
        return self._text

    def describe(self) -> str:
        """The tooltip: what the badge means for the instances outside."""
        return self.about

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        path.addRoundedRect(self._rect, 4, 4)
        painter.fillPath(path, QColor(BADGE_COLOR))
        painter.setFont(fonts()["small"][0])
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(QPointF(PAD_X, self._baseline), self._text)


def input_badge(item: NodeItem, block: str, port: str, index: int, count: int) -> PortBadge:
    """The badge of the Input node that is input port `port` (number `index` of `count`)."""
    where = f" ({index} of {count})" if count > 1 else ""
    about = f"Input port {port} of block {block}{where}: each instance's wire into {port} arrives here"
    return PortBadge(item, f"block input {port}", about, on_right=False)


def output_badge(item: NodeItem, block: str, port: str, value: str, row: int) -> PortBadge:
    """The badge of the node whose value `value` ("node.port") the block exposes as output `port`;
    `row` counts the badges already above that node."""
    about = f"Output port {port} of block {block}: each instance's {port} is {value}"
    return PortBadge(item, f"block output {port} ▶", about, on_right=True, row=row)
