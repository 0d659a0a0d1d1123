"""Activations: the non-linearities between layers, element-wise except Softmax and LogSoftmax.

sigmoid, tanh and relu declare their local derivative rules because the formula is the lesson;
the others let torch.func differentiate their code. Names follow torch: the functions sigmoid, tanh,
relu in lower case, the rest as their nn classes (the generated code calls torch.nn.functional).
"""

from __future__ import annotations

from graphcore._torch import torch
from graphcore.registry import Param, Shape, call_template, expect, show
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
)
unary(
    "tanh",
    "torch.tanh({x})",
    "tanh(z),  ∂/∂z = 1 − tanh²(z)",
    "Hyperbolic tangent: squashes to (−1, 1), centred at 0.",
    category="activations",
    vjp=lambda g, x: (g * (1 - torch.tanh(x) ** 2),),
    jvp=lambda t, x: t[0] * (1 - torch.tanh(x) ** 2),
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
)
unary(
    "SELU",
    "F.selu({x})",
    "λ·ELU_α(z), λ ≈ 1.0507, α ≈ 1.6733,  ∂/∂z = λ if z > 0 else λαeᶻ",
    "Scaled ELU whose constants keep activations near zero mean and unit variance (self-normalising).",
    category="activations",
    values="nonzero",
    aliases=("scaled elu",),
)
unary(
    "SiLU",
    "F.silu({x})",
    "z·σ(z),  ∂/∂z = σ(z)(1 + z(1 − σ(z)))",
    "Sigmoid-weighted linear unit, also called Swish.",
    category="activations",
    aliases=("swish", "silu"),
)
unary(
    "Mish",
    "F.mish({x})",
    "z·tanh(softplus(z)),  ∂/∂z = tanh(sp) + z·σ(z)(1 − tanh²(sp)), sp = softplus(z)",
    "Smooth, non-monotonic activation close to Swish.",
    category="activations",
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
)

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
)
