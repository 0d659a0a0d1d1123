"""Blocks: a subgraph defined once in the file and used as a node type, optionally repeated.

A definition (BlockDef) is an ordinary Graph whose Input nodes are the block's input ports and whose
`outputs` name the inner values it exposes. A node of type "Block" uses one by name. Everything that
computes (lower, run, grad, train, export's numbers) works on `flatten(graph)`, where every instance
is inlined under ids "{instance}/{inner}" ("{instance}/{k}/{inner}" for copy k of a repeat), so each
instance and each copy has parameters of its own, as separate nn.Module instances do.
"""

from __future__ import annotations

import copy
import keyword
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef

MAX_REPEAT = 1000  # copies of one block in sequence: more is a typing mistake
MAX_FLAT_NODES = 500_000  # nodes a flattened graph may have: nested repeats multiply
MAX_BLOCK_NAME = 200
MAX_NESTING = 32  # blocks inside blocks inside ...: deeper is no network anyone draws
SEPARATOR = "/"


@dataclass
class BlockDef:
    """One definition: its inside, its input ports (ids of Input nodes inside, in port order) and its
    output ports (port name -> the inner value "node.port" it exposes)."""

    name: str
    graph: Graph
    inputs: tuple[str, ...]
    outputs: dict[str, str] = field(default_factory=dict)
    description: str = ""


def why_not_name(name: object) -> str | None:
    """None if `name` may name a block, else why: it becomes a Python class in exported code."""
    if not isinstance(name, str) or not name:
        return "a block name is a non-empty string"
    if len(name) > MAX_BLOCK_NAME:
        return f"a block name has at most {MAX_BLOCK_NAME} characters ({len(name)} given)"
    if not name.isidentifier() or keyword.iskeyword(name):
        return f"a block name is a Python name (letters, digits, _), as the exported class is; got {name!r}"
    return None


def definition_problems(definition: BlockDef) -> list[str]:
    """What is wrong with a definition's ports, as sentences (the loader prefixes where)."""
    problems = []
    inner = definition.graph
    for port in definition.inputs:
        if port not in inner or inner.node(port).type != "Input":
            problems.append(f"inputs: {port!r} is not an Input node of the block")
    for node in inner.nodes:
        if node.type == "Input" and node.id not in definition.inputs:
            problems.append(f"inputs: Input {node.id} is not one of the block's inputs")
    if len(set(definition.inputs)) != len(definition.inputs):
        problems.append("inputs: an Input is listed twice")
    if not definition.outputs:
        problems.append("outputs: a block exposes at least one value")
    for port, value in definition.outputs.items():
        try:
            ref = PortRef.parse(value)
        except ValueError as error:
            problems.append(f"outputs.{port}: {error}")
            continue
        if ref.node not in inner:
            problems.append(f"outputs.{port}: there is no node {ref.node!r} in the block")
        elif ref.port not in inner.output_ports_of(ref.node):
            problems.append(f"outputs.{port}: {ref.node} has no output {ref.port!r}")
    return problems


def instances(graph: Graph) -> list[Node]:
    return [node for node in graph.nodes if node.type == BLOCK_TYPE]


def repeat_of(node: Node) -> int:
    repeat = node.params.get("repeat", 1)
    return repeat if isinstance(repeat, int) and not isinstance(repeat, bool) else 1


def used_blocks(graph: Graph) -> dict[str, list[str]]:
    """Block name -> the instances using it, in this graph and inside every definition."""
    users: dict[str, list[str]] = {}
    graphs = [("", graph)] + [(f"{name}{SEPARATOR}", d.graph) for name, d in graph.blocks.items()]
    for where, inner in graphs:
        for node in instances(inner):
            users.setdefault(str(node.params.get("block")), []).append(where + node.id)
    return users


def nesting_cycle(blocks: Mapping[str, BlockDef]) -> list[str]:
    """A chain of blocks that uses itself (A → B → A), or [] when there is none."""
    uses = {name: [str(n.params.get("block")) for n in instances(d.graph)] for name, d in blocks.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    for start in uses:
        if state.get(start):
            continue
        path, stack = [start], [iter(uses[start])]
        state[start] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif child in uses and not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(uses[child]))
    return []


def nesting_depth(blocks: Mapping[str, BlockDef]) -> int:
    """How deep blocks use blocks (1: no block uses another); the blocks must have no nesting cycle."""
    depth: dict[str, int] = {}
    for start in blocks:
        stack = [start]
        while stack:
            name = stack[-1]
            children = [
                c for n in instances(blocks[name].graph) if (c := str(n.params.get("block"))) in blocks
            ]
            waiting = [c for c in children if c not in depth]
            if waiting:
                stack.extend(waiting)
                continue
            depth[name] = 1 + max((depth[c] for c in children), default=0)
            stack.pop()
    return max(depth.values(), default=0)


