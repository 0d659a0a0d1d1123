"""Canvas nodes and their ports, and what all canvas items share: fonts, pens, sizes.

Items only draw and report gestures. Geometry, text and paths are computed when the model changes
(rebuild) and kept. A Python-painted item costs PySide a call per item per frame, which on a
thousand-node graph is most of a frame, so nodes paint themselves, ports included, once into a
pixel cache (DeviceCoordinateCache) that Qt then copies; ports are not items (the node finds the
one under the mouse), and edges, the most numerous items, are Qt's own C++ items (edges.py).
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.editing.blocks import Ports, caption, describe_block
from app.editing.values import show_value
from app.theme import Theme
from graphcore.graph import BLOCK_TYPE, Node, PortRef
from graphcore.registry import NodeSpec

if TYPE_CHECKING:
    from app.canvas.edges import EdgeItem
    from app.canvas.scene import CanvasScene


def scene_of(item: QGraphicsItem) -> CanvasScene:
    """The CanvasScene an item of the canvas is on."""
    return cast("CanvasScene", item.scene())


HEADER, ROW, PARAM_ROW, PAD, RADIUS, PORT_RADIUS = 26.0, 20.0, 16.0, 8.0, 6.0, 6.5
MIN_WIDTH, MAX_WIDTH, MAX_PARAMS = 150.0, 280.0, 3
VALUE_ROOM = 64.0  # room a param line leaves for its value (a longer one is elided, never widens)
OVERVIEW_LOD = 0.5  # below this zoom, nodes draw only a big title and edges drop their labels
PORTS_LOD = 0.3  # below this zoom, ports are not drawn and wires cannot start (too small to aim at)
EDGE_WIDTH = 1.5
PLACEHOLDER_OPACITY = 0.55  # a node of a type this build does not know is drawn greyed


@cache
def fonts() -> dict[str, tuple[QFont, QFontMetricsF]]:
    """The canvas fonts with their metrics, made once (after the QApplication exists)."""
    result = {}
    # "tag": the lab's badges on the canvas, at the title's size so they read wherever titles do
    for name, size, bold in (
        ("title", 10, True),
        ("port", 9, False),
        ("small", 8, False),
        ("tag", 10, False),
    ):
        font = QFont()
        font.setPointSizeF(size)
        font.setBold(bold)
        result[name] = (font, QFontMetricsF(font))
    return result


@cache
def text_width(font: str, text: str) -> float:
    """Width of `text` in one of the canvas fonts; port and type names repeat, so this is cached."""
    return fonts()[font][1].horizontalAdvance(text)


@cache
def overview_font(size: float) -> tuple[QFont, QFontMetricsF]:
    """The title font at a zoomed-out size (sizes are rounded by the caller, so few are made)."""
    font = QFont(fonts()["title"][0])
    font.setPointSizeF(size)
    return font, QFontMetricsF(font)


@cache
def pen(color: str, width: float) -> QPen:
    """Pens are shared values: items that look alike use one (thousands of ports, edges)."""
    return QPen(QColor(color), width)


@cache
def brush(color: str) -> QBrush:
    return QBrush(QColor(color))


@cache
def pill(label: str, font: str = "small") -> tuple[QPainterPath, QPointF]:
    """The rounded box behind an edge label (in one of the canvas fonts), centred on the origin, and
    where its text starts."""
    metrics = fonts()[font][1]
    width, height = metrics.horizontalAdvance(label) + 10, metrics.height() + 2
    path = QPainterPath()
    path.addRoundedRect(QRectF(-width / 2, -height / 2, width, height), 4, 4)
    return path, QPointF(-width / 2 + 5, -height / 2 + 1)


def distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


def param_lines(node: Node, spec: NodeSpec | None) -> list[str]:
    """The params a node shows: those changed from their defaults, and always a Constant's value
    (what the constant is is the point of the node). A block node's caption says its params already."""
    if node.type == BLOCK_TYPE:
        return []
    defaults = spec.defaults() if spec else {}
    always = {p.name for p in spec.params} if spec and spec.kind == "constant" else set()
    values = {**{k: defaults[k] for k in always}, **node.params}
    shown = {k: v for k, v in values.items() if k in always or v != defaults.get(k, ...)}
    lines = [f"{k} = {show_value(v) or 'null'}" for k, v in list(shown.items())[:MAX_PARAMS]]
    if len(shown) > MAX_PARAMS:
        lines.append(f"+{len(shown) - MAX_PARAMS} more")
    return lines


