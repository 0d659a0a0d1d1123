"""`graphcore export` of a graph with blocks: one nn.Module class per block definition.

A block's class has its layers as attributes named after its inner nodes and a forward taking the
block's inputs and returning its outputs; the model holds one attribute per instance, a repeat an
nn.ModuleList of its copies run in sequence. So state_dict speaks the structure ("res1.fc.weight",
copy k of a repeat "res1.{k-1}.fc.weight") where the runtime's flat module says "res1_fc.weight".

The numbers are the runtime's: flatten adds an instance's inner nodes in the order of the block's
own topological order, copies first to last, and that order is the flat program's
(graph.topological_order keeps the order nodes were added when it is a valid one). The classes here
build their weights in the same order from the same seed, and forward runs the same node code.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from graphcore.blocks import SEPARATOR, flatten_with_ports, repeat_of
from graphcore.codegen import (
    _MODULE_ATTRIBUTES,
    _RESERVED,
    ClassCode,
    GeneratedModule,
    Namespace,
    code_lines,
    helper_names,
    module_head,
    plain_text,
)
from graphcore.exchange.export_data import ExportError
from graphcore.graph import BLOCK_TYPE, Graph, Node, PortRef
from graphcore.program import Instr
from graphcore.registry import REGISTRY

COPY = "<copy>"  # the key of the loop variable that runs a repeat's copies


@dataclass(frozen=True)
class _Scope:
    """The inside of one class: its graph's nodes in the order flatten inlines them."""

    graph: Graph
    items: tuple[Instr | Node, ...]  # an Instr per ordinary node, the Node of each Block instance

    @property
    def read(self) -> set[str]:
        return {str(src) for src, _ in self.graph.edges}


def has_blocks(graph: Graph) -> bool:
    return any(node.type == BLOCK_TYPE for node in graph.nodes)


def block_source(
    graph: Graph,
    class_name: str,
    outputs: Sequence[str],
    seed: int = 0,
    taken: Collection[str] = (),
) -> GeneratedModule:
    """The graph as classes: one per block it uses, then the model's. `outputs` are the flat values
    forward returns (as `graphcore run` names them); `taken` are names the file defines besides."""
    return _Writer(graph, class_name, set(taken)).module(outputs, seed)


def exported_names(generated: GeneratedModule, places: Mapping[str, str]) -> dict[str, str]:
    """Flat place ("res1/1/fc.weight", as weights files and the runtime say) -> the exported
    module's state_dict key ("res1.0.fc.weight"); places of nodes without weights are left out."""
    found = {}
    for key, place in places.items():
        node, dot, local = place.partition(".")
        if node in generated.attributes:
            found[key] = f"{generated.attributes[node]}{dot}{local}"
    return found


def flat_place(generated: GeneratedModule, name: str) -> str | None:
    """The other way: an exported state_dict key ("res1.0.fc.weight") -> its flat place
    ("res1/1/fc.weight"), None when no node's attribute holds it."""
    for node, attribute in generated.attributes.items():
        if name == attribute or name.startswith(attribute + "."):
            return node + name[len(attribute) :]
    return None


def _scope(graph: Graph) -> _Scope:
    """Ordinary nodes as lower() makes them, instances as they are, in flatten's order."""
    items: list[Instr | Node] = []
    order = graph.topological_order() if not graph.has_cycle() else [n.id for n in graph.nodes]
    for node_id in order:
        node = graph.node(node_id)
        if node.type == BLOCK_TYPE:
            items.append(node)
            continue
        spec = REGISTRY[node.type]
        args = tuple(str(s) if s is not None else None for s in graph.sources_of(node_id, spec.inputs))
        items.append(Instr(node_id, spec, args, spec.with_defaults(node.params), node.label))
    return _Scope(graph, tuple(items))


def _hint(node: Node) -> str:
    """An instance's name in code: its plain label, else its id (Instr.code_name's rule)."""
    return node.label if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", node.label) else node.id


