"""Edges and the wire being dragged: curves from an output to an input, with a label of the shape.

An edge is Qt's own C++ QGraphicsPathItem, its label a pill and a text as child items, so painting
the most numerous items of a graph costs PySide no Python call per frame (see items.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsSceneMouseEvent, QGraphicsSimpleTextItem

from app.canvas.items import EDGE_WIDTH, brush, fonts, pen, pill, scene_of
from app.theme import Theme
from graphcore.graph import PortRef

if TYPE_CHECKING:
    from app.canvas.scene import CanvasScene


class EdgeItem(QGraphicsPathItem):
    """An edge: a horizontal-tangent cubic from an output to an input, labelled with its shape.

    Qt's selection would draw a dashed box around a path item, so an edge keeps its own `selected`
    flag (the scene sets it on click and clears it with the rest of the selection).
    """

    def __init__(self, src: PortRef, dst: PortRef, theme: Theme) -> None:
        super().__init__()
        self.src, self.dst, self.theme = src, dst, theme
        self.label, self.problem, self.selected = "", "", False
        self.flow: tuple[QPen, str] | None = None  # a pen and a note that decorate it (gradient flow)
        self._shape: QPainterPath | None = QPainterPath()  # no path yet, so no hit band to stroke
        self.pill = QGraphicsPathItem(self)
        self.pill.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks on a label reach the edge
        self.text = QGraphicsSimpleTextItem(self.pill)
        self.text.setFont(fonts()["small"][0])
        self.pill.hide()
        self.setZValue(-1)
        self._show()

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        self.setPath(curve(start, end))
        self._shape = None
        self.pill.setPos((start + end) / 2)  # the curve's midpoint: its control points are symmetric

    def set_label(self, label: str, problem: str) -> None:
        """Show the shape flowing along the edge, or the problem with it (in red)."""
        if (label, problem) == (self.label, self.problem):
            return
        recolour = problem != self.problem
        self.label, self.problem = label, problem
        box, text_at = pill(label)
        self.pill.setPath(box)
        self.text.setText(label)
        self.text.setPos(text_at)
        self.pill.setVisible(bool(label) and self.detailed())
        if recolour:  # the colours follow the problem alone (opening a graph labels every edge)
            self._show()

    def describe(self) -> str:
        """The tooltip: which ports it joins, and the shape it carries or the problem with it."""
        text = f"{self.src} → {self.dst}" + (f"\n{self.problem}" if self.problem else f"  {self.label}")
        return text + (f"\n{self.flow[1]}" if self.flow else "")

    def detailed(self) -> bool:
        scene: CanvasScene | None = self.scene()  # type: ignore[assignment]
        return scene is None or scene.detailed

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self._show()

    def set_flow(self, flow: tuple[QPen, str] | None) -> None:
        """Draw with this pen, and add the note to the tooltip (None: the edge's own look again)."""
        self.flow = flow
        self._show()

    def restyle(self, theme: Theme) -> None:
        self.theme = theme
        self._show()

    def _show(self) -> None:
        theme = self.theme
        color = theme.error if self.problem else theme.selection if self.selected else theme.edge
        if self.flow is not None and not self.problem:
            flow = self.flow[0]
            self.setPen(pen(theme.selection, flow.widthF() + 1.5) if self.selected else flow)
        else:
            self.setPen(pen(color, 3.0 if self.selected or self.problem else EDGE_WIDTH))
        self.pill.setPen(pen(color, 1.0))
        self.pill.setBrush(brush(theme.label_background))
        self.text.setBrush(brush(theme.error if self.problem else theme.text))

    def shape(self) -> QPainterPath:
        """A band wider than the line, so an edge is easy to click (asked only for hit tests)."""
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        additive = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        scene_of(self).select_edge(self, additive)
        event.accept()


class WireItem(QGraphicsPathItem):
    """The dashed wire that follows the mouse while connecting."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(10)
        self.hide()

    def show_between(self, start: QPointF, end: QPointF, color: QColor) -> None:
        self.setPen(QPen(color, 2.0, Qt.PenStyle.DashLine))
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.setPath(curve(start, end))
        self.show()


def curve(start: QPointF, end: QPointF) -> QPainterPath:
    """Leave outputs to the right and enter inputs from the left, as node editors draw wires."""
    bend = min(max(abs(end.x() - start.x()) * 0.5, 40.0), 200.0)
    path = QPainterPath(start)
    path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
    return path
