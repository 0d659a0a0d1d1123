"""An export's NODES table read back: imported nodes take the ids, labels and positions they had.

Each imported node knows the name the module's code gives it (`ImportResult.code_names`: its class
and `x`, `self.fc1` or `h1`, the names graphcore.exchange.export_nodes writes); the table says which
graph node that name was written from. A module written by hand has no table and keeps the names of
its code. The table is the module's own data, so it is checked before use: a malformed one is
ignored and an entry that cannot be used (not a valid id, a duplicate) leaves its node as imported,
one note saying why; a name no imported node has is ignored.
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcore.blocks import SEPARATOR, repeat_of
from graphcore.exchange.export_nodes import TABLE
from graphcore.exchange.import_builder import ImportResult, Ref
from graphcore.files.weights import Weights
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef

MAX_LABEL = 1000  # what a graph file stores (graphcore/files/schema: node.label)
MAX_POS = 1e9  # far past any canvas; a larger int would not even become a float
MAX_NAMES = 100_000  # more entries than any module has nodes: not a table an export wrote
CodeName = tuple[str, str]  # (class name, name in its code)
Place = tuple[str, str]  # (scope: "" the graph, else a block definition's name; node id in it)


@dataclass(frozen=True)
class Entry:
    id: str
    label: str
    pos: tuple[float, float] | None


class TableError(ValueError):
    """A NODES table that is not one an export writes."""


# --- which name of the code each flat node comes from ------------------------------------------


def statements(source: Path) -> dict[int, tuple[int, str, str]]:
    """Line -> (first line of its statement, the class, the first name it assigns), for each
    assignment in a class's methods (`h1 = torch.tanh(fc1)`, `out, h = self.gru(x)`)."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    found = {}
    for cls in (c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)):
        for method in (f for f in cls.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)):
            for statement in ast.walk(method):
                if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                    continue
                target = statement.targets[0]
                if isinstance(target, ast.Tuple | ast.List) and target.elts:
                    target = target.elts[0]
                if isinstance(target, ast.Name):
                    last = statement.end_lineno or statement.lineno
                    for line in range(statement.lineno, last + 1):
                        found[line] = (statement.lineno, cls.name, target.id)
    return found


def flat_code_names(
    result: ImportResult,
    origins: Mapping[str, Any],
    env: Mapping[Any, Any],
    module: Any,
    source: Path,
    line_of: Any,
) -> dict[Place, CodeName]:
    """Each flat node's class and code name: an Input its forward argument, a layer, Parameter or
    Constant its attribute, any other node the name its statement assigns, when it computes what that
    statement assigns (the last node made on it in that module call). `line_of(fx node)`: its line."""
    root = type(module).__name__
    lines = statements(source)
    found: dict[Place, CodeName] = {}
    last: dict[tuple[Any, ...], str] = {}  # (statement, module calls) -> the last node made on it
    for node in result.graph.nodes:
        origin = origins.get(node.id)
        if origin is None or _made_by(env.get(origin), origins) is not origin:
            continue  # made for another's argument (a literal's Constant), or no value of its own
        target = result.layers.get(node.id) or result.attributes.get(node.id)
        if target is not None:
            owner, _, attribute = target.rpartition(".")
            try:
                cls = type(module.get_submodule(owner)).__name__ if owner else root
            except AttributeError:
                continue
            found["", node.id] = (cls, f"self.{attribute}")
        elif origin.op == "placeholder":
            found["", node.id] = (root, str(origin.target))
        elif (statement := lines.get(line_of(origin) or 0)) is not None:
            calls = tuple(getattr(origin, "meta", {}).get("nn_module_stack", {}))
            last[(statement, calls)] = node.id
    for ((_, cls, name), _), node_id in last.items():
        found["", node_id] = (cls, name)
    return found


def _made_by(value: Any, origins: Mapping[str, Any]) -> Any:
    """The fx node that made the graph node holding `value` (a Ref, or a tuple of them)."""
    while isinstance(value, tuple) and value:
        value = value[0]
    return origins.get(PortRef.parse(value.port).node) if isinstance(value, Ref) else None


def place_of(graph: Graph, inlined: str) -> Place:
    """Where an inlined id ("res/2/fc") lives: the definition it is a node of, and its id there."""
    parts, scope, inner = inlined.split(SEPARATOR), "", graph
    i = 0
    while i < len(parts) - 1:
        node = inner.node(parts[i])
        scope = str(node.params["block"])
        i += 2 if repeat_of(node) > 1 else 1
        inner = graph.blocks[scope].graph
    return scope, parts[-1]


