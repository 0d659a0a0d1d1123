"""Saliency: the gradient of one unit with respect to one sample's input, by one reverse sweep.

Also how an input is looked at as an image (`image_view`), which the saliency map, gradient ascent's
total-variation term and the app's pictures share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from graphcore._torch import torch
from graphcore.input_grads.model import InputModel
from graphcore.input_grads.unit import InputGradError, Unit

MIN_SQUARE = 16  # a flat input of n >= 16 features, n a square, is shown as a √n × √n image


@dataclass
class Saliency:
    unit: Unit
    input: str
    value: float  # the unit at the sample
    x: Any  # the sample's input, without the batch dim (on the CPU, as every result here)
    gradient: Any  # d unit / d input, the shape of x
    weights: str  # which weights: trained, saved or untrained
    source: str  # which sample


def image_view(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The [C, H, W] an input of this per-sample shape is looked at as, or None for a vector.

    [C, H, W] and [H, W] are images already; a flat vector of n >= 16 features with n a square
    (scikit-learn's 64 digit pixels) is read as one √n × √n channel."""
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 1 and shape[0] >= MIN_SQUARE and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return (1, side, side)
    return None


def unit_gradient(model: InputModel, unit: Unit, x: Any) -> tuple[Any, Any]:
    """(the unit's value, d unit / d x) at input `x` (batch dim included)."""
    x = x.detach().clone().requires_grad_(True)
    value = unit.select(model.value(x, unit.value))
    (gradient,) = torch.autograd.grad(value, x, allow_unused=True)
    if gradient is None:
        raise InputGradError(f"{unit} does not depend on the Input {model.input!r}: its gradient is zero")
    return value.detach(), gradient


def check_unit(model: InputModel, unit: Unit) -> None:
    """Refuse a unit whose index the value does not have, or whose value holds integers."""
    with torch.no_grad():
        value = model.value(model.x, unit.value)
    if not value.is_floating_point():
        raise InputGradError(f"{unit.value} holds integers, which have no gradient: pick a float value")
    unit.check(tuple(value.shape))


def saliency(model: InputModel, unit: Unit) -> Saliency:
    """d unit / d input at the model's sample (the input's shape, batch dim dropped)."""
    check_unit(model, unit)
    value, gradient = unit_gradient(model, unit, model.x)
    return Saliency(
        unit,
        model.input,
        float(value),
        model.per_sample(model.x).detach().cpu(),
        model.per_sample(gradient).cpu(),
        model.weights,
        model.source,
    )


def as_picture(tensor: Any, signed: bool = False) -> tuple[Any, str]:
    """One sample's input (or a gradient of it) as a 2-D image [H, W] or, for a vector, 1-D bars,
    with a note saying how it was formed: several channels are averaged (`signed`: summed, so a
    gradient keeps its total effect), a flat square vector is reshaped."""
    array = tensor.detach().cpu().double()
    view = image_view(tuple(array.shape))
    if view is None:
        return array.reshape(-1).numpy(), ""
    image = array.reshape(view)
    notes = []
    if len(array.shape) == 1:
        notes.append(f"{array.shape[0]} features shown as {view[1]}×{view[2]}")
    if view[0] > 1:
        notes.append(f"{'sum' if signed else 'mean'} of {view[0]} channels")
        image = image.sum(0) if signed else image.mean(0)
    else:
        image = image[0]
    return image.numpy(), ", ".join(notes)
