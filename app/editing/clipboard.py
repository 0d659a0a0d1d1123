"""Copy and paste as text: a fragment is a small graph file (the documented format), so it survives
the system clipboard, can be pasted into another window, and is checked by the same loader."""

from __future__ import annotations

import copy
import re

from graphcore.blocks import BlockDef, used_blocks
from graphcore.files.fileformat import FileFormatError, dumps, loads
from graphcore.graph import Graph, Node, PortRef

# the nodes (ids made unique), the edges among them, and the block definitions they use that the
# target graph lacks (a block copied from another file comes with its definition)
Fragment = tuple[list[Node], list[tuple[PortRef, PortRef]], dict[str, BlockDef]]


def copy_text(graph: Graph, node_ids: list[str]) -> str:
    """The chosen nodes and the edges among them, as file text (with the file's block definitions,
    which give Block nodes their ports)."""
    chosen = set(node_ids)
    fragment = Graph()
    fragment.blocks = dict(graph.blocks)  # a Block node's ports are its definition's
    for node_id in node_ids:
        fragment.add_node(copy.deepcopy(graph.node(node_id)))
    for src, dst in graph.edges:
        if src.node in chosen and dst.node in chosen:
            fragment.connect(src, dst)
    return dumps(fragment)


def paste_fragment(graph: Graph, text: str, offset: tuple[float, float] | None = None) -> Fragment | None:
    """Nodes and edges to add to `graph`, renamed so ids stay unique, or None if `text` is no fragment.

    The fragment's top-left node lands at `offset` when given; otherwise it is shifted a little so
    the copy does not hide the original.
    """
    try:
        fragment = loads(text, "clipboard")
    except FileFormatError:
        return None
    nodes = fragment.nodes
    if not nodes:
        return None
    left, top = min(n.pos[0] for n in nodes), min(n.pos[1] for n in nodes)
    dx, dy = (offset[0] - left, offset[1] - top) if offset else (40.0, 40.0)
    renamed: dict[str, str] = {}
    for node in nodes:
        renamed[node.id] = fresh_id(graph, node.id, set(renamed.values()))
    new_nodes = [
        Node(renamed[n.id], n.type, n.params, n.label, (n.pos[0] + dx, n.pos[1] + dy)) for n in nodes
    ]
    edges = [(PortRef(renamed[s.node], s.port), PortRef(renamed[d.node], d.port)) for s, d in fragment.edges]
    missing = {name: d for name, d in fragment.blocks.items() if name in used_blocks(fragment)}
    return new_nodes, edges, {name: d for name, d in missing.items() if name not in graph.blocks}


def fresh_id(graph: Graph, hint: str, taken: set[str]) -> str:
    """An id free in `graph` and not in `taken`: the hint, or the hint with the next free number."""
    base = re.sub(r"\d+$", "", hint) or hint
    candidate, number = hint, 1
    while candidate in graph or candidate in taken:
        number += 1
        candidate = f"{base}{number}"
    return candidate
