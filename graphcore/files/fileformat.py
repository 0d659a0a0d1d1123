"""File format v1: JSON in, Graph out, and back. Loading never evaluates code.

Every problem is reported as one FileFormatError whose message names the file and the JSON path
(`nodes[2] (id 'z').params.shape: expected ...`), so the CLI and the app show the same line. The
structure is the JSON Schema in graphcore/files/schema; limits (size, nesting, numbers, strings) and what
the schema cannot say (params per node type, edges, the training section) are checked here.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Collection, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from graphcore import blocks, collector
from graphcore.files import migrations
from graphcore.files import weights as side_file
from graphcore.files.atomic_write import SaveError, write_text_atomic
from graphcore.graph import BLOCK_TYPE, EditError, Graph, Node, PortRef
from graphcore.registry import REGISTRY, Registry, require_library, shorten

FORMAT = "backprop-studio-graph"
VERSION = 3  # 2: pow's base port x became a (migrations.pow_base_is_a); 3: block definitions
# a file without blocks is written as version 2, so it stays byte for byte what it was and older
# builds read it; one with blocks is version 3, which a version-2 build refuses instead of dropping them
PLAIN_VERSION = 2
SCHEMA_FILE = "schema/graph-v1.schema.json"
TOP_KEYS = {"format", "version", "nodes", "edges", "blocks", "training", "meta", "weights"}

MAX_FILE_BYTES = 64 * 2**20
MAX_DEPTH = 64  # lists and objects inside each other, counting the top level
MAX_STRING = 100_000  # characters in any one string
MAX_INT = 2**63  # absolute value of any integer in the file
MAX_NODES = 100_000
MAX_EDGES = 400_000
INT_DIGITS = 4300  # Python's own limit on reading an integer (sys.get_int_max_str_digits)


class FileFormatError(ValueError):
    """A file that cannot be read as a graph; the message is one line naming what and where."""


def _fail(where: str, message: str) -> FileFormatError:
    return FileFormatError(f"{where}: {message}")


# --- JSON text -> data, within limits ----------------------------------------------------------------


def parse_json(text: str) -> Any:
    """The JSON value of `text`; a file too big, too deep or with too long a number gets its own message."""
    if len(text) > MAX_FILE_BYTES:
        raise _fail("file", f"is {len(text) / 2**20:.0f} MB; at most {MAX_FILE_BYTES // 2**20} MB are read")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except ValueError:  # only an integer past Python's digit limit gets here
        match = re.search(rf"\d{{{INT_DIGITS + 1},}}", text)
        where = _line_column(text, match.start()) if match else "somewhere"
        raise FileFormatError(
            f"{where}: an integer of more than {INT_DIGITS} digits; at most {INT_DIGITS} are read"
        ) from None
    except RecursionError:  # json's decoder guards its C recursion: deep input ends here, never crashes
        raise _fail("file", f"lists and objects nest too deep (at most {MAX_DEPTH} levels)") from None


def _line_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


# --- paths and limits on every value -------------------------------------------------------------------


def json_path(data: Any, path: list[Any]) -> str:
    """`nodes[2] (id 'z').params.shape[0]`: the node's id is named where there is one to name."""
    text = ""
    for index, key in enumerate(_parts(path)):
        if isinstance(key, int):
            text += f"[{key}]"
            if index == 1 and path[0] == "nodes" and len(path) > 2 and path[2] != "id":
                entry = data["nodes"][key] if isinstance(data.get("nodes"), list) else None
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    text += f" (id {shorten(entry['id'], 40)})"
        elif key == "…" or isinstance(key, str) and key.isidentifier():
            text += f".{key}" if text else key
        else:
            text += f"[{shorten(key, 40)}]"
    return text or "top level"


def _parts(path: list[Any]) -> list[Any]:
    """A path 500 levels deep is named by its first and last few steps, to keep the message one short line."""
    return path if len(path) <= 12 else [*path[:8], "…", *path[-2:]]


