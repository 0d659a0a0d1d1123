"""The loss over a resolution × resolution grid of the plane, one row of points per batch.

A row is evaluated in one call through torch.func.vmap; a graph whose operations vmap cannot batch
is evaluated point by point instead (the same numbers, slower). After each row `progress(done,
total)` is called: an exception raised there (a cancelled request) stops the computation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.landscape.loss import LandscapeError, LossFunction
from graphcore.landscape.plane import Plane

MAX_RESOLUTION = 201
Progress = Callable[[int, int], None]


@dataclass
class Grid:
    xs: list[float]
    ys: list[float]
    values: Any  # CPU tensor [len(ys), len(xs)]: values[j, i] is the loss at (xs[i], ys[j])


def axis(low: float, high: float, resolution: int) -> list[float]:
    return torch.linspace(low, high, resolution, dtype=torch.float64).tolist()


def check_range(name: str, low: float, high: float) -> None:
    if not (torch.isfinite(torch.tensor([low, high])).all() and low < high):
        raise LandscapeError(
            f"the {name} range must be two finite numbers, low < high, got {low:g}, {high:g}"
        )


def compute_grid(
    loss: LossFunction,
    plane: Plane,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    resolution: int,
    progress: Progress | None = None,
) -> Grid:
    if not 2 <= resolution <= MAX_RESOLUTION:
        raise LandscapeError(f"the resolution must be from 2 to {MAX_RESOLUTION}, got {resolution}")
    check_range(plane.axes[0], *x_range)
    check_range(plane.axes[1], *y_range)
    xs, ys = axis(*x_range, resolution), axis(*y_range, resolution)

    def at(theta: Any) -> Any:
        return loss(plane.weights(theta))

    batched = torch.func.vmap(at, randomness="same")  # every point draws the same noise
    rows = []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "There is a performance drop")  # ops vmap runs one by one
        for j, y in enumerate(ys):
            thetas = torch.tensor([[x, y] for x in xs], dtype=loss.dtype, device=loss.device)
            try:
                rows.append(batched(thetas))
            except Exception:  # noqa: BLE001 - an op vmap cannot batch: the same numbers one by one
                rows.append(torch.stack([at(theta) for theta in thetas]))
            if progress is not None:
                progress(j + 1, resolution)
    return Grid(xs, ys, torch.stack(rows).cpu())


LOG_DECADES = 2.0  # finite losses spanning more decades than this are coloured by their logarithm
FLOOR = 1e-4  # the log scale starts this fraction of the range above the lowest loss


def display_values(values: Any) -> tuple[Any, bool]:
    """What a heat map colours, and whether it is log-scaled: log10(loss − min + FLOOR·range) when the finite
    losses span more than LOG_DECADES decades (Rosenbrock's do), else the loss itself. Non-finite
    losses take the largest finite value."""
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return torch.zeros_like(values), False
    low, high = float(finite.min()), float(finite.max())
    shown = torch.where(torch.isfinite(values), values, torch.full_like(values, high))
    if not high > low or (low > 0 and high / low <= 10**LOG_DECADES):
        return shown, False
    return torch.log10(shown - low + (high - low) * FLOOR), True


def contour_levels(shown: Any, count: int = 10) -> list[float]:
    """`count` evenly spaced levels strictly between the lowest and highest value shown."""
    low, high = float(shown.min()), float(shown.max())
    if not high > low:
        return []
    return [low + (high - low) * k / (count + 1) for k in range(1, count + 1)]
