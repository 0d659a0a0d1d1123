"""The chain rule as a sum over paths, for the derivative lab's path view.

For small scalar graphs, `path_sum` lists every path from an input to an output with the product
of its edges' local derivatives, whose sum forward and reverse mode must both equal. Whole
Jacobians (the record, the dispatcher) are graphcore.derivatives.api'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.derivatives.api import METHODS, Jacobian, jacobian
from graphcore.derivatives.autodiff import ForwardTrace, node_jvp, trace_forward
from graphcore.program import Program, node_errors
from graphcore.runtime import Runtime

__all__ = ["METHODS", "Jacobian", "Path", "edge_derivatives", "jacobian", "mlp_family_graph", "path_sum"]


@dataclass
class Path:
    """One path from an input to an output: its values, and the product of its edge derivatives."""

    values: list[str]
    factors: list[float]

    @property
    def product(self) -> float:
        result = 1.0
        for factor in self.factors:
            result *= factor
        return result


def edge_derivatives(runtime: Runtime, trace: ForwardTrace | None = None) -> dict[tuple[str, str], float]:
    """∂(consumer's output)/∂(value) for every edge between scalar values: the path view's labels."""
    trace = trace or trace_forward(runtime)
    local = {}
    for instr in runtime.program:
        if instr.spec.is_source or len(instr.outs) != 1 or trace.values[instr.outs[0]].numel() != 1:
            continue
        args = tuple(trace.values[a] if a else None for a in instr.args)
        for index, arg in enumerate(instr.args):
            if arg is None or trace.values[arg].numel() != 1 or not trace.values[arg].is_floating_point():
                continue
            one = torch.ones_like(trace.values[arg])
            tangents = tuple(one if i == index else None for i in range(len(args)))
            with node_errors(instr):
                (out_tangent,) = node_jvp(instr, runtime.module_of(instr), args, tangents)
            port = instr.spec.inputs[index]
            local[(arg, f"{instr.node}.{port}")] = float(out_tangent.reshape(()))
    return local


def path_sum(
    runtime: Runtime, wrt: str, of: str, limit: int = 10_000, trace: ForwardTrace | None = None
) -> list[Path]:
    """Every path from value `wrt` to value `of` along scalar edges; raises if there are over `limit`."""
    program: Program = runtime.program
    local = edge_derivatives(runtime, trace)
    found: list[Path] = []

    def walk(value: str, values: list[str], factors: list[float]) -> None:
        if value == of:
            found.append(Path(values, factors))
            if len(found) > limit:
                raise ValueError(f"more than {limit} paths from {wrt} to {of}: too many to list")
            return
        for reader in program.consumers[value]:
            edge = (value, str(reader))
            if edge in local:
                out = program.by_node[reader.node].outs[0]
                walk(out, [*values, out], [*factors, local[edge]])

    walk(wrt, [wrt], [])
    return found


def mlp_family_graph(n: int, m: int, hidden: int = 16) -> dict[str, Any]:
    """f: Rⁿ → Rᵐ as a graph file (x → Linear → tanh → Linear), for the cost-of-modes sweep."""
    return {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [n]}},
            {"id": "fc1", "type": "Linear", "params": {"in_features": n, "out_features": hidden}},
            {"id": "h", "type": "tanh"},
            {"id": "fc2", "type": "Linear", "params": {"in_features": hidden, "out_features": m}},
        ],
        "edges": [
            {"from": "x.out", "to": "fc1.x"},
            {"from": "fc1.out", "to": "h.x"},
            {"from": "h.out", "to": "fc2.x"},
        ],
    }