def _value_problem(value: Any) -> str | None:
    """What is wrong with one scalar (None when nothing is); lists and objects are walked by the caller."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return f"a string of {len(value):,} characters; at most {MAX_STRING:,} are allowed"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                return (
                    f"character {error.start} is a lone surrogate ({ascii(value[error.start])}), "
                    "which cannot be saved as UTF-8"
                )
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"expected a finite number, got {value}"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return f"{shorten(value)} is too large (at most {MAX_INT:,} in size)"
    return None


def _walk(data: Any) -> Iterator[tuple[list[Any], Any]]:
    """(path, value) for every value and object key, depth first in file order, without recursion."""
    stack: list[tuple[list[Any], Any]] = [([], data)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            for key in value:
                yield [*path, key], key
            stack.extend(([*path, k], v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(value))))


def _within_limits(values: list[Any], depth: int = 1) -> bool:
    """The quick pass of _check_limits, without paths: `values` (at nesting level `depth`) and all
    they hold."""
    level, depth = values, depth - 1
    while level:  # one level of nesting at a time
        depth += 1
        if depth > MAX_DEPTH:
            return False
        below: list[Any] = []
        for value in level:
            kind = type(value)
            if kind is dict:
                below.extend(value)
                below.extend(value.values())
            elif kind is list:
                below.extend(value)
            elif kind is str:
                if not value.isascii() or len(value) > MAX_STRING:
                    if _value_problem(value) is not None:
                        return False
            elif kind is float:
                if value - value != 0:  # NaN or an infinity
                    return False
            elif kind is int:
                if not -MAX_INT <= value <= MAX_INT:
                    return False
            elif kind is not bool and value is not None:
                return False
        level = below
    return True


def _check_limits(data: Any) -> None:
    """Refuse the first value past a limit: deep nesting, huge integers, NaN, long or unsavable strings."""
    if _within_limits([data]):
        return
    for path, value in _walk(data):
        if len(path) >= MAX_DEPTH:
            raise _fail(json_path(data, path), f"nested more than {MAX_DEPTH} levels deep")
        if (problem := _value_problem(value)) is not None:
            raise _fail(json_path(data, path), problem)


# --- the schema ----------------------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of format v1, shipped inside the package (and published in docs/file-format.md)."""
    return json.loads(resources.files("graphcore.files").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator(definition: str | None = None) -> Any:
    """A validator for the whole file, or for one of its $defs (nodes and edges are checked one by one)."""
    from jsonschema import Draft202012Validator  # lazily: the CLI starts faster without it

    whole = schema()
    target = whole if definition is None else {"$defs": whole["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(target)


_KINDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _schema_message(error: Any) -> tuple[list[Any], str]:
    """A jsonschema error as (path, one sentence); the bad value is shortened, never echoed whole."""
    path, kind, instance, rule = (
        list(error.absolute_path),
        error.validator,
        error.instance,
        error.validator_value,
    )
    expected = error.schema.get("x-expected")  # the schema's own words for what a value should be
    if kind == "required":
        missing = next(k for k in rule if k not in instance)
        return path, f"missing key {missing!r}"
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in instance if k not in known)[0]
        return [*path], f"unknown key {shorten(unknown, 40)} (expected {', '.join(known)})"
    if expected:
        return path, f"expected {expected}, got {shorten(instance)}"
    if kind == "type":
        kinds = [rule] if isinstance(rule, str) else list(rule)
        return path, f"expected {' or '.join(_KINDS.get(k, k) for k in kinds)}, got {shorten(instance)}"
    if kind == "const":
        return path, f"expected {rule!r}, got {shorten(instance)}"
    if kind == "maxLength":
        return path, f"a string of {len(instance):,} characters; at most {rule:,} are allowed"
    if kind in ("minItems", "maxItems"):
        return path, f"expected {rule} items, got {len(instance)}"
    if kind in ("minimum", "exclusiveMinimum"):
        return path, f"must be {'>=' if kind == 'minimum' else '>'} {rule}; got {shorten(instance)}"
    return path, f"{kind} {shorten(rule)}: got {shorten(instance)}"


def _top_level(data: dict[str, Any], newer: bool) -> dict[str, Any]:
    """What the schema checks as a whole: the file with its lists of nodes and edges left empty."""
    top = {k: v for k, v in data.items() if k not in ("nodes", "edges") and (not newer or k in TOP_KEYS)}
    top.update({k: [] for k in ("nodes", "edges") if isinstance(data.get(k), list)})
    top.update({k: data[k] for k in ("nodes", "edges") if k in data and not isinstance(data[k], list)})
    return top


def _check_schema(data: dict[str, Any], newer: bool) -> None:
    """The top level as a whole, then each node and edge on its own (fast enough for 100,000 nodes)."""
    top = _top_level(data, newer)
    if not _plain_top(top):
        _first_error(_validator(), top, [], data)
    for key, definition, fast in (("nodes", "node", _plain_node), ("edges", "edge", _plain_edge)):
        for index, entry in enumerate(data.get(key, [])):
            if not fast(entry):
                _first_error(_validator(definition), entry, [key, index], data)


def _first_error(validator: Any, instance: Any, base: list[Any], data: Any) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is not None:
        path, message = _schema_message(error)
        raise _fail(json_path(data, [*base, *path]), message)


_PLAIN_ID = re.compile(r"[^.\x00-\x1f\x7f]{1,200}")
_PLAIN_PORT = re.compile(r"[^.\x00-\x1f\x7f]{1,200}\.[^.\x00-\x1f\x7f]{1,200}")


def _plain(data: dict[str, Any]) -> bool:
    """A file of this version that both the limits and the schema accept, told in one pass over its
    nodes and edges (the two checks make a pass each, which cost as much as the rest of loading)."""
    nodes, edges = data.get("nodes", []), data.get("edges", [])
    return (
        type(nodes) is list
        and type(edges) is list
        and _plain_top(_top_level(data, newer=False))
        and _within_limits([{k: v for k, v in data.items() if k not in ("nodes", "edges")}])
        and all(map(_plain_node, nodes))
        and all(map(_plain_edge, edges))
    )


_NODE_KEYS = frozenset({"id", "type", "params", "label", "pos"})
_EDGE_KEYS = frozenset({"from", "to"})


def _plain_node(entry: Any) -> bool:
    """The common case the node schema accepts, within the limits (for a node in the file's list of
    nodes, at nesting level 3), decided without jsonschema (which is 100x slower); anything else goes
    to the schema, so the schema alone decides what is refused."""
    return (
        type(entry) is dict
        and entry.keys() <= _NODE_KEYS
        and type(node_id := entry.get("id")) is str
        and _PLAIN_ID.fullmatch(node_id) is not None
        and type(kind := entry.get("type")) is str
        and 0 < len(kind) <= 200
        and type(label := entry.get("label", "")) is str
        and len(label) <= 1000
        and _savable(node_id, kind, label)
        and type(params := entry.get("params", {})) is dict
        and type(pos := entry.get("pos", [0, 0])) is list
        and len(pos) == 2
        and type(pos[0]) in _NUMBERS
        and type(pos[1]) in _NUMBERS
        and _within_limits([*params, *params.values(), *pos], depth=4)  # the node itself is on level 3
    )


_NUMBERS = (int, float)


def _savable(*texts: str) -> bool:
    """No lone surrogate (see _value_problem); strings here are short, so their length is no problem."""
    return "".join(texts).isascii() or all(_value_problem(text) is None for text in texts)


_META_LIMITS = {"name": 200, "title": 1000, "description": 2000}  # characters, as the schema says


def _plain_top(top: dict[str, Any]) -> bool:
    """The common top level (format and version already checked), as _plain_node is for nodes."""
    meta = top.get("meta", {})
    return (
        top.keys() <= TOP_KEYS
        and "blocks" not in top  # block definitions are checked by the schema as a whole
        and type(top.get("nodes", [])) is list
        and type(top.get("edges", [])) is list
        and type(top.get("training", {})) is dict
        and type(meta) is dict
        and meta.keys() <= _META_LIMITS.keys()
        and all(type(meta[k]) is str and len(meta[k]) <= _META_LIMITS[k] for k in meta)
    )


def _plain_edge(entry: Any) -> bool:
    """As _plain_node, for an edge."""
    return (
        type(entry) is dict
        and entry.keys() == _EDGE_KEYS
        and type(src := entry["from"]) is str
        and type(dst := entry["to"]) is str
        and _PLAIN_PORT.fullmatch(src) is not None
        and _PLAIN_PORT.fullmatch(dst) is not None
        and _savable(src, dst)
    )


# --- data -> Graph -----------------------------------------------------------------------------------


def graph_from_dict(data: Any, registry: Registry = REGISTRY) -> Graph:
    """Check `data` (a parsed file) and build its Graph; the first problem is raised as FileFormatError.

    `registry` holds the node types whose params are checked (others become placeholders); an empty
    one raises NoLibraryError."""
    require_library(registry)
    if not isinstance(data, dict):
        raise _fail("top level", f"expected a JSON object, got {shorten(data)}")
    if data.get("format") != FORMAT:
        raise _fail("format", f"expected {FORMAT!r}, got {shorten(data.get('format'))}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail("version", f"expected a format version (1, 2, ...), got {shorten(version)}")
    for key, limit in (("nodes", MAX_NODES), ("edges", MAX_EDGES)):
        if isinstance(data.get(key), list) and len(data[key]) > limit:
            raise _fail(key, f"{len(data[key]):,} entries; at most {limit:,} are read")
    plain = _plain(data)  # a migration keeps a plain file plain: it renames, never adds odd values
    if version != VERSION or not plain:
        if not plain:
            _check_limits(data)
        if version < VERSION:
            try:
                data = migrations.upgrade(data, version, VERSION)
            except migrations.MigrationError as error:
                raise FileFormatError(str(error)) from None
        if not plain or version > VERSION:
            _check_schema(data, newer=version > VERSION)
    graph = Graph()
    graph.format_version = version
    graph.unread = {k: v for k, v in data.items() if k not in TOP_KEYS}
    names = set(data.get("blocks", {}))
    _blocks(data, graph, registry)
    for index, entry in enumerate(data.get("nodes", [])):
        graph.add_node(_node(entry, index, graph, data, registry, names))
    _edges(data, graph)
    graph.meta = data.get("meta", {})
    graph.training = data.get("training", {})
    if "weights" in data:  # the values are read by load(), which knows the graph file's folder
        try:
            graph.weights = side_file.Weights(side_file.check_reference(data["weights"]))
        except side_file.WeightsError as error:
            raise FileFormatError(str(error)) from None
    _check_training(graph.training)
    return graph


def _node(
    entry: dict[str, Any],
    index: int,
    graph: Graph,
    data: Any,
    registry: Registry,
    blocks: Collection[str],
    base: str = "",
) -> Node:
    """One entry of a list of nodes (the file's, or at `base` a block's: "blocks.Res.")."""
    node_id, type_ = entry["id"], entry["type"]
    if base:  # json_path names the node's id only in the top-level list
        where = f"{base}nodes[{index}] (id {shorten(node_id, 40)})"
    else:
        where = json_path(data, ["nodes", index, "type"]).removesuffix(".type")  # "nodes[3] (id 'a')"
    if node_id in graph:
        raise _fail(f"{where}.id", "duplicate node id")
    params = entry.get("params", {})
    spec = registry.get(type_)
    if spec is not None:  # an unknown type is kept as a placeholder: validate() reports it
        for name, message in spec.param_problems(params):
            raise _fail(f"{where}.params{_key(name)}", message)
    if type_ == BLOCK_TYPE and params.get("block") not in blocks:
        raise _fail(
            f"{where}.params.block", f"there is no block {shorten(params.get('block'), 40)} in the file"
        )
    x, y = entry.get("pos", [0, 0])
    return Node(node_id, type_, dict(params), entry.get("label", ""), (float(x), float(y)))


def _key(name: str) -> str:
    """`.name`, or `["odd name"]` where a key is no identifier (as json_path writes it)."""
    return f".{name}" if name.isidentifier() else f"[{shorten(name, 40)}]"


def _edges(data: dict[str, Any], graph: Graph, base: str = "") -> None:
    """Connect every edge, then look for a cycle once (a path search per edge is quadratic)."""
    edges = data.get("edges", [])
    for index, entry in enumerate(edges):
        src, dst = PortRef.parse(entry["from"]), PortRef.parse(entry["to"])
        try:
            replaced = graph.connect(src, dst, check_cycle=False)
        except EditError as error:
            raise _edge_refusal(index, src, dst, graph, error, base) from None
        if replaced is not None:  # the graph is thrown away: no need to put that edge back
            raise _edge_refusal(index, src, dst, graph, None, base)
    if graph.has_cycle():
        cycle = graph.find_cycle()
        on_cycle = set(zip(cycle, [*cycle[1:], cycle[0]]))
        index = next(i for i, e in enumerate(edges) if _nodes_of(e) in on_cycle)  # the first one in the file
        entry = edges[index]
        raise _fail(f"{base}edges[{index}]", f"{entry['from']} → {entry['to']} would make a cycle")


def _blocks(data: dict[str, Any], graph: Graph, registry: Registry) -> None:
    """The block definitions into graph.blocks: every definition's nodes first (a block may use
    another, whose ports its edges need), then their edges, ports and how they use each other."""
    entries: dict[str, Any] = data.get("blocks", {})
    names = set(entries)
    for name, entry in entries.items():
        if reason := blocks.why_not_name(name):
            raise _fail(f"blocks{_key(name)}", reason)
        inner = Graph()
        inner.blocks = graph.blocks
        base = f"blocks{_key(name)}."
        for index, node in enumerate(entry["nodes"]):
            inner.add_node(_node(node, index, inner, data, registry, names, base))
        outputs = dict(entry["outputs"])
        graph.blocks[name] = blocks.BlockDef(
            name, inner, tuple(entry["inputs"]), outputs, entry.get("description", "")
        )
    for name, definition in graph.blocks.items():
        base = f"blocks{_key(name)}."
        _edges(entries[name], definition.graph, base)
        for problem in blocks.definition_problems(definition):
            raise _fail(base.removesuffix("."), problem)
    if cycle := blocks.nesting_cycle(graph.blocks):
        raise _fail(f"blocks{_key(cycle[0])}", f"the block uses itself: {' → '.join(cycle)}")
    if (depth := blocks.nesting_depth(graph.blocks)) > blocks.MAX_NESTING:
        raise _fail(
            "blocks",
            f"blocks are nested {depth} deep (a block in a block in ...); at most {blocks.MAX_NESTING} are allowed",
        )


def _nodes_of(entry: dict[str, str]) -> tuple[str, str]:
    return PortRef.parse(entry["from"]).node, PortRef.parse(entry["to"]).node


def _edge_refusal(
    index: int, src: PortRef, dst: PortRef, graph: Graph, error: EditError | None, base: str = ""
) -> FileFormatError:
    """Why edge `index` cannot be added: a missing node first, then an input fed twice, then what
    connect said (asked only once connect refused the edge or replaced one, to keep loading quick)."""
    for key, ref in (("from", src), ("to", dst)):
        if ref.node not in graph:
            return _fail(
                f"{base}edges[{index}].{key}", f"dangling edge: there is no node {shorten(ref.node, 40)}"
            )
    if error is None or graph.source_of(dst) is not None:
        return _fail(f"{base}edges[{index}].to", f"{dst} already has an incoming edge")
    return _fail(f"{base}edges[{index}]", str(error))


def _check_training(section: dict[str, Any]) -> None:
    """The training section is refused at load, with the line `graphcore train` would give."""
    if not section:
        return
    from graphcore.training.config import TrainingConfigError, parse

    try:
        parse(section)
    except TrainingConfigError as error:
        message = " ".join(str(error).split())  # one line, whatever parse() put in it
        raise FileFormatError(message if len(message) <= 200 else message[:199] + "…") from None


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    version = max(VERSION if graph.blocks else PLAIN_VERSION, graph.format_version)
    data: dict[str, Any] = {"format": FORMAT, "version": version, **_nodes_and_edges(graph)}
    if graph.blocks:
        data["blocks"] = {name: _block_to_dict(d) for name, d in graph.blocks.items()}
    if graph.training:
        data["training"] = graph.training
    if graph.weights is not None:
        data["weights"] = graph.weights.reference
    if graph.meta:
        data["meta"] = graph.meta
    data.update(graph.unread)
    return data


def _nodes_and_edges(graph: Graph) -> dict[str, Any]:
    nodes = []
    for node in graph.nodes:
        entry: dict[str, Any] = {"id": node.id, "type": node.type}
        if node.params:
            entry["params"] = node.params
        if node.label:
            entry["label"] = node.label
        entry["pos"] = [node.pos[0], node.pos[1]]
        nodes.append(entry)
    return {"nodes": nodes, "edges": [{"from": str(src), "to": str(dst)} for src, dst in graph.edges]}


def _block_to_dict(definition: blocks.BlockDef) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": definition.description} if definition.description else {}
    entry.update(inputs=list(definition.inputs), outputs=dict(definition.outputs))
    return {**entry, **_nodes_and_edges(definition.graph)}


# --- files -----------------------------------------------------------------------------------------


def loads(text: str, name: str = "<string>", registry: Registry = REGISTRY) -> Graph:
    try:
        with collector.paused():
            return graph_from_dict(parse_json(text), registry)
    except FileFormatError as error:
        raise FileFormatError(f"{name}: {error}") from None


def load(path: str | Path, registry: Registry = REGISTRY) -> Graph:
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise FileFormatError(f"{path}: is a folder, not a graph file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would block or never end
            raise FileFormatError(f"{path}: is not a regular file")
        data = b""
        if info.st_size <= MAX_FILE_BYTES:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)  # it may have grown since stat()
        if len(data) > MAX_FILE_BYTES or info.st_size > MAX_FILE_BYTES:
            size = max(len(data), info.st_size)
            raise FileFormatError(
                f"{path}: is {size / 2**20:.0f} MB; at most {MAX_FILE_BYTES // 2**20} MB are read"
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{path}: cannot read (not UTF-8 text at byte {error.start})") from None
    except OSError as error:
        raise FileFormatError(f"{path}: cannot read ({_one_line(error)})") from None
    graph = loads(text, str(path), registry)
    if graph.weights is not None:
        try:
            graph.weights = side_file.read(path.parent, graph.weights.reference)
            side_file.check_nodes(graph.weights, graph)
        except side_file.WeightsError as error:
            raise FileFormatError(f"{path}: weights: {error}") from None
    return graph


def _one_line(error: OSError) -> str:
    return " ".join(str(error.strerror or error).split())


def dumps(graph: Graph) -> str:
    return json.dumps(graph_to_dict(graph), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def save(graph: Graph, path: str | Path) -> None:
    """Write atomically (graphcore.files.atomic_write): a failed save raises SaveError and never loses the old file."""
    if graph.weights is not None:  # beside the graph, before the graph names the file
        side_file.write_beside(Path(path), graph.weights)
    try:
        text = dumps(graph)
    except ValueError as error:  # NaN or infinity: JSON has no way to write them
        raise SaveError(f"cannot save {path}: {error}") from None
    write_text_atomic(Path(path), text)
