"""Every undoable edit. Each command calls only graphcore.Graph methods; the canvas follows the events.

Commands remember what they need to undo when they are built: the stack guarantees that the graph
is in the same state every time a command's redo() or undo() runs. Under PySide6 a child
QUndoCommand must stay referenced from Python or its parent's redo() segfaults, so the few
compound edits here are single commands or stack macros (`QUndoStack.beginMacro`) instead.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
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
    """Remove nodes with their edges; undo puts each node back at its place in file order."""

    def __init__(self, graph: Graph, node_ids: Iterable[str]) -> None:
        self.graph = graph
        chosen = set(node_ids)
        self.removed = [(index, n) for index, n in enumerate(graph.nodes) if n.id in chosen]
        super().__init__(f"Delete {_describe([n.id for _, n in self.removed])}")
        self.edges = list(dict.fromkeys(e for node_id in chosen for e in graph.edges_of(node_id)))

    def redo(self) -> None:
        _remove(self.graph, [n.id for _, n in self.removed], self.edges)

    def undo(self) -> None:
        for index, node in self.removed:  # ascending: each index is final once the earlier ones are back
            self.graph.add_node(node, index=index)
        for src, dst in self.edges:
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
    """Replace one key of Graph.meta (groups live there); None removes the key, so files stay clean."""

    def __init__(self, graph: Graph, key: str, value: Any, text: str) -> None:
        super().__init__(text)
        self.graph, self.key = graph, key
        self.old, self.new = copy.deepcopy(graph.meta.get(key)), copy.deepcopy(value)
        self.order = list(graph.meta)  # undo puts a re-added key back where it was in the file

    def redo(self) -> None:
        self.graph.set_meta(self.key, self.new)

    def undo(self) -> None:
        meta = self.graph.meta
        rank = {key: index for index, key in enumerate(self.order)}
        if self.old is not None:  # restore the key's place before the event, so views see the final order
            meta[self.key] = self.old
            ordered = sorted(meta.items(), key=lambda item: rank.get(item[0], len(rank)))
            meta.clear()
            meta.update(ordered)
        self.graph.set_meta(self.key, self.old)


def _remove(graph: Graph, node_ids: list[str], edges: list[tuple[PortRef, PortRef]]) -> None:
    """Remove nodes, their edges first (each edge once, though it may join two removed nodes)."""
    for src, dst in edges:
        if graph.source_of(dst) == src:
            graph.disconnect(src, dst)
    for node_id in node_ids:
        graph.remove_node(node_id)


def _describe(node_ids: list[str]) -> str:
    if len(node_ids) == 1:
        return f"'{node_ids[0]}'"
    return f"{len(node_ids)} nodes"
