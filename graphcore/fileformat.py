"""File format v1: JSON in, Graph out, and back. Loading never evaluates code.

Every problem is reported as one FileFormatError whose message names the file and the JSON path
(`nodes[2] (id 'z').params.shape: expected ...`), so the CLI and the app show the same line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphcore.graph import EditError, Graph, Node, PortRef
from graphcore.registry import REGISTRY, load_library

FORMAT = "backprop-studio-graph"
VERSION = 1
TOP_KEYS = {"format", "version", "nodes", "edges", "training", "meta"}
NODE_KEYS = {"id", "type", "params", "label", "pos"}
EDGE_KEYS = {"from", "to"}


class FileFormatError(ValueError):
    """A file that cannot be read as a graph; the message is one line naming what and where."""


def _expect(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise FileFormatError(f"{where}: {message}")


def _no_unknown_keys(entry: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise FileFormatError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(sorted(known))})")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def graph_from_dict(data: Any) -> Graph:
    _expect(isinstance(data, dict), "top level", "expected a JSON object")
    _expect(data.get("format") == FORMAT, "format", f"expected {FORMAT!r}, got {data.get('format')!r}")
    version = data.get("version")
    _expect(
        version == VERSION,
        "version",
        f"unsupported version {version!r}; this build of Backprop Studio reads version {VERSION}",
    )
    _no_unknown_keys(data, TOP_KEYS, "top level")
    load_library()
    graph = Graph()
    nodes = data.get("nodes", [])
    _expect(isinstance(nodes, list), "nodes", "expected a list")
    for index, entry in enumerate(nodes):
        graph.add_node(_node(entry, f"nodes[{index}]", graph))
    edges = data.get("edges", [])
    _expect(isinstance(edges, list), "edges", "expected a list")
    for index, entry in enumerate(edges):
        _edge(entry, f"edges[{index}]", graph)
    for key in ("training", "meta"):
        value = data.get(key, {})
        _expect(isinstance(value, dict), key, "expected an object")
        setattr(graph, key, value)
    return graph


def _node(entry: Any, where: str, graph: Graph) -> Node:
    _expect(isinstance(entry, dict), where, "expected an object")
    _no_unknown_keys(entry, NODE_KEYS, where)
    node_id = entry.get("id")
    _expect(
        isinstance(node_id, str) and node_id != "" and "." not in node_id,
        f"{where}.id",
        f"expected a non-empty string without '.', got {node_id!r}",
    )
    where = f"{where} (id {node_id!r})"
    _expect(node_id not in graph, f"{where}.id", "duplicate node id")
    type_ = entry.get("type")
    _expect(isinstance(type_, str), f"{where}.type", f"expected a string, got {type_!r}")
    spec = REGISTRY.get(type_)
    if spec is None:
        raise FileFormatError(f"{where}.type: unknown node type {type_!r}")
    params = entry.get("params", {})
    _expect(isinstance(params, dict), f"{where}.params", "expected an object")
    for name, message in spec.param_problems(params):
        raise FileFormatError(f"{where}.params.{name}: {message}")
    label = entry.get("label", "")
    _expect(isinstance(label, str), f"{where}.label", f"expected a string, got {label!r}")
    pos = entry.get("pos", [0, 0])
    _expect(
        isinstance(pos, list) and len(pos) == 2 and all(_number(p) for p in pos),
        f"{where}.pos",
        f"expected [x, y], got {pos!r}",
    )
    return Node(node_id, type_, dict(params), label, (float(pos[0]), float(pos[1])))


def _edge(entry: Any, where: str, graph: Graph) -> None:
    _expect(isinstance(entry, dict), where, "expected an object")
    _no_unknown_keys(entry, EDGE_KEYS, where)
    refs = []
    for key in ("from", "to"):
        text = entry.get(key)
        _expect(isinstance(text, str), f"{where}.{key}", f"expected 'node.port', got {text!r}")
        try:
            ref = PortRef.parse(text)
        except ValueError as error:
            raise FileFormatError(f"{where}.{key}: {error}") from None
        _expect(ref.node in graph, f"{where}.{key}", f"dangling edge: there is no node {ref.node!r}")
        refs.append(ref)
    src, dst = refs
    _expect(graph.source_of(dst) is None, f"{where}.to", f"{dst} already has an incoming edge")
    try:
        graph.connect(src, dst)
    except EditError as error:
        raise FileFormatError(f"{where}: {error}") from None


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "nodes": [], "edges": []}
    for node in graph.nodes:
        entry: dict[str, Any] = {"id": node.id, "type": node.type}
        if node.params:
            entry["params"] = node.params
        if node.label:
            entry["label"] = node.label
        entry["pos"] = [node.pos[0], node.pos[1]]
        data["nodes"].append(entry)
    data["edges"] = [{"from": str(src), "to": str(dst)} for src, dst in graph.edges]
    if graph.training:
        data["training"] = graph.training
    if graph.meta:
        data["meta"] = graph.meta
    return data


def loads(text: str, name: str = "<string>") -> Graph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    try:
        return graph_from_dict(data)
    except FileFormatError as error:
        raise FileFormatError(f"{name}: {error}") from None


def load(path: str | Path) -> Graph:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{path}: cannot read ({error})") from None
    return loads(text, str(path))


def dumps(graph: Graph) -> str:
    return json.dumps(graph_to_dict(graph), indent=2, ensure_ascii=False) + "\n"


def save(graph: Graph, path: str | Path) -> None:
    """Write atomically (to a temporary file, then rename), so a failed save never loses the old file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(graph), encoding="utf-8")
    tmp.replace(path)
