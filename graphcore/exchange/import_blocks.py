"""Blocks in an imported graph: a module class used several times becomes one block definition.

The trace is flat; each fx node remembers the modules it was called in (`nn_module_stack`). The
graph nodes of one call of a submodule whose class is used at least twice are an instance. Instances
of one class whose insides are the same (node types, params and edges; weights aside, as those are
the weights file's) share one definition, one Block node each; consecutive entries of an
nn.Sequential or nn.ModuleList, each feeding the next, become one Block node with `repeat`. An
instance whose inside differs (a downsampling BasicBlock) gets a definition of its own. Inside a
definition the same is done again (a transformer Block's attention, used in every Block, is a
block inside it). What cannot
be a block (a module called twice, one whose output comes back into it) stays flat, with a
note. The result is checked: inlined again, it must be the flat graph node for node, else the flat
graph is kept.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.blocks import SEPARATOR, BlockDef, flatten
from graphcore.exchange.import_builder import ImportResult, Ref, lay_out, unread_values
from graphcore.exchange.import_nodes import place_of
from graphcore.files.weights import Weights
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef
from graphcore.registry import Registry

CONTAINERS = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)  # they add no computation
MAX_DESCRIPTION = 2000


@dataclass
class Call:
    """One call of a submodule while tracing: the fx values it was given and returned."""

    path: str  # the submodule's qualified name ("layer1.0")
    cls: Any  # the submodule's class (an nn.Module subclass)
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    returned: Any = None


@dataclass
class Instance:
    """The graph nodes one call of a submodule made, and the values through which it meets the rest."""

    key: str  # the call's key in the trace ("layer1.0"; a second call is "layer1.0@1")
    path: str
    cls: Any  # the submodule's class (an nn.Module subclass)
    nodes: list[str] = field(default_factory=list)  # flat node ids, in graph order
    inputs: list[PortRef] = field(default_factory=list)  # outside values it reads, in port order
    input_names: list[str] = field(default_factory=list)
    outputs: list[PortRef] = field(default_factory=list)  # its values read outside, in port order
    output_names: list[str] = field(default_factory=list)
    form: str = ""  # its inside, written out to compare with other instances


@dataclass
class Use:
    """One Block node: a definition and the instances it stands for, one per copy."""

    block: str
    copies: list[Instance]
    node_id: str = ""


@dataclass
class _Trace:
    """What the trace says about submodule calls, and what is made of them, at every depth."""

    origins: Mapping[str, Any]  # flat graph node -> the fx node that made it
    calls: Mapping[str, Call]
    env: Mapping[Any, Any]  # fx node -> its value (a Ref for a graph tensor)
    candidates: dict[str, Call]  # the calls that may be instances, by key
    users: dict[Any, set[str]]  # class -> the keys of its candidate calls
    home: Graph  # the graph being made, whose blocks section holds every definition
    names: dict[str, str] = field(default_factory=dict)  # form -> block name
    inlined: dict[str, list[str]] = field(default_factory=dict)  # block -> its nodes' inlined ids
    uses: list[Use] = field(default_factory=list)  # every Use, nested ones too
    notes: list[str] = field(default_factory=list)
    owner: str = ""  # the traced module's class
    # (scope, id) -> (class, code name) of the nodes the flat graph lacks: Block nodes, a block's Inputs
    named: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass
class _Level:
    """A graph to find instances in: the flat graph, or the inside of a definition being made."""

    graph: Graph
    origins: Mapping[str, Any]  # its node -> the fx node that made it
    translate: Callable[[PortRef], PortRef | None]  # a flat graph value -> this graph's name for it
    shown: list[str]  # its values read from outside it (forward's returns, a block's outputs)
    weighted: set[str]  # its nodes whose values the weights file holds
    within: Instance | None = None  # the instance whose inside it is
    scope: str = ""  # "" the graph being made, else the name of the definition being made


def make_blocks(
    result: ImportResult,
    origins: Mapping[str, Any],
    calls: Mapping[str, Call],
    env: Mapping[Any, Any],
    registry: Registry,
    owner: str = "",
) -> None:
    """Replace `result.graph` (flat) by its blocks form, where it has any; notes say which blocks a
    class whose instances differ became and what stayed flat. `origins`: graph node -> the fx node
    that made it; `calls`: the trace's submodule calls by key; `env`: fx node -> its value; `owner`:
    the traced module's class name."""
    flat = result.graph
    trace = _trace(flat, origins, calls, env)
    trace.owner = owner
    weighted = _weighted_nodes(flat.weights)
    top = _Level(flat, origins, lambda value: value, result.returned, weighted)
    try:
        made = _blocks_of(top, trace, trace.home)
        problem = ""
        if made is not None and not _inlines_to(flat, trace.home, made[0], weighted):
            problem = "they inline to another graph"
    except ValueError as error:  # EditError, FlattenError: the blocks cannot be made of these nodes
        problem = str(error)
    if problem:
        result.notes.append(f"the blocks found are not used ({problem}): the module is imported flat")
        return
    if made is not None:
        _rename_result(result, trace, *made, registry)
    result.notes.extend(_summary(trace.uses) + trace.notes)


