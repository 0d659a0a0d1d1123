"""Whole Jacobians: one record and one dispatcher over the two sweeps and finite differences.

Forward mode pushes one tangent per input component through the graph (n passes); reverse mode
pulls one cotangent per output component back (m passes); central finite differences evaluate the
graph twice per input component. The CLI, the lab, the stepper and the benchmarks all ask here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.derivatives.autodiff import ForwardTrace, basis, forward_sweep, reverse_sweep, trace_forward
from graphcore.graph import PortRef
from graphcore.interpreter import Evaluator
from graphcore.memory import check_jacobian
from graphcore.runtime import Runtime
from graphcore.schedule import backward_schedule

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
    of: list[str] = field(default_factory=list)
    wrt: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # each of and wrt value, as traced

    @property
    def mode(self) -> str:
        return self.method

    @property
    def value(self) -> Any:
        """The (first) output differentiated."""
        return self.values[self.of[0]]

    @property
    def grads(self) -> dict[str, Any]:
        """wrt value -> its block of the matrix, shaped of.shape + wrt.shape (for a single `of`)."""
        output, blocks, column = self.value, {}, 0
        for w in self.wrt:
            like = self.values[w]
            block = self.matrix[:, column : column + like.numel()]
            blocks[w] = block.reshape((*output.shape, *like.shape))
            column += like.numel()
        return blocks


def _labels(values: Sequence[str], trace: ForwardTrace) -> list[str]:
    labels = []
    for value in values:
        size = trace.values[value].numel()
        labels += [value] if trace.values[value].dim() == 0 else [f"{value}[{i}]" for i in range(size)]
    return labels


def jacobian(
    runtime: Runtime,
    of: Sequence[str],
    wrt: Sequence[str],
    method: str = "reverse",
    trace: ForwardTrace | None = None,
    eps: float = 1e-6,
) -> Jacobian:
    """d(of)/d(wrt) by `method` (forward, reverse or fd), timed, at `trace` (else a fresh pass)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    trace = trace or trace_forward(runtime)
    of, wrt = list(of), list(wrt)
    start = time.perf_counter()
    if method == "fd":
        matrix, passes = finite_differences(runtime, of, wrt, trace, eps)
    else:
        compute = forward_jacobian if method == "forward" else reverse_jacobian
        matrix, passes = compute(runtime, of, wrt, trace)
    seconds = time.perf_counter() - start
    values = {v: trace.values[v] for v in of + wrt}
    rows, columns = _labels(of, trace), _labels(wrt, trace)
    return Jacobian(method, matrix, passes, seconds, rows, columns, of, wrt, values)


def forward_mode(runtime: Runtime, of: str, wrt: list[str], trace: ForwardTrace | None = None) -> Jacobian:
    """One tangent sweep per component of each `wrt` value (one pass per input direction)."""
    return jacobian(runtime, [of], wrt, "forward", trace)


def reverse_mode(runtime: Runtime, of: str, wrt: list[str], trace: ForwardTrace | None = None) -> Jacobian:
    """One backward sweep per component of `of` (a single sweep for a scalar loss)."""
    return jacobian(runtime, [of], wrt, "reverse", trace)


def forward_jacobian(runtime: Runtime, of: list[str], wrt: list[str], trace: ForwardTrace) -> tuple[Any, int]:
    """d(of)/d(wrt) as a [outputs, inputs] matrix, one tangent sweep per input component (column)."""
    check_jacobian(runtime.program, trace.values, of, wrt, seeds="wrt")
    columns = []
    for w in wrt:
        for direction in basis(trace.values[w]):
            tangents = forward_sweep(runtime, trace.values, {w: direction})
            columns.append(
                torch.cat([tangents.get(o, torch.zeros_like(trace.values[o])).reshape(-1) for o in of])
            )
    return torch.stack(columns, dim=1).detach(), len(columns)  # layer weights carry requires_grad


def reverse_jacobian(runtime: Runtime, of: list[str], wrt: list[str], trace: ForwardTrace) -> tuple[Any, int]:
    """d(of)/d(wrt) as a [outputs, inputs] matrix, one backward sweep per output component (row)."""
    program = runtime.program
    check_jacobian(program, trace.values, of, wrt, seeds="of")
    nodes = [PortRef.parse(w).node for w in wrt]
    rows = []
    for o in of:
        steps = backward_schedule(program, o, nodes)
        for seed in basis(trace.values[o]):
            swept = reverse_sweep(program, trace, o, seed, steps=steps)
            rows.append(torch.cat([swept.of_value(w).reshape(-1) for w in wrt]))
    return torch.stack(rows).detach(), len(rows)


def finite_differences(
    runtime: Runtime, of: list[str], wrt: list[str], trace: ForwardTrace, eps: float
) -> tuple[Any, int]:
    """Central differences, two evaluations (from the perturbed value on) per input component."""
    check_jacobian(runtime.program, trace.values, of, wrt, seeds="wrt")
    columns, passes = [], 0
    for w in wrt:
        base = trace.values[w]
        for direction in basis(base):
            plus = Evaluator(runtime).run({w: base + eps * direction})
            minus = Evaluator(runtime).run({w: base - eps * direction})
            passes += 2
            columns.append(torch.cat([((plus[o] - minus[o]) / (2 * eps)).reshape(-1) for o in of]))
    return torch.stack(columns, dim=1), passes
