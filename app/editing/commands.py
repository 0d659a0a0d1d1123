"""Every undoable edit. Each command calls only graphcore.Graph methods; the canvas follows the events.

Commands remember what they need to undo when they are built: the stack guarantees that the graph
is in the same state every time a command's redo() or undo() runs. Each builds its History text
itself, naming nodes as the user sees them (by label; the id only where two would read the same)
and saying what was set to what. Under PySide6 a child QUndoCommand must stay referenced from
Python or its parent's redo() segfaults, so the few compound edits here are single commands or
stack macros (`QUndoStack.beginMacro`) instead.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand  # Qt 6: the undo framework lives in QtGui

from app.editing import groups
from app.editing.values import show_value
from app.lab.names import short_name
from graphcore.blocks import BlockDef, used_blocks
from graphcore.graph import Graph, Node, PortRef
from graphcore.registry import REGISTRY

Position = tuple[float, float]


class AddNode(QUndoCommand):
    def __init__(self, graph: Graph, node: Node) -> None:
        super().__init__(f"Add {node.type} {node_names(graph, [node.id], [node])[0]}")
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
        super().__init__(f"Delete {describe(node_names(graph, [n.id for _, n in self.removed]))}")
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
        super().__init__(f"Connect {edge_text(graph, src, dst)}")
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
        super().__init__(f"Disconnect {edge_text(graph, src, dst)}")
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
        self, graph: Graph, node_id: str, name: str, value: Any, *, merge_key: str | None = None
    ) -> None:
        super().__init__()
        self.graph, self.node_id, self.name, self.merge_key = graph, node_id, name, merge_key
        self.node_name = node_names(graph, [node_id])[0]
        self.old, self.new = copy.deepcopy(getattr(graph.node(node_id), name)), copy.deepcopy(value)
        self.setText(self._describe())

    def _describe(self) -> str:
        """ "Set sq.exponent to 3.0", "Rename t = σ(z) to activation", "Move t"."""
        if self.name == "label":
            return f"Rename {self.old or self.node_id} to {self.new or self.node_id}"
        if self.name == "pos":
            return f"Move {self.node_name}"
        if self.name == "params":
            return set_text(self.node_name, self.old, self.new)
        return f"Set {self.node_name}.{self.name}"

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetAttr) or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        self.setText(self._describe())
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
        super().__init__(text or f"Move {describe(node_names(graph, list(self.new)))}")

    def redo(self) -> None:
        for node_id, pos in self.new.items():
            self.graph.set_attr(node_id, "pos", pos)

    def undo(self) -> None:
        for node_id, pos in self.old.items():
            self.graph.set_attr(node_id, "pos", pos)


class Paste(QUndoCommand):
    """Add a fragment: nodes (with ids already made unique) and the edges among them."""

    def __init__(
        self,
        graph: Graph,
        nodes: list[Node],
        edges: list[tuple[PortRef, PortRef]],
        text: str = "Paste",
        blocks: Mapping[str, BlockDef] | None = None,
    ) -> None:
        super().__init__(f"{text} {describe(node_names(graph, [n.id for n in nodes], nodes))}")
        self.graph, self.nodes, self.edges = graph, nodes, edges
        self.blocks = dict(blocks or {})  # definitions the pasted Block nodes bring along

    def redo(self) -> None:
        for name, definition in self.blocks.items():
            self.graph.set_block(name, definition)
        for node in self.nodes:
            self.graph.add_node(node)
        for src, dst in self.edges:
            self.graph.connect(src, dst)

    def undo(self) -> None:
        _remove(self.graph, [n.id for n in reversed(self.nodes)], self.edges)
        left = list(self.blocks)
        while left:  # a definition used inside another goes after it
            users = used_blocks(self.graph)
            name = next(n for n in left if not users.get(n))
            self.graph.set_block(name, None)
            left.remove(name)


class RenameNode(QUndoCommand):
    """Give a node a new id (Graph.rename_node: edges and training references follow), and rename it
    in the groups that list it. `reselect`, if given, is called with the id the node has after each
    redo and undo: the canvas rebuilds a renamed node's item, and the controller selects it again."""

    def __init__(
        self,
        graph: Graph,
        node_id: str,
        new_id: str,
        reselect: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(f"Rename id {node_id} to {new_id}")
        self.graph, self.old, self.new, self.reselect = graph, node_id, new_id, reselect
        self.groups_before = copy.deepcopy(graph.meta.get(groups.KEY))
        # renaming onto an id the training section still names (its node deleted) merges the two
        # references; renaming back cannot split them, so undo puts the section back as it was
        self.training_before = copy.deepcopy(graph.training)

    def _groups_naming(self, node_id: str) -> Any:
        found = copy.deepcopy(self.groups_before)
        for group in found if isinstance(found, list) else ():  # meta is free-form: skip what is odd
            if isinstance(group, dict) and isinstance(group.get("nodes"), list):
                group["nodes"] = [node_id if n == self.old else n for n in group["nodes"]]
        return found

    def _apply(self, before: str, after: str) -> None:
        self.graph.rename_node(before, after)
        if after == self.old and self.graph.training != self.training_before:
            self.graph.set_training(copy.deepcopy(self.training_before))
        listed = self.groups_before if after == self.old else self._groups_naming(after)
        if listed != self.graph.meta.get(groups.KEY):
            self.graph.set_meta(groups.KEY, listed)
        if self.reselect is not None:
            self.reselect(after)

    def redo(self) -> None:
        self._apply(self.old, self.new)

    def undo(self) -> None:
        self._apply(self.new, self.old)


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


_MISSING = object()
LISTED = 3  # a History text names up to this many nodes, then counts them


def node_names(graph: Graph, node_ids: Iterable[str], extra: Iterable[Node] = ()) -> list[str]:
    """How the History names nodes: by the name their label gives (app.lab.names.short_name: "z" for
    "z = wx + b"), else their id; where another node, in the graph or among `extra` (nodes about to
    be added), goes by the same name, the id follows in parentheses: "w (w2)"."""
    extra = list(extra)
    by_id = {n.id: n for n in extra}
    wanted = {i: _name(by_id[i] if i in by_id else graph.node(i)) for i in node_ids}
    if not wanted:
        return []
    bases = set(wanted.values())
    everyone = {n.id: n for n in (*graph, *extra)}
    count = Counter(name for n in everyone.values() if (name := _name(n)) in bases)
    return [f"{name} ({i})" if count[name] > 1 and name != i else name for i, name in wanted.items()]


def _name(node: Node) -> str:
    return short_name(node.label, node.id)


def describe(names: list[str], noun: str = "nodes") -> str:
    """ "w", "w, b", "w, x, b", then "5 nodes"."""
    return ", ".join(names) if len(names) <= LISTED else f"{len(names)} {noun}"


def edge_text(graph: Graph, src: PortRef, dst: PortRef) -> str:
    """ "w → w·x.a": nodes by name, a port only where its node has more than one on that side."""
    names = node_names(graph, dict.fromkeys([src.node, dst.node]))
    src_name, dst_name = names[0], names[-1]
    return f"{_port(graph, src, src_name, True)} → {_port(graph, dst, dst_name, False)}"


def _port(graph: Graph, ref: PortRef, name: str, output: bool) -> str:
    spec = REGISTRY.get(graph.node(ref.node).type) if ref.node in graph else None
    ports = (spec.outputs if output else spec.inputs) if spec is not None else ()
    return name if len(ports) == 1 and ports[0] == ref.port else f"{name}.{ref.port}"


def set_text(path: str, old: Any, new: Any) -> str:
    """What an edit set, to what: "Set sq.exponent to 3.0", "Set training.optimizer.lr to 0.02" (the
    one entry that changed inside an object, found by comparing), "Set training.optimizer: name to
    sgd, lr to 0.1" (a few), "Reset x.value" (an entry removed). Undo commands of params and of the
    training section build their History text with it."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = [k for k in {**old, **new} if old.get(k, _MISSING) != new.get(k, _MISSING)]
        if len(changed) == 1:
            return set_text(
                f"{path}.{changed[0]}", old.get(changed[0], _MISSING), new.get(changed[0], _MISSING)
            )
        if 1 < len(changed) <= LISTED:
            return f"Set {path}: " + ", ".join(
                f"{k} to {shown(new[k])}" if k in new else f"no {k}" for k in changed
            )
        return f"Set {path} ({len(changed)} values)" if changed else f"Set {path}"
    if new is _MISSING:
        return f"Reset {path}"
    return f"Set {path} to {shown(new)}"


def shown(value: Any, limit: int = 40) -> str:
    """A value as the History shows it: as typed in the inspector, cut short."""
    text = value if isinstance(value, str) else "null" if value is None else show_value(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