def _trace(
    flat: Graph, origins: Mapping[str, Any], calls: Mapping[str, Call], env: Mapping[Any, Any]
) -> _Trace:
    """The calls that may be instances: of a class called at least twice, not torch's containers, and
    not a submodule called more than once (its calls share weights), with a note for those."""
    called_again = {calls[key].path for key in calls if "@" in key}
    candidates = {
        key: call
        for key, call in calls.items()
        if call.path and call.path not in called_again and call.cls not in CONTAINERS
    }
    users: dict[Any, set[str]] = {}
    for node in flat.nodes:
        for key, _ in _stack(origins, node.id):
            if key in candidates:
                users.setdefault(candidates[key].cls, set()).add(key)
    return _Trace(origins, calls, env, candidates, users, Graph(), notes=_called_again(calls))


def _stack(origins: Mapping[str, Any], node_id: str) -> list[tuple[str, Any]]:
    """The module calls (key, (path, class)) the node was made in, outermost first."""
    return list(getattr(origins.get(node_id), "meta", {}).get("nn_module_stack", {}).items())


def _blocks_of(level: _Level, trace: _Trace, into: Graph) -> tuple[dict[str, str], list[Use]] | None:
    """Fill `into` with the level's graph, its instances made Block nodes; returns each node's
    inlined id and the Uses, or None when it has no instance to make a block of."""
    graph = level.graph
    feeds: dict[str, set[str]] = {}
    for src, dst in graph.edges:
        feeds.setdefault(src.node, set()).add(dst.node)
    kept = []
    for instance in _instances(level, trace):
        reason = _ports(level, instance, trace.calls.get(instance.key), trace.env)
        reason = reason or _why_not_convex(instance, feeds)
        if reason:
            trace.notes.append(f"{instance.path} ({instance.cls.__name__}) stays flat: {reason}")
            continue
        instance.form = _form(graph, instance, level.weighted)
        _name(trace, instance)
        kept.append(instance)
    uses = _uses(graph, kept, trace.names, level.shown)
    if not uses:
        return None
    trace.uses.extend(uses)
    renamed = _blocks_graph(level, uses, trace, into)
    owner = level.within.cls.__name__ if level.within is not None else trace.owner
    for use in uses:  # a Block node is the attribute holding its instance (a repeat: its ModuleList)
        first = use.copies[0].path
        path = first.rpartition(".")[0] if len(use.copies) > 1 else first
        trace.named[level.scope, use.node_id] = (owner, f"self.{_relative(path, level.within)}")
    return renamed, uses


def _instances(level: _Level, trace: _Trace) -> list[Instance]:
    """The level's instances in graph order, each with its nodes: for each node, the outermost call
    it was made in (inside the level's own instance) that is a candidate of a class used twice."""
    chosen: dict[str, Instance] = {}
    for node in level.graph.nodes:
        keys = [key for key, _ in _stack(level.origins, node.id)]
        if level.within is not None:
            keys = keys[keys.index(level.within.key) + 1 :] if level.within.key in keys else []
        for key in keys:
            call = trace.candidates.get(key)
            if call is not None and len(trace.users[call.cls]) > 1:
                chosen.setdefault(key, Instance(key, call.path, call.cls)).nodes.append(node.id)
                break
    return list(chosen.values())


