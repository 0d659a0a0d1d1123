"""Forward and backward schedules: plain data that can be printed, tested and drawn.

The forward schedule is the program's topological order. The backward schedule runs the reverse
order, restricted to the nodes that lie between the requested inputs (`wrt`) and the output (`of`),
with an explicit `accumulate` step wherever a value fans out to more than one consumer on the way,
so the sum of the chain rule's paths is a step a user can see.

Gradient names: a value's total gradient is named like the value (`w.out`); a contribution arriving
through one input port is named after that port (`z.a`); a layer's weight gradient after the weight
(`fc.weight`), and all of them together, as a backward step writes them, `fc.<weights>`. A step keeps
each name as a `Ref` too, so the engines that run it never parse a name back from its text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from graphcore.graph import PortRef
from graphcore.program import Program

Phase = Literal["forward", "backward", "accumulate"]
RefKind = Literal["value", "input", "weights"]
WEIGHTS = "<weights>"  # the port a backward step names for all of a layer's weight gradients


@dataclass(frozen=True)
class Ref:
    """A name a step reads or writes, `node.port`, as a record: the port is one of the node's outputs
    ("value": the value, or in reverse mode its total gradient), one of its inputs ("input": the
    gradient that passes back through that port) or WEIGHTS ("weights": the layer's weight gradients)."""

    kind: RefKind
    node: str
    port: str
    value: str  # the value it is, or whose gradient it is: `w.out` for `w.out` and for a reader's `wx.a`

    @classmethod
    def of_value(cls, value: str) -> Ref:
        at = PortRef.parse(value)
        return cls("value", at.node, at.port, value)

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"


@dataclass(frozen=True)
class Step:
    phase: Phase
    node: str
    read_refs: tuple[Ref, ...]  # values (forward) or gradients (backward, accumulate) it consumes
    write_refs: tuple[Ref, ...]  # what it produces

    @cached_property
    def reads(self) -> tuple[str, ...]:
        return tuple(map(str, self.read_refs))

    @cached_property
    def writes(self) -> tuple[str, ...]:
        return tuple(map(str, self.write_refs))

    def __str__(self) -> str:
        return f"{self.phase:<10} {self.node:<12} {', '.join(self.reads) or '-'} -> {', '.join(self.writes)}"


def forward_schedule(program: Program) -> list[Step]:
    return [
        Step("forward", i.node, tuple(Ref.of_value(a) for a in i.args if a), tuple(map(Ref.of_value, i.outs)))
        for i in program
    ]


def differentiable_nodes(program: Program) -> list[str]:
    """Nodes a derivative can be taken with respect to: every source, and layers (for their weights)."""
    return [i.node for i in program if i.spec.is_source or i.spec.kind == "layer"]


def relevant_nodes(program: Program, of: str, wrt: Iterable[str]) -> set[str]:
    """Nodes on some path from a `wrt` node to the node producing `of` (both ends included)."""
    target = PortRef.parse(of).node
    upstream = {target}
    for instr in reversed(program.instrs):
        if instr.node in upstream:
            upstream.update(PortRef.parse(a).node for a in instr.args if a)
    downstream = set(wrt)
    for instr in program:
        if any(a and PortRef.parse(a).node in downstream for a in instr.args):
            downstream.add(instr.node)
    return upstream & downstream


def backward_schedule(program: Program, of: str, wrt: Iterable[str] | None = None) -> list[Step]:
    """Reverse-mode steps from output `of` down to the `wrt` nodes (default: all differentiable nodes)."""
    wrt = set(differentiable_nodes(program) if wrt is None else wrt)
    relevant = relevant_nodes(program, of, wrt)
    steps: list[Step] = []
    for instr in reversed(program.instrs):
        if instr.node not in relevant:
            continue
        reads: list[Ref] = []
        for value in instr.outs:
            readers = [r for r in program.consumers[value] if r.node in relevant] if value != of else []
            through = tuple(Ref("input", r.node, r.port, value) for r in readers)
            if len(readers) > 1:
                steps.append(Step("accumulate", instr.node, through, (Ref.of_value(value),)))
                reads.append(Ref.of_value(value))
            elif readers:
                reads.append(through[0])
            elif value == of:
                reads.append(Ref.of_value(value))
        if instr.spec.is_source or not reads:
            continue
        writes = [
            Ref("input", instr.node, port, arg)
            for port, arg in zip(instr.spec.inputs, instr.args)
            if arg and PortRef.parse(arg).node in relevant
        ]
        if instr.spec.kind == "layer" and instr.node in wrt:
            writes.append(Ref("weights", instr.node, WEIGHTS, ""))
        if not writes:
            continue
        steps.append(Step("backward", instr.node, tuple(reads), tuple(writes)))
    return steps


def format_schedule(steps: Iterable[Step]) -> str:
    return "\n".join(map(str, steps))
