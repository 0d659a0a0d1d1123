"""Gradient flow while training: the norm of the gradient along every wire, each parameter's
gradient norm and update-to-weight ratio, and the layers whose gradients vanish or explode.

A `FlowProbe` watches a Trainer without changing its run: `arm` before a step remembers the
weights, `collect` after it runs one forward and backward pass of the lead objective on a fixed
batch (the first `batch_size` training rows) through the program one node at a time. Each input
port reads its own copy of the value it is wired to, so `torch.autograd.grad` with respect to
that copy is the gradient flowing back along that one wire: where a value fans out, each wire
carries its consumer's contribution, and they add up to ∂L/∂value. The pass asks autograd for
the gradients (no `.backward()`), so the parameters' `.grad` stay as the trainer left them, and
it restores torch's random state and the module's buffers (BatchNorm's running statistics).

Flag rules (docs/gradient-flow.md): the layers (nodes with parameters) are compared with the
layer nearest the loss, as the lecture's vanishing/exploding discussion compares the first and
the last layer. A layer whose gradient norm is below VANISHING × the reference is vanishing, one
above EXPLODING × the reference (or not finite) is exploding; a layer whose update-to-weight
ratio is above RATIO_HIGH or below RATIO_LOW (the rule of thumb is about 1e-3) is flagged too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.codegen import node_function
from graphcore.interpreter import as_tuple
from graphcore.program import node_errors
from graphcore.training.performance import random_state, set_random_state

VANISHING = 1e-2  # a layer's ‖∇‖ two orders of magnitude below the reference layer's: vanishing
EXPLODING = 1e2  # two orders above it (or not finite): exploding
RATIO_HIGH = 2e-2  # an update ratio twenty times the rule of thumb (~1e-3) or more: steps too large
RATIO_LOW = 1e-5  # a hundredth of it or less: the weights barely move

VANISHING_WORDS, EXPLODING_WORDS, RATIO_WORDS = "vanishing gradient", "exploding gradient", "update ratio"

Wire = tuple[str, str]  # (source "node.port", consumer "node.port")


@dataclass(frozen=True)
class FlowFrame:
    """One measurement, picklable (plain floats and strings): what the canvas draws."""

    step: int
    wires: dict[Wire, float]  # ‖gradient flowing back along the wire‖
    grad_norms: dict[str, float]  # parameter name (as module.named_parameters()) -> ‖∂L/∂p‖
    ratios: dict[str, float]  # parameter name -> ‖Δp‖/‖p‖ of one optimizer step (empty: none since arm)
    flags: dict[str, str]  # node id -> one sentence with the numbers (vanishing / exploding / ratio)


def flag_kind(sentence: str) -> str:
    """ "gradient" for a vanishing or exploding gradient, "ratio" for an update ratio flag."""
    return "ratio" if sentence.startswith(RATIO_WORDS) else "gradient"


class FlowProbe:
    """Measures gradient flow on a Trainer (graphcore.training.train.Trainer) between its steps."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self._before: dict[str, Any] | None = None
        self._armed: tuple[Any, int] = (None, -1)  # the module and step count when armed

    def arm(self) -> None:
        """Before the trainer's next step: remember the weights, for the update ratios."""
        module = self.trainer.module
        self._before = {name: p.detach().clone() for name, p in module.named_parameters()}
        self._armed = (module, self.trainer.step_count)

    def collect(self) -> FlowFrame:
        """After it: the gradients of one pass on the fixed batch, and the ratios of the step since
        `arm` (none when no step was taken, or the weights were reset, since)."""
        trainer = self.trainer
        wires, grad_norms = self._gradients()
        ratios = self._ratios()
        self._before = None
        flags = flag_layers(trainer.weights, grad_norms, ratios)
        return FlowFrame(trainer.step_count, wires, grad_norms, ratios, flags)

    def _ratios(self) -> dict[str, float]:
        module, step = self._armed
        trainer = self.trainer
        if self._before is None or module is not trainer.module or trainer.step_count <= step:
            return {}
        names, pairs = [], []
        for name, p in trainer.module.named_parameters():
            if name in self._before:
                before = self._before[name]
                names.append(name)
                pairs.append(torch.stack([(p.detach() - before).norm(), before.norm()]))
        if not pairs:
            return {}
        values = torch.stack(pairs).double().tolist()  # one read from the device for them all
        return {name: _ratio(moved, size) for name, (moved, size) in zip(names, values, strict=True)}

    def _gradients(self) -> tuple[dict[Wire, float], dict[str, float]]:
        trainer = self.trainer
        module = trainer.module
        buffers = [(b, b.detach().clone()) for b in module.buffers()]
        state, training = random_state(trainer.device), module.training
        module.train()
        try:
            return _measure(trainer)
        finally:
            set_random_state(state, trainer.device)
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)
            module.train(training)