def _called_again(calls: Mapping[str, Call]) -> list[str]:
    """Notes for the submodules called more than once (outermost only): they stay flat."""
    again = {calls[key].path: calls[key].cls for key in calls if "@" in key}
    return [
        f"{path} ({cls.__name__}) stays flat: it is called more than once, and its calls share weights"
        for path, cls in again.items()
        if not any(path.startswith(other + ".") for other in again)
    ]


def _weighted_nodes(weights: Weights | None) -> set[str]:
    """Nodes whose values the weights file holds: their `value` params are the first instance's."""
    if weights is None or weights.tensors is None:
        return set()
    return {place.partition(".")[0] for place in weights.places.values()}


def _ports(level: _Level, instance: Instance, call: Call | None, env: Mapping[Any, Any]) -> str | None:
    """Find the instance's input and output values and name them after its forward's arguments and
    returns; None, or why it cannot be a block."""
    if call is None:
        return "its call was not recorded"
    if any(level.graph.node(n).type == "Input" for n in instance.nodes):
        return "it computes an integer tensor from no input, which a block cannot hold"
    flat = level.graph
    inside = set(instance.nodes)
    entering: list[PortRef] = []
    leaving: list[PortRef] = []
    outside_reads = {PortRef.parse(v) for v in level.shown}
    for node_id in instance.nodes:
        for src, dst in flat.edges_of(node_id):
            if src.node not in inside and src not in entering:
                entering.append(src)
            if dst.node not in inside:
                outside_reads.add(src)
    parameters = list(inspect.signature(call.cls.forward).parameters)[1:]
    given = [(parameters[i] if i < len(parameters) else f"x{i}", a) for i, a in enumerate(call.args)]
    given += list(call.kwargs.items())
    named = {ref: name for name, value in given for ref in _refs(value, env, level.translate)}
    order = [r for _, value in given for r in _refs(value, env, level.translate) if r in entering]
    order = list(dict.fromkeys(order))
    instance.inputs = order + [r for r in entering if r not in order]
    instance.input_names = _unique([named.get(r, "x") for r in instance.inputs])
    for ref in _refs(call.returned, env, level.translate):
        if ref.node in inside and ref not in leaving:
            leaving.append(ref)
    leaving += [
        r for n in instance.nodes for r in _values_of(flat, n) if r in outside_reads and r not in leaving
    ]
    if not leaving:
        return "nothing outside reads it"
    instance.outputs = leaving
    instance.output_names = ["out"] if len(leaving) == 1 else [f"out{i}" for i in range(1, len(leaving) + 1)]
    return None


def _refs(
    value: Any, env: Mapping[Any, Any], translate: Callable[[PortRef], PortRef | None]
) -> list[PortRef]:
    """The graph values among a call's arguments or returns (fx proxies, in tuples and dicts), as
    the level names them."""
    if isinstance(value, tuple | list):
        return [r for v in value for r in _refs(v, env, translate)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v, env, translate)]
    node = getattr(value, "node", None)  # a Proxy's fx node; its value is a Ref, or a tuple of them
    found = _graph_values(env.get(node)) if isinstance(node, Hashable) else []
    return [r for r in map(translate, found) if r is not None]


def _graph_values(found: Any) -> list[PortRef]:
    if isinstance(found, tuple):
        return [r for element in found for r in _graph_values(element)]
    return [PortRef.parse(found.port)] if isinstance(found, Ref) else []


def _values_of(flat: Graph, node_id: str) -> list[PortRef]:
    return [PortRef(node_id, port) for port in flat.output_ports_of(node_id)]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return result


def _why_not_convex(instance: Instance, feeds: Mapping[str, set[str]]) -> str | None:
    """Why the instance's nodes cannot be cut out as one node: a value leaves and comes back.
    `feeds`: node -> the nodes reading it."""
    inside = set(instance.nodes)
    stack = [d for n in inside for d in feeds.get(n, ()) if d not in inside]
    seen = set(stack)
    while stack:
        for after in feeds.get(stack.pop(), ()):
            if after in inside:
                return f"a value it computes comes back into it through {after}"
            if after not in seen:
                seen.add(after)
                stack.append(after)
    return None