def port_pos(width: float, row: int, is_output: bool) -> QPointF:
    """Where a node's port dot sits: on its left edge (inputs) or right edge (outputs), one per row."""
    return QPointF(width if is_output else 0.0, HEADER + 6 + ROW * row + ROW / 2)


@cache
def node_paths(width: float, height: float, inputs: int, outputs: int) -> tuple[QPainterPath, ...]:
    """A node's body, its header (the body's top, rounded corners and all) and its hit shape (the
    body and the port dots). Nodes of one size and port count share them: a big graph has a few
    dozen sizes, and making the paths for every node was a quarter of building its node items."""
    body = QPainterPath()
    body.addRoundedRect(QRectF(0, 0, width, height), RADIUS, RADIUS)
    header = QPainterPath(QPointF(0, HEADER))
    header.arcTo(QRectF(0, 0, 2 * RADIUS, 2 * RADIUS), 180, -90)
    header.arcTo(QRectF(width - 2 * RADIUS, 0, 2 * RADIUS, 2 * RADIUS), 90, -90)
    header.lineTo(width, HEADER)
    header.closeSubpath()
    shape = QPainterPath(body)
    shape.setFillRule(Qt.FillRule.WindingFill)  # dots overlapping the body add, not cancel
    for count, is_output in ((inputs, False), (outputs, True)):
        for row in range(count):
            shape.addEllipse(port_pos(width, row, is_output), Port.HIT_RADIUS, Port.HIT_RADIUS)
    return body, header, shape


class Port:
    """A port's place and look. Its node draws it and finds it under the mouse: giving each port an
    item of its own would add thousands of items to a big graph for a few pixels each.

    The hit area (HIT_RADIUS) is wider than half a row, so the nearest port wins where two overlap:
    a press is never ambiguous, and a port is easy to aim at.
    """

    HIT_RADIUS = 12.0

    def __init__(self, node_item: NodeItem, name: str, is_output: bool) -> None:
        self.node_item, self.name, self.is_output = node_item, name, is_output
        self.pos = QPointF()
        self.highlight: str | None = None  # "ok" or "bad" while a wire hovers it
        self.connected = self.problem = self.hovered = False

    @property
    def ref(self) -> PortRef:
        return PortRef(self.node_item.node.id, self.name)

    def set_state(self, **state: Any) -> None:
        """Change highlight, connected, problem or hovered; the node redraws only if one changed."""
        if any(getattr(self, k) != v for k, v in state.items()):
            for key, value in state.items():
                setattr(self, key, value)
            self.node_item.update()

    def describe(self) -> str:
        """The tooltip: the port, where its value comes from, its shape and any problem."""
        return scene_of(self.node_item).port_tooltip(self)

    def paint(self, painter: QPainter, theme: Theme) -> None:
        fill = {"ok": theme.ok, "bad": theme.error}.get(
            self.highlight or "", theme.edge if self.connected else theme.port
        )
        radius = PORT_RADIUS + (1.5 if self.hovered or self.highlight else 0)
        painter.setPen(pen(theme.error if self.problem else theme.node_border, 1.5))
        painter.setBrush(brush(fill))
        painter.drawEllipse(self.pos, radius, radius)


