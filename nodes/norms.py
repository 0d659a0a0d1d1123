"""Normalisation and regularisation: BatchNorm, LayerNorm, GroupNorm, Dropout and weight penalties.

BatchNorm and Dropout behave differently in training and evaluation (`model.train()` / `model.eval()`):
BatchNorm normalises with the batch's statistics and updates its running ones while training, and with
the running ones in evaluation; Dropout zeroes random elements only while training. The stepping
engine runs the same modules, so it follows the same switch.
"""

from __future__ import annotations

from typing import Any

from graphcore._torch import torch
from graphcore.exchange.torch_ops import X, attributes
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    call_template,
    expect,
    register,
    same_dim,
    show,
)
from nodes.init import module_init, rendered

EPS = Param("eps", "float", 1e-5, "Added to the variance before the square root, for stability.", min=0.0)


def batch_norm_shape(type_: str, ranks: tuple[int, ...], layout: str) -> Any:
    def rule(x: Shape, *, num_features: int, **_: Any) -> Shape:
        expect(len(x) in ranks, f"{type_} needs x of shape {layout}, not {show(x)}")
        expect(same_dim(x[1], num_features), f"{type_} num_features={num_features} but x has {x[1]} channels")
        return x

    return rule


BATCH_NORM = (
    Param("num_features", "int", 1, "Channels C (features of x for 2-D input).", min=1),
    Param(
        "eps", "float", 1e-5, "Added to the variance before the square root (must be positive).", min=1e-12
    ),
    Param("momentum", "float", 0.1, "How fast the running statistics follow the batches.", min=0.0, max=1.0),
    Param("affine", "bool", True, "Learn a scale γ and a shift β per channel."),
    Param("track_running_stats", "bool", True, "Keep running statistics for evaluation mode."),
)
BATCH_NORM_FORMULA = (
    "y = γ (x − μ_B)/√(σ²_B + ε) + β,  μ_B, σ²_B: batch statistics in training, running "
    "ones in evaluation;  ∂L/∂x = (γ/σ)(G − mean(G) − x̂·mean(G⊙x̂)) in training"
)
for type_, ranks, layout, examples in (
    (
        "BatchNorm1d",
        (2, 3),
        "(N, C) or (N, C, L)",
        lambda r: [
            Example({"num_features": (c := r.randint(1, 3))}, (("N", c),)),
            Example({"num_features": 2, "momentum": 0.5, "affine": False}, (("N", 2, 3),)),
        ],
    ),
    (
        "BatchNorm2d",
        (4,),
        "(N, C, H, W)",
        lambda r: [
            Example({"num_features": (c := r.randint(1, 3))}, (("N", c, 2, 3),)),
            Example({"num_features": 1, "track_running_stats": False}, ((2, 1, 2, 2),)),
        ],
    ),
):
    register(
        NodeSpec(
            type_,
            "normalization",
            ("x",),
            ("out",),
            batch_norm_shape(type_, ranks, layout),
            kind="layer",
            init=module_init(
                type_, BATCH_NORM, ["num_features"], ["eps", "momentum", "affine", "track_running_stats"]
            ),
            code="{module}({x})",
            params=BATCH_NORM,
            formula=BATCH_NORM_FORMULA,
            examples=examples,
            doc=f"Normalises each channel over the batch and {'positions' if ranks != (4,) else 'pixels'}, then "
            "scales and shifts it. Training and evaluation mode differ.",
            aliases=("batch norm", "bn", "batch normalisation"),
            torch_rules=(
                TorchRule(
                    module=f"torch.nn.{type_}",
                    read=attributes("num_features", "eps", "momentum", "affine", "track_running_stats"),
                ),
            ),
        )
    )


def layer_norm_shape(x: Shape, *, normalized_shape: int | list[int], **_: Any) -> Shape:
    dims = [normalized_shape] if isinstance(normalized_shape, int) else normalized_shape
    expect(
        len(x) >= len(dims) and all(map(same_dim, x[len(x) - len(dims) :], dims)),
        f"LayerNorm normalized_shape={dims} must match the last dimensions of x {show(x)}",
    )
    return x


def layer_norm_module(module: Any) -> dict[str, Any]:
    shape = module.normalized_shape
    return {
        "normalized_shape": shape[0] if len(shape) == 1 else list(shape),
        "eps": module.eps,
        "elementwise_affine": module.elementwise_affine,
        "bias": module.bias is not None or not module.elementwise_affine,
    }


LAYER_NORM = (
    Param("normalized_shape", "ints", 1, "The trailing dimensions to normalise over.", min=1),
    EPS,
    Param("elementwise_affine", "bool", True, "Learn a scale γ and a shift β per element."),
    Param("bias", "bool", True, "Learn the shift β (with elementwise_affine)."),
)
register(
    NodeSpec(
        "LayerNorm",
        "normalization",
        ("x",),
        ("out",),
        layer_norm_shape,
        kind="layer",
        init=module_init(
            "LayerNorm", LAYER_NORM, ["normalized_shape"], ["eps", "elementwise_affine", "bias"]
        ),
        code="{module}({x})",
        params=LAYER_NORM,
        doc="Normalises each sample over its last dimensions (the same in training and evaluation).",
        formula="y = γ (x − μ)/√(σ² + ε) + β,  μ, σ² over the normalised dimensions of each sample",
        examples=lambda r: [
            Example({"normalized_shape": (k := r.randint(1, 4))}, (("N", k),)),
            Example({"normalized_shape": [2, 3], "elementwise_affine": r.random() < 0.5}, (("N", 4, 2, 3),)),
        ],
        aliases=("layer norm", "ln", "layer normalisation"),
        torch_rules=(TorchRule(module="torch.nn.LayerNorm", read=layer_norm_module),),
    )
)