def _form(flat: Graph, instance: Instance, weighted: set[str]) -> str:
    """The instance's inside with node ids replaced by positions: equal forms, one definition."""
    index = {node_id: i for i, node_id in enumerate(instance.nodes)}

    def ref(value: PortRef) -> list[Any]:
        if value.node in index:
            return [index[value.node], value.port]
        return ["in", instance.inputs.index(value)]

    nodes = []
    edges = []
    for node_id in instance.nodes:
        node = flat.node(node_id)
        params = {k: v for k, v in node.params.items() if not (k == "value" and node_id in weighted)}
        nodes.append([node.type, params])
        for port in flat.input_ports_of(node_id):
            src = flat.source_of(PortRef(node_id, port))
            if src is not None:
                edges.append([ref(src), index[node_id], port])
    outputs = [ref(v) for v in instance.outputs]
    shape = [nodes, edges, outputs, instance.input_names, instance.output_names]
    return json.dumps(shape, sort_keys=True, default=repr)


def _name(trace: _Trace, instance: Instance) -> None:
    """Name the instance's form, once: its class's name, then Name_2, Name_3 for its other structures."""
    if instance.form in trace.names:
        return
    taken = set(trace.names.values())
    base, n = instance.cls.__name__, 1
    name = base
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    trace.names[instance.form] = name


def _uses(flat: Graph, instances: list[Instance], names: Mapping[str, str], returned: list[str]) -> list[Use]:
    """One Use per instance, except runs of a container's consecutive entries of one definition, each
    feeding only the next (x → layer1.0 → layer1.1): one Use with a copy per entry."""
    uses: list[Use] = []
    shown = {PortRef.parse(v) for v in returned}
    for instance in instances:
        last = uses[-1] if uses else None
        if last and last.block == names[instance.form] and _follows(flat, last.copies[-1], instance, shown):
            last.copies.append(instance)
        else:
            uses.append(Use(names[instance.form], [instance]))
    return uses


def _follows(flat: Graph, before: Instance, after: Instance, shown: set[PortRef]) -> bool:
    """Whether `after` is the next entry of `before`'s container and reads only what `before` gives,
    which nothing else reads."""
    parent, _, index = before.path.rpartition(".")
    parent_after, _, index_after = after.path.rpartition(".")
    if parent != parent_after or not (index.isdigit() and index_after.isdigit()):
        return False
    if int(index_after) != int(index) + 1:
        return False
    if len(before.inputs) != 1 or len(before.outputs) != 1 or after.inputs != before.outputs:
        return False
    value = before.outputs[0]
    readers = {dst.node for dst in flat.consumers_of(value)}
    return value not in shown and readers <= set(after.nodes)


def _blocks_graph(level: _Level, uses: list[Use], trace: _Trace, into: Graph) -> dict[str, str]:
    """Fill `into` with the level's graph, each Use one Block node; returns each node's id once
    inlined again ("layer1/2/conv1" for copy 2 of layer1's conv1)."""
    from graphcore.validate import validate  # the shapes of the values entering blocks

    flat = level.graph
    shapes = validate(flat).shapes
    into.meta = copy.deepcopy(flat.meta)
    for use in uses:
        if use.block not in trace.home.blocks:
            definition, trace.inlined[use.block] = _definition(level, use.copies[0], use.block, shapes, trace)
            trace.home.set_block(use.block, definition)
    member: dict[str, Use] = {n: use for use in uses for copy_ in use.copies for n in copy_.nodes}
    staying = {node.id for node in flat.nodes if node.id not in member}  # ids a Block node must not take
    renamed: dict[str, str] = {}
    for node in flat.nodes:
        if node.id not in member:
            into.add_node(Node(node.id, node.type, copy.deepcopy(node.params), node.label, node.pos))
            renamed[node.id] = node.id
        elif not (use := member[node.id]).node_id:
            use.node_id = _free_id(into, use, staying, level.within)
            repeat = len(use.copies)
            into.add_node(Node(use.node_id, BLOCK_TYPE, {"block": use.block, "repeat": repeat}))
            for k, instance in enumerate(use.copies, start=1):
                prefix = use.node_id + SEPARATOR + (f"{k}{SEPARATOR}" if repeat > 1 else "")
                for old, inner in zip(instance.nodes, trace.inlined[use.block]):
                    renamed[old] = prefix + inner
    exposed = _exposed(uses)
    for src, dst in flat.edges:
        target = member.get(dst.node)
        if target is not None and src.node in member and member[src.node] is target:
            continue  # inside one Block node: its definition has the edge
        source = PortRef.parse(exposed.get(str(src), str(src)))
        if target is not None:
            first = target.copies[0]
            dst = PortRef(target.node_id, first.input_names[first.inputs.index(src)])
        if into.source_of(dst) is None:
            into.connect(source, dst, check_cycle=False)
    lay_out(into)
    return renamed


