"""The plane a landscape lies in: two coordinates that set the graph's weights.

Either two numbers among the weights (graphcore.landscape.coordinates: two scalar Parameters, or
elements such as fc1.weight[0, 1]; the coordinates are their values), or two random directions
d1, d2 through the current weights w0 (the coordinates are α, β in w0 + α·d1 + β·d2). The directions
are filter-normalised as in Li et al., "Visualizing the Loss Landscape of Neural Nets" (2018): each
filter (row along dim 0) of a weight of two or more dimensions is scaled to the norm of the same
filter of w0, and the weights of fewer dimensions (biases, scalar Parameters) are scaled together
as one filter, so a step of 1 moves every filter as far as it is long. Optimizers move the two
coordinates, so their paths lie on the plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from graphcore._torch import torch
from graphcore.landscape.coordinates import Coordinate, coordinate
from graphcore.landscape.loss import LandscapeError, LossFunction

TINY = 1e-300  # a zero-length draw (it has probability 0) scaled without dividing by zero


@dataclass
class Plane:
    """weights(θ) for θ = (first, second); `start` is where the current weights are."""

    axes: tuple[str, str]  # what each coordinate is: a parameter's node id, or "α" and "β"
    start: tuple[float, float]
    base: dict[str, Any]  # parameter name -> its current value (w0)
    directions: tuple[dict[str, Any], dict[str, Any]] | None = None  # None: the axes are parameters
    coordinates: tuple[Coordinate, ...] = ()  # the two numbers the axes set (parameter mode)

    @cached_property
    def masks(self) -> list[Any]:
        """Per coordinate, True at its element of its weight."""
        masks = []
        for place in self.coordinates:
            mask = torch.zeros_like(self.base[place.name], dtype=torch.bool)
            mask[place.index] = True
            masks.append(mask)
        return masks

    @property
    def random(self) -> bool:
        return self.directions is not None

    def weights(self, theta: Any) -> dict[str, Any]:
        """The weights the module computes with at θ (a tensor of 2 numbers, batched under vmap)."""
        if self.directions is None:
            weights: dict[str, Any] = {}
            for i, (place, where) in enumerate(zip(self.coordinates, self.masks, strict=True)):
                weights[place.name] = torch.where(
                    where, theta[i], weights.get(place.name, self.base[place.name])
                )
            return weights
        first, second = self.directions
        return {name: w + theta[0] * first[name] + theta[1] * second[name] for name, w in self.base.items()}


def parameter_plane(loss: LossFunction, first: str, second: str) -> Plane:
    """The plane of two numbers among the weights (graphcore.landscape.coordinates), from their values."""
    places = (coordinate(loss, first), coordinate(loss, second))
    if (places[0].name, places[0].index) == (places[1].name, places[1].index):
        same = (
            f"got {first[:40]!r} twice"
            if first == second
            else f"{first[:40]!r} and {second[:40]!r} name the same number"
        )
        raise LandscapeError(f"the two parameters must differ, {same}")
    start = (
        float(loss.weights[places[0].name][places[0].index]),
        float(loss.weights[places[1].name][places[1].index]),
    )
    return Plane((first, second), start, dict(loss.weights), coordinates=places)


def filter_normalised(base: dict[str, Any], generator: Any) -> dict[str, Any]:
    """A random direction (one Gaussian draw per weight) with each filter scaled to w0's norm; the
    weights of fewer than two dimensions (biases, scalar Parameters) together count as one filter.
    Drawn in float64 on the CPU whatever the weights are, so every dtype and device gets one plane."""
    drawn = {
        name: torch.randn(w.shape, generator=generator, dtype=torch.float64).to(w) for name, w in base.items()
    }
    direction = {}
    for name, w in base.items():
        if w.dim() >= 2:
            rows_d, rows_w = drawn[name].reshape(w.shape[0], -1), w.reshape(w.shape[0], -1)
            scale = rows_w.norm(dim=1, keepdim=True) / rows_d.norm(dim=1, keepdim=True).clamp_min(TINY)
            direction[name] = (rows_d * scale).reshape(w.shape)
    small = [name for name, w in base.items() if w.dim() < 2]
    if small:
        norm_w = torch.cat([base[name].reshape(-1) for name in small]).norm()
        norm_d = torch.cat([drawn[name].reshape(-1) for name in small]).norm().clamp_min(TINY)
        direction.update({name: drawn[name] * (norm_w / norm_d) for name in small})
    return {name: direction[name] for name in base}


def random_plane(loss: LossFunction, seed: int = 0) -> Plane:
    """Two filter-normalised random directions through the current weights, drawn from `seed`."""
    base = dict(loss.weights)
    if not base:
        raise LandscapeError("the graph has no parameters to move")
    if all(float(w.abs().max()) == 0 for w in base.values()):
        raise LandscapeError("every weight is zero: filter-normalised directions would be zero too")
    generator = torch.Generator().manual_seed(seed)
    first = filter_normalised(base, generator)
    second = filter_normalised(base, generator)
    return Plane(("α", "β"), (0.0, 0.0), base, (first, second))
