"""Derivatives as interpreters over the program: local rules per node, sweeps over the schedule.

Each node's local vector-Jacobian product (reverse mode) and Jacobian-vector product (forward
mode) comes from its own declared rule when it has one, else from torch.func applied to the node's
code alone. Layers are differentiated with respect to their weights too, through
torch.func.functional_call. The sweeps below walk the schedules of graphcore.schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.codegen import node_function
from graphcore.graph import PortRef
from graphcore.memory import check_jacobian
from graphcore.program import Instr, Program, node_errors
from graphcore.runtime import Runtime
from graphcore.schedule import Step, backward_schedule, forward_schedule

WEIGHTS = "<weights>"


def _differentiable(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())


def as_tuple(result: Any) -> tuple[Any, ...]:
    return result if isinstance(result, tuple) else (result,)


def _bound(module: Any, fn: Callable[..., Any]) -> Any:
    """An nn.Module whose forward is the node's code, so functional_call can swap in weights."""

    class Bound(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = module

        def forward(self, *args: Any) -> Any:
            return fn(self.module, *args)

    return Bound()


def _fresh_buffers(bound: Any) -> dict[str, Any]:
    """Copies of a layer's buffers, made inside a torch.func transform: a layer that updates them in
    place (BatchNorm's running statistics in training mode) may then run under the transform."""
    return {name: buffer.clone() for name, buffer in bound.named_buffers()}


@dataclass
class NodeCall:
    """One node evaluated for reverse mode: its outputs and the pullback that maps output
    cotangents to (input gradients, weight gradients)."""

    outputs: tuple[Any, ...]
    pullback: Callable[[tuple[Any, ...]], tuple[tuple[Any, ...], dict[str, Any]]]


def call_with_pullback(instr: Instr, module: Any, args: tuple[Any, ...]) -> NodeCall:
    fn = node_function(instr)
    if instr.spec.vjp is not None and module is None:
        outputs = as_tuple(fn(None, *args))
        rule = instr.spec.vjp
        return NodeCall(outputs, lambda cot: (tuple(rule(cot[0], *args, **instr.params)), {}))
    slots = [i for i, a in enumerate(args) if _differentiable(a)]
    weights = {f"module.{k}": w.detach() for k, w in module.named_parameters()} if module is not None else {}
    bound = _bound(module, fn) if module is not None else None

    def local(weights: dict[str, Any], *diff: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        full = list(args)
        for slot, value in zip(slots, diff):
            full[slot] = value
        if bound is None:
            return as_tuple(fn(None, *full)), {}
        buffers = _fresh_buffers(bound)
        return as_tuple(torch.func.functional_call(bound, {**weights, **buffers}, tuple(full))), buffers

    outputs, pull, buffers = torch.func.vjp(local, weights, *(args[i] for i in slots), has_aux=True)
    if bound is not None:  # one forward step, one update of the running statistics (as the fast path)
        with torch.no_grad():
            for name, buffer in bound.named_buffers():
                buffer.copy_(buffers[name])

    def pullback(cotangents: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        dweights, *dargs = pull(tuple(cotangents))
        grads: list[Any] = [None] * len(args)
        for slot, g in zip(slots, dargs):
            grads[slot] = g
        return tuple(grads), {k.removeprefix("module."): g for k, g in dweights.items()}

    return NodeCall(tuple(o.detach() for o in outputs), pullback)


def node_jvp(instr: Instr, module: Any, args: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, ...]:
    """The node's outputs' tangents, given one tangent per input (None where the input is constant).

    A type declared without forward mode (`no_jvp_reason`) raises NotImplementedError with that reason,
    unless its params and the layer's train/eval mode make the reason moot (Dropout in evaluation).
    """
    training = module is None or module.training  # a node without a module follows no mode
    if reason := instr.spec.jvp_refusal(instr.params, training):
        raise NotImplementedError(
            f"{instr.node}: forward mode is not available for {instr.spec.type}: {reason}"
        )
    if instr.spec.jvp is not None and module is None:
        filled = tuple(t if t is not None else torch.zeros_like(a) for t, a in zip(tangents, args))
        return as_tuple(instr.spec.jvp(filled, *args, **instr.params))
    fn = node_function(instr)
    slots = [i for i, (a, t) in enumerate(zip(args, tangents)) if t is not None and _differentiable(a)]
    bound = _bound(module, fn) if module is not None else None

    def local(*diff: Any) -> tuple[Any, ...]:
        full = list(args)
        for slot, value in zip(slots, diff):
            full[slot] = value
        if bound is None:
            return as_tuple(fn(None, *full))
        # Copies of the buffers: re-running a layer for its tangents must not update its running statistics.
        return as_tuple(torch.func.functional_call(bound, _fresh_buffers(bound), tuple(full)))

    from torch.nn.attention import SDPBackend, sdpa_kernel

    # torch's fused CPU attention kernel has no forward-mode rule; the math kernel computes the same values.
    with sdpa_kernel(SDPBackend.MATH):
        primals, directions = tuple(args[i] for i in slots), tuple(tangents[i] for i in slots)
        _, out_tangents = torch.func.jvp(local, primals, directions)
    return out_tangents


@dataclass
class ForwardTrace:
    """A forward pass that kept every value and every node's pullback (for stepping and reverse mode)."""

    values: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, NodeCall] = field(default_factory=dict)


def forward_steps(runtime: Runtime, trace: ForwardTrace) -> Iterator[tuple[Step, Instr]]:
    """Evaluate the program one node at a time, yielding after each node."""
    program = runtime.program
    for step in forward_schedule(program):
        instr = program.by_node[step.node]
        if instr.spec.is_source:
            trace.values[instr.outs[0]] = runtime.source_value(instr).detach()
        else:
            args = tuple(trace.values[a] if a else None for a in instr.args)
            with node_errors(instr):
                call = call_with_pullback(instr, runtime.module_of(instr), args)
            trace.calls[instr.node] = call
            trace.values.update(zip(instr.outs, call.outputs))
        yield step, instr


def trace_forward(runtime: Runtime) -> ForwardTrace:
    trace = ForwardTrace()
    for _ in forward_steps(runtime, trace):
        pass
    return trace


def gradient_value(program: Program, name: str) -> str:
    """The value a gradient belongs to: itself for a value, the value read through a port otherwise."""
    node, port = PortRef.parse(name).node, PortRef.parse(name).port
    instr = program.by_node[node]
    if port in instr.spec.outputs:
        return name
    return instr.args[instr.spec.inputs.index(port)]


@dataclass
class BackwardEvent:
    step: Step
    upstream: dict[str, Any]  # gradient name -> tensor read by this step
    produced: dict[str, Any]  # gradient name -> tensor written by this step
    weights: dict[str, Any] = field(default_factory=dict)  # weight name -> gradient (layers)


def backward_steps(
    program: Program, trace: ForwardTrace, of: str, seed: Any, steps: Iterable[Step], grads: dict[str, Any]
) -> Iterator[BackwardEvent]:
    """Run a backward schedule; `grads` fills with every gradient by name as it goes."""
    grads[of] = seed
    for step in steps:
        upstream = {name: grads[name] for name in step.reads}
        if step.phase == "accumulate":
            first, *rest = upstream.values()
            total = first
            with node_errors(program.by_node[step.node]):
                for contribution in rest:
                    total = total + contribution
            grads[step.writes[0]] = total
            yield BackwardEvent(step, upstream, {step.writes[0]: total})
            continue
        instr = program.by_node[step.node]
        by_value = {gradient_value(program, name): g for name, g in upstream.items()}
        cotangents = tuple(by_value.get(v, None) for v in instr.outs)
        with node_errors(instr):
            cotangents = tuple(
                c if c is not None else torch.zeros_like(trace.values[v])
                for c, v in zip(cotangents, instr.outs)
            )
            arg_grads, weight_grads = trace.calls[instr.node].pullback(cotangents)
        produced = {}
        for name in step.writes:
            port = PortRef.parse(name).port
            if port == WEIGHTS:
                continue
            produced[name] = arg_grads[instr.spec.inputs.index(port)]
        grads.update(produced)
        weights = weight_grads if f"{instr.node}.{WEIGHTS}" in step.writes else {}
        for weight, g in weights.items():
            grads[f"{instr.node}.{weight}"] = g
        yield BackwardEvent(step, upstream, produced, weights)


def total_gradient(program: Program, grads: Mapping[str, Any], value: str, like: Any) -> Any:
    """dOf/dValue after a backward sweep: accumulated, from its single consumer, or zero."""
    if value in grads:
        return grads[value]
    for reader in program.consumers[value]:
        if str(reader) in grads:
            return grads[str(reader)]
    return torch.zeros_like(like)


@dataclass
class Derivative:
    """d(of)/d(wrt) for several wrt nodes, by one mode, with the number of sweeps it took."""

    mode: str
    value: Any
    grads: dict[str, Any]  # wrt value -> Jacobian of shape of.shape + wrt.shape
    passes: int


def basis(like: Any) -> list[Any]:
    """Unit tensors shaped like `like`, one per element: the seeds of one-hot sweeps."""
    flat = torch.eye(like.numel(), dtype=like.dtype, device=like.device)
    return [row.reshape(like.shape) for row in flat]


def forward_tangents(runtime: Runtime, values: Mapping[str, Any], seeds: Mapping[str, Any]) -> dict[str, Any]:
    """Push tangents from `seeds` (value -> tangent) through the forward schedule."""
    tangents = dict(seeds)
    for instr in runtime.program:
        if instr.spec.is_source or not any(a in tangents for a in instr.args if a):
            continue
        args = tuple(values[a] if a else None for a in instr.args)
        ins = tuple(tangents.get(a) if a else None for a in instr.args)
        with node_errors(instr):
            tangents.update(zip(instr.outs, node_jvp(instr, runtime.module_of(instr), args, ins)))
    return tangents


def forward_jacobian(runtime: Runtime, of: list[str], wrt: list[str], trace: ForwardTrace) -> tuple[Any, int]:
    """d(of)/d(wrt) as a [outputs, inputs] matrix, one tangent sweep per input component (column)."""
    check_jacobian(runtime.program, trace.values, of, wrt, seeds="wrt")
    columns = []
    for w in wrt:
        for direction in basis(trace.values[w]):
            tangents = forward_tangents(runtime, trace.values, {w: direction})
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
            grads: dict[str, Any] = {}
            for _ in backward_steps(program, trace, o, seed, steps, grads):
                pass
            rows.append(
                torch.cat([total_gradient(program, grads, w, trace.values[w]).reshape(-1) for w in wrt])
            )
    return torch.stack(rows).detach(), len(rows)


def _derivative(
    mode: str, runtime: Runtime, of: str, wrt: list[str], trace: ForwardTrace | None
) -> Derivative:
    trace = trace or trace_forward(runtime)
    compute = forward_jacobian if mode == "forward" else reverse_jacobian
    matrix, passes = compute(runtime, [of], wrt, trace)
    output, grads, column = trace.values[of], {}, 0
    for w in wrt:
        like = trace.values[w]
        block = matrix[:, column : column + like.numel()]
        grads[w] = block.reshape((*output.shape, *like.shape))
        column += like.numel()
    return Derivative(mode, output, grads, passes)


def reverse_mode(runtime: Runtime, of: str, wrt: list[str], trace: ForwardTrace | None = None) -> Derivative:
    """One backward sweep per component of `of` (a single sweep for a scalar loss)."""
    return _derivative("reverse", runtime, of, wrt, trace)


def forward_mode(runtime: Runtime, of: str, wrt: list[str], trace: ForwardTrace | None = None) -> Derivative:
    """One tangent sweep per component of each `wrt` value (one pass per input direction)."""
    return _derivative("forward", runtime, of, wrt, trace)


def autograd_reference(runtime: Runtime, of: str, wrt: list[str]) -> dict[str, Any]:
    """The same Jacobians by plain torch autograd over the node code: the oracle tests compare with."""
    program = runtime.program
    values: dict[str, Any] = {}
    leaves = {}
    for instr in program:
        if instr.spec.is_source:
            leaf = runtime.source_value(instr).detach().clone()
            if instr.outs[0] in wrt:
                leaf.requires_grad_(True)
                leaves[instr.outs[0]] = leaf
            values[instr.outs[0]] = leaf
            continue
        args = tuple(values[a] if a else None for a in instr.args)
        values.update(zip(instr.outs, as_tuple(node_function(instr)(runtime.module_of(instr), *args))))
        for out in instr.outs:
            if out in wrt:  # an intermediate value: differentiate with respect to it as a leaf
                values[out] = leaves[out] = values[out].detach().requires_grad_(True)
    output = values[of]
    rows: dict[str, list[Any]] = {w: [] for w in wrt}
    for index in range(output.numel()):
        found = torch.autograd.grad(
            output.reshape(-1)[index], [leaves[w] for w in wrt], retain_graph=True, allow_unused=True
        )
        for w, g in zip(wrt, found):
            rows[w].append(g if g is not None else torch.zeros_like(leaves[w]))
    return {w: torch.stack(r).reshape((*output.shape, *leaves[w].shape)) for w, r in rows.items()}
