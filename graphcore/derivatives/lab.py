"""The derivative lab's questions, answered as plain records its views can show.

Every function runs in the lab's worker thread (app.lab.runner) and returns dataclasses. The
derivatives all come from graphcore.derivatives.api and graphcore.derivatives.autodiff (local edge derivatives,
the two sweeps, Jacobians, path sums); this module only chooses what to ask for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from graphcore._torch import torch
from graphcore.derivatives.api import METHODS, Jacobian, jacobian
from graphcore.derivatives.autodiff import forward_sweep, one_hot, reverse_sweep, trace_forward
from graphcore.derivatives.paths import Path, edge_derivatives, mlp_family_graph, path_sum
from graphcore.files.fileformat import graph_from_dict
from graphcore.graph import PortRef
from graphcore.memory import MemoryBudgetError
from graphcore.program import Program, lower
from graphcore.runtime import Runtime

SWEEPABLE_KINDS = ("input", "parameter")  # sources whose value a slider may set


class LabError(ValueError):
    """A request the lab cannot answer; the message is shown to the user as it is."""


def make_runtime(program: Program) -> Runtime:
    """The runtime every lab view uses: the same defaults as `graphcore jacobian` on a CPU."""
    return Runtime(program, dtype="float64", device="cpu", seed=0, batch=4)


def differentiable_values(program: Program) -> list[str]:
    """Every value a derivative can be taken of or with respect to, in schedule order
    (class-index inputs, which are integers, left out)."""
    return [o for i in program if i.params.get("dtype") != "long" for o in i.outs]


def element(tensor: Any, index: int) -> float:
    return float(tensor.detach().reshape(-1)[index])


@cache
def warm_up() -> None:
    """One tiny Jacobian by each mode, once per process: torch loads code on its first JVP and VJP,
    and that second or so would otherwise be billed to whichever mode a user times first."""
    try:
        runtime = make_runtime(lower(graph_from_dict(mlp_family_graph(1, 1, 1))))
    except MemoryBudgetError:  # a budget too small for even this: the lab says so when asked
        return
    for method in ("forward", "reverse"):
        jacobian(runtime, ["fc2.out"], ["x.out"], method)


# --- path view -------------------------------------------------------------------------------------


@dataclass
class PathData:
    """Everything the path view draws for one (X, Z) choice at the current point."""

    values: dict[str, Any]  # value -> tensor
    edges: dict[tuple[str, str], float]  # (value, "consumer.port") -> ∂consumer/∂value (scalar edges)
    x: str | None = None
    z: str | None = None
    forward: dict[str, Any] = field(default_factory=dict)  # value -> ∂value/∂X
    backward: dict[str, Any] = field(default_factory=dict)  # value -> ∂Z/∂value
    forward_order: list[str] = field(default_factory=list)  # node ids, in the order forward mode reaches them
    backward_order: list[str] = field(default_factory=list)
    forward_error: str = ""
    backward_error: str = ""
    paths: list[Path] | None = None  # None where the sum over paths does not apply
    paths_note: str = ""

    @property
    def path_total(self) -> float:
        return sum(p.product for p in self.paths or [])


def compute_paths(program: Program, x: str | None, z: str | None, limit: int = 200) -> PathData:
    runtime = make_runtime(program)
    trace = trace_forward(runtime)
    data = PathData(dict(trace.values), edge_derivatives(runtime, trace), x, z)
    if x:
        seed = torch.ones_like(trace.values[x])
        try:
            data.forward = forward_sweep(runtime, trace.values, {x: seed})
        except NotImplementedError as error:
            data.forward_error = str(error)
        data.forward_order = [i.node for i in program if any(o in data.forward for o in i.outs)]
    if z:
        swept = reverse_sweep(program, trace, z, torch.ones_like(trace.values[z]), [i.node for i in program])
        steps = swept.steps
        upstream = {s.node for s in steps} | {PortRef.parse(z).node}
        upstream |= {PortRef.parse(a).node for s in steps for a in program.by_node[s.node].args if a}
        for instr in reversed(program.instrs):
            if instr.node not in upstream:
                continue
            data.backward_order.append(instr.node)
            for out in instr.outs:
                data.backward[out] = swept.of_value(out)
    if x and z:
        _add_paths(data, runtime, trace, limit)
    return data


def _add_paths(data: PathData, runtime: Runtime, trace: Any, limit: int) -> None:
    on_paths = set(data.forward) & set(data.backward)
    if data.forward_error:
        data.paths_note = "the sum over paths is shown next to both modes; forward mode is not available here"
        return
    if any(data.values[v].numel() != 1 for v in on_paths):
        data.paths_note = (
            "the sum over paths is listed for scalar graphs: some values between X and Z are tensors"
        )
        return
    assert data.x and data.z  # the caller asks for paths only with both ends chosen
    try:
        data.paths = path_sum(runtime, data.x, data.z, limit=limit, trace=trace)
    except ValueError as error:
        data.paths_note = str(error)


# --- Jacobian lab ----------------------------------------------------------------------------------


@dataclass
class JacobianResults:
    results: dict[str, Jacobian]  # method -> Jacobian, for each method that could run
    errors: dict[str, str]  # method -> why it could not
    max_difference: dict[tuple[str, str], float]  # (method, method) -> max |difference|

    @property
    def rows(self) -> list[str]:
        return next(iter(self.results.values())).rows if self.results else []

    @property
    def columns(self) -> list[str]:
        return next(iter(self.results.values())).columns if self.results else []


def compute_jacobians(program: Program, of: list[str], wrt: list[str]) -> JacobianResults:
    if not of or not wrt:
        raise LabError("choose at least one output and one input")
    warm_up()
    runtime = make_runtime(program)
    trace = trace_forward(runtime)
    for value in of + wrt:
        if not trace.values[value].is_floating_point():
            raise LabError(f"{value} holds integers: derivatives need floating-point values")
    results, errors = {}, {}
    for method in METHODS:
        try:
            results[method] = jacobian(runtime, of, wrt, method, trace)
        except NotImplementedError as error:
            errors[method] = str(error)
    differences = {}
    for a in results:
        for b in results:
            if a < b:
                difference = (results[a].matrix - results[b].matrix).detach()
                largest = float(difference.abs().max()) if difference.numel() else 0.0
                differences[(a, b)] = differences[(b, a)] = largest
    return JacobianResults(results, errors, differences)


# --- live derivative plot --------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivativeChoice:
    """d(of[of_index]) along `direction` in the space of `wrt` (a one-hot direction picks one element)."""

    of: str
    of_index: int
    wrt: str
    direction: tuple[float, ...]  # as many numbers as wrt has elements
    sweep: str  # the source value the slider sets
    sweep_index: int
    loss: str | None = None  # a scalar value plotted beside the derivative


@dataclass(frozen=True)
class DerivativePoint:
    at: float
    forward: float
    reverse: float
    value: float  # of[of_index]
    loss: float

    @property
    def difference(self) -> float:
        return self.forward - self.reverse


def set_source(runtime: Runtime, value: str, index: int, number: float) -> None:
    """Replace one element of an Input's data or a Parameter's value in this runtime (not the graph)."""
    instr = runtime.program.producer(value)
    if instr.spec.kind not in SWEEPABLE_KINDS:
        raise LabError(f"{instr.title} is a {instr.spec.type}: only inputs and parameters can be swept")
    current = runtime.source_value(instr)
    changed = current.detach().clone()
    changed.reshape(-1)[index] = number
    if instr.spec.kind == "input":
        runtime.inputs[instr.node] = changed
    else:
        with torch.no_grad():
            current.copy_(changed)


def derivative_at(runtime: Runtime, choice: DerivativeChoice, at: float) -> DerivativePoint:
    """The chosen derivative with the swept value set to `at`."""
    set_source(runtime, choice.sweep, choice.sweep_index, at)
    return derivative_here(runtime, choice, at)


def derivative_on_weights(
    program: Program, choice: DerivativeChoice, state: Mapping[str, Any], inputs: Mapping[str, Any], step: int
) -> DerivativePoint:
    """The chosen derivative at the weights training has reached (`state`, the trainer's module
    state), on a few of its training samples (`inputs`), plotted at x = `step`."""
    runtime = make_runtime(program)
    as_lab = {k: v.to(runtime.dtype) if v.is_floating_point() else v for k, v in state.items()}
    try:
        runtime.module.load_state_dict(as_lab)
    except RuntimeError:
        raise LabError(
            "the graph has changed since training started: restart training to follow it"
        ) from None
    for node, tensor in inputs.items():
        if node in runtime.inputs:
            runtime.inputs[node] = tensor.to(runtime.dtype) if tensor.is_floating_point() else tensor
    return derivative_here(runtime, choice, float(step))


def derivative_here(runtime: Runtime, choice: DerivativeChoice, at: float) -> DerivativePoint:
    """The chosen derivative at the runtime's current inputs and weights: one JVP (forward mode) and
    one VJP (reverse mode)."""
    program = runtime.program
    trace = trace_forward(runtime)
    like = trace.values[choice.wrt]
    if len(choice.direction) != like.numel():
        raise LabError(
            f"the direction needs {like.numel()} numbers for {choice.wrt}, not {len(choice.direction)}"
        )
    direction = torch.tensor(choice.direction, dtype=like.dtype).reshape(like.shape)
    tangents = forward_sweep(runtime, trace.values, {choice.wrt: direction})
    forward = element(tangents.get(choice.of, torch.zeros_like(trace.values[choice.of])), choice.of_index)
    seed = one_hot(trace.values[choice.of], choice.of_index)
    swept = reverse_sweep(program, trace, choice.of, seed, [PortRef.parse(choice.wrt).node])
    reverse = float((swept.of_value(choice.wrt) * direction).sum())
    loss = element(trace.values[choice.loss], 0) if choice.loss else math.nan
    return DerivativePoint(at, forward, reverse, element(trace.values[choice.of], choice.of_index), loss)


def sweep(
    program: Program, choice: DerivativeChoice, points: list[float], report: Callable[[DerivativePoint], None]
) -> None:
    runtime = make_runtime(program)
    for at in points:
        report(derivative_at(runtime, choice, at))


# --- cost of the modes -----------------------------------------------------------------------------


Series = Literal["n", "m", "graph"]  # inputs vary, outputs vary, or the user's own graph


@dataclass(frozen=True)
class CostPoint:
    series: Series
    n: int
    m: int
    forward_passes: int
    reverse_passes: int
    forward_seconds: float
    reverse_seconds: float


def time_modes(runtime: Runtime, of: list[str], wrt: list[str], repeats: int) -> tuple[Jacobian, Jacobian]:
    """Forward and reverse Jacobians; each time is the best of `repeats` runs."""
    warm_up()
    trace = trace_forward(runtime)
    best: dict[str, Jacobian] = {}
    for _ in range(repeats):
        for method in ("forward", "reverse"):
            result = jacobian(runtime, of, wrt, method, trace)
            if method not in best or result.seconds < best[method].seconds:
                best[method] = result
    return best["forward"], best["reverse"]


def cost_point(series: Series, runtime: Runtime, of: list[str], wrt: list[str], repeats: int) -> CostPoint:
    forward, reverse = time_modes(runtime, of, wrt, repeats)
    n, m = len(forward.columns), len(forward.rows)
    return CostPoint(series, n, m, forward.passes, reverse.passes, forward.seconds, reverse.seconds)


def family_point(series: Series, n: int, m: int, hidden: int, repeats: int) -> CostPoint:
    program = lower(graph_from_dict(mlp_family_graph(n, m, hidden)))
    return cost_point(series, make_runtime(program), ["fc2.out"], ["x.out"], repeats)


def cost_sweep(
    sizes: list[int], fixed: int, hidden: int, repeats: int, report: Callable[[CostPoint], None]
) -> None:
    """Inputs n vary with m = fixed outputs, then outputs m vary with n = fixed inputs."""
    for n in sizes:
        report(family_point("n", n, fixed, hidden, repeats))
    for m in sizes:
        report(family_point("m", fixed, m, hidden, repeats))
