"""Element-wise ops: one small declaration per type.

exp, add, sub, mul and div declare their local derivative rules because the formula is the lesson;
the rest let torch.func differentiate their code. The registry contract tests check both.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from typing import Any

from graphcore._torch import torch
from graphcore.exchange.torch_ops import AB, X, function_and_method
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    broadcast,
    expect,
    register,
    same_shape,
)

POW = {"input": "a", "self": "a", "exponent": "b"}  # torch.pow(input, exponent) -> ports a and b
POW_SCALAR = {"b": "exponent"}  # x ** 2: the number is the exponent param, not a Constant feeding b


def unbroadcast(grad: Any, like: Any) -> Any:
    """Sum a gradient back to the shape of the input it belongs to (undoing broadcasting)."""
    while grad.dim() > like.dim():
        grad = grad.sum(0)
    for dim, size in enumerate(like.shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


def unary_shapes(r: random.Random) -> list[tuple[Shape, ...]]:
    """Input shapes for a shape-preserving op: a batch, a 3-D tensor and a scalar."""
    return [(("N", r.randint(1, 4)),), ((2, r.randint(1, 3), r.randint(1, 3)),), ((),)]


def binary_shapes(r: random.Random) -> list[tuple[Shape, ...]]:
    """Pairs of shapes that broadcast: equal, a row against a batch, a scalar against a batch, 3-D."""
    k = r.randint(1, 4)
    return [(("N", k), ("N", k)), (("N", k), (k,)), ((), ("N", k)), ((2, 1, k), (3, k))]


def unary_examples(
    values: str = "real", params: Callable[[random.Random], dict[str, Any]] = lambda r: {}
) -> Callable[[random.Random], list[Example]]:
    return lambda r: [Example(params(r), shapes, (values,)) for shapes in unary_shapes(r)]


def unary(
    type_: str,
    code: str | Callable[..., str],
    formula: str,
    doc: str,
    *,
    params: tuple[Param, ...] = (),
    category: str = "elementwise",
    shape: Callable[..., Shape] = same_shape,
    values: str = "real",
    example: Callable[[random.Random], dict[str, Any]] = lambda r: {},
    **rules: Any,
) -> NodeSpec:
    """A one-input op; `values` and `example` say how its examples draw x and params."""
    return register(
        NodeSpec(
            type_,
            category,
            ("x",),
            ("out",),
            shape,
            code=code,
            doc=doc,
            formula=formula,
            params=params,
            examples=unary_examples(values, example),
            **rules,
        )
    )


def binary(
    type_: str,
    code: str,
    formula: str,
    doc: str,
    vjp: Callable[..., tuple[Any, ...]] | None = None,
    jvp: Callable[..., Any] | None = None,
    values: tuple[str, str] = ("real", "real"),
    **rules: Any,
) -> NodeSpec:
    return register(
        NodeSpec(
            type_,
            "elementwise",
            ("a", "b"),
            ("out",),
            broadcast,
            code=code,
            doc=doc,
            formula=formula,
            vjp=vjp,
            jvp=jvp,
            examples=lambda r: [Example({}, shapes, values) for shapes in binary_shapes(r)],
            **rules,
        )
    )


binary(
    "add",
    "{a} + {b}",
    "a + b,  ∂/∂a = 1,  ∂/∂b = 1",
    "Sum; the upstream gradient is copied to both inputs.",
    vjp=lambda g, a, b: (unbroadcast(g, a), unbroadcast(g, b)),
    jvp=lambda t, a, b: t[0] + t[1],
    aliases=("plus", "+", "sum of two"),
    torch_rules=(
        TorchRule(function="operator.add", signature="input, other", rename=AB),
        TorchRule(function="torch.add", signature="input, other, alpha=1", rename=AB),
        TorchRule(method="add", signature="self, other", rename=AB),
    ),
)
binary(
    "sub",
    "{a} - {b}",
    "a − b,  ∂/∂a = 1,  ∂/∂b = −1",
    "Difference; the gradient reaches b with its sign flipped.",
    vjp=lambda g, a, b: (unbroadcast(g, a), unbroadcast(-g, b)),
    jvp=lambda t, a, b: t[0] - t[1],
    aliases=("minus", "subtract", "-"),
    torch_rules=(
        TorchRule(function="operator.sub", signature="input, other", rename=AB),
        TorchRule(function="torch.sub", signature="input, other, alpha=1", rename=AB),
        TorchRule(method="sub", signature="self, other", rename=AB),
    ),
)
binary(
    "mul",
    "{a} * {b}",
    "a · b,  ∂/∂a = b,  ∂/∂b = a",
    "Product; each input's gradient is the upstream gradient scaled by the other input.",
    vjp=lambda g, a, b: (unbroadcast(g * b, a), unbroadcast(g * a, b)),
    jvp=lambda t, a, b: t[0] * b + a * t[1],
    aliases=("times", "multiply", "product", "*"),
    torch_rules=(
        TorchRule(function="operator.mul", signature="input, other", rename=AB),
        *function_and_method("mul", "other", AB),
    ),
)
binary(
    "div",
    "{a} / {b}",
    "a / b,  ∂/∂a = 1/b,  ∂/∂b = −a/b²",
    "Quotient.",
    vjp=lambda g, a, b: (unbroadcast(g / b, a), unbroadcast(-g * a / (b * b), b)),
    jvp=lambda t, a, b: t[0] / b - a * t[1] / (b * b),
    values=("real", "nonzero"),
    aliases=("divide", "quotient", "/"),
    torch_rules=(
        TorchRule(function="operator.truediv", signature="input, other", rename=AB),
        TorchRule(function="torch.div", signature="input, other, rounding_mode=None", rename=AB),
        TorchRule(method="div", signature="self, other", rename=AB),
    ),
)
binary(
    "maximum",
    "torch.maximum({a}, {b})",
    "max(a, b),  the gradient goes to the larger input",
    "Element-wise larger of a and b (broadcasting).",
    values=("spread", "spread2"),
    aliases=("larger",),
    torch_rules=function_and_method("maximum", "other", AB),
)
binary(
    "minimum",
    "torch.minimum({a}, {b})",
    "min(a, b),  the gradient goes to the smaller input",
    "Element-wise smaller of a and b (broadcasting).",
    values=("spread", "spread2"),
    aliases=("smaller",),
    torch_rules=function_and_method("minimum", "other", AB),
)

unary(
    "neg",
    "-{x}",
    "−x,  ∂/∂x = −1",
    "Negation.",
    aliases=("negate", "minus"),
    torch_rules=(
        TorchRule(function="operator.neg", signature="input", rename=X),
        *function_and_method("neg", "", X),
    ),
)


def pow_shape(a: Shape, b: Shape | None, *, exponent: float) -> Shape:
    return a if b is None else broadcast(a, b)


def pow_code(params: Mapping[str, Any], connected: Collection[str]) -> str:
    """`a**b` when b is wired, else `a**2.0`: a power as a user writes it, spaced as ruff formats
    simple operands (ports are names, the exponent a literal)."""
    return "{a}**{b}" if "b" in connected else "{a}**{exponent!r}"


def pow_examples(r: random.Random) -> list[Example]:
    """Fixed exponents (any base for integer ones), then tensor exponents over positive bases: ∂/∂b
    is aᵇ·ln a, which is NaN for a < 0."""
    fixed = [
        Example({"exponent": r.choice([2.0, 3.0, 0.5, -1.0])}, (*s, None), ("positive",))
        for s in unary_shapes(r)
    ]
    fixed.append(Example({"exponent": r.choice([2.0, 3.0])}, (("N", r.randint(1, 4)), None)))
    tensors = [Example({}, shapes, ("positive", "real")) for shapes in binary_shapes(r)]
    return [*fixed, *tensors]


register(
    NodeSpec(
        "pow",
        "elementwise",
        ("a", "b"),
        ("out",),
        pow_shape,
        code=pow_code,
        optional_inputs=("b",),
        doc=(
            "Power a to the b, broadcasting like torch.pow; with b unconnected the exponent param is b. "
            "Like torch, ∂/∂b = aᵇ·ln a is NaN where a < 0 (and 0 where a = 0, b ≥ 0): wire b only "
            "where a stays positive, and use the exponent param for a fixed power such as a square."
        ),
        formula="aᵇ,  ∂/∂a = b·aᵇ⁻¹,  ∂/∂b = aᵇ·ln a",
        params=(Param("exponent", "float", 2.0, "The exponent b when input b is not connected."),),
        examples=pow_examples,
        aliases=("power", "**", "exponent"),
        torch_rules=(
            TorchRule(function="operator.pow", signature="input, exponent", rename=POW, scalars=POW_SCALAR),
            TorchRule(function="torch.pow", signature="input, exponent", rename=POW, scalars=POW_SCALAR),
            TorchRule(method="pow", signature="self, exponent", rename=POW, scalars=POW_SCALAR),
        ),
    )
)
unary(
    "square",
    "torch.square({x})",
    "x²,  ∂/∂x = 2x",
    "Square of each element.",
    aliases=("squared", "x²"),
    torch_rules=function_and_method("square", "", X),
)
unary(
    "sqrt",
    "torch.sqrt({x})",
    "√x,  ∂/∂x = 1/(2√x)",
    "Square root (inputs must be non-negative).",
    values="positive",
    aliases=("root", "√"),
    torch_rules=function_and_method("sqrt", "", X),
)
unary(
    "exp",
    "torch.exp({x})",
    "eˣ,  ∂/∂x = eˣ",
    "Exponential.",
    vjp=lambda g, x: (g * torch.exp(x),),
    jvp=lambda t, x: t[0] * torch.exp(x),
    torch_rules=function_and_method("exp", "", X),
)
unary(
    "log",
    "torch.log({x})",
    "ln x,  ∂/∂x = 1/x",
    "Natural logarithm (inputs must be positive).",
    values="positive",
    aliases=("ln", "logarithm"),
    torch_rules=function_and_method("log", "", X),
)
unary(
    "abs",
    "torch.abs({x})",
    "|x|,  ∂/∂x = sign(x)",
    "Absolute value (not differentiable at 0).",
    values="nonzero",
    aliases=("absolute", "magnitude"),
    torch_rules=function_and_method("abs", "", X),
)


def clamp_shape(x: Shape, *, min: float | None, max: float | None) -> Shape:
    expect(min is not None or max is not None, "clamp needs min, max or both")
    expect(min is None or max is None or min <= max, f"clamp min={min} is above max={max}")
    return x


unary(
    "clamp",
    lambda p: (
        "torch.clamp({x}" + "".join(f", {k}={{{k}!r}}" for k in ("min", "max") if p[k] is not None) + ")"
    ),
    "min(max(x, a), b),  ∂/∂x = 1 inside [a, b], 0 outside",
    "Limits each element to [min, max]; the gradient is zero where it clips.",
    params=(
        Param("min", "float", -1.0, "Lower bound a; null for none.", optional=True),
        Param("max", "float", 1.0, "Upper bound b; null for none.", optional=True),
    ),
    shape=clamp_shape,
    values="spread",
    example=lambda r: r.choice(
        [{"min": -0.5, "max": 0.5}, {"min": 0.0, "max": None}, {"min": None, "max": 0.3}]
    ),
    aliases=("clip",),
    torch_rules=(
        TorchRule(function="torch.clamp", signature="input, min=None, max=None", rename=X),
        TorchRule(function="torch.clip", signature="input, min=None, max=None", rename=X),
        TorchRule(method="clamp", signature="self, min=None, max=None", rename=X),
        TorchRule(method="clip", signature="self, min=None, max=None", rename=X),
    ),
)
