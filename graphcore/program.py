"""The lowered graph: a straight-line program in schedule order (torch.fx's Graph, autodidax's jaxpr).

A Program is rebuilt from the Graph after every edit. It is immutable and printable, and every
interpretation of the graph (infer shapes, evaluate, step, differentiate, write code) walks it.
Values are named "node.port", exactly as files and messages name them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from graphcore.blocks import flatten
from graphcore.graph import Graph, PortRef
from graphcore.registry import REGISTRY, NodeSpec

if TYPE_CHECKING:
    from graphcore.files.weights import Weights


@dataclass(frozen=True, eq=False)
class Instr:
    """One node of the program: `outs = spec(args, **params)`."""

    node: str
    spec: NodeSpec
    args: tuple[str | None, ...]  # "node.port" per input port, in the spec's order; None if unconnected
    params: Mapping[str, Any]
    label: str = ""

    @cached_property
    def outputs(self) -> tuple[str, ...]:
        """The node's output ports: its type's, or what its params give (chunk's chunks)."""
        return self.spec.outputs_for(self.params)

    @property
    def outs(self) -> tuple[str, ...]:
        return tuple(f"{self.node}.{p}" for p in self.outputs)

    @property
    def title(self) -> str:
        return self.label or self.node

    @property
    def code_name(self) -> str:
        """The hint for this node's name in generated code: a plain label, else the id."""
        return self.label if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", self.label) else self.node

    def __str__(self) -> str:
        args = ", ".join(a or "None" for a in self.args)
        shown = {k: v for k, v in self.params.items() if v != self.spec.defaults().get(k, ...)}
        params = " " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) if shown else ""
        return f"{', '.join(self.outs)} = {self.spec.type}({args}){params}"


MESSAGE_LIMIT = 160  # characters of an error's first line shown after the node's name


class NodeError(ValueError):
    """An exception raised inside one node's computation (torch's out-of-memory or shape errors
    included), as one line naming the node: `fc1 (Linear): RuntimeError: ...`."""

    def __init__(self, instr: Instr, error: BaseException) -> None:
        super().__init__(f"{instr.title} ({instr.spec.type}): {self.describe(error)}")
        self.node = instr.node
        self.error = error

    @staticmethod
    def describe(error: BaseException) -> str:
        """`Type: first line of the message`, shortened: CUDA's out-of-memory text runs to lines."""
        lines = str(error).strip().splitlines()
        text = lines[0] if lines else ""
        if len(text) > MESSAGE_LIMIT:
            text = text[: MESSAGE_LIMIT - 1] + "…"
        return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextmanager
def node_errors(instr: Instr) -> Iterator[None]:
    """Run one node's computation; what it raises comes out as a NodeError naming it. A refusal that
    names the node already (forward mode not available: NotImplementedError) passes unchanged."""
    try:
        yield
    except NodeError:
        raise
    except NotImplementedError as error:
        if str(error).startswith(f"{instr.title}:"):
            raise
        raise NodeError(instr, error) from error
    except Exception as error:  # torch raises RuntimeError, ValueError, TypeError, IndexError...
        raise NodeError(instr, error) from error


@dataclass(frozen=True, eq=False)
class Program:
    instrs: tuple[Instr, ...]
    weights: Weights | None = None  # the graph's, which the runtime puts into its module
    declared: tuple[str, ...] = ()  # the graph's meta.outputs: the values an imported forward returned

    def __str__(self) -> str:
        return "\n".join(map(str, self.instrs))

    def __iter__(self) -> Iterator[Instr]:
        return iter(self.instrs)

    @cached_property
    def by_node(self) -> dict[str, Instr]:
        return {i.node: i for i in self.instrs}

    @cached_property
    def consumers(self) -> dict[str, list[PortRef]]:
        """Value name → the input ports reading it (more than one where a value fans out)."""
        readers: dict[str, list[PortRef]] = {out: [] for i in self.instrs for out in i.outs}
        for instr in self.instrs:
            for port, arg in zip(instr.spec.inputs, instr.args):
                if arg is not None:
                    readers[arg].append(PortRef(instr.node, port))
        return readers

    @cached_property
    def sinks(self) -> tuple[str, ...]:
        """The graph's outputs, what `graphcore run` prints and forward returns: the values meta.outputs
        names that the graph still has, else the values nothing consumes."""
        kept = tuple(v for v in self.declared if v in self.consumers)
        return kept or tuple(v for v, readers in self.consumers.items() if not readers)

    def producer(self, value: str) -> Instr:
        return self.by_node[PortRef.parse(value).node]


def lower(graph: Graph) -> Program:
    """The graph as a program, its blocks inlined (graphcore.blocks). The graph must validate
    cleanly (see graphcore.validate)."""
    graph = flatten(graph)
    instrs = []
    for node_id in graph.topological_order():
        node = graph.node(node_id)
        spec = REGISTRY[node.type]
        args = tuple(str(s) if s is not None else None for s in graph.sources_of(node_id, spec.inputs))
        instrs.append(Instr(node_id, spec, args, spec.with_defaults(node.params), node.label))
    return Program(tuple(instrs), graph.weights, declared_outputs(graph))


def declared_outputs(graph: Graph) -> tuple[str, ...]:
    """meta.outputs, when it is a list of "node.port" names (the file's schema checks it on load)."""
    declared = graph.meta.get("outputs")
    if not isinstance(declared, list) or not all(isinstance(v, str) for v in declared):
        return ()
    return tuple(declared)
