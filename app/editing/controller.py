"""Controller: what the user did on the canvas, turned into undo commands.

The scene and view report gestures (a wire dragged from a port, nodes dropped after a drag, a
type dropped from the palette); menus call the edit actions. Before connecting, the controller
asks the model (`Graph.why_not_connect`) so the wire can light green or red and a refusal can name
its reason in the status bar. It never changes the graph except by pushing commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QGuiApplication

from app.canvas.items import HEADER, MIN_WIDTH, Port
from app.canvas.scene import CanvasScene
from app.canvas.view import CanvasView
from app.editing import groups
from app.editing.clipboard import copy_text, fresh_id, paste_fragment
from app.editing.commands import (
    AddNode,
    Connect,
    Disconnect,
    MoveNodes,
    Paste,
    RemoveNodes,
    RenameNode,
    SetAttr,
    describe,
    edge_text,
    node_names,
)
from app.editing.document import Document
from app.editing.layout import layered_positions
from graphcore.graph import Node, PortRef
from graphcore.registry import REGISTRY


@dataclass
class _Wire:
    """A wire being dragged: fixed at `anchor`; `detached` is the edge picked up from an input."""

    anchor: PortRef
    from_output: bool
    detached: tuple[PortRef, PortRef] | None = None
    target: Port | None = None
    refusal: str | None = None


class Controller(QObject):
    message = Signal(str)  # for the status bar
    wire_dropped = Signal(object, bool, QPointF)  # port, is it an output, where: offer a new node there

    def __init__(self, document: Document, scene: CanvasScene, view: CanvasView) -> None:
        super().__init__(document)
        self.document, self.graph, self.scene, self.view = document, document.graph, scene, view
        self._wire: _Wire | None = None
        scene.wire_pressed.connect(self._on_wire_pressed)
        scene.wire_moved.connect(self._on_wire_moved)
        scene.wire_released.connect(self._on_wire_released)
        scene.nodes_moved.connect(self._on_nodes_moved)
        scene.group_toggled.connect(self.toggle_collapsed)
        document.stack.indexChanged.connect(self._drop_wire)

    def _push(self, command: Any) -> None:
        self.document.push(command)

    # --- nodes and wires --------------------------------------------------------------------------

    def add_node(
        self, node_type: str, at: QPointF, connect_to: tuple[PortRef, bool] | None = None
    ) -> str | None:
        """Add a node of `node_type` under the point `at`; optionally wire it to a port (output or input)."""
        spec = REGISTRY.get(node_type)
        if spec is None:
            self.message.emit(f"Unknown node type {node_type!r}")
            return None
        node_id = fresh_id(self.graph, re.sub(r"\W+", "_", node_type.lower()), set())
        corner = self.scene.to_grid(at - QPointF(MIN_WIDTH / 2, HEADER / 2))
        stack = self.document.stack
        adding = AddNode(self.graph, Node(node_id, node_type, pos=(corner.x(), corner.y())))
        stack.beginMacro(adding.text())
        self._push(adding)
        if connect_to is not None:
            port, is_output = connect_to
            candidates = spec.outputs if not is_output else spec.inputs
            for name in candidates:
                src, dst = (port, PortRef(node_id, name)) if is_output else (PortRef(node_id, name), port)
                if self.graph.why_not_connect(src, dst) is None:
                    self._push(Connect(self.graph, src, dst))
                    break
        stack.endMacro()
        self.scene.select_nodes([node_id])
        return node_id

    def connect(self, src: PortRef, dst: PortRef) -> bool:  # type: ignore[override]  # not QObject.connect
        """Connect, or say in the status bar why not."""
        reason = self.graph.why_not_connect(src, dst)
        if reason is not None:
            self.message.emit(f"Cannot connect: {reason}")
            return False
        self._push(Connect(self.graph, src, dst))
        return True

    def _on_wire_pressed(self, port: Port) -> None:
        source = None if port.is_output else self.graph.source_of(port.ref)
        if source is not None:  # pick up the edge feeding this input, as Blender does
            self._wire = _Wire(source, True, (source, port.ref))
            self.scene.edges[port.ref].hide()
        else:
            self._wire = _Wire(port.ref, port.is_output)
        self._on_wire_moved(self.scene.port_scene_pos(self._wire.anchor, self._wire.from_output))

    def _on_wire_moved(self, pos: QPointF) -> None:
        wire = self._wire
        if wire is None:
            return
        target = self.scene.port_at(pos, exclude=wire.anchor)
        if target is not wire.target:
            if wire.target is not None:
                wire.target.set_state(highlight=None)
            wire.target, wire.refusal = target, self._refusal(wire, target) if target else None
            if target is not None:
                target.set_state(highlight="bad" if wire.refusal else "ok")
                src, dst = self._oriented(wire, target)
                self.message.emit(
                    f"Cannot connect: {wire.refusal}" if wire.refusal else f"Connect {src} → {dst}"
                )
        theme = self.scene.theme
        color = theme.color("edge") if target is None else theme.color("error" if wire.refusal else "ok")
        anchor = self.scene.port_scene_pos(wire.anchor, wire.from_output)
        end = self.scene.port_scene_pos(target.ref, target.is_output) if target else pos
        self.scene.wire.show_between(*((anchor, end) if wire.from_output else (end, anchor)), color)

    def _oriented(self, wire: _Wire, target: Port) -> tuple[PortRef, PortRef]:
        return (wire.anchor, target.ref) if wire.from_output else (target.ref, wire.anchor)

    def _refusal(self, wire: _Wire, target: Port) -> str | None:
        if target.is_output == wire.from_output:
            kind = "outputs" if target.is_output else "inputs"
            return f"{wire.anchor} and {target.ref} are both {kind}; drag from an output to an input"
        src, dst = self._oriented(wire, target)
        if wire.detached == (src, dst):
            return None
        return self.graph.why_not_connect(src, dst)

    def _drop_wire(self) -> _Wire | None:
        """Stop drawing the wire being dragged and return it. The history moving under it (Ctrl+Z
        halfway through a drag) drops it too: the ports it joined may be gone, so it connects nothing."""
        wire, self._wire = self._wire, None
        if wire is None:
            return None
        self.scene.wire.hide()
        if wire.detached is not None and wire.detached[1] in self.scene.edges:
            self.scene.edges[wire.detached[1]].show()
        if wire.target is not None:
            wire.target.set_state(highlight=None)
        return wire

    def _on_wire_released(self, pos: QPointF) -> None:
        wire = self._drop_wire()
        if wire is None:
            return
        target = wire.target
        if target is None:
            if wire.detached is not None:
                self._push(Disconnect(self.graph, *wire.detached))
            else:
                self.wire_dropped.emit(wire.anchor, wire.from_output, pos)
            return
        if wire.refusal is not None:
            self.message.emit(f"Cannot connect: {wire.refusal}")
            return
        src, dst = self._oriented(wire, target)
        if wire.detached == (src, dst):
            return
        if wire.detached is not None and wire.detached[1] != dst:
            self.document.stack.beginMacro(f"Reconnect {edge_text(self.graph, src, dst)}")
            self._push(Disconnect(self.graph, *wire.detached))
            self.connect(src, dst)
            self.document.stack.endMacro()
        else:
            self.connect(src, dst)

    def _on_nodes_moved(self, positions: dict[str, tuple[float, float]]) -> None:
        self._push_move(MoveNodes(self.graph, positions))

    def _push_move(self, command: MoveNodes) -> bool:
        """Push a move unless it moves nothing: an empty step would undo nothing yet mark the file
        modified (a second auto layout in a row is one)."""
        if not command.new:
            return False
        self._push(command)
        return True

    # --- edits of the selection ----------------------------------------------------------------------

    def delete_selection(self, text: str = "Delete") -> None:
        """Delete selected nodes (with their edges), selected edges, and the frames of selected groups."""
        node_ids = self.scene.selected_node_ids()
        doomed = set(node_ids)
        edges = [(e.src, e.dst) for e in self.scene.selected_edges() if not {e.src.node, e.dst.node} & doomed]
        frames = [b.group_id for b in self.scene.selected_backdrops() if not b.collapsed]
        if not (node_ids or edges or frames):
            self.message.emit("Nothing selected")
            return
        current = groups.groups_of(self.graph)
        titles = [f"group {groups.find(current, f).get('title', f)}" for f in frames]
        doomed_items = node_names(self.graph, node_ids) + [edge_text(self.graph, *e) for e in edges] + titles
        self.document.stack.beginMacro(
            f"{text} {describe(doomed_items, 'nodes' if not edges and not frames else 'items')}"
        )
        for src, dst in edges:
            self._push(Disconnect(self.graph, src, dst))
        kept = [g for g in groups.pruned(current, doomed) if g["id"] not in frames]
        if kept != current:
            self.document.set_meta(groups.KEY, kept or None, "Update groups")
        if node_ids:
            self._push(RemoveNodes(self.graph, node_ids))
        self.document.stack.endMacro()

    def copy(self) -> bool:
        node_ids = self.scene.selected_node_ids()
        if not node_ids:
            self.message.emit("Nothing selected to copy")
            return False
        QGuiApplication.clipboard().setText(copy_text(self.graph, node_ids))
        self.message.emit(f"Copied {len(node_ids)} node{'s' if len(node_ids) > 1 else ''}")
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection("Cut")

    def paste(self, text: str | None = None, command: str = "Paste") -> None:
        text = QGuiApplication.clipboard().text() if text is None else text
        at = self.view.cursor_scene_pos() if self.view.underMouse() else None
        fragment = paste_fragment(self.graph, text, (at.x(), at.y()) if at else None)
        if fragment is None:
            self.message.emit("The clipboard holds no Backprop Studio nodes")
            return
        nodes, edges, blocks = fragment
        self._push(Paste(self.graph, nodes, edges, command, blocks))
        self.scene.select_nodes([n.id for n in nodes])

    def duplicate(self) -> None:
        node_ids = self.scene.selected_node_ids()
        if not node_ids:
            self.message.emit("Nothing selected to duplicate")
            return
        self.paste(copy_text(self.graph, node_ids), "Duplicate")

    def set_param(self, node_id: str, name: str, value: Any) -> bool:
        """Set a param, refusing (with the reason) a value its declaration does not allow."""
        node = self.graph.node(node_id)
        spec = REGISTRY.get(node.type)  # None for a placeholder: its params are kept as they came
        param = next((p for p in spec.params if p.name == name), None) if spec and spec.editable else None
        if param is None:
            self.message.emit(f"{node_id} has no param {name!r} that can be edited")
            return False
        problem = param.problem(value)
        if problem is not None:
            self.message.emit(f"{node_id}.{name}: {problem}")
            return False
        if name not in node.params or node.params[name] != value:
            params = {**node.params, name: value}
            lost = self.graph.edges_lost(node_id, params)  # from outputs the new params take away
            setting = SetAttr(
                self.graph, node_id, "params", params, merge_key=None if lost else f"{node_id}.params.{name}"
            )
            if not lost:
                self._push(setting)
                return True
            wires = ", ".join(edge_text(self.graph, src, dst) for src, dst in lost)
            self.document.stack.beginMacro(f"{setting.text()}, disconnecting {wires}")
            for src, dst in lost:
                self._push(Disconnect(self.graph, src, dst))
            self._push(setting)
            self.document.stack.endMacro()
            self.message.emit(f"{node_id}.{name} = {value}: disconnected {wires} (Undo brings them back)")
        return True

    def set_label(self, node_id: str, label: str) -> None:
        if self.graph.node(node_id).label != label:
            self._push(SetAttr(self.graph, node_id, "label", label))

    def rename_node(self, node_id: str, new_id: str) -> bool:
        """Change a node's id in one undoable step, or say in the status bar why not (empty, taken,
        or not storable in a file). A node selected when renamed stays selected through undo and redo."""
        if new_id == node_id:
            return True
        reason = self.graph.why_not_rename(node_id, new_id)
        if reason is not None:
            self.message.emit(f"Cannot rename {node_id}: {reason}")
            return False
        selected = node_id in self.scene.selected_node_ids()
        self._push(RenameNode(self.graph, node_id, new_id, self._reselect if selected else None))
        return True

    def _reselect(self, node_id: str) -> None:
        if node_id in self.scene.nodes:
            self.scene.select_nodes([node_id])

    def auto_layout(self) -> None:
        items = self.scene.nodes
        sizes = {i: (item.width, item.height) for i, item in items.items()}

        def port_offset(ref: PortRef, is_output: bool) -> tuple[float, float]:
            at = items[ref.node].port_scene_pos(ref.port, is_output) - items[ref.node].scenePos()
            return at.x(), at.y()

        positions = layered_positions(self.graph, sizes, port_offset)
        if not positions:
            self.message.emit("Nothing to lay out")
            return
        if not self._push_move(MoveNodes(self.graph, positions, "Auto layout")):
            self.message.emit("Already laid out")

    # --- groups -----------------------------------------------------------------------------------

    def group_selection(self) -> str | None:
        node_ids = self.scene.selected_node_ids()
        if not node_ids:
            self.message.emit("Select the nodes to group first")
            return None
        new, group_id = groups.with_new_group(groups.groups_of(self.graph), node_ids)
        self.document.set_meta(groups.KEY, new, f"Group {describe(node_names(self.graph, node_ids))}")
        self.scene.select([self.scene.backdrops[group_id]])
        return group_id

    def _selected_groups(self) -> list[str]:
        chosen = [b.group_id for b in self.scene.selected_backdrops()]
        chosen += [self.scene.group_of[n] for n in self.scene.selected_node_ids() if n in self.scene.group_of]
        return list(dict.fromkeys(chosen))

    def ungroup_selection(self) -> None:
        chosen = self._selected_groups()
        if not chosen:
            self.message.emit("Select a group (or a node in one) to ungroup")
            return
        current = groups.groups_of(self.graph)
        kept = [g for g in current if g["id"] not in chosen]
        titles = [str(groups.find(current, g).get("title", g)) for g in chosen]
        self.document.set_meta(groups.KEY, kept or None, f"Ungroup {describe(titles, 'groups')}")

    def toggle_selected_groups(self) -> None:
        for group_id in self._selected_groups():
            self.toggle_collapsed(group_id)

    def toggle_collapsed(self, group_id: str) -> None:
        group = groups.find(groups.groups_of(self.graph), group_id)
        self.set_group(group_id, collapsed=not group.get("collapsed"))

    def set_group(self, group_id: str, *_: str, **changes: Any) -> None:
        """Change a group's title, colour or collapsed flag; a change to what it already is is no step.
        The step's text says what changed ("Rename group Group 1 to affine"); a text some callers
        still pass before the changes is not needed and not used."""
        current = groups.groups_of(self.graph)
        changed = groups.with_changes(current, group_id, **changes)
        if changed != current:
            self.document.set_meta(groups.KEY, changed, _group_text(groups.find(current, group_id), changes))

    def select_all(self) -> None:
        self.scene.select_all()


def _group_text(group: dict[str, Any], changes: dict[str, Any]) -> str:
    """The History text of a change to one group: what was set to what."""
    title = str(group.get("title", group["id"]))
    if set(changes) == {"title"}:
        return f"Rename group {title} to {changes['title']}"
    if set(changes) == {"collapsed"}:
        return f"{'Collapse' if changes['collapsed'] else 'Expand'} {title}"
    if set(changes) == {"color"}:
        return f"Colour group {title} {changes['color']}"
    return f"Change group {title}: {', '.join(sorted(changes))}"
