"""Activations: the non-linearities between layers, element-wise except Softmax and LogSoftmax.

sigmoid, tanh and relu declare their local derivative rules because the formula is the lesson;
the others let torch.func differentiate their code. Names follow torch: the functions sigmoid, tanh,
relu in lower case, the rest as their nn classes (the generated code calls torch.nn.functional).
"""

from __future__ import annotations

from typing import Any

from graphcore._torch import torch
from graphcore.exchange.torch_ops import X, attributes, function_and_method, no_params
from graphcore.registry import Param, Shape, TorchRule, call_template, expect, show
from nodes.elementwise import unary


def dim_shape(x: Shape, *, dim: int) -> Shape:
    rank = max(len(x), 1)
    expect(-rank <= dim < rank, f"dim {dim} is out of range for x of shape {show(x)}")
    return x


unary(
    "sigmoid",
    "torch.sigmoid({x})",
    "σ(z) = 1/(1+e^(−z)),  ∂σ/∂z = σ(z)(1−σ(z))",
    "Logistic function: squashes to (0, 1).",
    category="activations",
    vjp=lambda g, x: (g * torch.sigmoid(x) * (1 - torch.sigmoid(x)),),
    jvp=lambda t, x: t[0] * torch.sigmoid(x) * (1 - torch.sigmoid(x)),
    aliases=("logistic", "σ"),
    torch_rules=(
        *function_and_method("sigmoid", "", X),
        TorchRule(function="torch.nn.functional.sigmoid", signature="input", rename=X),
        TorchRule(module="torch.nn.Sigmoid", read=no_params),
    ),
)
unary(
    "tanh",
    "torch.tanh({x})",
    "tanh(z),  ∂/∂z = 1 − tanh²(z)",
    "Hyperbolic tangent: squashes to (−1, 1), centred at 0.",
    category="activations",
    vjp=lambda g, x: (g * (1 - torch.tanh(x) ** 2),),
    jvp=lambda t, x: t[0] * (1 - torch.tanh(x) ** 2),
    torch_rules=(
        *function_and_method("tanh", "", X),
        TorchRule(function="torch.nn.functional.tanh", signature="input", rename=X),
        TorchRule(module="torch.nn.Tanh", read=no_params),
    ),
)
unary(
    "relu",
    "torch.relu({x})",
    "max(0, z),  ∂/∂z = 1 if z > 0 else 0",
    "Rectified linear unit: zero for negatives, identity otherwise.",
    category="activations",
    vjp=lambda g, x: (g * (x > 0).to(g.dtype),),
    jvp=lambda t, x: t[0] * (x > 0).to(t[0].dtype),
    values="nonzero",
    aliases=("rectifier", "rectified linear", "ReLU"),
    torch_rules=(
        *function_and_method("relu", "", X),
        TorchRule(function="torch.nn.functional.relu", signature="input, inplace=False", rename=X),
        TorchRule(module="torch.nn.ReLU", read=no_params),
    ),
)

SLOPE = Param("negative_slope", "float", 0.01, "Slope α for negative inputs.")
unary(
    "LeakyReLU",
    call_template("F.leaky_relu", (SLOPE,), ["x"], ["negative_slope"]),
    "z if z > 0 else αz,  ∂/∂z = 1 if z > 0 else α",
    "ReLU with a small slope for negatives, so no unit is ever completely dead.",
    params=(SLOPE,),
    category="activations",
    values="nonzero",
    example=lambda r: {"negative_slope": r.choice([0.01, 0.2])},
    aliases=("leaky relu",),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.leaky_relu",
            signature="input, negative_slope=0.01, inplace=False",
            rename=X,
        ),
        TorchRule(module="torch.nn.LeakyReLU", read=attributes("negative_slope")),
    ),
)

ALPHA = Param("alpha", "float", 1.0, "Scale α of the negative part.", min=0.0)
unary(
    "ELU",
    call_template("F.elu", (ALPHA,), ["x"], ["alpha"]),
    "z if z > 0 else α(eᶻ − 1),  ∂/∂z = 1 if z > 0 else αeᶻ",
    "Exponential linear unit: smooth for negatives, saturating at −α.",
    params=(ALPHA,),
    category="activations",
    values="nonzero",
    example=lambda r: {"alpha": r.choice([1.0, 0.5])},
    aliases=("exponential linear",),
    torch_rules=(
        TorchRule(function="torch.nn.functional.elu", signature="input, alpha=1.0, inplace=False", rename=X),
        TorchRule(module="torch.nn.ELU", read=attributes("alpha")),
    ),
)
unary(
    "SELU",
    "F.selu({x})",
    "λ·ELU_α(z), λ ≈ 1.0507, α ≈ 1.6733,  ∂/∂z = λ if z > 0 else λαeᶻ",
    "Scaled ELU whose constants keep activations near zero mean and unit variance (self-normalising).",
    category="activations",
    values="nonzero",
    aliases=("scaled elu",),
    torch_rules=(
        TorchRule(function="torch.nn.functional.selu", signature="input, inplace=False", rename=X),
        TorchRule(module="torch.nn.SELU", read=no_params),
    ),
)
unary(
    "SiLU",
    "F.silu({x})",
    "z·σ(z),  ∂/∂z = σ(z)(1 + z(1 − σ(z)))",
    "Sigmoid-weighted linear unit, also called Swish.",
    category="activations",
    aliases=("swish", "silu"),
    torch_rules=(
        TorchRule(function="torch.nn.functional.silu", signature="input, inplace=False", rename=X),
        TorchRule(module="torch.nn.SiLU", read=no_params),
    ),
)
unary(
    "Mish",
    "F.mish({x})",
    "z·tanh(softplus(z)),  ∂/∂z = tanh(sp) + z·σ(z)(1 − tanh²(sp)), sp = softplus(z)",
    "Smooth, non-monotonic activation close to Swish.",
    category="activations",
    torch_rules=(
        TorchRule(function="torch.nn.functional.mish", signature="input, inplace=False", rename=X),
        TorchRule(module="torch.nn.Mish", read=no_params),
    ),
)

