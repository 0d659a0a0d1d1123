"""Where a badge goes: the free spot nearest its node's output that covers no node, no other badge
and no edge label, so every number stays readable however crowded the graph is.

Badges are scene-sized (they zoom with the nodes), so one placement holds at every zoom. A spot is
searched on a grid around the node, nearest first; the overlay leads a far spot back with a line.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsItem, QGraphicsLineItem

from app.canvas.edges import EdgeItem
from app.canvas.items import NodeItem

GAP = 8.0  # between a badge and its node: clear of the current-node frame
STEP = 8.0  # grid of the search
REACH = 480.0  # how far from the node a spot is searched
MARGIN = 4.0  # kept clear around a badge, so two never touch (on screen, rounding would join them)


def _blocks(item: QGraphicsItem, moving: QGraphicsItem) -> bool:
    """Nodes and whatever hangs on them (badges, the path view's tags) and edge labels block a spot;
    wires, group frames, badges' leader lines (thin, drawn under) and the badge being placed do not."""
    if item is moving or item.parentItem() is moving or isinstance(item, QGraphicsLineItem):
        return False
    top = item.topLevelItem()
    return isinstance(top, NodeItem) or (isinstance(top, EdgeItem) and item is not top)


def is_free(rect: QRectF, moving: QGraphicsItem) -> bool:
    """Nothing that blocks a badge comes within MARGIN of `rect` (scene coordinates)."""
    scene = moving.scene()
    mode = Qt.ItemSelectionMode.IntersectsItemBoundingRect
    around = rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    return not any(_blocks(item, moving) for item in scene.items(around, mode))


def free_spot(node: NodeItem, anchor: QPointF, size: tuple[float, float], moving: QGraphicsItem) -> QPointF:
    """The top-left corner (node coordinates) of the free box of `size` nearest `anchor`; above the
    node's right end when that is free, else further out; as a last resort, above the node."""
    width, height = size
    preferred = QPointF(node.width - width, -height - GAP)
    if is_free(node.mapRectToScene(QRectF(preferred.x(), preferred.y(), width, height)), moving):
        return preferred
    steps = np.arange(-REACH, REACH + STEP, STEP)
    grid_x, grid_y = np.meshgrid(anchor.x() + steps, anchor.y() + steps)
    xs, ys = grid_x.ravel(), grid_y.ravel()
    bounds = node.boundingRect().adjusted(-GAP, -GAP, GAP, GAP)  # the node's own box is never free
    apart = (
        (xs + width <= bounds.left())
        | (xs >= bounds.right())
        | (ys + height <= bounds.top())
        | (ys >= bounds.bottom())
    )
    dx = np.maximum.reduce([xs - anchor.x(), np.zeros_like(xs), anchor.x() - xs - width])
    dy = np.maximum.reduce([ys - anchor.y(), np.zeros_like(ys), anchor.y() - ys - height])
    distance = np.hypot(dx, dy) + 0.01 * ys  # nearest first; on a tie, the higher spot
    for index in np.argsort(np.where(apart, distance, np.inf), kind="stable"):
        if not apart[index]:
            break
        spot = QPointF(float(xs[index]), float(ys[index]))
        if is_free(node.mapRectToScene(QRectF(spot.x(), spot.y(), width, height)), moving):
            return spot
    return preferred