# --- reading the table -------------------------------------------------------------------------


def checked_table(table: Any) -> dict[str, dict[str, Any]]:
    """The table as {class: {name: entry as written}}; TableError when it is not of that shape. Types
    are compared exactly: a subclass of dict or str could run code of its own while it is read."""
    if type(table) is not dict:
        raise TableError(f"expected a dict of classes, not {type(table).__name__}")
    if sum(len(v) if type(v) is dict else 1 for v in table.values()) > MAX_NAMES:
        raise TableError(f"more than {MAX_NAMES} names")
    for cls, names in table.items():
        if type(cls) is not str or type(names) is not dict:
            raise TableError(f"{_shown(cls)}: expected a class name and a dict of its names")
        if not all(type(name) is str for name in names):
            raise TableError(f"{_shown(cls)}: its names are not all strings")
    return table


def entry_of(value: Any) -> Entry:
    """An entry {"id": str, "label": str, "pos": [x, y]}; ValueError says what is wrong with it."""
    if type(value) is not dict or type(value.get("id")) is not str:
        raise ValueError('expected {"id": "...", "label": "...", "pos": [x, y]}')
    if unknown := sorted(repr(key) for key in value if key not in ("id", "label", "pos")):
        raise ValueError(f"unknown key {_shown(unknown[0])[1:-1]}")
    label = value.get("label", "")
    if type(label) is not str or len(label) > MAX_LABEL:
        raise ValueError(f"the label is not a string of at most {MAX_LABEL} characters")
    try:
        label.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the label cannot be saved as UTF-8") from None
    pos = value.get("pos")
    if pos is not None:
        pair = type(pos) in (list, tuple) and len(pos) == 2
        if not pair or not all(type(v) in (int, float) and abs(v) <= MAX_POS for v in pos):
            raise ValueError(f"pos is not [x, y], two numbers of at most {MAX_POS:g} (no NaN)")
        pos = (float(pos[0]), float(pos[1]))
    return Entry(value["id"], label, pos)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(cls: str, name: str) -> str:
    """`Net.h1` as a message shows it: one line, not too long."""
    text = f"{cls}.{name}"
    return text if text.isprintable() and len(text) <= 60 else _shown(text)


# --- giving the nodes back their ids -----------------------------------------------------------


def restore_nodes(result: ImportResult, table: Any) -> None:
    """Give the imported nodes the ids, labels and positions `table` (a module's NODES) says; a note
    names what was not used."""
    try:
        names = checked_table(table)
    except TableError as error:
        result.notes.append(f"{TABLE}: {error}; the nodes keep the names of the code")
        return
    graphs = {"": result.graph, **{name: d.graph for name, d in result.graph.blocks.items()}}
    problems: list[str] = []
    entries: dict[Place, Entry] = {}
    claims = Counter(result.code_names.values())  # a block imported flat has each name once per copy
    for place, (cls, name) in result.code_names.items():
        if name not in names.get(cls, {}) or claims[cls, name] > 1:
            continue
        try:
            entry = entry_of(names[cls][name])
            reason = _why_not_id(entry.id)  # one another node has is no reason: _renames moves it aside
            if reason is None and result.graph.blocks and SEPARATOR in entry.id:
                reason = f"an id with {SEPARATOR!r} in a graph with blocks"
            if reason:
                raise ValueError(reason)
        except ValueError as error:
            problems.append(f"{_where(cls, name)}: {' '.join(str(error).split())[:200]}")
            continue
        entries[place] = entry
    renames = _renames(graphs, entries, problems)
    _apply(result, graphs, renames, entries)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        result.notes.append(f"{TABLE}: {problems[0]}{more}; those nodes keep the names of the code")


def _why_not_id(new_id: str) -> str | None:
    """Why a graph file cannot hold the id (Graph.why_not_rename's rules, asked of a graph of one)."""
    probe = Graph()
    probe.add_node(Node("probe", "Input"))
    return probe.why_not_rename("probe", new_id)


