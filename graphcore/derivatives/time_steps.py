"""The gradient norm per time step: ‖∂L/∂v_t‖ for each step t of a sequence-valued value v.

A recurrent network's loss often sits at the end of the sequence; how much of its gradient reaches
an early step (through every later step of the recurrence) is what vanishing and exploding
gradients are about. One reverse sweep from the scalar L gives ∂L/∂v; the norm over every axis but
the time axis gives one number per step. The CLI's `grad --per-step` and the app's view read this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphcore.derivatives.api import reverse_jacobian
from graphcore.derivatives.autodiff import ForwardTrace, trace_forward
from graphcore.runtime import Runtime


class TimeStepError(ValueError):
    """A value that has no time steps to split a gradient into, or an output that is not a scalar."""


@dataclass(frozen=True)
class StepGradients:
    """∂of/∂value's norm at each step along `time_dim` (norms[t] for t = 0 … steps − 1)."""

    of: str
    value: str
    time_dim: int
    shape: tuple[int, ...]
    norms: list[float]


def default_time_dim(shape: tuple[int, ...]) -> int:
    """Batch-first sequences (N, T, …) step along dim 1; an unbatched (T, F) one along dim 0."""
    return 1 if len(shape) >= 3 else 0


def gradient_per_step(
    runtime: Runtime, of: str, value: str, time_dim: int | None = None, trace: ForwardTrace | None = None
) -> StepGradients:
    """‖∂of/∂value‖ per step of `value` along `time_dim` (default: default_time_dim), at `trace`."""
    trace = trace or trace_forward(runtime)
    output, seq = trace.values[of], trace.values[value]
    if output.numel() != 1:
        raise TimeStepError(f"{of} has {output.numel()} elements: differentiate a scalar, such as the loss")
    if not seq.is_floating_point():
        raise TimeStepError(f"{value} holds integers, which have no derivative")
    shape = tuple(seq.shape)
    if len(shape) < 2:
        raise TimeStepError(f"{value} has shape {list(shape)}: a sequence has a time axis and features")
    dim = default_time_dim(shape) if time_dim is None else time_dim
    if not -len(shape) <= dim < len(shape):
        raise TimeStepError(f"time dim {dim} is outside {value}'s {len(shape)} dimensions {list(shape)}")
    matrix, _ = reverse_jacobian(runtime, [of], [value], trace)
    norms = per_step_norms(matrix.reshape(shape), dim)
    return StepGradients(of, value, dim % len(shape), shape, norms)


def per_step_norms(gradient: Any, time_dim: int) -> list[float]:
    """The 2-norm of each slice of `gradient` along `time_dim`."""
    steps = gradient.movedim(time_dim, 0)
    return [float(n) for n in steps.reshape(steps.shape[0], -1).norm(dim=1)]
