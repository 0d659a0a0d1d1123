"""Optimizer paths: torch.optim optimizers run from the same start over the plane's two coordinates.

An optimizer is named as the training section names one (sgd, momentum, nesterov, adagrad, rmsprop,
adam, adamw) with its hyperparameters checked as the training section checks them; written as text,
`adam:lr=0.05:betas=0.8/0.99`. Each path keeps every point, the start included, and the loss there;
a path stops early at the first point whose loss or gradient is not finite (it diverged).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch
from graphcore.landscape.loss import LandscapeError
from graphcore.training.checks import TrainingConfigError
from graphcore.training.config import CLASS_HYPERPARAMETERS, HYPERPARAMETER_CHECKS, OPTIMIZERS

# learning rates that move visibly in a hundred steps on the examples (the training section's are
# tuned for networks, Adam's 0.001 barely leaves the start of a plane)
DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.1,
    "rmsprop": 0.01,
    "adam": 0.05,
    "adamw": 0.05,
}
MAX_STEPS = 10_000
FLAGS = {"nesterov", "centered", "amsgrad"}


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of a comparison: its kind, its hyperparameters and the label it is shown with."""

    name: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the overrides given
    label: str = ""

    @property
    def config(self) -> dict[str, Any]:
        """The optimizer as a training section's optimizer object (defaults merged in)."""
        _, defaults = OPTIMIZERS[self.name]
        return {"name": self.name, **defaults, "lr": DEFAULT_LR[self.name], **self.hyperparameters}

    def build(self, parameters: list[Any]) -> Any:
        from graphcore.training.optimizers import make_optimizer

        return make_optimizer(self.config, parameters)


def make_spec(name: str, hyperparameters: Mapping[str, Any], label: str = "") -> OptimizerSpec:
    """A checked OptimizerSpec: unknown names and keys, and bad values, are one-line LandscapeErrors."""
    if name not in OPTIMIZERS:
        raise LandscapeError(f"unknown optimizer {name[:40]!r} (expected one of {', '.join(OPTIMIZERS)})")
    accepted = CLASS_HYPERPARAMETERS[OPTIMIZERS[name][0]]
    for key, value in hyperparameters.items():
        if key not in accepted:
            raise LandscapeError(
                f"{name} takes no hyperparameter {key[:40]!r} (it takes {', '.join(accepted)})"
            )
        try:
            HYPERPARAMETER_CHECKS[key](f"{name}.{key}", value)
        except TrainingConfigError as error:
            raise LandscapeError(str(error).removeprefix("training.")) from None
    spec = OptimizerSpec(name, dict(hyperparameters), label or name)
    try:
        spec.build([torch.zeros(2, requires_grad=True)])  # torch's own checks (nesterov's momentum)
    except TrainingConfigError as error:
        raise LandscapeError(f"{name}: {str(error).split(': ', 1)[-1]}") from None
    return spec


def hyperparameter_value(name: str, key: str, text: str) -> Any:
    """A hyperparameter typed as text: true/false for flags, LOW/HIGH for betas, else a number."""
    if key in FLAGS:
        if text.lower() not in ("true", "false"):
            raise LandscapeError(f"{name}.{key} must be true or false, got {text[:40]!r}")
        return text.lower() == "true"
    parts = text.split("/") if key == "betas" else [text]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise LandscapeError(f"{name}.{key} must be a number, got {text[:40]!r}") from None
    return numbers if key == "betas" else numbers[0]


def parse_specs(text: str, lr: float | None = None) -> list[OptimizerSpec]:
    """`sgd,momentum:lr=0.002,adam:lr=0.05:betas=0.8/0.99` as specs. `lr`, when given, is every
    optimizer's learning rate unless its own `lr=` says otherwise."""
    specs: list[OptimizerSpec] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise LandscapeError(f"expected optimizers such as sgd,momentum,adam, got {text[:60]!r}")
        name, *pairs = item.split(":")
        hyperparameters: dict[str, Any] = {} if lr is None else {"lr": lr}
        for pair in pairs:
            key, equals, value = pair.partition("=")
            if not equals or not key:
                raise LandscapeError(f"expected {name}:KEY=VALUE such as {name}:lr=0.01, got {item[:60]!r}")
            hyperparameters[key.strip()] = hyperparameter_value(name, key.strip(), value.strip())
        if any(item == s.label for s in specs):
            raise LandscapeError(f"optimizer {item[:40]!r} is given twice")
        specs.append(make_spec(name.strip(), hyperparameters, item))
    return specs


@dataclass
class Path:
    label: str
    optimizer: dict[str, Any]  # the optimizer object it ran with
    points: list[tuple[float, float]]  # every point, the start first
    losses: list[float]  # the loss at each point
    diverged: bool = False  # stopped at a non-finite loss or gradient before its last step


def run_path(
    loss_at: Callable[[Any], Any],
    start: tuple[float, float],
    spec: OptimizerSpec,
    steps: int,
    dtype: Any,
    device: Any,
) -> Path:
    """`steps` steps of the optimizer on θ (2 numbers of `dtype` on `device`, as the loss's weights)
    from `start`, as a torch.optim loop takes them."""
    if not 1 <= steps <= MAX_STEPS:
        raise LandscapeError(f"the steps must be from 1 to {MAX_STEPS}, got {steps}")
    theta = torch.tensor(start, dtype=dtype, device=device, requires_grad=True)
    optimizer = spec.build([theta])
    path = Path(spec.label, spec.config, [start], [])
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_at(theta)
        path.losses.append(float(loss.detach()))
        if not loss.requires_grad:
            raise LandscapeError("the loss does not depend on the plane's coordinates")
        loss.backward()
        assert theta.grad is not None  # backward from a loss that depends on θ fills it
        if not (math.isfinite(path.losses[-1]) and bool(torch.isfinite(theta.grad).all())):
            path.diverged = True
            return path
        optimizer.step()
        x, y = theta.detach().tolist()
        path.points.append((x, y))
    with torch.no_grad():
        path.losses.append(float(loss_at(theta)))
    path.diverged = not math.isfinite(path.losses[-1])
    return path
