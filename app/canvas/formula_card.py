"""View ▸ Formulas on Nodes: the selected (or hovered) node's forward rule, typeset on a card just
below the node.

The card is a scene item of its own, not a child of the node, so the node's geometry, its ports and
the framing of the canvas are untouched, and it is never part of the document. It paints one vector
path (app/mathtext) without a pixel cache, so it is as sharp at 400 % as at 100 %.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.items import NodeItem
from app.mathtext.parse import split_clauses
from app.mathtext.render import Typeset, typeset

if TYPE_CHECKING:
    from app.canvas.scene import CanvasScene
    from app.editing.document import Document
    from app.shell import Shell

GAP, PAD, SIZE = 6.0, 6.0, 11.0  # scene units below the node, inside the card, formula points


def forward_rule(formula: str) -> str:
    """The first clause of a node type's formula: what the node computes."""
    return split_clauses(formula)[0][0]


class FormulaCard(QGraphicsItem):
    """A rounded card with a typeset formula; it takes no clicks (they reach what lies below)."""

    def __init__(self, formula: str, scene: CanvasScene) -> None:
        super().__init__()
        self.formula = formula
        self.typeset: Typeset = typeset(formula, SIZE)
        self.canvas = scene
        self.node_id = ""
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(50)  # above nodes and edges

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.typeset.width + 2 * PAD, self.typeset.height + 2 * PAD)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = self.canvas.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.color("node_border"), 1.0))
        painter.setBrush(theme.color("node_body", 245))
        painter.drawRoundedRect(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        self.typeset.paint(painter, QPointF(PAD, PAD), theme.color("text"))


class FormulaCards(QObject):
    """Shows a card for the one selected node, else for the node under the mouse, on the canvas shown."""

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.scene: CanvasScene | None = None
        self.card: FormulaCard | None = None
        self.hovered = ""
        self.action = shell.menu_named("&View").addAction("&Formulas on Nodes")
        self.action.setCheckable(True)
        self.action.setChecked(True)
        self.action.setToolTip("Show the selected or hovered node's formula, typeset, below it on the canvas")
        self.action.toggled.connect(lambda _: self.refresh())
        shell.follow_document(self._on_document)

    def _on_document(self, document: Document | None) -> None:
        self.follow(self.shell.scene if document is not None else None)

    def follow(self, scene: CanvasScene | None) -> None:
        """Watch `scene` (the file's canvas or an open block's) instead of the one before."""
        if scene is self.scene:
            return
        self._drop_card()
        if self.scene is not None:
            self.scene.selectionChanged.disconnect(self.refresh)
            self.scene.nodes_moved.disconnect(self.refresh)
            self.scene.removeEventFilter(self)
        self.scene, self.hovered = scene, ""
        if scene is not None:
            scene.selectionChanged.connect(self.refresh)
            scene.nodes_moved.connect(self.refresh)
            scene.installEventFilter(self)
        self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the mouse over the nodes; hide the card while a button is down (a drag moves nodes
        under it), and put it back where the node ended up."""
        kind = event.type()
        if kind == QEvent.Type.GraphicsSceneMouseMove and isinstance(event, QGraphicsSceneMouseEvent):
            if event.buttons() != Qt.MouseButton.NoButton:
                if self.card is not None:
                    self.card.hide()
            else:
                self._hover(event.scenePos())
        elif kind == QEvent.Type.GraphicsSceneMouseRelease:
            self.refresh()
        elif kind == QEvent.Type.Leave:
            self.hovered = ""
            self.refresh()
        return False

    def _hover(self, pos: QPointF) -> None:
        scene = self.scene
        if scene is None or not self.action.isChecked():
            return
        item = next((i for i in scene.items(pos) if isinstance(i, NodeItem) and i.isVisible()), None)
        hovered = item.node.id if item is not None else ""
        if hovered != self.hovered:
            self.hovered = hovered
            self.refresh()

    def target(self) -> NodeItem | None:
        """The node whose card shows: the one selected node, else the hovered one."""
        scene = self.scene
        if scene is None or not self.action.isChecked():
            return None
        selected = scene.selected_node_ids()
        node_id = selected[0] if len(selected) == 1 else self.hovered
        item = scene.nodes.get(node_id)
        return item if item is not None and item.isVisible() and item.spec is not None else None

    def refresh(self) -> None:
        item = self.target()
        rule = forward_rule(item.spec.formula) if item is not None and item.spec is not None else ""
        if item is None or not rule or self.scene is None:
            self._drop_card()
            return
        if self.card is None or self.card.formula != rule:
            self._drop_card()
            self.card = FormulaCard(rule, self.scene)
            self.scene.addItem(self.card)
        self.card.node_id = item.node.id
        self.card.setPos(item.scenePos() + QPointF(0, item.boundingRect().bottom() + GAP))
        self.card.show()

    def _drop_card(self) -> None:
        if self.card is not None:
            scene: QGraphicsScene | None = self.card.scene()
            if scene is not None:
                scene.removeItem(self.card)
            self.card = None
