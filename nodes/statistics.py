"""Statistics along dimensions, as normalisation code writes them out by hand: variance, standard
deviation, p-norm scaling, and layer norm as a function.

Real modules call these between layers (`x.var(-1, unbiased=False)`, `F.normalize(x, dim=-1)`,
nanoGPT's `F.layer_norm(x, w.shape, w, b, 1e-5)`), so `graphcore import-torch` maps them to nodes here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from graphcore.exchange.torch_ops import X, function_and_method
from graphcore.registry import Example, NodeSpec, Param, Shape, TorchRule, expect, register, same_dim, show
from nodes.reductions import DIM_PARAMS, reduced_shape
from nodes.tensor_ops import along_dim


def spread_examples(r: Any) -> list[Example]:
    """Reductions over at least two entries, so that the unbiased estimate is defined."""
    return [
        Example({"dim": -1, "unbiased": r.random() < 0.5}, (("N", r.randint(2, 4)),)),
        Example({"dim": [0, 2], "keepdim": True}, ((2, "N", 3),)),
        Example({"unbiased": False}, (("N", 3),)),
    ]


for name, what, formula in (
    ("var", "Variance", "σ² = Σ(xᵢ − μ)² / (n − c),  c = 1 unbiased, else 0;  ∂/∂xᵢ = 2(xᵢ − μ)/(n − c)"),
    (
        "std",
        "Standard deviation",
        "σ = √(Σ(xᵢ − μ)² / (n − c)),  c = 1 unbiased, else 0;  ∂/∂xᵢ = (xᵢ − μ)/((n − c)σ)",
    ),
):
    register(
        NodeSpec(
            name,
            "reductions",
            ("x",),
            ("out",),
            reduced_shape,
            code=f"torch.{name}({{x}}, dim={{dim!r}}, unbiased={{unbiased!r}}, keepdim={{keepdim!r}})",
            doc=f"{what} of elements, over all or some dimensions; unbiased divides by n − 1 (Bessel), "
            "else by n (what LayerNorm uses).",
            formula=formula,
            params=(Param("unbiased", "bool", True, "Divide by n − 1 rather than n."), *DIM_PARAMS),
            examples=spread_examples,
            aliases=("variance",) if name == "var" else ("standard deviation", "σ"),
            torch_rules=function_and_method(name, "dim=None, unbiased=True, keepdim=False", X),
        )
    )


register(
    NodeSpec(
        "normalize",
        "normalization",
        ("x",),
        ("out",),
        along_dim,
        code="F.normalize({x}, p={p!r}, dim={dim!r}, eps={eps!r})",
        doc="x divided by its p-norm along dim (unit vectors for p = 2), as cosine similarity and "
        "contrastive losses use it.",
        formula="y = x / max(‖x‖ₚ, ε)",
        params=(
            Param("p", "float", 2.0, "Which norm.", min=1.0),
            Param("dim", "int", 1, "The dimension normalised."),
            Param("eps", "float", 1e-12, "The smallest norm divided by.", min=0.0),
        ),
        examples=lambda r: [
            Example({"dim": r.choice([1, -1])}, (("N", 3),), ("nonzero",)),
            Example({"p": 1.0, "dim": 0}, ((3, "N"),), ("nonzero",)),
        ],
        aliases=("unit vector", "l2 normalize"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.normalize",
                signature="input, p=2.0, dim=1, eps=1e-12, out=None",
                rename=X,
            ),
        ),
    )
)


LAYER_NORM_PORTS = ("x", "weight", "bias")


def layer_norm_shape(
    x: Shape,
    weight: Shape | None = None,
    bias: Shape | None = None,
    *,
    normalized_shape: int | list[int],
    eps: float,
) -> Shape:
    dims = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    tail = tuple(x[len(x) - len(dims) :]) if len(dims) <= len(x) else ()
    expect(
        len(dims) <= len(x) and all(map(same_dim, tail, dims)),
        f"layer_norm normalized_shape={dims} but x {show(x)} does not end in those sizes",
    )
    for port, given in (("weight", weight), ("bias", bias)):
        expect(
            given is None or (len(given) == len(dims) and all(map(same_dim, given, dims))),
            f"layer_norm {port} must have shape {show(tuple(dims))}, not {show(given or ())}",
        )
    return x


def layer_norm_code(params: Mapping[str, Any], connected: Collection[str]) -> str:
    dims = (
        "({normalized_shape!r},)" if isinstance(params["normalized_shape"], int) else "{normalized_shape!r}"
    )
    weight = "{weight}" if "weight" in connected else "None"
    bias = ", {bias}" if "bias" in connected else ""
    return "F.layer_norm({x}, " + dims + ", " + weight + bias + ", eps={eps!r})"


register(
    NodeSpec(
        "layer_norm",
        "normalization",
        LAYER_NORM_PORTS,
        ("out",),
        layer_norm_shape,
        code=layer_norm_code,
        optional_inputs=LAYER_NORM_PORTS[1:],
        doc="Layer normalisation as a function: the scale and shift are inputs (Parameters, say) rather than "
        "weights of its own, as nanoGPT writes it. The LayerNorm layer holds them itself.",
        formula="y = w (x − μ)/√(σ² + ε) + b,  μ, σ² over the last dimensions of each sample",
        params=(
            Param("normalized_shape", "ints", 1, "The trailing sizes normalised over.", min=1),
            Param("eps", "float", 1e-5, "Added to the variance before the square root.", min=0.0),
        ),
        examples=lambda r: [
            Example({"normalized_shape": (k := r.randint(2, 4))}, (("N", k), (k,), (k,))),
            Example({"normalized_shape": [2, 3]}, (("N", 2, 3), (2, 3), None)),
            Example({"normalized_shape": 3, "eps": 1e-3}, ((2, "N", 3), None, None)),
        ],
        aliases=("functional layer norm", "F.layer_norm"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.layer_norm",
                signature="input, normalized_shape, weight=None, bias=None, eps=1e-05",
                rename=X,
            ),
        ),
    )
)
