"""Derivatives as interpreters over the program: local rules per node, and the two sweeps.

Each node's local vector-Jacobian product (reverse mode) and Jacobian-vector product (forward
mode) comes from its own declared rule when it has one, else from torch.func applied to the node's
code alone. Layers are differentiated with respect to their weights too, through
torch.func.functional_call. `reverse_sweep` walks a backward schedule of graphcore.schedule;
`forward_sweep` is an Interpreter pushing tangents. Whole Jacobians: graphcore.derivatives.api.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.codegen import node_function
from graphcore.interpreter import Interpreter, as_tuple
from graphcore.program import Instr, Program, node_errors
from graphcore.runtime import Runtime
from graphcore.schedule import Step, backward_schedule


def _differentiable(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())


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

    outputs, pull, buffers = torch.func.vjp(local, weights, *(args[i] for i in slots), has_aux=True)  # type: ignore[misc]  # torch.func stubs: one return type for both has_aux
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
            f"{instr.title}: forward mode is not available for {instr.spec.type}: {reason}"
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
        _, out_tangents = torch.func.jvp(local, primals, directions)  # type: ignore[misc]  # torch.func stubs: one return type for both has_aux
    return out_tangents


def weight_jvp(
    instr: Instr, module: Any, args: tuple[Any, ...], weight: str, tangent: Any
) -> tuple[Any, ...]:
    """The layer's outputs' tangents when its weight `weight` ("weight", "bias") moves along `tangent`
    and its inputs stay fixed: one column of ∂out/∂weight (practice mode explains a weight gradient)."""
    if reason := instr.spec.jvp_refusal(instr.params, module.training):
        raise NotImplementedError(
            f"{instr.title}: forward mode is not available for {instr.spec.type}: {reason}"
        )
    bound = _bound(module, node_function(instr))
    weights = {f"module.{k}": w.detach() for k, w in module.named_parameters()}

    def local(value: Any) -> tuple[Any, ...]:
        chosen = {**weights, f"module.{weight}": value, **_fresh_buffers(bound)}
        return as_tuple(torch.func.functional_call(bound, chosen, args))

    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        _, out_tangents = torch.func.jvp(local, (weights[f"module.{weight}"],), (tangent,))  # type: ignore[misc]  # torch.func stubs: one return type for both has_aux
    return out_tangents


@dataclass
class ForwardTrace:
    """A forward pass that kept every value and every node's pullback (for stepping and reverse mode)."""

    values: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, NodeCall] = field(default_factory=dict)


class Tracer(Interpreter):
    """Forward evaluation that keeps each node's pullback in `trace`, ready for a reverse sweep."""

    def __init__(self, runtime: Runtime, trace: ForwardTrace | None = None) -> None:
        self.trace = trace if trace is not None else ForwardTrace()
        super().__init__(runtime.program, self.trace.values)
        self.runtime = runtime

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if instr.spec.is_source:
            return (self.runtime.source_value(instr).detach(),)
        with node_errors(instr):
            call = call_with_pullback(instr, self.runtime.module_of(instr), args)
        self.trace.calls[instr.node] = call
        return call.outputs


def trace_forward(runtime: Runtime) -> ForwardTrace:
    tracer = Tracer(runtime)
    tracer.run()
    return tracer.trace


