"""The path view: local derivatives on the canvas's edges, and ∂node/∂X or ∂Z/∂node on its nodes.

Forward mode (∂·/∂X) tracks how one input X affects every node; reverse mode (∂Z/∂·) how every
node affects one output Z. The badges appear all at once or node by node, in the order each mode
reaches the nodes, with the step's sum over incoming (or outgoing) edges spelled out. For scalar
graphs the panel lists every path from X to Z with the product of its edge derivatives: their sum
is what both modes compute, factored. All numbers come from graphcore (graphcore.derivatives.lab).
"""

from __future__ import annotations

from html import escape
from typing import Any

import shiboken6
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.canvas.items import brush, fonts, pen, pill
from app.canvas.scene import CanvasScene
from app.editing.document import Document
from app.lab.choices import refill
from app.lab.derivatives import describe, same, show_number
from app.lab.names import Names
from app.lab.panel import LabPanel
from app.lab.runner import Runner
from graphcore.derivatives.lab import PathData, compute_paths, differentiable_values
from graphcore.program import Program

FORWARD, BACKWARD = "forward", "backward"
COLORS = {FORWARD: "#2f6fdb", BACKWARD: "#d9622b", "edge": "#8b5cf6"}
MAX_CAPTION_TERMS = 6
TAG_FONT = "tag"  # badges as large as node titles: readable at any zoom framing allows


class Tag(QGraphicsPathItem):
    """A pill with text, as the canvas's shape labels, in one of the lab's colours."""

    def __init__(self, parent: QGraphicsItem, text: str, color: str, background: str) -> None:
        super().__init__(parent)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(5)
        self.label = QGraphicsSimpleTextItem(self)
        self.label.setFont(fonts()[TAG_FONT][0])
        self.set(text, color, background)

    def set(self, text: str, color: str, background: str, current: bool = False) -> None:
        box, text_at = pill(text, TAG_FONT)
        self.setPath(box)
        self.setPen(pen(color, 2.5 if current else 1.2))
        self.setBrush(brush(color if current else background))
        self.label.setText(text)
        self.label.setPos(text_at)
        self.label.setBrush(brush("#ffffff" if current else color))

    @property
    def text(self) -> str:
        return self.label.text()


class PathOverlay:
    """Tags on the scene's items: edge labels ride on the edge's shape pill, badges on the node."""

    def __init__(self, scene: CanvasScene) -> None:
        self.scene = scene
        self.edge_labels: dict[tuple[str, str], Tag] = {}  # (value, consumer port) -> tag
        self.badges: dict[str, Tag] = {}  # node id -> tag

    def clear(self) -> None:
        for tag in [*self.edge_labels.values(), *self.badges.values()]:
            if shiboken6.isValid(tag) and tag.scene() is not None:
                tag.scene().removeItem(tag)
        self.edge_labels, self.badges = {}, {}

    def show_edges(self, edges: dict[tuple[str, str], float]) -> None:
        background = self.scene.theme.label_background
        for dst, edge in self.scene.edges.items():
            key = (str(edge.src), str(dst))
            if key not in edges:
                continue
            tag = self.edge_labels[key] = Tag(edge.pill, show_number(edges[key]), COLORS["edge"], background)
            tag.setPos(0, -pill(tag.text, TAG_FONT)[0].boundingRect().height() - 2)

    def show_badges(self, texts: dict[str, str], direction: str, current: str | None) -> None:
        background = self.scene.theme.label_background
        for node_id, text in texts.items():
            item = self.scene.nodes.get(node_id)
            if item is None:
                continue
            tag = self.badges[node_id] = Tag(item, text, COLORS[direction], background)
            tag.set(text, COLORS[direction], background, current=node_id == current)
            rect = tag.path().boundingRect()
            tag.setPos(QPointF(item.width - rect.width() / 2, -rect.height() / 2 - 4))


