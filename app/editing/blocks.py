"""Blocks in the editor: making one from a selection (one undo step), adding another instance, and
the inside of a block as a document the canvas can show and edit.

A block is defined once in the file (graphcore.blocks.BlockDef: an inner Graph with its Input nodes
and the values it exposes) and used by nodes of type "Block". Opening a block shows its inner graph
on the canvas; edits there are ordinary undo commands on that graph, pushed on the file's own undo
stack, so one Ctrl+Z undoes the last edit wherever it was made.
"""

from __future__ import annotations

import copy
import re

from PySide6.QtCore import QPointF
from PySide6.QtGui import QUndoCommand

from app.editing import groups
from app.editing.clipboard import fresh_id
from app.editing.commands import AddNode, RenameNode, _remove, describe, node_names
from app.editing.document import Document
from graphcore.blocks import BlockDef, block_from_selection, repeat_of
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef

INPUT_TYPE = "Input"  # inside a block, each listed node of this type is one input port outside
ENTRY_PREFIX = "block:"  # a palette entry (and a drag from it) that adds an instance of a block


def entry_for(name: str) -> str:
    """The palette's entry for block `name` (what it drags and what the window is asked to add)."""
    return ENTRY_PREFIX + name


def block_of_entry(entry: str) -> str | None:
    """The block a palette entry adds, or None for an ordinary node type."""
    return entry[len(ENTRY_PREFIX) :] if entry.startswith(ENTRY_PREFIX) else None


def block_name(node: Node) -> str | None:
    """The definition a node instantiates, or None when it is no block instance."""
    name = node.params.get("block") if node.type == BLOCK_TYPE else None
    return name if isinstance(name, str) else None


def caption(node: Node) -> str:
    """What a block node shows beside its title: the block's name, and ×N when it is repeated."""
    name = block_name(node) or "?"
    return f"{name} ×{repeat_of(node)}" if repeat_of(node) > 1 else name


Ports = tuple[tuple[str, ...], tuple[str, ...]]


def describe_block(graph: Graph, node: Node, ports: Ports | None) -> list[str]:
    """A block node's tooltip lines: its block (×N) with the definition's description, its ports."""
    name = block_name(node)
    definition = graph.blocks.get(name) if name is not None else None
    if definition is None:
        return [f"block {name!r}, which this file does not define"]
    about = f": {definition.description}" if definition.description else ""
    lines = [f"block {caption(node)}{about}"]
    if repeat_of(node) > 1:
        lines.append(f"{repeat_of(node)} copies in sequence, each with its own parameters")
    inputs, outputs = ports or ((), ())
    lines.append(f"inputs: {', '.join(inputs) or 'none'} · outputs: {', '.join(outputs) or 'none'}")
    lines.append("Double-click (or Enter) opens it")
    return lines


def block_ports(graph: Graph, node: Node) -> Ports | None:
    """A block node's (inputs, outputs), its definition's as the graph answers them; None for any
    other node, whose ports its type gives."""
    if node.type != BLOCK_TYPE or node.id not in graph:
        return None
    return graph.input_ports_of(node.id), graph.output_ports_of(node.id)


def free_block_name(graph: Graph, hint: str = "Block") -> str:
    """A name no block of the file has yet: the hint, or the hint with the next number."""
    base = re.sub(r"\d+$", "", hint) or hint
    candidate, number = hint, 1
    while candidate in graph.blocks:
        number += 1
        candidate = f"{base}{number}"
    return candidate


class MakeBlock(QUndoCommand):
    """Replace the selected nodes by one instance of a new block, wired as they were. Undo removes
    the instance and the definition and puts every node and edge back exactly (file order too)."""

    def __init__(self, graph: Graph, node_ids: list[str], name: str) -> None:
        definition, instance, outside = block_from_selection(graph, node_ids, name)  # ValueError: refused
        _stack_inputs(definition)
        chosen = set(node_ids)
        self.graph, self.name = graph, name
        self.definition, self.instance, self.outside = definition, instance, list(outside)
        self.removed = [(index, copy.deepcopy(n)) for index, n in enumerate(graph.nodes) if n.id in chosen]
        self.edges = list(dict.fromkeys(e for node_id in node_ids for e in graph.edges_of(node_id)))
        self.groups_before = copy.deepcopy(graph.meta.get(groups.KEY))
        kept = groups.pruned(groups.groups_of(graph), chosen)
        self.groups_after = kept or None if self.groups_before is not None else None
        super().__init__(
            f"Make block {name} from {describe(node_names(graph, [n.id for _, n in self.removed]))}"
        )

    def redo(self) -> None:
        _remove(self.graph, [n.id for _, n in self.removed], self.edges)
        if self.groups_after != self.graph.meta.get(groups.KEY):
            self.graph.set_meta(groups.KEY, self.groups_after)
        self.graph.set_block(self.name, self.definition)
        self.graph.add_node(copy.deepcopy(self.instance))
        for src, dst in self.outside:
            self.graph.connect(src, dst)

    def undo(self) -> None:
        self.graph.remove_node(self.instance.id)  # its edges go with it
        self.graph.set_block(self.name, None)
        for index, node in self.removed:
            self.graph.add_node(copy.deepcopy(node), index=index)
        for src, dst in self.edges:
            self.graph.connect(src, dst)
        if self.groups_before != self.graph.meta.get(groups.KEY):
            self.graph.set_meta(groups.KEY, self.groups_before)


INPUT_GAP = 100.0  # between the Inputs stacked left of a new block's inside