def _exposed(uses: list[Use]) -> dict[str, str]:
    """Inner value -> the Block node's port showing it ("layer1_2_relu_1.out" -> "layer1.out")."""
    return {
        str(value): f"{use.node_id}.{name}"
        for use in uses
        for value, name in zip(use.copies[-1].outputs, use.copies[-1].output_names)
    }


def _relative(path: str, within: Instance | None) -> str:
    """A submodule's path below the instance whose inside is being made ("h.0.attn" in h.0: "attn")."""
    return path.removeprefix(within.path + ".") if within is not None else path


def _free_id(graph: Graph, use: Use, staying: set[str], within: Instance | None) -> str:
    """The Block node's id: its container's path for a repeat ("layer1"), else the instance's
    ("layer2_0")."""
    first = _relative(use.copies[0].path, within)
    base = re.sub(r"\W", "_", first.rpartition(".")[0] if len(use.copies) > 1 else first)
    if not base or base[0].isdigit():  # entries of a Sequential traced as the root ("0", "")
        base = use.block.lower() + (f"_{base}" if base else "")
    candidate, n = base, 1
    while candidate in graph or candidate in staying:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _definition(
    level: _Level, instance: Instance, name: str, shapes: Mapping[str, Any], trace: _Trace
) -> tuple[BlockDef, list[str]]:
    """The block made of one instance's nodes, the calls inside it made blocks too, and each node's
    id inside it once inlined, in order."""
    flat = level.graph
    inner = Graph()
    for port, value in zip(instance.input_names, instance.inputs):
        inner.add_node(Node(port, "Input", _input_params(shapes, value)))
        trace.named[name, port] = (instance.cls.__name__, port)
    prefix = re.sub(r"\W", "_", _relative(instance.path, level.within)) + "_"
    ids: dict[str, str] = {}
    for node_id in instance.nodes:
        node = flat.node(node_id)
        hint = node_id.removeprefix(prefix) if node_id.startswith(prefix) else re.sub(r"_\d+$", "", node_id)
        ids[node_id] = inner.unique_id(hint)
        inner.add_node(Node(ids[node_id], node.type, copy.deepcopy(node.params), node.label))

    def ref(value: PortRef) -> PortRef | None:
        if value.node in ids:
            return PortRef(ids[value.node], value.port)
        if value in instance.inputs:
            return PortRef(instance.input_names[instance.inputs.index(value)], "out")
        return None

    for node_id in instance.nodes:
        for port in flat.input_ports_of(node_id):
            src = flat.source_of(PortRef(node_id, port))
            if src is not None and (inner_src := ref(src)) is not None:
                inner.connect(inner_src, PortRef(ids[node_id], port), check_cycle=False)
    lay_out(inner)
    outputs = {port: str(ref(v)) for port, v in zip(instance.output_names, instance.outputs)}
    inside = _Level(
        inner,
        {ids[n]: level.origins.get(n) for n in instance.nodes},
        lambda value: ref(local) if (local := level.translate(value)) is not None else None,
        list(outputs.values()),
        {ids[n] for n in instance.nodes if n in level.weighted},
        instance,
        name,
    )
    nested = Graph()
    nested.blocks = trace.home.blocks  # its Block nodes' ports are their definitions'
    made = _blocks_of(inside, trace, nested)
    inlined = [ids[n] for n in instance.nodes]
    if made is not None:
        renamed, uses = made
        inner, exposed = nested, _exposed(uses)
        outputs = {port: exposed.get(value, value) for port, value in outputs.items()}
        inlined = [renamed[i] for i in inlined]
    description = f"{instance.cls.__qualname__}, as traced from {instance.path}"[:MAX_DESCRIPTION]
    return BlockDef(name, inner, tuple(instance.input_names), outputs, description), inlined