class FlattenError(ValueError):
    """A graph whose blocks cannot be inlined; the message says which and why in one line."""


def flatten(graph: Graph) -> Graph:
    """The graph with every Block instance inlined (see the module docstring). A graph without
    instances is returned as it is, so large flat files pay nothing."""
    return flatten_with_ports(graph)[0] if instances(graph) else graph


def flatten_with_ports(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """flatten(), and where each instance's output port ended up ("res1.out" -> "res1/add.out")."""
    if cycle := nesting_cycle(graph.blocks):
        raise FlattenError(f"block {cycle[0]} uses itself: {' → '.join(cycle)}")
    flat = Graph()
    flat.meta, flat.format_version, flat.weights = (
        copy.deepcopy(graph.meta),
        graph.format_version,
        graph.weights,
    )
    values = _inline(graph, "", {}, flat, graph.blocks, [])
    flat.training = _rewired_training(graph.training, values)
    outputs = flat.meta.get("outputs")
    if isinstance(outputs, list):
        flat.meta["outputs"] = [_resolve(v, values) if isinstance(v, str) else v for v in outputs]
    exposed = {
        f"{node}.{port}": str(ref)
        for (node, port), ref in values.items()
        if node in graph and graph.node(node).type == BLOCK_TYPE
    }
    return flat, exposed


def block_problems(graph: Graph) -> list[tuple[str, str]]:
    """What stops the graph's blocks from inlining, as (node, message): definitions that are not
    well formed, instances of no block, repeats of a block that is not one-in one-out, block inputs
    left unconnected, blocks using themselves, too deep or too large. A problem inside a definition
    is named at the file's first instance that reaches it."""
    problems: list[tuple[str, str]] = _id_problems(graph)
    blocks = graph.blocks
    reached = _reaching_instances(graph)
    for name, definition in blocks.items():
        if name not in reached:
            continue
        for node in definition.graph.nodes:
            if SEPARATOR in node.id:
                problems.append(
                    (reached[name], f"block {name}: node id {node.id!r} {_SEPARATOR_RESERVED}; rename it")
                )
        for problem in definition_problems(definition):
            problems.append((reached[name], f"block {name}: {problem}"))
        for node in instances(definition.graph):
            for problem in _instance_problems(definition.graph, node):
                problems.append((reached[name], f"block {name}, node {node.id}: {problem}"))
    for node in instances(graph):
        problems.extend((node.id, problem) for problem in _instance_problems(graph, node))
    if problems:
        return problems
    if cycle := nesting_cycle(blocks):
        return [
            (
                reached.get(cycle[0], instances(graph)[0].id),
                f"block {cycle[0]} uses itself: {' → '.join(cycle)}",
            )
        ]
    if (depth := nesting_depth(blocks)) > MAX_NESTING:
        return [(instances(graph)[0].id, f"blocks nest {depth} deep; at most {MAX_NESTING}")]
    if (size := flat_size(graph)) > MAX_FLAT_NODES:
        return [
            (instances(graph)[0].id, f"the blocks inline to {size:,} nodes, more than {MAX_FLAT_NODES:,}")
        ]
    return []


_SEPARATOR_RESERVED = f"has a {SEPARATOR!r}, which joins the ids of nodes inlined from blocks"


def _id_problems(graph: Graph) -> list[tuple[str, str]]:
    """Top-level ids that could clash with inlined ones: an instance's id may not hold the separator,
    and no other node's id may begin with an instance's id and the separator ("res1/fc" beside res1)."""
    used = {node.id for node in instances(graph)}
    problems = []
    for node in graph.nodes:
        head = node.id.partition(SEPARATOR)[0]
        if SEPARATOR not in node.id:
            continue
        if node.id in used:
            problems.append((node.id, f"a block instance's id {_SEPARATOR_RESERVED}; rename it"))
        elif head in used:
            problems.append(
                (
                    node.id,
                    f"its id would clash with the nodes inlined from {head} ({head}{SEPARATOR}…); rename it",
                )
            )
    return problems


def _instance_problems(graph: Graph, node: Node) -> list[str]:
    from graphcore.registry import REGISTRY

    problems = [f"{param}: {message}" for param, message in REGISTRY[BLOCK_TYPE].param_problems(node.params)]
    if problems:
        return problems
    name = node.params.get("block")
    definition = graph.blocks.get(str(name))
    if definition is None:
        known = ", ".join(sorted(graph.blocks)) or "none"
        return [f"there is no block {name!r} (the file defines: {known})"]
    repeat = repeat_of(node)
    if repeat > 1 and (len(definition.inputs), len(definition.outputs)) != (1, 1):
        return [
            f"repeat {repeat} chains copies output to input, so block {name} needs one input and one "
            f"output (it has {len(definition.inputs)} and {len(definition.outputs)})"
        ]
    return [
        f"input {port} is not connected"
        for port in definition.inputs
        if graph.source_of(PortRef(node.id, port)) is None
    ]


def _reaching_instances(graph: Graph) -> dict[str, str]:
    """Block name -> the file's first top-level instance through which it is used (directly or nested)."""
    reached: dict[str, str] = {}
    for node in instances(graph):
        stack = [str(node.params.get("block"))]
        while stack:
            name = stack.pop()
            if name in reached or name not in graph.blocks:
                continue
            reached[name] = node.id
            stack.extend(str(n.params.get("block")) for n in instances(graph.blocks[name].graph))
    return reached


def flat_size(graph: Graph) -> int:
    """How many nodes flatten(graph) has, counted without building it (nested repeats multiply),
    each copy of an instance counted as one too: a block that only passes its input through inlines
    to nothing, yet a thousand of them nested in a thousand is work all the same.
    The blocks must have no nesting cycle."""
    sizes: dict[str, int] = {}

    def size_of(inner: Graph, bound: Collection[str]) -> int:
        total = 0
        for node in inner.nodes:
            if node.type != BLOCK_TYPE:
                total += node.id not in bound
                continue
            name = str(node.params.get("block"))
            if name not in inner.blocks:
                continue
            if name not in sizes:
                definition = inner.blocks[name]
                sizes[name] = size_of(definition.graph, set(definition.inputs))
            total += repeat_of(node) * (1 + sizes[name])
            if total > MAX_FLAT_NODES:
                return total
        return total

    return size_of(graph, ())


Values = dict[tuple[str, str], PortRef]  # (node, port) of a source graph -> the flat graph's output


def _inline(
    source: Graph,
    prefix: str,
    bound: Mapping[str, PortRef | None],
    flat: Graph,
    blocks: Mapping[str, BlockDef],
    path: list[str],
) -> Values:
    """Add `source`'s nodes to `flat` under `prefix`, its Inputs named in `bound` replaced by the
    outer values feeding them; returns where each of its values ended up."""
    values: Values = {}
    order = source.topological_order() if not source.has_cycle() else [n.id for n in source.nodes]
    for node_id in order:
        node = source.node(node_id)
        if node.type == BLOCK_TYPE:
            _inline_instance(source, node, prefix, values, flat, blocks, path)
            continue
        if node_id in bound and (outer := bound[node_id]) is not None:
            values[node_id, "out"] = outer
            continue
        new_id = prefix + node_id
        if new_id in flat:  # block_problems refuses the ids that could do this
            raise FlattenError(f"{new_id}: two nodes would have this id once the blocks are inlined")
        flat.add_node(Node(new_id, node.type, copy.deepcopy(node.params), node.label, node.pos))
        for port in source.input_ports_of(node_id):
            src = source.source_of(PortRef(node_id, port))
            if src is not None and (src.node, src.port) in values:
                flat.connect(values[src.node, src.port], PortRef(new_id, port), check_cycle=False)
        for port in source.output_ports_of(node_id):
            values[node_id, port] = PortRef(new_id, port)
    return values


def _inline_instance(
    source: Graph,
    node: Node,
    prefix: str,
    values: Values,
    flat: Graph,
    blocks: Mapping[str, BlockDef],
    path: list[str],
) -> None:
    name = str(node.params.get("block"))
    definition = blocks.get(name)
    if definition is None:
        raise FlattenError(f"{prefix}{node.id}: there is no block {name!r}")
    if name in path:
        raise FlattenError(f"block {name} uses itself: {' → '.join([*path, name])}")
    feeding: dict[str, PortRef | None] = {}
    for port in definition.inputs:
        src = source.source_of(PortRef(node.id, port))
        feeding[port] = values.get((src.node, src.port)) if src is not None else None
    repeat = repeat_of(node)
    exposed: dict[str, PortRef] = {}
    for k in range(1, repeat + 1):
        inner_prefix = f"{prefix}{node.id}{SEPARATOR}" + (f"{k}{SEPARATOR}" if repeat > 1 else "")
        inner = _inline(definition.graph, inner_prefix, feeding, flat, blocks, [*path, name])
        exposed = {port: _resolve_ref(value, inner) for port, value in definition.outputs.items()}
        if repeat > 1 and len(definition.inputs) == 1 and len(exposed) == 1:
            feeding = {definition.inputs[0]: next(iter(exposed.values()))}
    for port, ref in exposed.items():
        values[node.id, port] = ref


def _resolve_ref(value: str, inner: Values) -> PortRef:
    ref = PortRef.parse(value)
    return inner.get((ref.node, ref.port), ref)


def _resolve(value: str, values: Values) -> str:
    """An outer "node.port" as the flat graph names it (a block instance's port: the inner value)."""
    try:
        ref = PortRef.parse(value)
    except ValueError:
        return value
    return str(values.get((ref.node, ref.port), ref))


def _rewired_training(section: dict[str, Any], values: Values) -> dict[str, Any]:
    """The training section naming the flat graph's values: its loss, predict and each objective's loss."""
    result = copy.deepcopy(section)
    objectives = result.get("objectives")
    holders = (
        [result, *(o for o in objectives if isinstance(o, dict))]
        if isinstance(objectives, list)
        else [result]
    )
    for holder in holders:
        for key in ("loss", "predict"):
            if isinstance(holder.get(key), str):
                holder[key] = _resolve(holder[key], values)
    return result


def rewired_training(section: dict[str, Any], exposed: Mapping[str, str]) -> dict[str, Any]:
    """The section naming flat values where it names block ports: `exposed` is what
    flatten_with_ports returns ("res2.out" -> "res2/3/add.out")."""
    values: Values = {}
    for port, inner in exposed.items():
        node, _, name = port.rpartition(".")
        values[(node, name)] = PortRef.parse(inner)
    return _rewired_training(section, values)


def flat_training(graph: Graph) -> dict[str, Any]:
    """The graph's training section as its inlined graph reads it (block ports as inner values)."""
    return (
        rewired_training(graph.training, flatten_with_ports(graph)[1]) if instances(graph) else graph.training
    )


def instance_paths(graph: Graph) -> dict[str, list[str]]:
    """Block name -> the flat id prefix of every instance of it, nested ones included ("res1",
    "outer/2/inner"): a training group naming a block takes the parameters inlined under these."""
    paths: dict[str, list[str]] = {}

    def walk(inner: Graph, prefix: str, depth: int) -> None:
        for node in instances(inner):
            name = str(node.params.get("block"))
            definition = inner.blocks.get(name)
            if definition is None or depth > MAX_NESTING:
                continue
            path = prefix + node.id
            paths.setdefault(name, []).append(path)
            repeat = repeat_of(node)
            for k in range(1, repeat + 1):
                walk(
                    definition.graph,
                    f"{path}{SEPARATOR}" + (f"{k}{SEPARATOR}" if repeat > 1 else ""),
                    depth + 1,
                )

    if not nesting_cycle(graph.blocks) and flat_size(graph) <= MAX_FLAT_NODES:
        walk(graph, "", 0)
    return paths


def has_flat_node(graph: Graph, flat_id: str) -> bool:
    """Whether flatten(graph) has a node `flat_id`, found without inlining (a weights file's keys
    name flat ids, and a graph of large repeats need not be built to check them)."""
    if flat_id in graph and graph.node(flat_id).type != BLOCK_TYPE:
        return True  # a top-level node, whose id may hold the separator in a graph without blocks
    inner, parts = graph, flat_id.split(SEPARATOR)
    bound: Collection[str] = ()
    while parts:
        head = parts.pop(0)
        if head not in inner or head in bound:
            return False
        node = inner.node(head)
        if node.type != BLOCK_TYPE:
            return not parts
        definition = inner.blocks.get(str(node.params.get("block")))
        if definition is None or not parts:
            return False
        if (repeat := repeat_of(node)) > 1 and parts.pop(0) not in map(str, range(1, repeat + 1)):
            return False
        inner, bound = definition.graph, definition.inputs
    return False


def block_from_selection(
    graph: Graph, node_ids: Collection[str], name: str
) -> tuple[BlockDef, Node, list[tuple[PortRef, PortRef]]]:
    """A definition made of the selected nodes, the instance that replaces them and the outside edges
    to connect to and from it. Each distinct outside value read inside becomes an inner Input (a block
    input port); each inner value read outside becomes an output port. ValueError (one line) when the
    selection cannot be a block."""
    chosen = list(dict.fromkeys(node_ids))
    if not chosen:
        raise ValueError("select the nodes to make a block of")
    if reason := why_not_name(name):
        raise ValueError(reason)
    if name in graph.blocks:
        raise ValueError(f"there is already a block {name!r}")
    for node_id in chosen:
        if node_id not in graph:
            raise ValueError(f"there is no node {node_id!r}")
        if graph.node(node_id).type == "Input":
            raise ValueError(
                f"{node_id} is an Input of the graph: leave it out (what it feeds becomes a block input)"
            )
        if SEPARATOR in node_id:
            raise ValueError(f"{node_id} {_SEPARATOR_RESERVED}: rename it first")
    selected = set(chosen)
    for key, value in _training_values(graph.training):
        if value.rpartition(".")[0] in selected:
            raise ValueError(
                f"{value.rpartition('.')[0]} is the training section's {key}: leave it out of the block"
            )
    after = set().union(*(graph.descendants(n) for n in chosen)) - selected
    before = set().union(*(graph.ancestors(n) for n in chosen)) - selected
    if loop := sorted(after & before):
        raise ValueError(
            f"the block would make a cycle through {loop[0]}, which both reads from and feeds the selection"
        )
    inner = Graph()
    inner.blocks = graph.blocks
    for node in graph.nodes:
        if node.id in selected:
            inner.add_node(copy.deepcopy(node))
    entering: dict[PortRef, str] = {}  # outside value -> the inner Input standing for it
    leaving: dict[PortRef, str] = {}  # inner value -> its output port
    outside: list[tuple[PortRef, PortRef]] = []
    inner_edges: list[tuple[PortRef, PortRef]] = []
    shapes = (
        _shapes(graph) if any(d.node in selected and s.node not in selected for s, d in graph.edges) else {}
    )
    for src, dst in graph.edges:
        if src.node in selected and dst.node in selected:
            inner_edges.append((src, dst))
        elif dst.node in selected:
            if src not in entering:
                entering[src] = _free_id(inner, src.node if src.port == "out" else f"{src.node}_{src.port}")
                inner.add_node(
                    Node(
                        entering[src],
                        "Input",
                        {"shape": list(shapes.get(str(src), []))},
                        pos=_pos(graph, dst.node),
                    )
                )
            inner_edges.append((PortRef(entering[src], "out"), dst))
        elif src.node in selected:
            if src not in leaving:
                taken = set(leaving.values())
                port = src.node if src.node not in taken else f"{src.node}_{src.port}"
                leaving[src] = port
            outside.append((PortRef("", leaving[src]), dst))
    if not leaving:
        raise ValueError("nothing outside reads the selection: a block needs an output")
    for src, dst in inner_edges:
        inner.connect(src, dst, check_cycle=False)
    definition = BlockDef(
        name, inner, tuple(entering.values()), {port: str(src) for src, port in leaving.items()}
    )
    xs, ys = zip(*(graph.node(n).pos for n in chosen))
    instance_id = _instance_id(graph, name.lower())
    instance = Node(
        instance_id, BLOCK_TYPE, {"block": name, "repeat": 1}, pos=(sum(xs) / len(xs), sum(ys) / len(ys))
    )
    edges = [(src, PortRef(instance_id, port)) for src, port in entering.items()]
    edges += [(PortRef(instance_id, src.port), dst) for src, dst in outside]
    return definition, instance, edges


def _training_values(section: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, "node.port") of the values the training section names: its loss and predict, and each
    objective's loss."""
    found = [(key, section[key]) for key in ("loss", "predict") if isinstance(section.get(key), str)]
    objectives = section.get("objectives")
    for index, objective in enumerate(objectives if isinstance(objectives, list) else []):
        if isinstance(objective, dict) and isinstance(objective.get("loss"), str):
            found.append((f"objectives[{index}].loss", objective["loss"]))
    return found


def _instance_id(graph: Graph, hint: str) -> str:
    """A free id that no node's id begins with followed by the separator, so the inlined ids are free too."""
    taken = {node.id.partition(SEPARATOR)[0] for node in graph.nodes}
    candidate, n = hint, 1
    while candidate in taken:
        n += 1
        candidate = f"{hint}{n}"
    return candidate


def _free_id(graph: Graph, hint: str) -> str:
    return graph.unique_id(hint)


def _pos(graph: Graph, node_id: str) -> tuple[float, float]:
    x, y = graph.node(node_id).pos
    return (x - 160.0, y)


def _shapes(graph: Graph) -> Mapping[str, Any]:
    """The inferred shapes of the graph's values, for the inner Inputs standing for outside ones."""
    from graphcore.validate import validate  # validate inlines blocks through this module

    return validate(graph).shapes
