"""View ▸ Gradient Flow: while training, every wire drawn in the colour and width of the gradient
norm flowing back along it (log scale, legend in the canvas corner), each layer badged with its
‖∇‖ and update-to-weight ratio Δ/w, and the layers whose gradients vanish or explode outlined with
the numbers (graphcore.training.flow measures them; its FlowFrames come from the training session).

Like the stepper's overlay, this only decorates the canvas: wires take a pen through
EdgeItem.set_flow, badges and outlines are items of their own, and turning the view off gives
every wire its own pen back; the Graph is never touched. Inside an open block the frame is shown
on the block's inner nodes and wires (the program names them "res1/fc"); on the file's canvas a
block node's output wires show the gradient of the inner value they carry, while the wires into
its ports (read by several inner nodes: only their norms are measured) keep their plain look.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QFont, QFontMetricsF, QLinearGradient, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.items import NodeItem, paint_badge
from app.stepper.blocks import SEPARATOR
from graphcore.blocks import flatten_with_ports, instances
from graphcore.codegen import python_source
from graphcore.program import Program
from graphcore.training.flow import FlowFrame, LayerNumbers, flag_kind, layer_numbers, parameters_of

if TYPE_CHECKING:
    from app.canvas.block_view import BlockNavigator
    from app.canvas.scene import CanvasScene
    from app.canvas.view import CanvasView
    from app.editing.document import Document
    from app.run_tools import RunTools
    from app.shell import Shell

# navy (tiny gradients) through cyan and green to amber and red (the largest): readable on both themes
COLORS = ("#1e3a8a", "#0891b2", "#16a34a", "#f59e0b", "#dc2626")
THIN, THICK = 1.5, 7.0  # wire widths at the bottom and the top of the frame's range
ZERO_COLOR = "#9aa3b0"  # a wire that carries no gradient at all: thin and dashed
FLAG_COLORS = {"gradient": "#dc2626", "ratio": "#d97706"}
MIN_DECADES = 1.0  # a frame whose norms span less is drawn on a range this wide around them


def color_at(t: float) -> QColor:
    """The colour map at t in [0, 1]."""
    t = min(max(t, 0.0), 1.0) * (len(COLORS) - 1)
    index = min(int(t), len(COLORS) - 2)
    low, high = QColor(COLORS[index]), QColor(COLORS[index + 1])
    f = t - index
    return QColor.fromRgbF(
        low.redF() + (high.redF() - low.redF()) * f,
        low.greenF() + (high.greenF() - low.greenF()) * f,
        low.blueF() + (high.blueF() - low.blueF()) * f,
    )


def log_range(norms: list[float]) -> tuple[float, float]:
    """(lowest, highest) log10 of the positive finite norms, at least MIN_DECADES apart."""
    logs = [math.log10(v) for v in norms if v > 0 and math.isfinite(v)]
    if not logs:
        return -1.0, 0.0
    low, high = min(logs), max(logs)
    if high - low < MIN_DECADES:
        middle = (low + high) / 2
        low, high = middle - MIN_DECADES / 2, middle + MIN_DECADES / 2
    return low, high


def wire_pen(norm: float, span: tuple[float, float]) -> QPen:
    """The pen of a wire carrying `norm`: colour and width by where log10(norm) is in `span`."""
    if norm == 0:
        pen = QPen(QColor(ZERO_COLOR), THIN, Qt.PenStyle.DashLine)
    elif not math.isfinite(norm):
        pen = QPen(QColor(COLORS[-1]), THICK, Qt.PenStyle.DotLine)
    else:
        low, high = span
        t = (math.log10(norm) - low) / (high - low)
        pen = QPen(color_at(t), THIN + (THICK - THIN) * min(max(t, 0.0), 1.0))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


def short(value: float) -> str:
    return "0" if value == 0 else f"{value:.2g}" if 1e-3 <= abs(value) < 1e3 else f"{value:.1e}"


class FlowLegend(QWidget):
    """The scale in the canvas' bottom-left corner: the colour bar with a number at each decade."""

    def __init__(self, view: QWidget) -> None:
        super().__init__(view)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.font_ = QFont()
        self.font_.setPointSizeF(8.5)
        self.span: tuple[float, float] | None = None
        self.caption = "Gradient flow: waiting for training…"
        self.ticks: list[tuple[float, str]] = []  # (position 0..1 on the bar, label)
        self.resize(330, 92)
        view.installEventFilter(self)
        self.hide()

    def show_span(self, span: tuple[float, float] | None, step: int | None) -> None:
        self.span = span
        if span is None:
            self.caption, self.ticks = "Gradient flow: waiting for training…", []
        else:
            self.caption = f"‖∂L/∂ wire‖ at step {step} (log scale)"
            low, high = span
            first, last = math.ceil(low), math.floor(high)
            stride = max(1, math.ceil((last - first + 1) / 5))
            self.ticks = [((e - low) / (high - low), f"1e{e}") for e in range(first, last + 1, stride)]
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def place(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move(12, parent.height() - self.height() - 12)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#9aa3b0"), 1))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        painter.setFont(self.font_)
        metrics = QFontMetricsF(self.font_)
        painter.setPen(QColor("#1d2128"))
        painter.drawText(QPointF(10, 6 + metrics.ascent()), self.caption)
        if self.span is None:
            return
        bar = QRectF(14, 26, self.width() - 28, 12)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for index in range(len(COLORS)):
            gradient.setColorAt(index / (len(COLORS) - 1), QColor(COLORS[index]))
        wedge = QPainterPath()  # thin on the left, thick on the right, as the wires are drawn
        wedge.moveTo(bar.left(), bar.center().y() - THIN / 2)
        wedge.lineTo(bar.right(), bar.top())
        wedge.lineTo(bar.right(), bar.bottom())
        wedge.lineTo(bar.left(), bar.center().y() + THIN / 2)
        wedge.closeSubpath()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(gradient)
        painter.drawPath(wedge)
        painter.setPen(QColor("#1d2128"))
        for at, label in self.ticks:
            x = bar.left() + at * bar.width()
            painter.drawLine(QPointF(x, bar.bottom() + 1), QPointF(x, bar.bottom() + 4))
            width = metrics.horizontalAdvance(label)
            left = min(max(x - width / 2, 4), self.width() - width - 4)
            painter.drawText(QPointF(left, bar.bottom() + 5 + metrics.ascent()), label)
        y = bar.bottom() + 10 + metrics.height() * 1.5
        painter.setPen(QPen(QColor(ZERO_COLOR), THIN, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(14, y), QPointF(40, y))
        painter.setPen(QColor("#1d2128"))
        painter.drawText(QPointF(46, y + metrics.ascent() / 2 - 1), "no gradient")
        x = 130.0
        for kind, text in (("gradient", "vanishing/exploding"), ("ratio", "Δ/w off")):
            painter.setPen(QPen(QColor(FLAG_COLORS[kind]), 2.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(x, y - 5, 12, 10), 2, 2)
            painter.setPen(QColor("#1d2128"))
            painter.drawText(QPointF(x + 16, y + metrics.ascent() / 2 - 1), text)
            x += 22 + metrics.horizontalAdvance(text)


class FlowBadge(QGraphicsItem):
    """A layer's numbers above it (‖∇‖, Δ/w, and a flag's sentence in its colour); the tooltip
    says each parameter's exact numbers."""

    def __init__(self, node: NodeItem) -> None:
        super().__init__(node)
        self.lines: list[tuple[str, str]] = []
        self.details = ""
        self.font = QFont("DejaVu Sans Mono")
        self.font.setPointSizeF(9.5)
        self._rect = QRectF()
        self.setZValue(20)

    @property
    def text(self) -> str:
        return "\n".join(text for text, _ in self.lines)

    def set_lines(self, lines: list[tuple[str, str]], details: str) -> None:
        metrics = QFontMetricsF(self.font)
        width = max(metrics.horizontalAdvance(t) for t, _ in lines) + 12
        height = metrics.height() * len(lines) + 6
        self.prepareGeometryChange()
        self.lines, self.details = lines, details
        self._rect = QRectF(0, 0, width, height)
        self.setPos(0, -height - 10)
        self.update()

    def describe(self) -> str:
        return self.details

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        paint_badge(painter, self._rect, QColor(255, 255, 255, 235), self.font, self.lines)


class FlowMarks:
    """The decorations of one scene: wire pens, badges and outlines; `clear` takes them all off."""

    def __init__(self, scene: CanvasScene, prefix: str, exposed: dict[str, str]) -> None:
        self.scene, self.prefix = scene, prefix  # prefix: "res1/" inside an open block, else ""
        self.exposed = exposed  # a block node's output port -> the inner value it is ("res1/add.out")
        self.badges: dict[str, FlowBadge] = {}
        self.outlines: dict[str, QGraphicsPathItem] = {}

    def show(self, frame: FlowFrame, numbers: dict[str, LayerNumbers], owners: dict[str, list[str]]) -> None:
        span = log_range(list(frame.wires.values()))
        for edge in self.scene.edges.values():
            src = self.exposed.get(str(edge.src), self.prefix + str(edge.src))
            norm = frame.wires.get((src, self.prefix + str(edge.dst)))
            if norm is None:
                edge.set_flow(None)
            else:
                edge.set_flow((wire_pen(norm, span), f"gradient along it ‖∂L/∂{edge.src}‖ = {norm:.4g}"))
        self._drop_badges()
        for inner, item in self.scene.nodes.items():
            node = self.prefix + inner
            if node not in numbers:
                continue
            badge = self.badges[inner] = FlowBadge(item)
            layer, flag = numbers[node], frame.flags.get(node)
            summary = f"‖∇‖ {short(layer.grad_norm)}"
            if layer.ratio is not None:
                summary += f"  Δ/w {short(layer.ratio)}"
            lines = [(summary, "#1d2128")]
            if flag is not None:
                color = FLAG_COLORS[flag_kind(flag)]
                head, _, rest = flag.partition(": ")  # what, then the numbers
                lines += [(head, color), (rest, color)]
                self._outline(inner, item, color)
            details = [f"{node} at step {frame.step}"] + [
                f"‖∂L/∂{name}‖ = {frame.grad_norms[name]:.6g}"
                + (f",  ‖Δ‖/‖w‖ = {frame.ratios[name]:.6g}" if name in frame.ratios else "")
                for name in owners.get(node, [])
            ]
            badge.set_lines(lines, "\n".join(details + ([flag] if flag else [])))

    def _outline(self, inner: str, item: NodeItem, color: str) -> None:
        outline = QGraphicsPathItem(item)
        path = QPainterPath()
        path.addRoundedRect(QRectF(-4, -4, item.width + 8, item.height + 8), 8, 8)
        outline.setPath(path)
        outline.setPen(QPen(QColor(color), 3.5))
        outline.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.outlines[inner] = outline

    def _drop_badges(self) -> None:
        for item in [*self.badges.values(), *self.outlines.values()]:
            if shiboken6.isValid(item) and item.scene() is not None:  # its node may be gone
                item.scene().removeItem(item)
        self.badges, self.outlines = {}, {}

    def clear(self) -> None:
        if not shiboken6.isValid(self.scene):
            return
        self._drop_badges()
        for edge in self.scene.edges.values():
            edge.set_flow(None)


class GradientFlow(QObject):
    """The View ▸ Gradient Flow toggle (on the Train toolbar too), the legend, and the marks on
    the canvas shown (the file's, or the inside of the block open)."""

    def __init__(self, shell: Shell, run_tools: RunTools, view: CanvasView, blocks: BlockNavigator) -> None:
        super().__init__(shell)
        self.shell, self.session = shell, run_tools.session
        self.action = QAction("&Gradient Flow", shell.widget)
        self.action.setCheckable(True)
        self.action.setStatusTip("Colour each wire by the gradient flowing back along it while training")
        self.action.setToolTip("Gradient Flow: wires coloured by ‖∂L/∂·‖, layers badged with ‖∇‖ and Δ/w")
        view_menu = shell.menu_named("&View")
        view_menu.addSeparator()
        view_menu.addAction(self.action)
        run_tools.toolbars[0].addSeparator()
        run_tools.toolbars[0].addAction(self.action)
        run_tools.actions["gradient_flow"] = self.action  # the window gives the Run actions their icons
        self.legend = FlowLegend(view)
        self.frame: FlowFrame | None = None
        self.marks: FlowMarks | None = None
        self.inside: tuple[CanvasScene, str] | None = None  # the open block's scene and instance path
        self._names_of: tuple[Program | None, dict[str, str], dict[str, str]] = (None, {}, {})
        self.action.toggled.connect(self.toggle)
        self.session.flow.connect(self.show_frame)
        blocks.inside_shown.connect(self._on_inside)
        shell.follow_document(self._follow)

    def toggle(self, on: bool) -> None:
        self.session.watch_flow(on)
        if not on:
            self._clear()
            self.frame = None
            self.legend.hide()
            return
        self.legend.show_span(None, None)
        self.legend.place()
        self.legend.show()
        self.legend.raise_()

    def show_frame(self, frame: FlowFrame) -> None:
        if not self.action.isChecked():
            return
        self.frame = frame
        self._redraw()

    def _redraw(self) -> None:
        frame, document = self.frame, self.shell.document
        self._clear()
        if frame is None or document is None or not document.report.ok:
            return
        scene, prefix = (
            (self.inside[0], self.inside[1] + SEPARATOR) if self.inside else (self.shell.scene, "")
        )
        if scene is None:
            return
        attributes, exposed = self._names(document)
        owners = parameters_of(attributes, frame.grad_norms)
        self.marks = FlowMarks(scene, prefix, {} if self.inside else exposed)
        self.marks.show(frame, layer_numbers(owners, frame.grad_norms, frame.ratios), owners)
        self.legend.show_span(log_range(list(frame.wires.values())), frame.step)

    def _names(self, document: Document) -> tuple[dict[str, str], dict[str, str]]:
        """Node id -> its module attribute, as the trainer's generated module names them; and each
        block node's output port -> the inner value it exposes (kept until the next edit)."""
        program = document.program
        if self._names_of[0] is not program:
            exposed = flatten_with_ports(document.graph)[1] if instances(document.graph) else {}
            self._names_of = (program, dict(python_source(program).attributes), exposed)
        return self._names_of[1], self._names_of[2]

    def _clear(self) -> None:
        if self.marks is not None:
            self.marks.clear()
            self.marks = None

    def _on_inside(self, scene: CanvasScene | None, instance: str) -> None:
        self._clear()
        self.inside = (scene, instance) if scene is not None else None
        self._redraw()

    def _follow(self, document: Document | None) -> None:
        self._clear()
        self.frame, self.inside = None, None
        if self.action.isChecked():
            self.legend.show_span(None, None)