def _input_params(shapes: Mapping[str, Any], value: PortRef) -> dict[str, Any]:
    """An inner Input's params: the shape of the value feeding the first instance, where known."""
    shape = shapes.get(str(value))
    return {"shape": list(shape) if isinstance(shape, list | tuple) else []}


def _inlines_to(flat: Graph, blocked: Graph, renamed: Mapping[str, str], weighted: set[str]) -> bool:
    """Whether the blocks graph inlines to the flat one, node for node and edge for edge (the values
    of weighted nodes aside: the weights file gives each its own)."""
    again = flatten(blocked)
    if len(again) != len(flat) or len(again.edges) != len(flat.edges):
        return False
    for node in flat.nodes:
        new = renamed[node.id]
        if new not in again:
            return False
        other = again.node(new)
        if other.type != node.type:
            return False
        ours = {k: v for k, v in node.params.items() if not (k == "value" and node.id in weighted)}
        theirs = {k: v for k, v in other.params.items() if not (k == "value" and node.id in weighted)}
        if ours != theirs:
            return False
    expected = {(PortRef(renamed[s.node], s.port), PortRef(renamed[d.node], d.port)) for s, d in flat.edges}
    return expected == set(again.edges)


def _rename_result(
    result: ImportResult, trace: _Trace, renamed: Mapping[str, str], uses: list[Use], registry: Registry
) -> None:
    """Point everything the result says about the flat graph's nodes at the blocks graph."""
    flat, blocked = result.graph, trace.home
    exposed = _exposed(uses)

    def top(value: str) -> str:
        return exposed.get(value, value)

    def inlined(value: str) -> str:
        ref = PortRef.parse(value)
        return f"{renamed[ref.node]}.{ref.port}"

    declared = flat.meta.get("outputs")
    if isinstance(declared, list):
        blocked.meta["outputs"] = [top(v) for v in declared]
    elif result.returned and unread_values(flatten(blocked), registry) != [
        inlined(v) for v in result.returned
    ]:
        blocked.meta["outputs"] = [top(v) for v in result.returned]
    weights = flat.weights
    if weights is not None:
        places = {}
        for key, place in weights.places.items():
            node, dot, local = place.partition(".")
            places[key] = renamed[node] + dot + local
        blocked.weights = Weights(
            weights.reference, weights.tensors, places, dict(weights.ties), weights.origin
        )
    result.returned = [top(v) for v in result.returned]
    result.layers = {renamed[k]: v for k, v in result.layers.items()}
    result.attributes = {renamed[k]: v for k, v in result.attributes.items()}
    result.opaque = [(renamed[node], target) for node, target in result.opaque]
    code_names = dict(trace.named)
    for (_, node_id), name in result.code_names.items():  # copies of a repeat: one place, one name
        code_names.setdefault(place_of(blocked, renamed[node_id]), name)
    result.code_names = code_names
    result.graph = blocked


def _summary(uses: list[Use]) -> list[str]:
    """A note per class whose instances differ (other constructor arguments): which block each
    structure became, and where it is used."""
    by_class: dict[Any, dict[str, list[str]]] = {}
    for use in uses:
        paths = [c.path for c in use.copies]
        where = paths[0] if len(paths) == 1 else f"{use.copies[0].path.rpartition('.')[0]} ×{len(paths)}"
        by_class.setdefault(use.copies[0].cls, {}).setdefault(use.block, []).append(where)
    return [
        f"{cls.__name__}: its instances differ (in constructor arguments, say), so each structure is a "
        "block of its own: " + "; ".join(f"{name} at {', '.join(where)}" for name, where in blocks.items())
        for cls, blocks in by_class.items()
        if len(blocks) > 1
    ]
