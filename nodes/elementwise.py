"""Element-wise ops: one small declaration per type.

sigmoid, tanh, exp, add, sub, mul and div declare their local derivative rules because the formula is
the lesson; the rest let torch.func differentiate their code. The registry contract tests check both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphcore._torch import torch
from graphcore.registry import NodeSpec, Param, broadcast, register, same_shape


def unbroadcast(grad: Any, like: Any) -> Any:
    """Sum a gradient back to the shape of the input it belongs to (undoing broadcasting)."""
    while grad.dim() > like.dim():
        grad = grad.sum(0)
    for dim, size in enumerate(like.shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


def unary(type_: str, code: str, formula: str, doc: str, *, params: tuple[Param, ...] = (),
          category: str = "elementwise", **rules: Any) -> NodeSpec:
    return register(NodeSpec(type_, category, ("x",), ("out",), same_shape, code=code, doc=doc,
                             formula=formula, params=params, **rules))


def binary(type_: str, code: str, formula: str, doc: str,
           vjp: Callable[..., tuple[Any, ...]] | None = None, jvp: Callable[..., Any] | None = None,
           **rules: Any) -> NodeSpec:
    return register(NodeSpec(type_, "elementwise", ("a", "b"), ("out",), broadcast, code=code, doc=doc,
                             formula=formula, vjp=vjp, jvp=jvp, **rules))


binary("add", "{a} + {b}", "a + b,  ∂/∂a = 1,  ∂/∂b = 1",
       "Sum; the upstream gradient is copied to both inputs.",
       vjp=lambda g, a, b: (unbroadcast(g, a), unbroadcast(g, b)),
       jvp=lambda t, a, b: t[0] + t[1], aliases=("plus", "+", "sum of two"))
binary("sub", "{a} - {b}", "a − b,  ∂/∂a = 1,  ∂/∂b = −1",
       "Difference; the gradient reaches b with its sign flipped.",
       vjp=lambda g, a, b: (unbroadcast(g, a), unbroadcast(-g, b)),
       jvp=lambda t, a, b: t[0] - t[1], aliases=("minus", "subtract", "-"))
binary("mul", "{a} * {b}", "a · b,  ∂/∂a = b,  ∂/∂b = a",
       "Product; each input's gradient is the upstream gradient scaled by the other input.",
       vjp=lambda g, a, b: (unbroadcast(g * b, a), unbroadcast(g * a, b)),
       jvp=lambda t, a, b: t[0] * b + a * t[1], aliases=("times", "multiply", "product", "*"))
binary("div", "{a} / {b}", "a / b,  ∂/∂a = 1/b,  ∂/∂b = −a/b²",
       "Quotient.",
       vjp=lambda g, a, b: (unbroadcast(g / b, a), unbroadcast(-g * a / (b * b), b)),
       jvp=lambda t, a, b: t[0] / b - a * t[1] / (b * b), aliases=("divide", "quotient", "/"))

unary("neg", "-{x}", "−x,  ∂/∂x = −1", "Negation.", aliases=("negate", "minus"))
unary("pow", "torch.pow({x}, {exponent!r})", "xᵖ,  ∂/∂x = p·xᵖ⁻¹",
      "Power with a fixed exponent (2 squares).",
      params=(Param("exponent", "float", 2.0, "The exponent p."),), aliases=("power", "square", "**"))
unary("exp", "torch.exp({x})", "eˣ,  ∂/∂x = eˣ", "Exponential.",
      vjp=lambda g, x: (g * torch.exp(x),), jvp=lambda t, x: t[0] * torch.exp(x))
unary("log", "torch.log({x})", "ln x,  ∂/∂x = 1/x", "Natural logarithm (inputs must be positive).",
      aliases=("ln", "logarithm"))
unary("sigmoid", "torch.sigmoid({x})", "σ(z) = 1/(1+e^(−z)),  ∂σ/∂z = σ(z)(1−σ(z))",
      "Logistic function: squashes to (0, 1).", category="activations",
      vjp=lambda g, x: (g * torch.sigmoid(x) * (1 - torch.sigmoid(x)),),
      jvp=lambda t, x: t[0] * torch.sigmoid(x) * (1 - torch.sigmoid(x)), aliases=("logistic", "σ"))
unary("tanh", "torch.tanh({x})", "tanh(z),  ∂/∂z = 1 − tanh²(z)",
      "Hyperbolic tangent: squashes to (−1, 1), centred at 0.", category="activations",
      vjp=lambda g, x: (g * (1 - torch.tanh(x) ** 2),),
      jvp=lambda t, x: t[0] * (1 - torch.tanh(x) ** 2))
unary("relu", "torch.relu({x})", "max(0, z),  ∂/∂z = 1 if z > 0 else 0",
      "Rectified linear unit: zero for negatives, identity otherwise.", category="activations",
      aliases=("rectifier", "rectified linear"))
