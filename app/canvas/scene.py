"""CanvasScene: a QGraphicsScene that mirrors the document and never edits it.

It creates, updates and removes items as the model's signals arrive, paints validation results
(red nodes and edges, shape labels) from the document's report, and reports gestures as signals
(a wire pressed, dragged and released on a port; nodes moved; a group toggled) for the controller
to turn into undo commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSignalBlocker, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneHelpEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QToolTip,
)

from app.canvas.backdrop import BackdropItem
from app.canvas.edges import EdgeItem, WireItem
from app.canvas.items import OVERVIEW_LOD, PORTS_LOD, NodeItem, Port, distance
from app.canvas.problem_marks import problem_marks
from app.editing.blocks import block_ports
from app.editing.document import Document
from app.editing.groups import KEY as GROUPS
from app.editing.groups import external_ports, groups_of
from app.theme import Theme
from graphcore.graph import BLOCK_TYPE, Node, PortRef
from graphcore.registry import REGISTRY, show
from graphcore.validate import Diagnostic, Report

SCENE_HALF = 100_000.0  # the canvas is effectively unbounded: pan anywhere


@dataclass(frozen=True)
class DraggedWire:
    """The wire being dragged: it hangs from `anchor`; `picked_up` is the input whose edge it is."""

    anchor: PortRef
    from_output: bool
    picked_up: PortRef | None = None


class CanvasScene(QGraphicsScene):
    wire_pressed = Signal(object)  # Port
    wire_moved = Signal(QPointF)
    wire_released = Signal(QPointF)
    nodes_moved = Signal(dict)  # node id -> (x, y), after a drag ends
    group_toggled = Signal(str)  # group id
    node_opened = Signal(str)  # node id: a node was double-clicked (a block opens into its inside)

    def __init__(self, document: Document, theme: Theme) -> None:
        super().__init__(document)
        self.setSceneRect(QRectF(-SCENE_HALF, -SCENE_HALF, 2 * SCENE_HALF, 2 * SCENE_HALF))
        self.document, self.graph, self.theme = document, document.graph, theme
        self.snap, self.grid = True, 20.0
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[PortRef, EdgeItem] = {}  # keyed by the input port: one edge per input
        self.backdrops: dict[str, BackdropItem] = {}
        self.group_of: dict[str, str] = {}  # node id -> group id
        self._colors: dict[str, QColor] = {}
        self.detailed, self.ports_shown = True, True  # what the zoom level lets items show
        self._flagged: tuple[set[str], set[PortRef]] = (set(), set())  # nodes and ports shown red
        # a block's inside: problems the file's validation finds in the instance (and copy) it was
        # opened from, named by inner id (app/canvas/block_view.py sets them); shown with the inside's
        self.context_problems: list[Diagnostic] = []
        self._dragging_nodes = False
        self._group_drag: dict[str, QPointF] | None = None
        self.dragged_wire: DraggedWire | None = None
        self.wire = WireItem()
        self.addItem(self.wire)
        signals = document.signals
        signals.node_added.connect(self._on_node_added)
        signals.node_removed.connect(self._on_node_removed)
        signals.node_changed.connect(self._on_node_changed)
        signals.edge_added.connect(self._on_edge_added)
        signals.edge_removed.connect(self._on_edge_removed)
        signals.meta_changed.connect(self._on_meta_changed)
        document.validated.connect(self.apply_report)
        for node in self.graph.nodes:
            self._on_node_added(node)
        for src, dst in self.graph.edges:
            self._on_edge_added(src, dst)
        self._on_meta_changed(GROUPS)
        self.apply_report(document.report)

    # --- following the model --------------------------------------------------------------------

    def _on_node_added(self, node: Node) -> None:
        spec = REGISTRY.get(node.type)
        color = self.category_color(spec.category if spec else "")
        item = NodeItem(node, spec, self.theme, color, block_ports(self.graph, node))
        item.setPos(QPointF(*node.pos))
        self.addItem(item)
        self.nodes[node.id] = item
        self._refit_group_of(node.id)

    def _on_node_removed(self, node: Node) -> None:
        self.removeItem(self.nodes.pop(node.id))
        self._refit_group_of(node.id)

    def _on_node_changed(self, node: Node, name: str) -> None:
        item = self.nodes[node.id]
        if name != "pos":
            item.rebuild()
        item.setPos(QPointF(*node.pos))
        self.nodes_shifted([item])

    def _on_edge_added(self, src: PortRef, dst: PortRef) -> None:
        edge = self.edges[dst] = EdgeItem(src, dst, self.theme)
        self.addItem(edge)
        grown = []
        for ref, is_output in ((src, True), (dst, False)):
            item = self.nodes[ref.node]
            item.edges.add(edge)
            size = (item.width, item.height)
            port = item.port(ref.port, is_output)  # a placeholder makes the port now, and may grow
            if port is not None:
                port.set_state(connected=True)
            if (item.width, item.height) != size:
                grown.append(item)
        self._place_edge(edge)
        if grown:  # its other edges and its frame follow the new size
            self.nodes_shifted(grown)
        self._refresh_collapsed(src.node, dst.node)

    def _on_edge_removed(self, src: PortRef, dst: PortRef) -> None:
        edge = self.edges.pop(dst)
        self.removeItem(edge)
        for ref, is_output in ((src, True), (dst, False)):
            self.nodes[ref.node].edges.discard(edge)
            self._mark_connected(ref, is_output)
        self._refresh_collapsed(src.node, dst.node)

    def _mark_connected(self, ref: PortRef, is_output: bool) -> None:
        """After an edge went: is the port still in use (an output may feed others)?"""
        port = self.nodes[ref.node].port(ref.port, is_output)
        if port is not None:
            used = bool(self.graph.consumers_of(ref)) if is_output else self.graph.source_of(ref) is not None
            port.set_state(connected=used)

    def _on_meta_changed(self, key: str) -> None:
        """Groups changed: update frames in place (so a selected frame stays selected)."""
        if key != GROUPS:
            return
        groups = {g["id"]: g for g in groups_of(self.graph)}
        if not groups and not self.backdrops:
            return
        for group_id in [g for g in self.backdrops if g not in groups]:
            self.removeItem(self.backdrops.pop(group_id))
        self.group_of = {m: g["id"] for g in groups.values() for m in g["nodes"]}
        for group_id, group in groups.items():
            if group_id in self.backdrops:
                self.backdrops[group_id].update_from(group)
            else:
                self.backdrops[group_id] = BackdropItem(group)
                self.addItem(self.backdrops[group_id])
        for node_id, item in self.nodes.items():
            backdrop = self.backdrops.get(self.group_of.get(node_id, ""))
            item.setVisible(backdrop is None or not backdrop.collapsed)
        for backdrop in self.backdrops.values():
            self._fit(backdrop)
        for edge in self.edges.values():
            self._place_edge(edge)

    def _refit_group_of(self, node_id: str) -> None:
        backdrop = self.backdrops.get(self.group_of.get(node_id, ""))
        if backdrop is not None:
            if node_id in self.nodes:
                self.nodes[node_id].setVisible(not backdrop.collapsed)
            self._fit(backdrop)

    def _refresh_collapsed(self, *node_ids: str) -> None:
        """Edges in or out of a collapsed group change the ports its box shows."""
        for group_id in {self.group_of.get(n) for n in node_ids}:
            backdrop = self.backdrops.get(group_id or "")
            if backdrop is not None and backdrop.collapsed:
                self._fit(backdrop)

    def _fit(self, backdrop: BackdropItem) -> None:
        members = [self.nodes[m] for m in backdrop.members if m in self.nodes]
        backdrop.setVisible(bool(members))
        if not members:
            return
        if backdrop.collapsed:
            backdrop.set_ports(*external_ports(self.graph, set(backdrop.members)))
        rect = QRectF()
        for item in members:
            rect = rect.united(QRectF(item.pos(), QSizeF(item.width, item.height)))
        backdrop.fit(rect)
        if backdrop.collapsed:
            for item in members:
                for edge in item.edges:
                    self._place_edge(edge)

    def nodes_shifted(self, items: list[NodeItem]) -> None:
        """Node items moved (dragged, or following the model): their edges and frames follow."""
        edges = {edge for item in items for edge in item.edges}
        for edge in edges:
            self._place_edge(edge)
        for group_id in {self.group_of.get(item.node.id) for item in items}:
            backdrop = self.backdrops.get(group_id or "")
            if backdrop is not None:
                self._fit(backdrop)

    def _place_edge(self, edge: EdgeItem) -> None:
        edge.set_ends(self.port_scene_pos(edge.src, True), self.port_scene_pos(edge.dst, False))
        inside = self.group_of.get(edge.src.node)
        backdrop = self.backdrops.get(inside or "")
        edge.setVisible(not (backdrop and backdrop.collapsed and inside == self.group_of.get(edge.dst.node)))

    def port_scene_pos(self, ref: PortRef, is_output: bool) -> QPointF:
        backdrop = self.backdrops.get(self.group_of.get(ref.node, ""))
        if backdrop is not None and backdrop.collapsed:
            return backdrop.port_pos(ref, is_output)
        return self.nodes[ref.node].port_scene_pos(ref.port, is_output)

    # --- validation -------------------------------------------------------------------------------

    def apply_report(self, report: Report) -> None:
        """Red nodes, ports and edges where the report has problems (app/canvas/problem_marks.py);
        shape labels on edges.

        An edge is red when its input port has a problem, or when the node it feeds cannot take the
        shapes flowing in (a node-level diagnostic such as a shape mismatch). Only nodes and ports
        that are or were red are visited; edges skip work when their label is unchanged.
        """
        self._refresh_block_ports()
        marks = problem_marks([*report.diagnostics, *self.context_problems], self.nodes)
        by_node, bad_ports, whole_node = marks.by_node, marks.bad_ports, marks.whole_node
        old_nodes, old_ports = self._flagged
        for node_id in by_node.keys() | old_nodes:
            if node_id in self.nodes:
                self.nodes[node_id].set_problems(by_node.get(node_id, []))
        for ref in bad_ports.keys() | old_ports:
            port = self.nodes[ref.node].port(ref.port, False) if ref.node in self.nodes else None
            if port is not None:
                port.set_state(problem=ref in bad_ports)
        self._flagged = (set(by_node), set(bad_ports))
        for dst, edge in self.edges.items():
            shape = report.shapes.get(str(edge.src))
            edge.set_label(
                show(shape) if shape is not None else "", bad_ports.get(dst) or whole_node.get(dst.node, "")
            )

    def _refresh_block_ports(self) -> None:
        """Block nodes take their definition's ports again: an edit inside a block (or its undo) may
        have added or removed an Input or an output. Once per step, and only block nodes are visited."""
        changed = []
        for item in self.nodes.values():
            if (
                item.node.type == BLOCK_TYPE
                and (ports := block_ports(self.graph, item.node)) != item.block_ports
            ):
                item.block_ports = ports
                item.rebuild()
                wired = {ref for edge in self.graph.edges_of(item.node.id) for ref in edge}
                for port in item.ports():  # a port made again (its definition came back) is new
                    port.set_state(connected=port.ref in wired)
                changed.append(item)
        if changed:
            self.nodes_shifted(changed)

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        """Tooltips are written when asked for, from the current model and report, rather than
        stored on thousands of items and rewritten after every edit."""
        view = event.widget().parentWidget() if event.widget() else None
        transform = view.transform() if isinstance(view, QGraphicsView) else QTransform()
        item = self.itemAt(event.scenePos(), transform)
        while item is not None and not hasattr(item, "describe"):
            item = item.parentItem()
        if item is None:
            QToolTip.hideText()
            return
        port = item.port_at(item.mapFromScene(event.scenePos())) if isinstance(item, NodeItem) else None
        text = (port or item).describe()
        QToolTip.showText(event.screenPos(), text, event.widget())

    def start_wire(self, port: Port) -> None:
        """A press on a port starts a wire. Pressing a connected input picks up the edge into it,
        so the wire hangs from that edge's source (the controller follows the same rule)."""
        source = None if port.is_output else self.graph.source_of(port.ref)
        if source is not None:
            self.dragged_wire = DraggedWire(source, True, port.ref)
        else:
            self.dragged_wire = DraggedWire(port.ref, port.is_output)
        self.wire_pressed.emit(port)

    def finish_wire(self, pos: QPointF) -> None:
        """The wire is let go: while the release is handled (a quick-add may open for it) the wire
        is still known, so the popup can offer only types that take it."""
        try:
            self.wire_released.emit(pos)
        finally:
            self.dragged_wire = None

    def port_at(self, pos: QPointF, exclude: PortRef | None = None) -> Port | None:
        """A wire's candidate target at a scene position: the port under it, else, while a wire is
        dragged over a node's body, the port of that node the wire fits best (see best_port). On
        the body, a port of the wire's own kind (an output, for a wire from an output) never is."""
        port, wire = self.port_near(pos), self.dragged_wire
        if port is not None and port.ref == exclude:
            return None  # still where the wire starts
        if port is not None:
            item = port.node_item
            if wire is None or port.is_output != wire.from_output or not item.on_body(item.mapFromScene(pos)):
                return port  # outside the body, a port of the wire's own kind is refused, with why
            return self.best_port(item, pos, wire)
        body = next((i for i in self.items(pos) if isinstance(i, NodeItem) and i.isVisible()), None)
        if body is None or wire is None or not self.ports_shown:
            return None
        return self.best_port(body, pos, wire)

    def port_near(self, pos: QPointF) -> Port | None:
        """The port nearest a scene position within its hit area, whichever node under it has it
        (two nodes side by side may both reach there)."""
        found = []
        for item in self.items(pos):
            if isinstance(item, NodeItem) and item.isVisible():
                local = item.mapFromScene(pos)
                port = item.port_at(local)
                if port is not None:
                    found.append((distance(port.pos, local), port))
        return min(found, key=lambda f: f[0])[1] if found else None

    def best_port(self, item: NodeItem, pos: QPointF, wire: DraggedWire) -> Port | None:
        """The port of `item` a wire dropped on its body means: of the other direction, one the
        model accepts before one it refuses, a free input before one it would replace, then the
        nearest. With no port of the other direction, the nearest other port (refused, with why)."""
        local = item.mapFromScene(pos)
        others = [p for p in item.ports() if p.ref != wire.anchor]
        facing = [p for p in others if p.is_output != wire.from_output]
        if not facing:
            return min(others, key=lambda p: distance(p.pos, local), default=None)

        def rank(port: Port) -> tuple[bool, bool, float]:
            src, dst = (wire.anchor, port.ref) if wire.from_output else (port.ref, wire.anchor)
            fed_by = self.graph.source_of(dst)
            picked_up = wire.picked_up == dst and fed_by == src
            refused = not picked_up and self.graph.why_not_connect(src, dst) is not None
            taken = fed_by is not None and not picked_up and wire.from_output
            return refused, taken, distance(port.pos, local)

        return min(facing, key=rank)

    def port_tooltip(self, port: Port) -> str:
        ref, report = port.ref, self.document.report
        if port.is_output:
            value, lines = str(ref), [f"{ref} — output"]
        else:
            source = self.graph.source_of(ref)
            value, lines = (
                str(source) if source else "",
                [f"{ref} — input" + (f", from {source}" if source else "")],
            )
        shape = report.shapes.get(value)
        lines.append(f"shape {show(shape)}" if shape is not None else "shape unknown")
        lines += [d.message for d in report.for_node(ref.node) if d.port == ref.port]
        return "\n".join(lines)

    # --- gestures and selection -------------------------------------------------------------------

    def to_grid(self, pos: QPointF) -> QPointF:
        """The nearest grid point when snapping is on."""
        if not self.snap:
            return pos
        return QPointF(round(pos.x() / self.grid) * self.grid, round(pos.y() / self.grid) * self.grid)

    def begin_group_drag(self, backdrop: BackdropItem) -> None:
        self._group_drag = {m: self.nodes[m].pos() for m in backdrop.members if m in self.nodes}

    def drag_group(self, backdrop: BackdropItem, delta: QPointF) -> None:
        if self._group_drag is None:
            return
        delta = self.to_grid(delta)
        for node_id, start in self._group_drag.items():
            self.nodes[node_id].setPos(start + delta)
        self.nodes_shifted([self.nodes[n] for n in self._group_drag])

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)
        grabber = self.mouseGrabberItem()
        self._dragging_nodes = isinstance(grabber, NodeItem) and not grabber.wiring
        if not isinstance(grabber, EdgeItem) and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._clear_edge_selection()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """Qt moves the selected nodes; then they snap to the grid and their edges follow. Qt places
        each from where it was when the drag began, so snapping does not accumulate."""
        super().mouseMoveEvent(event)
        if self._dragging_nodes:
            moved = [i for i in self.selectedItems() if isinstance(i, NodeItem)]
            for item in moved:
                item.setPos(self.to_grid(item.pos()))
            self.nodes_shifted(moved)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseDoubleClickEvent(event)
        item = next(
            (i for i in self.items(event.scenePos()) if isinstance(i, NodeItem) and i.isVisible()), None
        )
        if item is not None and event.button() == Qt.MouseButton.LeftButton:
            self.node_opened.emit(item.node.id)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        dragged = self._dragging_nodes or self._group_drag is not None
        super().mouseReleaseEvent(event)
        self._dragging_nodes, self._group_drag = False, None
        if dragged:
            moved = {
                node_id: (item.x(), item.y())
                for node_id, item in self.nodes.items()
                if (item.x(), item.y()) != item.node.pos
            }
            if moved:
                self.nodes_moved.emit(moved)

    def selected_node_ids(self) -> list[str]:
        """Selected nodes in graph order (members of a selected collapsed group included)."""
        chosen = {i.node.id for i in self.selectedItems() if isinstance(i, NodeItem)}
        for backdrop in self.selected_backdrops():
            if backdrop.collapsed:
                chosen.update(backdrop.members)
        return [n.id for n in self.graph.nodes if n.id in chosen]

    def selected_backdrops(self) -> list[BackdropItem]:
        return [i for i in self.selectedItems() if isinstance(i, BackdropItem)]

    def selected_edges(self) -> list[EdgeItem]:
        return [e for e in self.edges.values() if e.selected]

    def _clear_edge_selection(self) -> None:
        for edge in self.selected_edges():
            edge.set_selected(False)

    def select(self, items: list[QGraphicsItem]) -> None:
        """Replace the selection (nodes, frames, edges), announcing it once, not once per item."""
        with QSignalBlocker(self):
            self.clearSelection()
            self._clear_edge_selection()
            for item in items:
                if isinstance(item, EdgeItem):
                    item.set_selected(True)
                else:
                    item.setSelected(True)
        self.selectionChanged.emit()

    def select_edge(self, edge: EdgeItem, additive: bool) -> None:
        """A click on an edge: select it (with Ctrl, add it to the selection)."""
        if additive:
            edge.set_selected(not edge.selected)
        else:
            self.select([edge])

    def select_nodes(self, node_ids: list[str]) -> None:
        self.select([self.nodes[i] for i in node_ids if i in self.nodes])

    def select_all(self) -> None:
        self.select([i for i in [*self.nodes.values(), *self.backdrops.values()] if i.isVisible()])

    def items_rect(self, items: list[QGraphicsItem] | None = None) -> QRectF:
        """Bounding rect of the given items, or of every visible node and frame, with what they wear
        (the stepper's value badges, a block's port badges), so framing never cuts those off."""
        chosen = items if items is not None else [*self.nodes.values(), *self.backdrops.values()]
        rect = QRectF()
        for item in chosen:
            if item.isVisible():
                rect = rect.united(item.mapRectToScene(item.boundingRect() | item.childrenBoundingRect()))
        return rect

    # --- look ---------------------------------------------------------------------------------------

    def category_color(self, category: str) -> QColor:
        if category not in self._colors:
            self._colors[category] = self.theme.category_color(category)
        return self._colors[category]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._colors.clear()
        for item in self.nodes.values():
            item.restyle(theme, self.category_color(item.spec.category if item.spec else ""))
        for edge in self.edges.values():
            edge.restyle(theme)
        for backdrop in self.backdrops.values():
            backdrop.update()
        self.update()

    def set_zoom(self, zoom: float) -> None:
        """Show what reads at this zoom: edge labels from OVERVIEW_LOD up, ports from PORTS_LOD up.
        Hidden items cost nothing to paint, which keeps a zoomed-out thousand-node graph fast."""
        detailed, ports = zoom >= OVERVIEW_LOD, zoom >= PORTS_LOD
        if detailed != self.detailed:
            self.detailed = detailed
            for edge in self.edges.values():
                edge.pill.setVisible(detailed and bool(edge.label))
        self.ports_shown = ports  # nodes draw their ports from PORTS_LOD up; wires start only there