class NodeItem(QGraphicsItem):
    """A node: a header in its category's colour with the title, then named ports and key params.

    Pressing a port starts a wire (reported through the scene's wire_* signals); pressing anywhere
    else selects and moves the node as usual.
    """

    def __init__(
        self, node: Node, spec: NodeSpec | None, theme: Theme, color: QColor, block_ports: Ports | None = None
    ) -> None:
        super().__init__()
        self.node, self.spec = node, spec
        self.block_ports = block_ports  # a block node's ports come from its definition, not its type
        self.problems: list[str] = []
        self.edges: set[EdgeItem] = set()
        self.inputs: dict[str, Port] = {}
        self.outputs: dict[str, Port] = {}
        self.wiring = False  # a wire is being dragged from one of its ports (so this is no move)
        self.restyle(theme, color)
        flags = QGraphicsItem.GraphicsItemFlag
        # no itemChange override: the scene knows when nodes move, and Qt would call Python for
        # every change of every item (eight times per node while a big graph is built)
        self.setFlags(flags.ItemIsMovable | flags.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        if spec is None:
            self.setOpacity(PLACEHOLDER_OPACITY)  # greyed: kept and saved, but it cannot run
        self.rebuild()

    def restyle(self, theme: Theme, color: QColor) -> None:
        """Take the theme and its colour for this category, with a title colour that reads on it."""
        self.theme, self.color = theme, color if self.spec is not None else theme.color("node_border")
        color = self.color
        self.ink = QColor("#111418") if color.lightnessF() > 0.55 else QColor("#f3f4f6")
        self.update()

    def rebuild(self) -> None:
        """Recompute size, texts, paths and ports from the model node (after a label or param change:
        chunk's `chunks` says how many outputs it has).

        The width follows the type, its ports and its params, never the label or the param values:
        renaming a node or editing a value leaves its ports where they are (long texts are elided).
        """
        self.prepareGeometryChange()
        spec, node = self.spec, self.node
        inputs, outputs = (
            self.block_ports
            if self.block_ports is not None
            else (spec.inputs, spec.outputs_for(node.params))
            if spec
            else (tuple(self.inputs), tuple(self.outputs))
        )
        title_m, small_m = fonts()["title"][1], fonts()["small"][1]
        type_name = caption(node) if node.type == BLOCK_TYPE else node.type if node.title != node.type else ""
        lines = param_lines(node, spec)
        param_names = [p.name for p in spec.params] if spec else list(node.params)
        widest_in = max((text_width("port", p) for p in inputs), default=0)
        widest_out = max((text_width("port", p) for p in outputs), default=0)
        wanted = max(
            # a block's caption ("ResBlock ×3") stands where other nodes show their type, and its
            # title gets as much room, so the instance's name is not elided to a few letters
            title_m.horizontalAdvance(type_name if node.type == BLOCK_TYPE else node.type)
            + text_width("small", type_name or node.type)
            + 36,
            widest_in + widest_out + 48,
            *(text_width("small", f"{name} = ") + VALUE_ROOM + 24 for name in param_names),
        )
        self.width = width = min(MAX_WIDTH, max(MIN_WIDTH, wanted))
        rows = max(len(inputs), len(outputs))
        params_top = HEADER + 6 + ROW * rows
        self.height = params_top + PARAM_ROW * len(lines) + PAD
        self.title = title_m.elidedText(
            node.title,
            Qt.TextElideMode.ElideRight,
            width - 20 - (text_width("small", type_name) + 8 if type_name else 0),
        )
        self.type_name = type_name
        self.param_lines = [small_m.elidedText(t, Qt.TextElideMode.ElideRight, width - 20) for t in lines]
        self.params_top = params_top
        reach = Port.HIT_RADIUS + 1  # the port dots and their hit areas stick out of the body
        self._bounds = QRectF(-reach, -3, width + 2 * reach, self.height + 6)
        self._place_ports(inputs, outputs)
        self.body, self.header, self._shape = node_paths(
            width, self.height, len(self.inputs), len(self.outputs)
        )
        self.update()

    def _place_ports(self, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
        for ports, names, is_output in ((self.inputs, inputs, False), (self.outputs, outputs, True)):
            for name in [n for n in ports if n not in names]:
                del ports[name]
            for row, name in enumerate(names):
                port = ports.get(name) or ports.setdefault(name, Port(self, name, is_output))
                port.pos = port_pos(self.width, row, is_output)

    def ports(self) -> list[Port]:
        return [*self.inputs.values(), *self.outputs.values()]

    def port(self, name: str, is_output: bool) -> Port | None:
        """A placeholder (a type this build does not know) has the ports its edges name: each is
        made when an edge first asks for it, in a new last row, so the ports before it stay put."""
        ports = self.outputs if is_output else self.inputs
        if name not in ports and self.spec is None:
            ports[name] = Port(self, name, is_output)
            self.rebuild()
        return ports.get(name)

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF:
        port = self.port(name, is_output)
        return self.mapToScene(port.pos if port else QPointF(self.width if is_output else 0, HEADER / 2))

    def port_at(self, local: QPointF) -> Port | None:
        """The port nearest `local` (item coordinates) within its hit area, when ports are shown."""
        scene: CanvasScene | None = self.scene()  # type: ignore[assignment]
        if scene is None or not scene.ports_shown:
            return None
        near = [p for p in self.ports() if distance(p.pos, local) <= Port.HIT_RADIUS]
        return min(near, key=lambda p: distance(p.pos, local), default=None)

    def on_body(self, local: QPointF) -> bool:
        """Whether `local` (item coordinates) is inside the node's box, not on a dot sticking out."""
        return PORT_RADIUS <= local.x() <= self.width - PORT_RADIUS and 0 <= local.y() <= self.height

    def set_problems(self, problems: list[str]) -> None:
        if problems != self.problems:
            self.problems = problems
            self.update()

    def describe(self) -> str:
        """The tooltip: what the node is, then its problems."""
        node = self.node
        if node.type == BLOCK_TYPE:
            about = describe_block(scene_of(self).graph, node, self.block_ports)
        else:
            about = [f"{node.type}: {self.spec.doc}" if self.spec else f"unknown type {node.type!r}"]
        label = [f"Label: {node.label}"] if node.label else []  # the title may be elided
        return "\n".join([f"{node.id} — {about[0]}", *about[1:], *label, *self.problems])

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        """The body and the port dots (which stick out of it), for clicks and hovering."""
        return self._shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = self.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < OVERVIEW_LOD:
            painter.setBrush(self.color)
            painter.drawPath(self.body)
            self._paint_overview(painter, lod)
        else:
            painter.setBrush(theme.color("node_body"))
            painter.drawPath(self.body)
            painter.setBrush(self.color)
            painter.drawPath(self.header)
            self._paint_details(painter, theme)
        border = "error" if self.problems else "selection" if self.isSelected() else "node_border"
        wide = self.problems or self.isSelected()
        outline = QPen(theme.color(border), 2.5 if wide else 1.0)
        if self.spec is None:
            outline.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(outline)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.body)
        if lod >= PORTS_LOD:
            for port in self.ports():
                port.paint(painter, theme)

    @property
    def overview_name(self) -> str:
        """What the node says zoomed far out: its label, else its type (a block's caption, "Residual ×3")."""
        if self.node.label:
            return self.node.label
        return caption(self.node) if self.node.type == BLOCK_TYPE else self.node.type

    def _paint_overview(self, painter: QPainter, lod: float) -> None:
        """Zoomed far out: the overview name alone, large enough to read on screen."""
        font, metrics = overview_font(round(min(10 / max(lod, 0.05), self.height * 0.45)))
        painter.setFont(font)
        painter.setPen(self.ink)
        name = self.overview_name
        text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, self.width - 8)
        painter.drawText(QRectF(0, 0, self.width, self.height), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_details(self, painter: QPainter, theme: Theme) -> None:
        (title_f, title_m), (port_f, port_m), (small_f, small_m) = (
            fonts()["title"],
            fonts()["port"],
            fonts()["small"],
        )
        baseline = HEADER / 2 + title_m.ascent() / 2 - 1
        painter.setFont(title_f)
        painter.setPen(self.ink)
        painter.drawText(QPointF(10, baseline), self.title)
        if self.type_name:
            painter.setFont(small_f)
            painter.setPen(QColor(self.ink.red(), self.ink.green(), self.ink.blue(), 170))
            painter.drawText(
                QPointF(self.width - 10 - text_width("small", self.type_name), baseline), self.type_name
            )
        painter.setFont(port_f)
        painter.setPen(theme.color("text"))
        shift = port_m.ascent() / 2 - 1
        for name, port in self.inputs.items():
            painter.drawText(QPointF(12, port.pos.y() + shift), name)
        for name, port in self.outputs.items():
            painter.drawText(QPointF(self.width - 12 - text_width("port", name), port.pos.y() + shift), name)
        painter.setFont(small_f)
        painter.setPen(theme.color("muted"))
        for row, line in enumerate(self.param_lines):
            painter.drawText(QPointF(10, self.params_top + PARAM_ROW * row + small_m.ascent()), line)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        hovered = self.port_at(event.pos())
        for port in self.ports():
            port.set_state(hovered=port is hovered)
        if (hovered is not None) != self.hasCursor():
            if hovered is not None:
                self.setCursor(Qt.CursorShape.CrossCursor)
            else:
                self.unsetCursor()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        for port in self.ports():
            port.set_state(hovered=False)
        self.unsetCursor()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene: CanvasScene = self.scene()  # type: ignore[assignment]
        left = event.button() == Qt.MouseButton.LeftButton
        port = scene.port_near(event.scenePos()) if left and self.port_at(event.pos()) else None
        if port is None:
            super().mousePressEvent(event)
            return
        self.wiring = True
        scene.start_wire(port)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.wiring:
            scene_of(self).wire_moved.emit(event.scenePos())
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.wiring:
            self.wiring = False
            scene_of(self).finish_wire(event.scenePos())
        else:
            super().mouseReleaseEvent(event)


def paint_badge(
    painter: QPainter, rect: QRectF, fill: QColor, font: QFont, lines: list[tuple[str, str]]
) -> None:
    """A badge on the canvas (stepper values, gradient flow): a rounded, grey-edged card, then one
    line of text per (text, colour), top to bottom."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#9aa3b0"), 1))
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, 4, 4)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    y = rect.top() + 3 + metrics.ascent()
    for text, color in lines:
        painter.setPen(QColor(color))
        painter.drawText(QPointF(rect.left() + 6, y), text)
        y += metrics.height()