def _stack_inputs(definition: BlockDef) -> None:
    """Stack a new block's Inputs in a column left of its other nodes, in port order: made beside
    what they feed, two feeding one node would lie on top of each other."""
    inner = definition.graph
    others = [n.pos for n in inner.nodes if n.id not in definition.inputs] or [(0.0, 0.0)]
    left, top = min(x for x, _ in others) - 220.0, min(y for _, y in others)
    for row, input_id in enumerate(definition.inputs):
        inner.set_attr(input_id, "pos", (left, top + row * INPUT_GAP))


def make_block(document: Document, node_ids: list[str], name: str) -> str:
    """Push MakeBlock; returns the new instance's id. ValueError (one line) when it is refused."""
    command = MakeBlock(document.graph, node_ids, name)
    document.push(command)
    return command.instance.id


def add_instance(document: Document, name: str, corner: QPointF) -> str:
    """Add another instance of block `name` with its top-left corner at `corner`; returns its id."""
    graph = document.graph
    node_id = fresh_id(graph, re.sub(r"\W+", "_", name.lower()) or "block", set())
    node = Node(node_id, BLOCK_TYPE, {"block": name, "repeat": 1}, pos=(corner.x(), corner.y()))
    document.push(AddNode(graph, node))
    return node_id


def exposed_refusal(definition: BlockDef, name: str, node_ids: list[str]) -> str | None:
    """Why deleting `node_ids` inside block `name` is refused: an output port exposes one of them, and
    a definition must never point at a missing node. None when nothing listed is exposed."""
    chosen = set(node_ids)
    for port, value in definition.outputs.items():
        node = value.split(".", 1)[0]
        if node in chosen:
            return f"Cannot delete {node}: block {name} exposes it as output {port!r}"
    return None


class SetBlockInputs(QUndoCommand):
    """Give block `name` the input ports `inputs` (its listed Input nodes, in port order). The wires
    into a port that goes, on every instance of the file, go in the same step; undo puts them back."""

    def __init__(self, root: Graph, name: str, inputs: list[str]) -> None:
        definition = root.blocks[name]
        self.root, self.definition = root, definition
        self.before, self.after = list(definition.inputs), list(inputs)
        gone = set(self.before) - set(self.after)
        self.cut: list[tuple[PortRef, PortRef]] = []
        for node in root.nodes:
            if block_name(node) != name:
                continue
            for port in self.before:
                src = root.source_of(PortRef(node.id, port))
                if port in gone and src is not None:
                    self.cut.append((src, PortRef(node.id, port)))
        super().__init__(f"Block {name}: inputs {', '.join(inputs) or 'none'}")

    def redo(self) -> None:
        for src, dst in self.cut:
            self.root.disconnect(src, dst)
        self.definition.inputs = tuple(self.after)

    def undo(self) -> None:
        self.definition.inputs = tuple(self.before)
        for src, dst in self.cut:
            self.root.connect(src, dst)


class RenameInBlock(QUndoCommand):
    """Follow a rename inside block `name`: its input list and the outputs naming the node take the
    new id, and the wires into the renamed input port of every instance move to the new port."""

    def __init__(self, root: Graph, name: str, old: str, new: str) -> None:
        super().__init__(f"Block {name}: {old} is now {new}")
        self.root, self.name, self.old, self.new = root, name, old, new
        self.definition = root.blocks[name]

    def _apply(self, before: str, after: str) -> None:
        definition, moved = self.definition, []
        if before in definition.inputs:
            for node in self.root.nodes:
                src = self.root.source_of(PortRef(node.id, before)) if block_name(node) == self.name else None
                if src is not None:
                    self.root.disconnect(src, PortRef(node.id, before))
                    moved.append((src, PortRef(node.id, after)))
        definition.inputs = tuple(after if i == before else i for i in definition.inputs)
        definition.outputs = {
            port: f"{after}.{value.split('.', 1)[1]}" if value.split(".", 1)[0] == before else value
            for port, value in definition.outputs.items()
        }
        for src, dst in moved:
            self.root.connect(src, dst)

    def redo(self) -> None:
        self._apply(self.old, self.new)

    def undo(self) -> None:
        self._apply(self.new, self.old)


def listed_inputs(definition: BlockDef, node_ids: list[str]) -> list[str]:
    """The block's Input nodes among `node_ids`: deleting them takes their ports away outside."""
    chosen = set(node_ids)
    return [i for i in definition.inputs if i in chosen]


class BlockDocument(Document):
    """The inside of block `name` of `outer`'s file, as the canvas edits it: the definition's own
    graph, validated on its own (diagnostics name the inner nodes), with edits going on the file's
    undo stack."""

    def __init__(self, outer: Document, name: str, definition: BlockDef) -> None:
        super().__init__(definition.graph, outer.path, parent=outer)
        self.stack.indexChanged.disconnect(self.revalidate)
        self.stack.deleteLater()
        self.stack = outer.stack
        self.stack.indexChanged.connect(self.revalidate)
        self.outer, self.block, self.definition = outer, name, definition

    @property
    def name(self) -> str:
        return self.block

    def push(self, command: QUndoCommand) -> None:
        """A rename of a listed Input or an exposed node takes the definition (and the wires into a
        renamed port outside) along, in the same undo step: it never names a missing node."""
        named = {*self.definition.inputs, *(v.split(".", 1)[0] for v in self.definition.outputs.values())}
        if not isinstance(command, RenameNode) or command.old not in named:
            super().push(command)
            return
        self.stack.beginMacro(command.text())
        super().push(command)
        super().push(RenameInBlock(self.outer.graph, self.block, command.old, command.new))
        self.stack.endMacro()

    def close(self) -> None:
        """Stop following the inner graph and the stack; the stack itself is the file's and stays."""
        self.stack.indexChanged.disconnect(self.revalidate)
        self.signals.detach()
