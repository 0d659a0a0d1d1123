"""Jacobians three ways, and the chain rule as a sum over paths: the derivative lab's engine.

Forward mode pushes one tangent per input component through the graph (n passes); reverse mode
pulls one cotangent per output component back (m passes); central finite differences evaluate the
graph twice per input component. For small scalar graphs, `path_sum` lists every path from an input
to an output with the product of its edges' local derivatives, whose sum both modes must equal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.autodiff import (
    ForwardTrace,
    as_tuple,
    basis,
    forward_jacobian,
    node_jvp,
    reverse_jacobian,
    trace_forward,
)
from graphcore.codegen import node_function
from graphcore.memory import check_jacobian
from graphcore.program import Program, node_errors
from graphcore.runtime import Runtime

METHODS = ("forward", "reverse", "fd")


@dataclass
class Jacobian:
    """d(of)/d(wrt) as one matrix: rows are the output components, columns the input components."""

    method: str
    matrix: Any  # [sum of of sizes, sum of wrt sizes]
    passes: int  # tangent sweeps (forward), cotangent sweeps (reverse) or evaluations (fd)
    seconds: float
    rows: list[str]  # "node.port[i]" per row
    columns: list[str]


def _labels(values: Sequence[str], trace: ForwardTrace) -> list[str]:
    labels = []
    for value in values:
        size = trace.values[value].numel()
        labels += [value] if trace.values[value].dim() == 0 else [f"{value}[{i}]" for i in range(size)]
    return labels


def evaluate(runtime: Runtime, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every value of the graph, with some values (sources or intermediate) replaced."""
    values: dict[str, Any] = {}
    for instr in runtime.program:
        if instr.outs[0] in overrides:
            values.update({out: overrides[out] for out in instr.outs if out in overrides})
            continue
        if instr.spec.is_source:
            values[instr.outs[0]] = runtime.source_value(instr).detach()
            continue
        args = tuple(values[a] if a else None for a in instr.args)
        with torch.no_grad(), node_errors(instr):
            values.update(zip(instr.outs, as_tuple(node_function(instr)(runtime.module_of(instr), *args))))
    return values


def jacobian(
    runtime: Runtime,
    of: Sequence[str],
    wrt: Sequence[str],
    method: str,
    trace: ForwardTrace | None = None,
    eps: float = 1e-6,
) -> Jacobian:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    trace = trace or trace_forward(runtime)
    start = time.perf_counter()
    if method == "fd":
        matrix, passes = _finite_differences(runtime, list(of), list(wrt), trace, eps)
    else:
        compute = forward_jacobian if method == "forward" else reverse_jacobian
        matrix, passes = compute(runtime, list(of), list(wrt), trace)
    return Jacobian(
        method, matrix, passes, time.perf_counter() - start, _labels(of, trace), _labels(wrt, trace)
    )


def _finite_differences(
    runtime: Runtime, of: list[str], wrt: list[str], trace: ForwardTrace, eps: float
) -> tuple[Any, int]:
    check_jacobian(runtime.program, trace.values, of, wrt, seeds="wrt")
    columns, passes = [], 0
    for w in wrt:
        base = trace.values[w]
        for direction in basis(base):
            plus = evaluate(runtime, {w: base + eps * direction})
            minus = evaluate(runtime, {w: base - eps * direction})
            passes += 2
            columns.append(torch.cat([((plus[o] - minus[o]) / (2 * eps)).reshape(-1) for o in of]))
    return torch.stack(columns, dim=1), passes


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
            tangents = tuple(torch.ones_like(a) if i == index else None for i, a in enumerate(args))
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
