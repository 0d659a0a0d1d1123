"""The stepping engine: forward then backward propagation, one node per step, as events.

Each forward step runs one node's code; each backward step runs that node's local vector-Jacobian
product alone (graphcore.derivatives.autodiff) and passes gradients down; where a value fans out, an
`accumulate` step adds the contributions. The CLI's `steps` and the app's stepper consume the same
generator, so what a user clicks through is what the tests check. After a pass, `optimizer_step`
moves the runtime's weights by those gradients (the app's stepper takes it; the graph keeps its own).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.derivatives.autodiff import ForwardTrace, Tracer, backward_steps, total_gradient
from graphcore.graph import PortRef
from graphcore.program import Program
from graphcore.runtime import Runtime
from graphcore.schedule import Phase, Step, backward_schedule, differentiable_nodes, forward_schedule


class SteppingError(ValueError):
    """A request the stepper cannot honour (an unknown output, several outputs and none chosen)."""


def default_output(program: Program) -> str:
    """The value to differentiate when none is named: the graph's only unconsumed output."""
    if len(program.sinks) != 1:
        raise SteppingError(
            f"the graph has {len(program.sinks)} outputs ({', '.join(program.sinks)}): "
            "choose one with --of NODE.PORT"
        )
    return program.sinks[0]


def check_value(program: Program, value: str) -> str:
    """`value` as a "node.port" that exists; a bare node id means its only output."""
    node, _, port = value.rpartition(".") if "." in value else (value, "", "")
    instr = program.by_node.get(node)
    if instr is None:
        raise SteppingError(f"there is no node {node!r}")
    if not port:
        if len(instr.outs) != 1:
            raise SteppingError(
                f"{node} has several outputs ({', '.join(instr.outs)}): name one as node.port"
            )
        return instr.outs[0]
    if port not in instr.outputs:
        raise SteppingError(f"{node} has no output {port!r} (outputs: {', '.join(instr.outputs)})")
    return value


@dataclass
class StepEvent:
    """What one step did, for display: values for forward steps, gradients for the others."""

    index: int
    step: Step
    inputs: dict[str, Any] = field(default_factory=dict)  # values read (forward)
    outputs: dict[str, Any] = field(default_factory=dict)  # values written (forward)
    upstream: dict[str, Any] = field(default_factory=dict)  # gradients read (backward, accumulate)
    passed: dict[str, Any] = field(default_factory=dict)  # gradients written to input ports (backward)
    weights: dict[str, Any] = field(default_factory=dict)  # weight gradients of a layer (backward)
    accumulated: dict[str, Any] = field(default_factory=dict)  # totals formed where a value fans out

    @property
    def phase(self) -> Phase:
        return self.step.phase

    @property
    def node(self) -> str:
        return self.step.node


class Stepper:
    """Forward and backward propagation over a runtime's program, one step at a time."""

    def __init__(self, runtime: Runtime, of: str | None = None, wrt: list[str] | None = None) -> None:
        program = self.program = runtime.program
        self.runtime = runtime
        self.of = check_value(program, of) if of else default_output(program)
        self.wrt = (
            [PortRef.parse(check_value(program, w)).node for w in wrt]
            if wrt
            else differentiable_nodes(program)
        )
        self.forward_schedule = forward_schedule(program)
        self.backward_schedule = backward_schedule(program, self.of, self.wrt)
        self.trace = ForwardTrace()
        self.grads: dict[str, Any] = {}
        self.weight_grads: dict[str, Any] = {}  # "layer.weight" -> gradient

    @property
    def schedule(self) -> list[Step]:
        return self.forward_schedule + self.backward_schedule

    def events(self) -> Iterator[StepEvent]:
        index = 0
        # The forward schedule is the program's order: one Step per instruction the Tracer runs.
        for step, instr in zip(self.forward_schedule, Tracer(self.runtime, self.trace).steps()):
            values = self.trace.values
            yield StepEvent(
                index,
                step,
                inputs={a: values[a] for a in step.reads},
                outputs={o: values[o] for o in instr.outs},
            )
            index += 1
        seed = torch.ones_like(self.trace.values[self.of])
        for event in backward_steps(
            self.program, self.trace, self.of, seed, self.backward_schedule, self.grads
        ):
            is_sum = event.step.phase == "accumulate"
            self.weight_grads.update({f"{event.step.node}.{k}": g for k, g in event.weights.items()})
            yield StepEvent(
                index,
                event.step,
                upstream=event.upstream,
                passed={} if is_sum else event.produced,
                weights=event.weights,
                accumulated=event.produced if is_sum else {},
            )
            index += 1

    def run(self) -> list[StepEvent]:
        return list(self.events())

    def gradients(self) -> dict[str, Any]:
        """d(of)/d(node output) for each wrt node, and each layer weight, once the steps have run."""
        result = {
            value: total_gradient(self.program, self.grads, value, self.trace.values[value])
            for node in self.wrt
            for value in self.program.by_node[node].outs
        }
        return {**result, **self.weight_grads}


@dataclass
class ParameterUpdate:
    """One trainable tensor before and after an optimizer step, and the gradient that moved it."""

    name: str
    before: Any
    grad: Any
    after: Any

    @property
    def delta(self) -> Any:
        return self.after - self.before


def trainable_parameters(runtime: Runtime) -> dict[str, Any]:
    """Trainable tensors by name: Parameter nodes (`w`) and layer weights (`fc.weight`)."""
    found = {}
    for instr in runtime.program:
        if instr.spec.kind == "parameter":
            found[instr.node] = runtime.source_value(instr)
        elif instr.spec.kind == "layer":
            for name, weight in runtime.module_of(instr).named_parameters():
                found[f"{instr.node}.{name}"] = weight
    return found


def optimizer_step(
    runtime: Runtime, gradients: Mapping[str, Any], config: Mapping[str, Any]
) -> list[ParameterUpdate]:
    """One step of a training section's optimizer (`config`: name and settings) on `gradients` (as
    Stepper.gradients gives them), taken on copies and then written into the runtime's weights."""
    from graphcore.training.config import OPTIMIZERS
    from graphcore.training.optimizers import make_optimizer

    chosen, copies = [], []
    for name, weight in trainable_parameters(runtime).items():
        grad = gradients.get(f"{name}.out", gradients.get(name))
        if grad is None:
            continue
        copy = weight.detach().clone().requires_grad_(True)
        copy.grad = grad.detach().clone().reshape(copy.shape)
        chosen.append((name, weight, grad))
        copies.append(copy)
    name = config.get("name", "sgd")
    make_optimizer({**OPTIMIZERS.get(name, OPTIMIZERS["sgd"])[1], **config}, copies).step()
    updates = []
    with torch.no_grad():
        for (name, weight, grad), copy in zip(chosen, copies):
            updates.append(ParameterUpdate(name, weight.detach().clone(), grad, copy.detach().clone()))
            weight.copy_(copy)
    return updates
