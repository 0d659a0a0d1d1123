"""Layers: nodes that own an nn.Module and its weights."""

from __future__ import annotations

from graphcore.registry import NodeSpec, Param, Shape, expect, register


def linear_shape(x: Shape, *, in_features: int, out_features: int, bias: bool = True) -> Shape:
    got = x[-1] if x else None
    expect(got == in_features or isinstance(got, str),
           f"Linear in_features={in_features} but x has {got if x else 'no'} features")
    return (*x[:-1], out_features)


register(NodeSpec(
    "Linear", "layers", ("x",), ("out",), linear_shape, kind="layer",
    init="nn.Linear({in_features!r}, {out_features!r}, bias={bias!r}, dtype=dtype)",
    code="{module}({x})",
    doc="Affine map of the last dimension: a fully connected layer.",
    formula="y = x Wᵀ + b,  ∂L/∂x = G W,  ∂L/∂W = Gᵀ x,  ∂L/∂b = Σ G",
    params=(Param("in_features", "int", 1, "Size of each input sample.", min=1),
            Param("out_features", "int", 1, "Size of each output sample.", min=1),
            Param("bias", "bool", True, "Learn an additive bias b.")),
    aliases=("dense", "fully connected", "fc", "affine"),
))