def _renames(
    graphs: Mapping[str, Graph], entries: Mapping[Place, Entry], problems: list[str]
) -> dict[str, dict[str, str]]:
    """Scope -> every node's new id: the table's, unique in its scope; a node the table does not
    name keeps its id, or moves aside (`relu2`) when a table id takes it."""
    renames = {}
    for scope, graph in graphs.items():
        wanted: dict[str, str] = {}
        for node in graph.nodes:
            entry = entries.get((scope, node.id))
            if entry is None:
                continue
            if entry.id in wanted.values():
                problems.append(f"{_shown(entry.id)} is the id of two names")
            else:
                wanted[node.id] = entry.id
        taken = set(wanted.values())
        ids = {}
        for node in graph.nodes:
            new = wanted.get(node.id, node.id)
            if node.id not in wanted and new in taken:
                n = 2
                while f"{new}{n}" in taken or f"{new}{n}" in graph:
                    n += 1
                new = f"{new}{n}"
            taken.add(new)
            ids[node.id] = new
        renames[scope] = ids
    return renames


def _apply(
    result: ImportResult,
    graphs: Mapping[str, Graph],
    renames: Mapping[str, Mapping[str, str]],
    entries: Mapping[Place, Entry],
) -> None:
    """Rebuild each graph with its new ids (and the table's labels and positions), and point what the
    result says about nodes (outputs, weights, layers) at them."""
    top = result.graph

    def inlined(value: str) -> str:
        parts, scope, inner = value.split(SEPARATOR), "", top
        out = []
        i = 0
        while True:
            out.append(renames[scope][parts[i]])
            if i == len(parts) - 1:
                return SEPARATOR.join(out)
            node = inner.node(parts[i])
            scope, inner = str(node.params["block"]), graphs[str(node.params["block"])]
            if repeat_of(node) > 1:
                out.append(parts[i + 1])
                i += 1
            i += 1

    def value(text: str) -> str:
        ref = PortRef.parse(text)
        return f"{renames[''][ref.node]}.{ref.port}"

    blocks = top.blocks
    ports = {name: renames[name] for name in blocks}  # a block's input ports are its Inputs' ids
    for name, definition in blocks.items():  # the ports first: the graphs' edges into Block nodes use them
        definition.inputs = tuple(renames[name][i] for i in definition.inputs)
        definition.outputs = {
            port: f"{renames[name][PortRef.parse(v).node]}.{PortRef.parse(v).port}"
            for port, v in definition.outputs.items()
        }
    for name, definition in blocks.items():
        definition.graph = _rebuilt(graphs[name], renames[name], ports, entries, name)
    graph = _rebuilt(top, renames[""], ports, entries, "")
    graph.meta, graph.training = copy.deepcopy(top.meta), copy.deepcopy(top.training)
    if isinstance(outputs := graph.meta.get("outputs"), list):
        graph.meta["outputs"] = [value(v) for v in outputs]
    if (weights := top.weights) is not None:
        places = {}
        for key, place in weights.places.items():
            node, dot, local = place.partition(".")
            places[key] = inlined(node) + dot + local
        graph.weights = Weights(
            weights.reference, weights.tensors, places, dict(weights.ties), weights.origin
        )
    result.returned = [value(v) for v in result.returned]
    result.layers = {inlined(k): v for k, v in result.layers.items()}
    result.attributes = {inlined(k): v for k, v in result.attributes.items()}
    result.opaque = [(inlined(node), target) for node, target in result.opaque]
    result.code_names = {(s, renames[s][n]): name for (s, n), name in result.code_names.items()}
    result.graph = graph


def _rebuilt(
    graph: Graph,
    ids: Mapping[str, str],
    ports: Mapping[str, Mapping[str, str]],
    entries: Mapping[Place, Entry],
    scope: str,
) -> Graph:
    """The graph with its nodes renamed (an edge into a Block node follows its port's new name), each
    labelled as the table says, and placed as it says when it places every node."""
    placed = all((e := entries.get((scope, n.id))) is not None and e.pos is not None for n in graph.nodes)
    new = Graph()
    new.blocks = graph.blocks  # the document's definitions, shared by every graph in it
    for node in graph.nodes:
        entry = entries.get((scope, node.id))
        label = entry.label if entry is not None else node.label
        pos = entry.pos if placed and entry is not None and entry.pos is not None else node.pos
        new.add_node(Node(ids[node.id], node.type, copy.deepcopy(node.params), label, pos))
    for src, dst in graph.edges:
        port = dst.port
        if (node := graph.node(dst.node)).type == BLOCK_TYPE:
            port = ports.get(str(node.params.get("block")), {}).get(port, port)
        new.connect(PortRef(ids[src.node], src.port), PortRef(ids[dst.node], port), check_cycle=False)
    return new
