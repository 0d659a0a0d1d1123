"""Every undoable edit. Each command calls only graphcore.Graph methods; the canvas follows the events.

Commands remember what they need to undo when they are built: the stack guarantees that the graph
is in the same state every time a command's redo() or undo() runs. Under PySide6 a child
QUndoCommand must stay referenced from Python or its parent's redo() segfaults, so the few
compound edits here are single commands or stack macros (`QUndoStack.beginMacro`) instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand  # Qt 6: the undo framework lives in QtGui

from graphcore.graph import Graph, Node, PortRef

Position = tuple[float, float]


class AddNode(QUndoCommand):
    def __init__(self, graph: Graph, node: Node) -> None:
        super().__init__(f"Add {node.type} '{node.id}'")
        self.graph, self.node = graph, node

    def redo(self) -> None:
        self.graph.add_node(self.node)

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class RemoveNodes(QUndoCommand):
    """Remove nodes with their edges; undo puts them back in their original file order.

    graphcore appends re-added nodes at the end, which would reorder the saved file and the
    schedule's tie-breaks, so undo also re-adds the nodes that followed the first removed one.
    """

    def __init__(self, graph: Graph, node_ids: Iterable[str]) -> None:
        self.graph = graph
        chosen = set(node_ids)
        self.removed = [n.id for n in graph.nodes if n.id in chosen]
        super().__init__(f"Delete {_describe(self.removed)}")
        order = [n.id for n in graph.nodes]
        self.tail = order[order.index(self.removed[0]) :] if self.removed else []
        self.nodes = {node_id: graph.node(node_id) for node_id in self.tail}
        tail = set(self.tail)
        self.tail_edges = [(s, d) for s, d in graph.edges if s.node in tail or d.node in tail]
        self.edges = [(s, d) for s, d in self.tail_edges if s.node in chosen or d.node in chosen]

    def redo(self) -> None:
        _remove(self.graph, self.removed, self.edges)

    def undo(self) -> None:
        _remove(self.graph, [n for n in self.tail if n in self.graph], self.tail_edges)
        for node_id in self.tail:
            self.graph.add_node(self.nodes[node_id])
        for src, dst in self.tail_edges:
            self.graph.connect(src, dst)


class Connect(QUndoCommand):
    """Connect src → dst; an edge already feeding dst is replaced, and undo restores it."""

    def __init__(self, graph: Graph, src: PortRef, dst: PortRef) -> None:
        super().__init__(f"Connect {src} → {dst}")
        self.graph, self.src, self.dst = graph, src, dst
        self.replaced = graph.source_of(dst)

    def redo(self) -> None:
        self.graph.connect(self.src, self.dst)

    def undo(self) -> None:
        self.graph.disconnect(self.src, self.dst)
        if self.replaced is not None:
            self.graph.connect(self.replaced, self.dst)


class Disconnect(QUndoCommand):
    def __init__(self, graph: Graph, src: PortRef, dst: PortRef) -> None:
        super().__init__(f"Disconnect {src} → {dst}")
        self.graph, self.src, self.dst = graph, src, dst

    def redo(self) -> None:
        self.graph.disconnect(self.src, self.dst)

    def undo(self) -> None:
        self.graph.connect(self.src, self.dst)


class SetAttr(QUndoCommand):
    """A param, label or position edit.

    Edits that share a `merge_key` and follow each other merge into one step (a spin box stepped
    ten times is one undo); an edit that ends where it started is dropped from the stack.
    """

    MERGE_ID = 1001

    def __init__(
        self,
        graph: Graph,
        node_id: str,
        name: str,
        value: Any,
        *,
        text: str = "",
        merge_key: str | None = None,
    ) -> None:
        super().__init__(text or f"Set {node_id}.{name}")
        self.graph, self.node_id, self.name, self.merge_key = graph, node_id, name, merge_key
        self.old, self.new = copy.deepcopy(getattr(graph.node(node_id), name)), copy.deepcopy(value)

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetAttr) or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True

    def redo(self) -> None:
        self.graph.set_attr(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.graph.set_attr(self.node_id, self.name, self.old)


class MoveNodes(QUndoCommand):
    """New positions for many nodes as one step: a drag of the selection, or an automatic layout."""

    def __init__(self, graph: Graph, positions: Mapping[str, Position], text: str = "") -> None:
        self.graph = graph
        self.new = {i: (float(x), float(y)) for i, (x, y) in positions.items() if graph.node(i).pos != (x, y)}
        self.old = {i: graph.node(i).pos for i in self.new}
        super().__init__(text or f"Move {_describe(list(self.new))}")

    def redo(self) -> None:
        for node_id, pos in self.new.items():
            self.graph.set_attr(node_id, "pos", pos)

    def undo(self) -> None:
        for node_id, pos in self.old.items():
            self.graph.set_attr(node_id, "pos", pos)


class Paste(QUndoCommand):
    """Add a fragment: nodes (with ids already made unique) and the edges among them."""

    def __init__(
        self, graph: Graph, nodes: list[Node], edges: list[tuple[PortRef, PortRef]], text: str = "Paste"
    ) -> None:
        super().__init__(f"{text} {_describe([n.id for n in nodes])}")
        self.graph, self.nodes, self.edges = graph, nodes, edges

    def redo(self) -> None:
        for node in self.nodes:
            self.graph.add_node(node)
        for src, dst in self.edges:
            self.graph.connect(src, dst)

    def undo(self) -> None:
        _remove(self.graph, [n.id for n in reversed(self.nodes)], self.edges)


class SetMeta(QUndoCommand):
    """Replace one key of Graph.meta (groups live there); None removes the key, so files stay clean.

    Graph.meta has no events, so `changed` is called with the key after each change
    (GraphSignals.meta_changed.emit in the app).
    """

    def __init__(self, graph: Graph, key: str, value: Any, changed: Callable[[str], Any], text: str) -> None:
        super().__init__(text)
        self.graph, self.key, self.changed = graph, key, changed
        self.old, self.new = copy.deepcopy(graph.meta.get(key)), copy.deepcopy(value)
        self.order = list(graph.meta)  # undo puts a re-added key back where it was in the file

    def _set(self, value: Any) -> None:
        meta = self.graph.meta
        if value is None:
            meta.pop(self.key, None)
        else:
            meta[self.key] = copy.deepcopy(value)
        self.changed(self.key)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)
        meta = self.graph.meta
        rank = {key: index for index, key in enumerate(self.order)}
        ordered = sorted(meta.items(), key=lambda item: rank.get(item[0], len(rank)))
        meta.clear()
        meta.update(ordered)


def _remove(graph: Graph, node_ids: list[str], edges: list[tuple[PortRef, PortRef]]) -> None:
    """Remove nodes, their known edges first: Graph.remove_node looks for a node's edges among all
    edges, so this keeps deleting many nodes from a big graph linear rather than quadratic."""
    for src, dst in edges:
        if graph.source_of(dst) == src:
            graph.disconnect(src, dst)
    for node_id in node_ids:
        graph.remove_node(node_id)


def _describe(node_ids: list[str]) -> str:
    if len(node_ids) == 1:
        return f"'{node_ids[0]}'"
    return f"{len(node_ids)} nodes"