class _Writer:
    """Writes the classes, each block's once, innermost first."""

    def __init__(self, graph: Graph, class_name: str, taken: set[str]) -> None:
        self.graph, self.blocks, self.class_name = graph, graph.blocks, class_name
        self.scopes = {name: _scope(d.graph) for name, d in self.blocks.items()}
        self.top = _scope(graph)
        every = [i for s in [self.top, *self.scopes.values()] for i in s.items if isinstance(i, Instr)]
        self.helper_names = helper_names(every)
        self.class_names = self._class_names(taken | {class_name} | self.helper_names)
        self.written: dict[str, ClassCode] = {}  # block -> its class's code
        self.lines: dict[str, list[str]] = {}  # block -> its class's lines
        self.helpers: list[str] = []
        self.bodies: list[str] = []

    def _class_names(self, taken: set[str]) -> dict[str, str]:
        """Each block's class name: the block's own unless the file needs it for something else."""
        reserved = _RESERVED | taken
        names = Namespace(reserved)
        return {name: names.name(name, f"{name}Block" if name in reserved else name) for name in self.blocks}

    def _class_code(self) -> ClassCode:
        locals_taken = _RESERVED | self.helper_names | set(self.class_names.values()) | {self.class_name}
        return ClassCode(Namespace(locals_taken), Namespace(_RESERVED | _MODULE_ATTRIBUTES))

    def module(self, outputs: Sequence[str], seed: int) -> GeneratedModule:
        kept = _top_values(self.graph, outputs)
        if not kept:
            raise ExportError(
                "the graph's outputs are all inside blocks, which the exported model cannot return"
            )
        code = self._fill(self.top, returned=kept.values())
        returned = tuple(code.expr[top] for top in kept.values())
        classes = [line for name in self.written for line in (*self.lines[name], "", "")]
        model = code.lines(
            self.class_name,
            f"dtype=torch.float32, seed={seed!r}",
            ["        torch.manual_seed(seed)"],
            ", ".join(returned),
        )
        lines = [*module_head(self.class_name, self.bodies, self.helpers), *classes, *model, ""]
        attributes = dict(self._flat_attributes(self.top, code.attributes, "", ""))
        arguments = tuple(code.expr[f"{node}.out"] for node in code.inputs)
        names = {"": (self.class_name, code.names)}
        names.update((name, (self.class_names[name], inner.names)) for name, inner in self.written.items())
        return GeneratedModule(
            "\n".join(lines),
            self.class_name,
            tuple(code.inputs),
            tuple(kept),
            attributes,
            arguments,
            returned,
            names,
        )

    def _fill(self, scope: _Scope, returned: Collection[str]) -> ClassCode:
        """A ClassCode with the scope's nodes added; values nothing reads are marked unused."""
        code, read = self._class_code(), scope.read | set(returned)
        for item in scope.items:
            if isinstance(item, Instr):
                code.add(item, [v for v in item.outs if v not in read])
            else:
                self._add_instance(code, scope.graph, item, read)
        self.bodies += code.body
        self.helpers += [h for h in code.helpers if h not in self.helpers]
        return code

    def _write(self, name: str) -> str:
        """The block's class, written the first time an instance needs it; its name."""
        class_name = self.class_names[name]
        if name not in self.written:
            definition = self.blocks[name]
            code = self._fill(self.scopes[name], definition.outputs.values())
            code.inputs[:] = definition.inputs  # forward's arguments in port order, as instances pass them
            returned = ", ".join(code.expr[value] for value in definition.outputs.values())
            doc = plain_text(definition.description)
            if class_name != name:
                doc = f"Block {name}, renamed: the file needs that name for something else{': ' if doc else '.'}{doc}"
            self.lines[name] = code.lines(class_name, "dtype=torch.float32", [], returned, doc)
            self.written[name] = code
        return class_name

    def _add_instance(self, code: ClassCode, graph: Graph, node: Node, read: Collection[str]) -> None:
        """`self.res1 = ResBlock(dtype)` (a repeat: a ModuleList of copies) and its call in forward."""
        name = str(node.params.get("block"))
        definition = self.blocks[name]
        cls = self._write(name)  # before the attribute: inner classes come first in the file
        attr = code.attributes[node.id] = code.attrs.name(node.id, _hint(node))
        code.names[node.id] = f"self.{attr}"
        repeat = repeat_of(node)
        arguments = []
        for port in definition.inputs:
            source = graph.source_of(PortRef(node.id, port))
            arguments.append(code.expr[str(source)] if source is not None else "None")
        results = []
        for port in definition.outputs:
            value = f"{node.id}.{port}"
            hint = _hint(node) if len(definition.outputs) == 1 else f"{_hint(node)}_{port}"
            local = code.local.name(value, hint)
            code.expr[value] = f"_{local}" if value not in read else local
            results.append(code.expr[value])
        if repeat == 1:
            code.init_lines.append(f"self.{attr} = {cls}(dtype)")
            line = f"{', '.join(results)} = self.{attr}({', '.join(arguments)})"
            code.body.extend(code_lines(line, 8, f"block {name}"))
            return
        code.init_lines.append(f"self.{attr} = nn.ModuleList({cls}(dtype) for _ in range({repeat}))")
        (result,), copy = results, code.local.name(COPY, "block")
        code.body += [
            *code_lines(f"{result} = {arguments[0]}", 8, f"block {name}, {repeat} copies in sequence"),
            f"        for {copy} in self.{attr}:",
            f"            {result} = {copy}({result})",
        ]

    def _flat_attributes(
        self, scope: _Scope, attributes: Mapping[str, str], flat: str, path: str
    ) -> Iterator[tuple[str, str]]:
        """(flat node id, dotted attribute path) for every node with weights, instances walked."""
        for item in scope.items:
            if isinstance(item, Instr):
                if item.node in attributes:
                    yield flat + item.node, path + attributes[item.node]
                continue
            name = str(item.params.get("block"))
            inner, attr, repeat = self.written[name].attributes, attributes[item.id], repeat_of(item)
            for k in range(1, repeat + 1):
                copy_flat = f"{flat}{item.id}{SEPARATOR}" + (f"{k}{SEPARATOR}" if repeat > 1 else "")
                copy_path = f"{path}{attr}." + (f"{k - 1}." if repeat > 1 else "")
                yield from self._flat_attributes(self.scopes[name], inner, copy_flat, copy_path)


def _top_values(graph: Graph, outputs: Sequence[str]) -> dict[str, str]:
    """Flat output value -> the model's own value for it (a node's port, or an instance's port);
    a value only a block's inside has, nothing outside reads, is left out."""
    _, exposed = flatten_with_ports(graph)
    top: dict[str, str] = {}
    for port, flat in exposed.items():
        top.setdefault(flat, port)
    kept = {}
    for value in outputs:
        node = PortRef.parse(value).node
        if node in graph and graph.node(node).type != BLOCK_TYPE:
            kept[value] = value
        elif value in top:
            kept[value] = top[value]
    return kept
