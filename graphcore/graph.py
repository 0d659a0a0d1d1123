"""The document: nodes and port-to-port edges on a networkx MultiDiGraph. No Qt, no torch.

This is what the user edits and what a file stores. Every mutation is one method that emits one
event, so the app's undo commands call exactly these methods and its canvas follows the events.
"""

from __future__ import annotations

import copy
import heapq
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphcore.events import Event
from graphcore.registry import REGISTRY, NodeSpec

if TYPE_CHECKING:
    import networkx as nx

    from graphcore.blocks import BlockDef
    from graphcore.files.weights import Weights


class EditError(ValueError):
    """An edit the model refuses; the message says why (the app shows it in the status bar)."""


@dataclass(frozen=True, order=True, slots=True)
class PortRef:
    """A port of a node, written `node.port` in files and messages. Slots: a 50,000-node file holds
    a PortRef per edge, and one without an instance dict is built faster and takes a third of the memory."""

    node: str
    port: str

    @classmethod
    def parse(cls, text: str) -> PortRef:
        node, dot, port = text.rpartition(".")
        if not dot or not node or not port:
            raise ValueError(f"{text!r} is not of the form node.port")
        return cls(node, port)

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    pos: tuple[float, float] = (0.0, 0.0)

    @property
    def title(self) -> str:
        return self.label or self.id


EDITABLE = ("params", "label", "pos")
BLOCK_TYPE = "Block"  # a node using a block definition (graphcore.blocks): its ports are the definition's
MAX_ID_LENGTH = 200  # what the file format stores (graphcore/files/schema: node.id)
_ID_FORBIDDEN = re.compile(r"[.\x00-\x1f\x7f]")