def group_norm_shape(x: Shape, *, num_groups: int, num_channels: int, **_: Any) -> Shape:
    expect(
        num_channels % num_groups == 0,
        f"GroupNorm num_groups={num_groups} must divide num_channels={num_channels}",
    )
    expect(len(x) >= 2, f"GroupNorm needs x of shape (N, C, ...), not {show(x)}")
    expect(same_dim(x[1], num_channels), f"GroupNorm num_channels={num_channels} but x has {x[1]} channels")
    return x


GROUP_NORM = (
    Param("num_groups", "int", 1, "Groups the channels are split into.", min=1),
    Param("num_channels", "int", 1, "Channels C of x.", min=1),
    EPS,
    Param("affine", "bool", True, "Learn a scale γ and a shift β per channel."),
)
register(
    NodeSpec(
        "GroupNorm",
        "normalization",
        ("x",),
        ("out",),
        group_norm_shape,
        kind="layer",
        init=module_init("GroupNorm", GROUP_NORM, ["num_groups", "num_channels"], ["eps", "affine"]),
        code="{module}({x})",
        params=GROUP_NORM,
        doc="Normalises each sample over groups of channels: BatchNorm's effect without depending on the batch.",
        formula="y = γ (x − μ_g)/√(σ²_g + ε) + β,  μ_g, σ²_g over each group of channels of each sample",
        examples=lambda r: [
            Example({"num_groups": 2, "num_channels": 4}, (("N", 4, 3),)),
            Example({"num_groups": 1, "num_channels": 3, "affine": False}, ((2, 3, 2, 2),)),
        ],
        aliases=("group norm", "gn"),
        torch_rules=(
            TorchRule(
                module="torch.nn.GroupNorm", read=attributes("num_groups", "num_channels", "eps", "affine")
            ),
        ),
    )
)

DROPOUT = (Param("p", "float", 0.5, "Probability of zeroing an element.", min=0.0, max=1.0),)
register(
    NodeSpec(
        "Dropout",
        "regularization",
        ("x",),
        ("out",),
        lambda x, **_: x,
        kind="layer",
        init=rendered(call_template("nn.Dropout", DROPOUT, [], ["p"])),
        code="{module}({x})",
        params=DROPOUT,
        doc="In training, zeroes each element with probability p and scales the rest by 1/(1 − p); in "
        "evaluation, passes x through unchanged.",
        formula="y = m ⊙ x / (1 − p),  mᵢ ~ Bernoulli(1 − p) in training, y = x in evaluation,  "
        "∂y/∂x = m/(1 − p)",
        no_jvp_reason="in training with p > 0, each run draws a new random mask, and forward mode runs the "
        "node again, so its tangent would use a different dropout mask than the forward pass did; use reverse "
        "mode (in evaluation, or with p = 0, Dropout is the identity and forward mode works).",
        no_jvp_reason_applies=lambda params, training: training and params["p"] > 0,
        examples=lambda r: [
            Example({"p": r.choice([0.2, 0.5])}, (("N", 3),)),
            Example({}, ((2, 2, 2),)),
            Example({"p": 0.0}, (("N", 2),)),
        ],
        aliases=("drop out", "regularisation"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.dropout",
                signature="input, p=0.5, training=True, inplace=False",
                rename=X,
            ),
            TorchRule(module="torch.nn.Dropout", read=attributes("p")),
        ),
    )
)

STRENGTH = Param("strength", "float", 1.0, "λ, how much the penalty counts when added to a loss.", min=0.0)


def penalty(type_: str, code: str, formula: str, doc: str, vjp: Any, jvp: Any) -> None:
    register(
        NodeSpec(
            type_,
            "regularization",
            ("x",),
            ("out",),
            lambda x, **_: (),
            code=code,
            doc=doc,
            formula=formula,
            params=(STRENGTH,),
            vjp=vjp,
            jvp=jvp,
            examples=lambda r: [
                Example({}, ((2, 3),), ("nonzero",)),
                Example({"strength": r.choice([0.01, 0.5])}, (("N",),), ("nonzero",)),
            ],
            aliases=("weight decay", "penalty", "regulariser"),
        )
    )


penalty(
    "L1Penalty",
    "{strength!r} * torch.sum(torch.abs({x}))",
    "λ‖w‖₁ = λ Σ|wᵢ|,  ∂/∂wᵢ = λ sign(wᵢ)",
    "λ times the sum of absolute values: add it to a loss to push weights to exactly zero (lasso).",
    vjp=lambda g, x, strength: (g * strength * torch.sign(x),),
    jvp=lambda t, x, strength: strength * torch.sum(torch.sign(x) * t[0]),
)
penalty(
    "L2Penalty",
    "{strength!r} * torch.sum({x} ** 2)",
    "λ‖w‖² = λ Σ wᵢ²,  ∂/∂wᵢ = 2λ wᵢ",
    "λ times the sum of squares: add it to a loss to keep weights small (ridge, weight decay).",
    vjp=lambda g, x, strength: (g * 2 * strength * x,),
    jvp=lambda t, x, strength: 2 * strength * torch.sum(x * t[0]),
)
