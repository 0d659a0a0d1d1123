"""Feature visualisation: gradient ascent on the input, argmax_x unit(x) − λ₂‖x‖² − λ_TV·TV(x).

TV(x) is the squared total variation of the input seen as an image (saliency.image_view): the sum of
squared differences between neighbouring pixels down and across; for a vector, between neighbours.
torch.optim (SGD or Adam, maximize=True) takes the steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.input_grads import MAX_STEPS, OPTIMIZERS, STARTS
from graphcore.input_grads.model import InputModel
from graphcore.input_grads.saliency import check_unit, image_view
from graphcore.input_grads.unit import InputGradError, Unit

MAX_FRAMES = 200  # inputs kept along the way (evenly spaced, the last one always)
NOISE = 0.1  # standard deviation of the "noise" start


@dataclass
class AscentStep:
    """Where the ascent is after `step` steps (0: the start)."""

    step: int
    x: Any  # the input, without the batch dim, on the CPU
    unit: float
    objective: float


@dataclass
class Ascent:
    unit: Unit
    input: str
    steps: list[int] = field(default_factory=list)  # step of each entry below
    units: list[float] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)
    frames: list[AscentStep] = field(default_factory=list)  # at most MAX_FRAMES inputs along the way
    weights: str = ""

    @property
    def x(self) -> Any:
        return self.frames[-1].x


def total_variation(x: Any) -> Any:
    """Σ squared differences of neighbouring pixels of one sample (x without the batch dim)."""
    view = image_view(tuple(x.shape))
    if view is None:
        flat = x.reshape(-1)
        return ((flat[1:] - flat[:-1]) ** 2).sum()
    image = x.reshape(view)
    down = image[:, 1:, :] - image[:, :-1, :]
    across = image[:, :, 1:] - image[:, :, :-1]
    return (down**2).sum() + (across**2).sum()


def objective(unit_value: Any, x: Any, l2: float, tv: float) -> Any:
    """unit − λ₂‖x‖² − λ_TV·TV(x), x one sample's input."""
    return unit_value - l2 * (x**2).sum() - tv * total_variation(x)


def check_number(name: str, value: float, low: float = 0.0, high: float = 1e6) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise InputGradError(f"{name} must be a number from {low:g} to {high:g}, got {value}")


def start_input(model: InputModel, start: str, seed: int) -> Any:
    """The ascent's first input: zeros, seeded Gaussian noise (σ = 0.1, drawn in float64 on the CPU
    whatever the model computes in, so every dtype and device starts alike), or the sample itself."""
    if start == "zeros":
        return torch.zeros_like(model.x)
    if start == "noise":
        generator = torch.Generator().manual_seed(seed)
        return NOISE * torch.randn(model.x.shape, generator=generator, dtype=torch.float64).to(model.x)
    if start == "sample":
        return model.x.clone()
    raise InputGradError(f"unknown start {start!r}: use one of {', '.join(STARTS)}")


def maximize(
    model: InputModel,
    unit: Unit,
    steps: int,
    lr: float,
    l2: float = 0.0,
    tv: float = 0.0,
    start: str = "zeros",
    seed: int = 0,
    optimizer: str = "sgd",
    report: Callable[[AscentStep], None] | None = None,
) -> Ascent:
    """Take `steps` steps of gradient ascent on the input; `report` hears each one (and may raise to stop)."""
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise InputGradError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps}")
    check_number("lr", lr, 1e-12)
    check_number("the L2 λ", l2)
    check_number("the TV λ", tv)
    if optimizer not in OPTIMIZERS:
        raise InputGradError(f"unknown optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    check_unit(model, unit)
    x = start_input(model, start, seed).requires_grad_(True)
    choice = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
    steps_taken = choice([x], lr=lr, maximize=True)
    every = max(1, math.ceil(steps / MAX_FRAMES))
    ascent = Ascent(unit, model.input, weights=model.weights)
    for step in range(steps + 1):
        unit_value = unit.select(model.value(x, unit.value))
        total = objective(unit_value, model.per_sample(x), l2, tv)
        if not math.isfinite(float(total.detach())):
            raise InputGradError(f"the objective became {float(total.detach())} at step {step}: lower the lr")
        record = AscentStep(
            step,
            model.per_sample(x).detach().to("cpu", copy=True),
            float(unit_value.detach()),
            float(total.detach()),
        )
        ascent.steps.append(step)
        ascent.units.append(record.unit)
        ascent.objectives.append(record.objective)
        if step % every == 0 or step == steps:
            ascent.frames.append(record)
        if report is not None:
            report(record)
        if step == steps:
            break
        (x.grad,) = torch.autograd.grad(total, x)  # the input's gradient only, not the weights'
        steps_taken.step()
    return ascent