class Tangents(Interpreter):
    """Forward mode: the tangent of every value that depends on a seeded one (given to `run`)."""

    def __init__(self, runtime: Runtime, values: Mapping[str, Any]) -> None:
        super().__init__(runtime.program)
        self.runtime, self.values = runtime, values

    def run_node(self, instr: Instr, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if instr.spec.is_source or all(t is None for t in args):
            return None  # constant with respect to the seeds
        primals = tuple(self.values[a] if a else None for a in instr.args)
        with node_errors(instr):
            return node_jvp(instr, self.runtime.module_of(instr), primals, args)


def forward_sweep(runtime: Runtime, values: Mapping[str, Any], seeds: Mapping[str, Any]) -> dict[str, Any]:
    """Push tangents from `seeds` (value -> tangent) through the program, at the traced `values`."""
    return Tangents(runtime, values).run(seeds)


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
        by_value = {ref.value: grads[str(ref)] for ref in step.read_refs}
        cotangents = tuple(by_value.get(v, None) for v in instr.outs)
        with node_errors(instr):
            cotangents = tuple(
                c if c is not None else torch.zeros_like(trace.values[v])
                for c, v in zip(cotangents, instr.outs)
            )
            arg_grads, weight_grads = trace.calls[instr.node].pullback(cotangents)
        produced = {}
        for ref in step.write_refs:
            if ref.kind == "input":
                produced[str(ref)] = arg_grads[instr.spec.inputs.index(ref.port)]
        grads.update(produced)
        weights = weight_grads if any(ref.kind == "weights" for ref in step.write_refs) else {}
        for weight, g in weights.items():
            grads[f"{instr.node}.{weight}"] = g
        yield BackwardEvent(step, upstream, produced, weights)


@dataclass
class Gradients:
    """What one reverse sweep left behind: every gradient by name, and the steps that made them."""

    program: Program
    trace: ForwardTrace
    grads: dict[str, Any]
    steps: list[Step]

    def of_value(self, value: str) -> Any:
        """d(of)/d(value): accumulated, from its single consumer, or zero."""
        return total_gradient(self.program, self.grads, value, self.trace.values[value])


def reverse_sweep(
    program: Program,
    trace: ForwardTrace,
    of: str,
    seed: Any,
    wrt: Iterable[str] | None = None,
    steps: list[Step] | None = None,
) -> Gradients:
    """One backward sweep from `of` (cotangent `seed`) down to the `wrt` nodes, run to the end
    (`steps`: their backward schedule, when already made for several seeds)."""
    steps = steps if steps is not None else backward_schedule(program, of, wrt)
    grads: dict[str, Any] = {}
    for _ in backward_steps(program, trace, of, seed, steps, grads):
        pass
    return Gradients(program, trace, grads, steps)


def total_gradient(program: Program, grads: Mapping[str, Any], value: str, like: Any) -> Any:
    """dOf/dValue after a backward sweep: accumulated, from its single consumer, or zero."""
    if value in grads:
        return grads[value]
    for reader in program.consumers[value]:
        if str(reader) in grads:
            return grads[str(reader)]
    return torch.zeros_like(like)


def basis(like: Any) -> list[Any]:
    """Unit tensors shaped like `like`, one per element: the seeds of one-hot sweeps."""
    flat = torch.eye(like.numel(), dtype=like.dtype, device=like.device)
    return [row.reshape(like.shape) for row in flat]


def one_hot(like: Any, index: int) -> Any:
    """The unit tensor shaped like `like` with a 1 at flat `index` (one seed, without basis's n×n)."""
    seed = torch.zeros(like.numel(), dtype=like.dtype, device=like.device)
    seed[index] = 1.0
    return seed.reshape(like.shape)


def local_jacobians(
    instr: Instr, module: Any, args: tuple[Any, ...], out: Any, limit: int = 16
) -> dict[str, Any]:
    """∂out/∂input per input port of one node, column by column from its own JVP: a tensor when at
    most `limit` entries, else (or where forward mode is refused) a sentence saying why not."""
    result: dict[str, Any] = {}
    for slot, (port, arg) in enumerate(zip(instr.spec.inputs, args)):
        if arg is None or not arg.is_floating_point():
            continue
        if arg.numel() * out.numel() > limit:
            result[port] = f"{out.numel()}×{arg.numel()} Jacobian (not shown; its VJP is used)"
            continue
        columns = []
        try:
            for index in range(arg.numel()):
                tangents = tuple(one_hot(arg, index) if i == slot else None for i in range(len(args)))
                with node_errors(instr):
                    columns.append(node_jvp(instr, module, args, tangents)[0].reshape(-1))
        except (NotImplementedError, ValueError) as error:  # NodeError names the node
            result[port] = str(error)
            continue
        jacobian = torch.stack(columns, -1)
        result[port] = jacobian.reshape(()) if jacobian.numel() == 1 else jacobian
    return result
