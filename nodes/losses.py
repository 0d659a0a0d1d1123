"""Losses: `input` and `target` in, a scalar `out` (unless reduction is 'none')."""

from __future__ import annotations

from graphcore.registry import NodeSpec, Param, Shape, expect, register, show


def pointwise_loss_shape(input: Shape, target: Shape, *, reduction: str = "mean") -> Shape:
    expect(len(input) == len(target) and all(
        i == t or isinstance(i, str) or isinstance(t, str) for i, t in zip(input, target)),
        f"input {show(input)} and target {show(target)} must have the same shape")
    return input if reduction == "none" else ()


REDUCTION = Param("reduction", "str", "mean", "How per-element losses are combined.",
                  choices=("mean", "sum", "none"))

register(NodeSpec(
    "MSELoss", "losses", ("input", "target"), ("out",), pointwise_loss_shape,
    code="F.mse_loss({input}, {target}, reduction={reduction!r})",
    doc="Mean squared error between prediction and target.",
    formula="L = (1/n) Σᵢ (xᵢ − yᵢ)²,  ∂L/∂xᵢ = 2(xᵢ − yᵢ)/n",
    params=(REDUCTION,),
    aliases=("squared error", "l2 loss", "mse"),
))