class Graph:
    """Nodes keyed by id; an edge per connected input port. An output may fan out freely."""

    def __init__(self) -> None:
        self._g: nx.MultiDiGraph | None = None  # built on first use (see _network)
        self.training: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        # a file of a newer format keeps its version and the sections this build does not read, and
        # save writes both back unchanged (its unknown node types stay as placeholder nodes)
        self.format_version = 1
        self.unread: dict[str, Any] = {}
        self.weights: Weights | None = None  # the side file's values (graphcore.files.weights)
        # the document's block definitions; a definition's own graph shares this very dict, so a block
        # used inside another finds its definition (graphcore.blocks)
        self.blocks: dict[str, BlockDef] = {}
        self.blocks_changed = Event()  # (name)
        self.node_added, self.node_removed = Event(), Event()  # (Node)
        self.edge_added, self.edge_removed = Event(), Event()  # (PortRef src, PortRef dst)
        self.node_changed = Event()  # (Node, attribute name)
        self.meta_changed = Event()  # (key of meta)
        self.training_changed = Event()  # ()
        self._rank: dict[str, float] = {}  # file order: nodes sorted by rank
        self._order: list[Node] | None = None  # the nodes in file order, rebuilt after an add or remove
        self._by_id: dict[str, Node] = {}  # the nodes again, without networkx's views in the way
        # (node, input port) -> the output feeding it: source_of in O(1), plain tuples hash fastest
        self._into: dict[tuple[str, str], PortRef] = {}
        self._topological: list[str] | None = None  # file-order topological sort, until the next edit

    # --- queries ---------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        """In file order (the order nodes were added, or the index they were put back at)."""
        return list(self._file_order())

    def _file_order(self) -> list[Node]:
        if self._order is None:
            self._order = [self._by_id[i] for i in sorted(self._by_id, key=self._rank.__getitem__)]
        return self._order

    @property
    def edges(self) -> list[tuple[PortRef, PortRef]]:
        """Sorted by destination (node in file order, then input port), so files never depend on
        the order edges happened to be connected in."""
        return sorted(
            ((src, PortRef(node, port)) for (node, port), src in self._into.items()),
            key=lambda edge: (self._rank[edge[1].node], self._port_index(edge[1])),
        )

    @property
    def edge_count(self) -> int:
        """How many edges there are, without sorting them as `edges` does (a window shows the count
        after every edit)."""
        return len(self._into)

    def _network(self) -> nx.MultiDiGraph:
        """The nodes and edges as a networkx graph (an edge keyed by its input port), for its
        algorithms. Loading and validating never need it, so it is built on first use; until then
        only add_node and connect happen (disconnect and remove_node build it first), so building it
        from the indexes gives the very graph that adding the nodes and edges one by one would."""
        import networkx as nx

        if self._g is None:
            self._g = nx.MultiDiGraph()
            self._g.add_nodes_from(self._by_id)
            for (node, port), src in self._into.items():
                self._g.add_edge(src.node, node, key=port, src=src.port, dst=port)
        return self._g

    def input_ports_of(self, node_id: str) -> tuple[str, ...]:
        """The node's input ports: its type's, or its block definition's."""
        node = self.node(node_id)
        spec = REGISTRY.get(node.type)
        return input_ports(spec, node, self.blocks) if spec is not None else ()

    def output_ports_of(self, node_id: str) -> tuple[str, ...]:
        """The node's output ports: its type's, what its params give, or its block definition's."""
        node = self.node(node_id)
        spec = REGISTRY.get(node.type)
        return output_ports(spec, node, self.blocks) if spec is not None else ()

    def _port_index(self, ref: PortRef) -> tuple[int, str]:
        inputs = self.input_ports_of(ref.node)
        return (inputs.index(ref.port) if ref.port in inputs else len(inputs), ref.port)

    def index_of(self, node_id: str) -> int:
        """The node's position in file order (what add_node(index=...) restores)."""
        return [n.id for n in self.nodes].index(node_id)

    def __contains__(self, node_id: object) -> bool:
        try:
            return node_id in self._by_id
        except TypeError:  # an unhashable id is no node's
            return False

    def __len__(self) -> int:
        return len(self._by_id)

    def node(self, node_id: str) -> Node:
        try:
            return self._by_id[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r}") from None

    def source_of(self, dst: PortRef) -> PortRef | None:
        """The output feeding input port `dst`, if any."""
        return self._into.get((dst.node, dst.port))

    def sources_of(self, node_id: str, ports: Iterable[str]) -> list[PortRef | None]:
        """source_of for each of the node's input `ports`, in order: what validate and lower ask per node."""
        into = self._into
        return [into.get((node_id, port)) for port in ports]

    def consumers_of(self, src: PortRef) -> list[PortRef]:
        """Every input port that output `src` feeds, in a stable order."""
        return sorted(
            PortRef(v, d["dst"])
            for _, v, d in self._network().out_edges(src.node, data=True)
            if d["src"] == src.port
        )

    def edges_of(self, node_id: str) -> list[tuple[PortRef, PortRef]]:
        """The node's own edges, found through its adjacency (not by scanning every edge)."""
        network = self._network()
        around = [*network.in_edges(node_id, data=True), *network.out_edges(node_id, data=True)]
        return [(PortRef(u, d["src"]), PortRef(v, d["dst"])) for u, v, d in around]

    def has_cycle(self) -> bool:
        return len(self._sorted()) < len(self)

    def find_cycle(self) -> list[str]:
        import networkx as nx

        try:
            return [u for u, *_ in nx.find_cycle(self._network())]
        except nx.NetworkXNoCycle:
            return []

    def topological_order(self) -> list[str]:
        """Deterministic: among nodes that are ready, the one added first (file order) goes first,
        so schedules and exported code read in the order the author built the graph."""
        order = self._sorted()
        if len(order) < len(self):
            raise ValueError("the graph has a cycle: there is no topological order")
        return list(order)

    def _sorted(self) -> list[str]:
        """Kahn's algorithm over the edge index, linear in nodes and edges (networkx's generic sort
        cost more than the rest of loading a 50,000-node file); kept until the next edit, since
        loading, validating and lowering each ask. Nodes on a cycle are left out."""
        if self._topological is not None:
            return self._topological
        rank = self._rank
        in_file_order = self._file_order()
        ranks = [rank[node.id] for node in in_file_order]
        if all(map(operator.lt, ranks, ranks[1:])) and all(
            rank[src.node] < rank[node] for (node, _), src in self._into.items()
        ):  # every edge points forward in file order (as in most files): that order is the answer
            self._topological = [node.id for node in in_file_order]
            return self._topological
        waiting = dict.fromkeys(self._rank, 0)
        feeds: dict[str, list[str]] = {}
        for (node, _), src in self._into.items():
            waiting[node] += 1
            feeds.setdefault(src.node, []).append(node)
        ready = [(rank[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            node_id = heapq.heappop(ready)[1]
            order.append(node_id)
            for after in feeds.get(node_id, ()):
                waiting[after] -= 1
                if waiting[after] == 0:
                    heapq.heappush(ready, (rank[after], after))
        self._topological = order
        return order

    def ancestors(self, node_id: str) -> set[str]:
        import networkx as nx

        return nx.ancestors(self._network(), node_id)

    def descendants(self, node_id: str) -> set[str]:
        import networkx as nx

        return nx.descendants(self._network(), node_id)

    def generations(self) -> list[list[str]]:
        """Nodes grouped by topological generation: the columns of an automatic layout."""
        import networkx as nx

        return [sorted(g) for g in nx.topological_generations(self._network())]

    def _reaches(self, start: str, goal: str) -> bool:
        import networkx as nx

        return bool(nx.has_path(self._network(), start, goal))

    def why_not_connect(self, src: PortRef, dst: PortRef, *, check_cycle: bool = True) -> str | None:
        """None if the edge may be added (replacing what feeds `dst`), else the reason."""
        for ref in (src, dst):
            if ref.node not in self._by_id:
                return f"there is no node {ref.node!r}"
        src_spec, dst_spec = (
            REGISTRY.get(self._by_id[src.node].type),
            REGISTRY.get(self._by_id[dst.node].type),
        )
        if src_spec is not None and src.port not in (ports := self.output_ports_of(src.node)):
            return f"{src} is not an output of {_type_of(self._by_id[src.node])}{_which(src_spec, ports)}"
        if dst_spec is not None and dst.port not in self.input_ports_of(dst.node):
            return f"{dst} is not an input of {_type_of(self._by_id[dst.node])}"
        if (current := self.source_of(dst)) is not None and current == src:
            return f"{src} is already connected to {dst}"
        if src.node == dst.node or (check_cycle and self._reaches(dst.node, src.node)):
            return f"{src} → {dst} would make a cycle"
        return None

    def edges_lost(self, node_id: str, params: dict[str, Any]) -> list[tuple[PortRef, PortRef]]:
        """The edges leaving ports that `node_id` would no longer have with `params` (chunk's chunks
        made smaller): an edit that sets them removes these edges in the same step."""
        node = self.node(node_id)
        spec = REGISTRY.get(node.type)
        if spec is not None and node.type == BLOCK_TYPE:
            changed = Node(node.id, node.type, params)
            outs, ins = output_ports(spec, changed, self.blocks), input_ports(spec, changed, self.blocks)
            return [
                (src, dst)
                for src, dst in self.edges_of(node_id)
                if (src.node == node_id and src.port not in outs)
                or (dst.node == node_id and dst.port not in ins)
            ]
        if spec is None or spec.output_ports is None:
            return []
        kept = spec.outputs_for(params)
        return [
            (src, dst) for src, dst in self.edges_of(node_id) if src.node == node_id and src.port not in kept
        ]

    def unique_id(self, hint: str) -> str:
        """`hint`, or `hint2`, `hint3`, ... whichever is free."""
        base = hint or "node"
        candidate, n = base, 1
        while candidate in self._by_id:
            n += 1
            candidate = f"{base}{n}"
        return candidate

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    # --- mutations: one method, one event ----------------------------------------------------------

    def add_node(self, node: Node, index: int | None = None) -> Node:
        """Add a node at the end of file order, or at `index` (undoing a delete puts it back there)."""
        if not node.id:
            raise EditError("a node needs an id")
        if node.id in self._by_id:
            raise EditError(f"there is already a node {node.id!r}")
        order = self._order if self._order is not None else self.nodes
        if index is None or index >= len(order):
            rank = self._rank[order[-1].id] + 1.0 if order else 0.0
            order.append(node)
        else:
            after = self._rank[order[index].id]
            before = self._rank[order[index - 1].id] if index > 0 else after - 2.0
            rank = (before + after) / 2
            order.insert(index, node)
        self._order = order
        self._topological = None
        self._rank[node.id] = rank
        if self._g is not None:
            self._g.add_node(node.id)
        self._by_id[node.id] = node
        self.node_added.emit(node)
        return node

    def remove_node(self, node_id: str) -> Node:
        """Remove a node; its edges go first, each with its own event."""
        node = self.node(node_id)
        for src, dst in self.edges_of(node_id):
            self.disconnect(src, dst)
        self._network().remove_node(node_id)
        del self._by_id[node_id]
        del self._rank[node_id]
        self._order = None
        self._topological = None
        self.node_removed.emit(node)
        return node

    def connect(self, src: PortRef, dst: PortRef, *, check_cycle: bool = True) -> PortRef | None:
        """Add src → dst. An input takes one edge: an old edge into `dst` is replaced and returned.
        The loader passes check_cycle=False and looks for a cycle once, after the last edge: a path
        search per edge would make loading quadratic."""
        if reason := self.why_not_connect(src, dst, check_cycle=check_cycle):
            raise EditError(reason)
        replaced = self.source_of(dst)
        if replaced is not None:
            self.disconnect(replaced, dst)
        if self._g is not None:
            self._g.add_edge(src.node, dst.node, key=dst.port, src=src.port, dst=dst.port)
        self._into[dst.node, dst.port] = src
        self._topological = None
        self.edge_added.emit(src, dst)
        return replaced

    def disconnect(self, src: PortRef, dst: PortRef) -> None:
        if self.source_of(dst) != src:
            raise EditError(f"{src} is not connected to {dst}")
        self._network().remove_edge(src.node, dst.node, key=dst.port)
        del self._into[dst.node, dst.port]
        self._topological = None
        self.edge_removed.emit(src, dst)

    def why_not_rename(self, node_id: str, new_id: str) -> str | None:
        """None if `node_id` may become `new_id`, else the reason: a file stores an id as a non-empty
        string of at most 200 characters without '.' (it splits `node.port`) or control characters."""
        if node_id not in self._by_id:
            return f"there is no node {node_id!r}"
        if not new_id.strip():
            return "a node id cannot be empty"
        if new_id != node_id and new_id in self._by_id:
            return f"there is already a node {new_id!r}"
        if len(new_id) > MAX_ID_LENGTH:
            return f"a node id has at most {MAX_ID_LENGTH} characters ({len(new_id)} given)"
        if bad := _ID_FORBIDDEN.search(new_id):
            what = "'.'" if bad[0] == "." else f"the control character {ascii(bad[0])}"
            return f"a node id cannot contain {what} (id {new_id!r})"
        try:
            new_id.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"character {error.start + 1} of the id ({ascii(new_id[error.start])}) cannot be saved as UTF-8"
        return None

    def rename_node(self, node_id: str, new_id: str) -> Node:
        """Give a node a new id, keeping its place in file order, its edges and the training section's
        references to it (inputs, loss, predict). Views see its edges and the node go and come back
        under the new id, through the usual events, so nothing needs a rename event of its own."""
        if reason := self.why_not_rename(node_id, new_id):
            raise EditError(reason)
        if new_id == node_id:
            return self.node(node_id)
        index = self.index_of(node_id)
        edges = self.edges_of(node_id)
        node = self.remove_node(node_id)
        node.id = new_id
        self.add_node(node, index=index)

        def renamed(ref: PortRef) -> PortRef:
            return PortRef(new_id, ref.port) if ref.node == node_id else ref

        for src, dst in sorted(edges, key=lambda edge: edge[1]):
            self.connect(renamed(src), renamed(dst), check_cycle=False)  # the same edges: no new cycle
        training = _renamed_training(self.training, node_id, new_id)
        if training != self.training:
            self.set_training(training)
        return node

    def set_attr(self, node_id: str, name: str, value: Any) -> None:
        """Set a node's `params`, `label` or `pos`."""
        if name not in EDITABLE:
            raise EditError(f"{name!r} is not an editable attribute (one of {', '.join(EDITABLE)})")
        node = self.node(node_id)
        setattr(node, name, copy.deepcopy(value))
        self.node_changed.emit(node, name)

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self.set_attr(node_id, "params", {**self.node(node_id).params, name: value})

    def set_meta(self, key: str, value: Any) -> None:
        """Set one key of `meta` (layout, groups, title); None removes it. The key keeps its place."""
        if value is None:
            self.meta.pop(key, None)
        else:
            self.meta[key] = copy.deepcopy(value)
        self.meta_changed.emit(key)

    def set_block(self, name: str, definition: BlockDef | None) -> None:
        """Define (or redefine) block `name`; None removes it, refused while instances use it."""
        from graphcore.blocks import used_blocks, why_not_name

        if definition is None:
            if name not in self.blocks:
                raise EditError(f"there is no block {name!r}")
            if users := used_blocks(self).get(name):
                raise EditError(f"block {name} is used by {', '.join(users)}: delete those first")
            del self.blocks[name]
        else:
            if reason := why_not_name(name):
                raise EditError(reason)
            definition.graph.blocks = self.blocks
            self.blocks[name] = definition
        self.blocks_changed.emit(name)

    def set_training(self, section: dict[str, Any]) -> None:
        """Replace the `training` section (the app's Train dock edits it through undo commands)."""
        self.training = copy.deepcopy(section)
        self.training_changed.emit()


def output_ports(spec: NodeSpec, node: Node, blocks: Mapping[str, BlockDef] | None = None) -> tuple[str, ...]:
    """The output ports `node` has: its type's, what its params give (chunk's `chunks`), or for a
    block instance its definition's (found in `blocks`, the graph's definitions)."""
    if node.type == BLOCK_TYPE and blocks is not None:
        definition = blocks.get(node.params.get("block"))  # type: ignore[arg-type]
        return tuple(definition.outputs) if definition is not None else ()
    return spec.outputs_for(node.params)


def input_ports(spec: NodeSpec, node: Node, blocks: Mapping[str, BlockDef] | None = None) -> tuple[str, ...]:
    """The input ports `node` has: its type's, or for a block instance its definition's."""
    if node.type == BLOCK_TYPE and blocks is not None:
        definition = blocks.get(node.params.get("block"))  # type: ignore[arg-type]
        return definition.inputs if definition is not None else ()
    return spec.inputs


def _type_of(node: Node) -> str:
    """A node's type as a refusal names it: a block instance by its block."""
    return f"block {node.params.get('block')}" if node.type == BLOCK_TYPE else node.type


def _which(spec: NodeSpec, ports: tuple[str, ...]) -> str:
    """What a refusal adds for a type whose outputs follow its params: which ports these give."""
    return f" with these params (its outputs are {', '.join(ports)})" if spec.output_ports else ""


def _renamed_training(section: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The training section with its references to node `old` (an `inputs` key, `loss` and `predict`
    as "node.port") naming `new`; anything it does not recognise is left as it is."""
    result = dict(section)
    inputs = section.get("inputs")
    if isinstance(inputs, dict) and old in inputs:
        result["inputs"] = {new if key == old else key: value for key, value in inputs.items()}
    for key in ("loss", "predict"):
        value = section.get(key)
        if isinstance(value, str) and value.rpartition(".")[0] == old:
            result[key] = f"{new}.{value.rpartition('.')[2]}"
    return result
