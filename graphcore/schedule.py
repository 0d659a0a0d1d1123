"""Forward and backward schedules: plain data that can be printed, tested and drawn.

The forward schedule is the program's topological order. The backward schedule runs the reverse
order, restricted to the nodes that lie between the requested inputs (`wrt`) and the output (`of`),
with an explicit `accumulate` step wherever a value fans out to more than one consumer on the way,
so the sum of the chain rule's paths is a step a user can see.

Gradient names: a value's total gradient is named like the value (`w.out`); a contribution arriving
through one input port is named after that port (`z.a`); a layer's weight gradient after the weight
(`fc.weight`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from graphcore.graph import PortRef
from graphcore.program import Program

Phase = Literal["forward", "backward", "accumulate"]


@dataclass(frozen=True)
class Step:
    phase: Phase
    node: str
    reads: tuple[str, ...]  # values (forward) or gradients (backward, accumulate) it consumes
    writes: tuple[str, ...]  # what it produces

    def __str__(self) -> str:
        return f"{self.phase:<10} {self.node:<12} {', '.join(self.reads) or '-'} -> {', '.join(self.writes)}"


def forward_schedule(program: Program) -> list[Step]:
    return [Step("forward", i.node, tuple(a for a in i.args if a), i.outs) for i in program]


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
        reads = []
        for value in instr.outs:
            readers = [r for r in program.consumers[value] if r.node in relevant] if value != of else []
            if len(readers) > 1:
                steps.append(Step("accumulate", instr.node, tuple(map(str, readers)), (value,)))
                reads.append(value)
            elif readers:
                reads.append(str(readers[0]))
            elif value == of:
                reads.append(value)
        if instr.spec.is_source or not reads:
            continue
        writes = [
            f"{instr.node}.{port}"
            for port, arg in zip(instr.spec.inputs, instr.args)
            if arg and PortRef.parse(arg).node in relevant
        ]
        if instr.spec.kind == "layer" and instr.node in wrt:
            writes.append(f"{instr.node}.<weights>")
        if not writes:
            continue
        steps.append(Step("backward", instr.node, tuple(reads), tuple(writes)))
    return steps


def format_schedule(steps: Iterable[Step]) -> str:
    return "\n".join(map(str, steps))