class PathView(LabPanel):
    """The path view's panel (X, Z, direction, stepping, the path list) and its canvas overlay."""

    computed = Signal()  # new derivatives arrived (or an error message)

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.scene: CanvasScene | None = None
        self.overlay: PathOverlay | None = None
        self.program: Program | None = None
        self.data: PathData | None = None
        self.direction, self.revealed = FORWARD, 0
        self.enabled = QCheckBox("Show derivatives on the canvas")
        self.x_choice, self.z_choice = QComboBox(), QComboBox()
        self.forward_button = QRadioButton("Forward  ∂·/∂X")
        self.backward_button = QRadioButton("Reverse  ∂Z/∂·")
        self.forward_button.setChecked(True)
        directions = QButtonGroup(self)
        directions.addButton(self.forward_button)
        directions.addButton(self.backward_button)
        self.step_button, self.all_button = QPushButton("Step ▶"), QPushButton("Show all")
        self.reset_button = QPushButton("Reset")
        self.caption, self.message = QLabel(), QLabel()
        for label in (self.caption, self.message):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.paths = QTreeWidget()
        self.paths.setHeaderLabels(["path X → Z", "edge derivatives", "product"])
        self.paths.setRootIsDecorated(False)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self._layout()
        self.enabled.toggled.connect(self.refresh)
        self.x_choice.currentIndexChanged.connect(self.refresh)
        self.z_choice.currentIndexChanged.connect(self.refresh)
        self.forward_button.toggled.connect(lambda on: self.set_direction(FORWARD if on else BACKWARD))
        self.step_button.clicked.connect(self.step)
        self.all_button.clicked.connect(self.show_all)
        self.reset_button.clicked.connect(self.reset)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Input X", self.x_choice)
        form.addRow("Output Z", self.z_choice)
        directions = QVBoxLayout()  # side by side, the second is cut off in a narrow dock
        directions.addWidget(self.forward_button)
        directions.addWidget(self.backward_button)
        form.addRow("Badges", directions)
        buttons = QHBoxLayout()
        for button in (self.step_button, self.all_button, self.reset_button):
            buttons.addWidget(button)
        column = QVBoxLayout(self)
        column.addWidget(self.enabled)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.caption)
        column.addWidget(self.message)
        column.addWidget(QLabel("Sum over paths"))
        column.addWidget(self.paths, 1)
        column.addWidget(self.summary)

    # --- following the document -------------------------------------------------------------------

    def bind(self, document: Document, scene: CanvasScene) -> None:
        self.document, self.scene = document, scene
        self.overlay = PathOverlay(scene)
        self.data = None
        document.validated.connect(self.refresh)
        document.validated.connect(self.changed)
        self.x_choice.clear()
        self.z_choice.clear()
        self.changed()
        self.refresh()

    def refresh_now(self) -> None:
        self._fill_choices()

    def _fill_choices(self) -> None:
        """Values to choose from: every floating-point value of the graph, in schedule order (while
        the view is in sight or on: on a big graph this takes a while)."""
        if (program := self.valid_program()) is None:
            return
        names = Names(program, self.document.graph if self.document is not None else None)
        values = differentiable_values(program)
        entries = [(names.value(value), value) for value in values]
        refill(self.x_choice, entries, self._default_x(program))
        refill(self.z_choice, entries, self._default_z(program))

    @staticmethod
    def _default_x(program: Program) -> str | None:
        sources = [i.outs[0] for i in program if i.spec.kind in ("input", "parameter")]
        return sources[0] if sources else None

    @staticmethod
    def _default_z(program: Program) -> str | None:
        return program.sinks[-1] if program.sinks else None

    def choose(self, x: str | None = None, z: str | None = None) -> None:
        """Pick X and Z by value name ("b.out"), as the combo boxes do."""
        self.ensure_fresh()
        for combo, value in ((self.x_choice, x), (self.z_choice, z)):
            if value is not None:
                combo.setCurrentIndex(combo.findData(value))

    def refresh(self) -> None:
        """Recompute in the worker (the graph, X or Z changed, or the view was switched on)."""
        if self.document is None or self.overlay is None:
            return
        self.runner.cancel(self._job)
        self.overlay.clear()
        self.paths.clear()
        self.summary.clear()
        self.caption.clear()
        if not self.enabled.isChecked():
            self.message.setText("Switch the view on to see derivatives on the canvas.")
            return
        report = self.document.report
        if not report.ok:
            self.message.setText(
                f"The graph has problems ({report.diagnostics[0]}): fix them to see derivatives."
            )
            self.computed.emit()
            return
        self._fill_choices()  # the edit may have added or removed values
        program = self.document.program
        x, z = self.x_choice.currentData(), self.z_choice.currentData()
        self.message.setText("Computing…")
        self._job = self.runner.submit(
            lambda: (program, compute_paths(program, x, z)), self._arrived, self._failed
        )

    def _failed(self, message: str) -> None:
        self._job = None
        self.message.setText(message)
        self.computed.emit()

    def _arrived(self, result: tuple[Program, PathData]) -> None:
        self._job = None
        self.program, self.data = result
        self.names = Names(self.program, self.document.graph if self.document is not None else None)
        self.message.setText(
            self.data.forward_error if self.direction == FORWARD else self.data.backward_error
        )
        self.revealed = len(self.order)
        self._show()
        self._show_paths()
        self.computed.emit()

    # --- stepping -----------------------------------------------------------------------------------

    @property
    def order(self) -> list[str]:
        if self.data is None:
            return []
        return self.data.forward_order if self.direction == FORWARD else self.data.backward_order

    def set_direction(self, direction: str) -> None:
        if direction == self.direction:
            return
        self.direction = direction
        (self.forward_button if direction == FORWARD else self.backward_button).setChecked(True)
        self.revealed = len(self.order)
        if self.data is not None:
            self.message.setText(
                self.data.forward_error if direction == FORWARD else self.data.backward_error
            )
        self._show()

    def reset(self) -> None:
        """Hide the badges, to reveal them again node by node."""
        self.revealed = 0
        self._show()

    def step(self) -> str | None:
        """Reveal the next node's badge; returns its node id (None once every node is shown)."""
        if self.revealed >= len(self.order):
            return None
        self.revealed += 1
        self._show()
        return self.order[self.revealed - 1]

    def show_all(self) -> None:
        self.revealed = len(self.order)
        self._show()

    def _show(self) -> None:
        if self.overlay is None:
            return
        self.overlay.clear()
        data, program = self.data, self.program
        if data is None or program is None:
            return
        self.overlay.show_edges(data.edges)
        shown = self.order[: self.revealed]
        current = shown[-1] if shown and self.revealed < len(self.order) else None
        self.overlay.show_badges({n: self.badge_text(n) for n in shown}, self.direction, current)
        self.caption.setText(self.explain(shown[-1]) if shown else self._hint())
        self.step_button.setEnabled(self.revealed < len(self.order))

    def _hint(self) -> str:
        if self.direction == FORWARD:
            return "Step: forward mode starts at X with ∂X/∂X = 1 and moves towards the outputs."
        return "Step: reverse mode starts at Z with ∂Z/∂Z = 1 and moves towards the inputs."

    def badge_text(self, node: str) -> str:
        return f"{self.derivative_at(node)} = {describe(self._result(node))}"

    def derivative_at(self, node: str) -> str:
        """∂node/∂X (forward) or ∂Z/∂node (reverse), named as the user named them."""
        assert self.data is not None and self.program is not None and self.names is not None
        data, names = self.data, self.names
        value = self.program.by_node[node].outs[0]
        if self.direction == FORWARD:
            return names.derivative(value, data.x or "")
        if data.values[data.z or ""].numel() == 1:
            return names.derivative(data.z or "", value)
        return f"∂Σ{names.value(data.z or '', bracket=True)}/∂{names.value(value, bracket=True)}"

    def _result(self, node: str) -> Any:
        assert self.data is not None and self.program is not None
        value = self.program.by_node[node].outs[0]
        return (self.data.forward if self.direction == FORWARD else self.data.backward)[value]

    def explain(self, node: str) -> str:
        """The chain rule at one node: the sum over its edges towards X (or Z), with graphcore's result."""
        assert self.data is not None and self.program is not None and self.names is not None
        data, program, name = self.data, self.program, self.names.node(node)
        instr = program.by_node[node]
        value = instr.outs[0]
        if self.direction == FORWARD:
            if value == data.x:
                return f"{self.derivative_at(node)} = 1: the seed of forward mode."
            terms = [
                (data.edges.get((arg, f"{node}.{port}")), data.forward[arg])
                for port, arg in zip(instr.spec.inputs, instr.args)
                if arg in data.forward
            ]
            how = f"{name}'s JVP of its inputs' tangents"
        else:
            if value == data.z:
                return f"{self.derivative_at(node)} = 1: the seed of reverse mode."
            terms = [
                (data.edges.get((value, str(r))), data.backward[program.by_node[r.node].outs[0]])
                for r in program.consumers[value]
                if program.by_node[r.node].outs[0] in data.backward
            ]
            how = f"the VJPs of {name}'s consumers, accumulated"
        scalar = all(f is not None and t.numel() == 1 for f, t in terms)
        if scalar and terms and len(terms) <= MAX_CAPTION_TERMS:
            how = " + ".join(f"{show_number(f or 0.0)} × {describe(t)}" for f, t in terms)
        return f"{self.derivative_at(node)} = {how} = {describe(self._result(node))}"

    # --- the sum over paths -------------------------------------------------------------------------

    def _show_paths(self) -> None:
        assert self.data is not None and self.names is not None
        data, names = self.data, self.names
        self.paths.clear()
        if data.paths is None:
            self.summary.setText(escape(data.paths_note))
            return
        for path in data.paths:
            self.paths.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        " → ".join(names.value(v) for v in path.values),
                        " × ".join(show_number(f) for f in path.factors) or "(X is Z)",
                        show_number(path.product),
                    ]
                )
            )
        for column in range(3):
            self.paths.resizeColumnToContents(column)
        derivative = escape(names.derivative(data.z or "", data.x or ""))
        total = data.path_total
        lines = [f"Σ over {len(data.paths)} paths: {derivative} = <b>{show_number(total)}</b>"]
        for mode, results in (("forward mode", data.forward), ("reverse mode", data.backward)):
            got = results.get((data.z if mode == "forward mode" else data.x) or "")
            if got is None:
                lines.append(f"{mode}: {derivative} = 0 (no path)")
                continue
            number = float(got.detach().reshape(()))
            mark = "✓" if same(number, total) else "✗ differs"
            lines.append(f"{mode}: {derivative} = {show_number(number)} {mark}")
        self.summary.setText("<br>".join(lines))