def _measure(trainer: Any) -> tuple[dict[Wire, float], dict[str, float]]:
    """Run the program node by node on the fixed batch, every input port reading its own copy."""
    program, runtime = trainer.program, trainer.runtime
    size = trainer.config.batch_size
    batch = {node: tensor[:size] for node, tensor in trainer.train_data.items()}
    env: dict[str, Any] = {}
    wires: list[Wire] = []
    copies: list[Any] = []
    for instr in program:
        if instr.spec.is_source:
            value = batch[instr.node] if instr.node in batch else runtime.source_value(instr)
            env[instr.outs[0]] = value
            continue
        args = []
        for port, arg in zip(instr.spec.inputs, instr.args, strict=True):
            value = env.get(arg) if arg is not None else None
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                value = value.clone() if value.requires_grad else value.detach().requires_grad_()
                wires.append((arg, f"{instr.node}.{port}"))
                copies.append(value)
            args.append(value)
        with node_errors(instr):
            outs = as_tuple(node_function(instr)(runtime.module_of(instr), *args))
        env.update(zip(instr.outs, outs, strict=False))
    loss = env[trainer.config.loss]
    named = [(name, p) for name, p in trainer.module.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [*copies, *(p for _, p in named)], allow_unused=True)
    norms = [
        torch.zeros((), dtype=torch.float64) if g is None else g.detach().double().norm().cpu() for g in grads
    ]
    values = torch.stack(norms).tolist() if norms else []
    wire_norms = dict(zip(wires, values[: len(wires)], strict=True))
    grad_norms = {name: value for (name, _), value in zip(named, values[len(wires) :], strict=True)}
    return wire_norms, grad_norms


def _ratio(moved: float, size: float) -> float:
    if size > 0:
        return moved / size
    return math.inf if moved > 0 else 0.0


def parameters_of(attributes: Mapping[str, str], names: Iterable[str]) -> dict[str, list[str]]:
    """Node id -> its parameter names among `names`, in their order: a name is the node's module
    attribute (Runtime.generated.attributes), then the layer's own name ("fc1.weight")."""
    owner = {attribute: node for node, attribute in attributes.items()}
    found: dict[str, list[str]] = {}
    for name in names:
        node = owner.get(name.split(".", 1)[0])
        if node is not None:
            found.setdefault(node, []).append(name)
    return found


@dataclass(frozen=True)
class LayerNumbers:
    """What a layer's badge says: its gradient norm over all its parameters, and the update ratio
    of its first parameter (a layer's weight, not its bias: biases often start at zero)."""

    grad_norm: float
    ratio: float | None  # None: no step measured


def layer_numbers(
    weights: Mapping[str, list[str]], grad_norms: Mapping[str, float], ratios: Mapping[str, float]
) -> dict[str, LayerNumbers]:
    """Node id -> its numbers, for each node with a measured parameter, in `weights`' order."""
    found = {}
    for node, names in weights.items():
        measured = [grad_norms[n] for n in names if n in grad_norms]
        if measured:
            ratio = next((ratios[n] for n in names if n in ratios), None)
            found[node] = LayerNumbers(math.sqrt(sum(v * v for v in measured)), ratio)
    return found


def flag_layers(
    weights: Mapping[str, list[str]], grad_norms: Mapping[str, float], ratios: Mapping[str, float]
) -> dict[str, str]:
    """Node id -> why its layer is flagged, with the numbers (see the module's rules). `weights`:
    node id -> its parameter names, in program order (Trainer.weights)."""
    layers = layer_numbers(weights, grad_norms, ratios)
    flags: dict[str, str] = {}
    if not layers:
        return flags
    last = list(layers)[-1]
    reference = layers[last].grad_norm
    for node, numbers in layers.items():
        norm, ratio = numbers.grad_norm, numbers.ratio
        if not math.isfinite(norm):
            flags[node] = f"{EXPLODING_WORDS}: ‖∇‖ = {norm} (not finite)"
        elif node != last and norm < VANISHING * reference:
            flags[node] = (
                f"{VANISHING_WORDS}: ‖∇‖ = {norm:.2g}, {_times(norm, reference)} {last}'s {reference:.2g}"
            )
        elif node != last and reference > 0 and norm > EXPLODING * reference:
            flags[node] = (
                f"{EXPLODING_WORDS}: ‖∇‖ = {norm:.2g}, {_times(norm, reference)} {last}'s {reference:.2g}"
            )
        elif ratio is not None and ratio > RATIO_HIGH:
            flags[node] = f"{RATIO_WORDS} Δ/w = {ratio:.2g}, far above ~1e-3: the steps are too large"
        elif ratio is not None and ratio < RATIO_LOW:
            flags[node] = f"{RATIO_WORDS} Δ/w = {ratio:.2g}, far below ~1e-3: the weights barely move"
    return flags


def _times(norm: float, reference: float) -> str:
    """ "1.0e-05 ×" the reference, or "0 ×" for a gradient that is exactly zero."""
    if norm == 0:
        return "0 ×"
    return f"{norm / reference:.1e} ×"