APPROXIMATE = Param(
    "approximate", "str", "none", "'tanh' uses the tanh approximation of Φ.", choices=("none", "tanh")
)
unary(
    "GELU",
    call_template("F.gelu", (APPROXIMATE,), ["x"], ["approximate"]),
    "z·Φ(z),  ∂/∂z = Φ(z) + z·φ(z)  (Φ, φ: the standard normal CDF and density)",
    "Gaussian error linear unit: the transformer's activation.",
    params=(APPROXIMATE,),
    category="activations",
    example=lambda r: {"approximate": r.choice(["none", "tanh"])},
    torch_rules=(
        TorchRule(function="torch.nn.functional.gelu", signature="input, approximate='none'", rename=X),
        TorchRule(module="torch.nn.GELU", read=attributes("approximate")),
    ),
)

SOFTPLUS = (
    Param("beta", "float", 1.0, "Sharpness β.", min=1e-3),
    Param("threshold", "float", 20.0, "Above βz > threshold the function is linear, for stability."),
)
unary(
    "Softplus",
    call_template("F.softplus", SOFTPLUS, ["x"], ["beta", "threshold"]),
    "(1/β)·ln(1 + e^(βz)),  ∂/∂z = σ(βz)",
    "A smooth ReLU; always positive (e.g. for a standard deviation).",
    params=SOFTPLUS,
    category="activations",
    example=lambda r: {"beta": r.choice([1.0, 2.0])},
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.softplus", signature="input, beta=1.0, threshold=20.0", rename=X
        ),
        TorchRule(module="torch.nn.Softplus", read=attributes("beta", "threshold")),
    ),
)


def dim_module(module: Any) -> dict[str, Any] | None:
    """nn.Softmax(dim=None) picks a dim from the input's rank, which the node cannot say."""
    return None if module.dim is None else {"dim": module.dim}


DIM = Param("dim", "int", -1, "The dimension that sums to one (the classes).")
unary(
    "Softmax",
    "F.softmax({x}, dim={dim!r})",
    "sᵢ = e^(zᵢ) / Σⱼ e^(zⱼ),  ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ)",
    "Turns scores into probabilities along dim.",
    params=(DIM,),
    shape=dim_shape,
    category="activations",
    example=lambda r: {"dim": r.choice([-1, 0])},
    aliases=("softmax", "normalised exponential"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.softmax",
            signature="input, dim=None, _stacklevel=3, dtype=None",
            rename=X,
        ),
        *function_and_method("softmax", "dim, dtype=None", X),
        TorchRule(module="torch.nn.Softmax", read=dim_module),
    ),
)
unary(
    "LogSoftmax",
    "F.log_softmax({x}, dim={dim!r})",
    "zᵢ − ln Σⱼ e^(zⱼ),  ∂/∂zⱼ = δᵢⱼ − sⱼ",
    "Logarithm of Softmax, computed stably; pairs with NLLLoss.",
    params=(DIM,),
    shape=dim_shape,
    category="activations",
    example=lambda r: {"dim": r.choice([-1, 0])},
    aliases=("log softmax",),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.log_softmax",
            signature="input, dim=None, _stacklevel=3, dtype=None",
            rename=X,
        ),
        *function_and_method("log_softmax", "dim, dtype=None", X),
        TorchRule(module="torch.nn.LogSoftmax", read=dim_module),
    ),
)


def hardtanh_shape(x: Shape, *, min_val: float, max_val: float) -> Shape:
    expect(min_val < max_val, f"Hardtanh min_val={min_val} must be below max_val={max_val}")
    return x


HARDTANH = (
    Param("min_val", "float", -1.0, "Lower limit a."),
    Param("max_val", "float", 1.0, "Upper limit b."),
)
unary(
    "Hardtanh",
    call_template("F.hardtanh", HARDTANH, ["x"], ["min_val", "max_val"]),
    "min(max(z, a), b),  ∂/∂z = 1 if a < z < b else 0",
    "Piecewise-linear tanh: clips to [min_val, max_val].",
    params=HARDTANH,
    shape=hardtanh_shape,
    category="activations",
    values="spread",
    example=lambda r: r.choice([{}, {"min_val": -0.5, "max_val": 2.0}]),
    aliases=("hard tanh", "clip"),
    torch_rules=(
        TorchRule(
            function="torch.nn.functional.hardtanh",
            signature="input, min_val=-1.0, max_val=1.0, inplace=False",
            rename=X,
        ),
        TorchRule(module="torch.nn.Hardtanh", read=attributes("min_val", "max_val")),
    ),
)
