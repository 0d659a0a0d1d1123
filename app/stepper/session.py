"""StepperSession: the backprop stepper's state, without Qt.

It pulls events from graphcore.stepping.Stepper one at a time and keeps them in a history, so
Step back and Step again replay without recomputing. What each node shows at a position (its value,
the gradient that has reached it, the contributions still being summed) is derived from the
history up to that position, so there is nothing to keep in step by hand. After the backward pass
an optimizer step can be taken on a copy of the parameters; it is applied to the stepper's own
weights (never to the graph), and the next Step starts a new pass with them. A training section
with several objectives is stepped through its first one: its loss, its optimizer, and only the
weights it updates (a GAN's discriminator step leaves the generator as it is).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.lab.names import Names
from graphcore.derivatives.autodiff import local_jacobians
from graphcore.graph import Graph, PortRef
from graphcore.program import NodeError, Program, lower
from graphcore.runtime import Runtime
from graphcore.stepping import ParameterUpdate, StepEvent, Stepper, optimizer_step, trainable_parameters
from graphcore.validate import validate


class StepperError(ValueError):
    """The graph cannot be stepped (it has problems, or no single output to differentiate)."""


@dataclass
class NodeState:
    values: dict[str, Any] = field(default_factory=dict)  # output -> value
    grads: dict[str, Any] = field(default_factory=dict)  # output -> d(of)/d(output) so far


class StepperSession:
    def __init__(self, graph: Graph, seed: int = 0, program: Program | None = None) -> None:
        """`program`: the graph already lowered (a Document keeps one), else it is lowered here."""
        report = validate(graph)
        if not report.ok:
            first = report.diagnostics[0]
            raise StepperError(f"the graph has problems; first: {first}")
        self.program = program = program if program is not None else lower(graph)
        self.names = Names(program, graph)  # labels in every text, ids only where two labels clash
        self.runtime = Runtime(program, dtype="float64", device="cpu", seed=seed)
        objective = _stepped_objective(graph.training)
        loss = objective.get("loss")
        self.of = ""  # what is differentiated: the loss, else the program's default output (_new_pass)
        optimizer = objective.get("optimizer")
        self.optimizer_config = dict(
            optimizer if isinstance(optimizer, dict) else {"name": "sgd", "lr": 0.01}
        )
        parameters = objective.get("parameters")
        # the nodes whose weights the optimizer step updates (None: all of them)
        self.updated: set[str] | None = (
            {p for p in parameters if isinstance(p, str)} if isinstance(parameters, list) else None
        )
        self.passes = 0
        self.updates: list[ParameterUpdate] = []
        self._new_pass(loss if isinstance(loss, str) and loss in program.consumers else None)

    def _new_pass(self, of: str | None = None) -> None:
        try:
            self.stepper = Stepper(self.runtime, of=of or self.of or None)
        except ValueError as error:
            raise StepperError(str(error)) from None
        self.of = self.stepper.of
        self._events = self.stepper.events()
        self.history: list[StepEvent] = []
        self.position = -1  # index into history of the step shown; -1 before the first
        self.exhausted = False
        self.error = ""  # why the pass stopped, when a node raised
        self.updates = []
        self.passes += 1

    # --- moving -------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.stepper.schedule)

    @property
    def current(self) -> StepEvent | None:
        return self.history[self.position] if self.position >= 0 else None

    @property
    def at_end(self) -> bool:
        return self.position == self.total - 1

    def step(self) -> StepEvent | None:
        """Advance one step (replaying history after a Step back); None at the end of the pass."""
        if self.updates:  # an optimizer step was taken: the next Step begins a new pass
            self._new_pass()
        if self.position + 1 < len(self.history):
            self.position += 1
            return self.current
        if self.exhausted:
            return None
        try:
            event = next(self._events, None)
        except Exception as error:  # NodeError names the node; the pass cannot go on, Reset starts over
            self.exhausted = True
            self.error = str(error) if isinstance(error, ValueError) else NodeError.describe(error)
            raise StepperError(self.error) from error
        if event is None:
            self.exhausted = True
            return None
        self.history.append(event)
        self.position += 1
        return event

    def back(self) -> StepEvent | None:
        if self.updates:
            self.updates = []
            return self.current
        self.position = max(-1, self.position - 1)
        return self.current

    def run_for(self, seconds: float) -> bool:
        """Step on until the pass is complete or `seconds` have passed (one step at least), so a
        caller on the GUI thread can run to the end in slices; True when the pass is complete."""
        deadline = time.perf_counter() + seconds
        while self.step() is not None:
            if self.at_end:
                return True
            if time.perf_counter() >= deadline:
                return False
        return True

    def reset(self) -> None:
        """Back to before the first step of a fresh pass (with the stepper's current weights)."""
        self._new_pass()
        self.passes -= 1

    # --- what the canvas shows ----------------------------------------------------------------------

    def states(self) -> dict[str, NodeState]:
        """Each node's value and gradient as of the current position."""
        states: dict[str, NodeState] = {}
        contributions: dict[str, dict[str, Any]] = {}
        for event in self.history[: self.position + 1]:
            if event.phase == "forward":
                for name, value in event.outputs.items():
                    states.setdefault(event.node, NodeState()).values[name] = value
                continue
            for name, value in event.upstream.items():
                if name == self.of:
                    contributions.setdefault(name, {})[name] = value
            for port, grad in event.passed.items():
                ref = PortRef.parse(port)
                if grad is None or ref.port.startswith("<"):
                    continue
                instr = self.program.by_node[ref.node]
                source = instr.args[instr.spec.inputs.index(ref.port)]
                if source is not None:
                    contributions.setdefault(source, {})[port] = grad
        for value, parts in contributions.items():
            node = PortRef.parse(value).node
            states.setdefault(node, NodeState()).grads[value] = sum(parts.values())
        return states

    def forward_event(self, node: str) -> StepEvent | None:
        return next((e for e in self.history if e.phase == "forward" and e.node == node), None)

    def local_derivatives(self, event: StepEvent, limit: int = 16) -> dict[str, Any]:
        """∂out/∂input for each input of a backward step's node, as a Jacobian (when small enough to
        show: at most `limit` entries), built column by column from the node's own JVP."""
        instr = self.program.by_node[event.node]
        forward = self.forward_event(event.node)
        if forward is None:
            return {}
        args = tuple(forward.inputs.get(a) if a else None for a in instr.args)
        out = forward.outputs[instr.outs[0]]
        return local_jacobians(instr, self.runtime.module_of(instr), args, out, limit)

    # --- the optimizer step -------------------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        """Trainable tensors by name: Parameter nodes (`w`) and layer weights (`fc.weight`)."""
        return trainable_parameters(self.runtime)

    def optimizer_step(self) -> list[ParameterUpdate]:
        """One step of the training section's optimizer (SGD, lr 0.01 without one) on the gradients
        of this pass, applied to the stepper's weights; returns each parameter's update."""
        if not self.exhausted and not self.at_end:
            raise StepperError("finish the backward pass first (Run to end)")
        for event in self.history:  # forward values share storage with the weights about to change
            event.inputs = {k: v.clone() for k, v in event.inputs.items()}
            event.outputs = {k: v.clone() for k, v in event.outputs.items()}
        gradients = self.stepper.gradients()
        if self.updated is not None:  # "fc.weight" and "w.out" belong to the nodes fc and w
            gradients = {k: v for k, v in gradients.items() if k.split(".", 1)[0] in self.updated}
        self.updates = optimizer_step(self.runtime, gradients, self.optimizer_config)
        return self.updates


def _stepped_objective(training: dict[str, Any]) -> dict[str, Any]:
    """The part of a training section the stepper follows: the section itself for one loss, else
    its first objective (as the Trainer's lead objective, which updates on every step)."""
    objectives = training.get("objectives")
    if isinstance(objectives, list) and objectives and isinstance(objectives[0], dict):
        return objectives[0]
    return training
