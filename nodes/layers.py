"""Layers: nodes that own an nn.Module and its weights (and Flatten, their usual companion).

A layer is built once in the generated `__init__` from its `init` expression; its forward is
`{module}(x)`. Every layer with weights takes the weight_init params of nodes.init.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcore.exchange.torch_ops import attributes
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    expect,
    register,
    same_dim,
    show,
)
from nodes.init import INIT_PARAMS, module_init, weight_init
from nodes.shape_ops import flatten_shape

BIAS = Param("bias", "bool", True, "Learn an additive bias b.")


def linear_shape(x: Shape, *, in_features: int, out_features: int, **_: object) -> Shape:
    got = x[-1] if x else None
    expect(
        x != () and same_dim(x[-1], in_features),
        f"Linear in_features={in_features} but x has {got if x else 'no'} features",
    )
    return (*x[:-1], out_features)


LINEAR = (
    Param("in_features", "int", 1, "Size of each input sample.", min=1),
    Param("out_features", "int", 1, "Size of each output sample.", min=1),
    BIAS,
    *INIT_PARAMS,
)


def linear_module(module: Any) -> dict[str, Any]:
    return {
        "in_features": module.in_features,
        "out_features": module.out_features,
        "bias": module.bias is not None,
    }


register(
    NodeSpec(
        "Linear",
        "layers",
        ("x",),
        ("out",),
        linear_shape,
        kind="layer",
        init="nn.Linear({in_features!r}, {out_features!r}, bias={bias!r}, dtype=dtype)",
        post_init=weight_init(),
        code="{module}({x})",
        doc="Affine map of the last dimension: a fully connected layer.",
        formula="y = x Wᵀ + b,  ∂L/∂x = G W,  ∂L/∂W = Gᵀ x,  ∂L/∂b = Σ G",
        params=LINEAR,
        examples=lambda r: [
            Example(
                {
                    "in_features": (k := r.randint(1, 4)),
                    "out_features": r.randint(1, 3),
                    "bias": r.random() < 0.7,
                    "weight_init": r.choice(["default", "xavier_uniform"]),
                },
                (("N", k),),
            ),
            Example({"in_features": 3, "out_features": 2}, ((2, "N", 3),)),
            Example({"in_features": 2, "out_features": 2, "weight_init": "kaiming_normal"}, ((2,),)),
        ],
        aliases=("dense", "fully connected", "fc", "affine"),
        torch_rules=(TorchRule(module="torch.nn.Linear", read=linear_module),),
    )
)


def bilinear_shape(
    x1: Shape, x2: Shape, *, in1_features: int, in2_features: int, out_features: int, **_: object
) -> Shape:
    expect(
        len(x1) >= 1 and same_dim(x1[-1], in1_features),
        f"Bilinear in1_features={in1_features} but x1 has {x1[-1] if x1 else 'no'} features",
    )
    expect(
        len(x2) >= 1 and same_dim(x2[-1], in2_features),
        f"Bilinear in2_features={in2_features} but x2 has {x2[-1] if x2 else 'no'} features",
    )
    expect(
        len(x1) == len(x2) and all(map(same_dim, x1[:-1], x2[:-1])),
        f"Bilinear x1 {show(x1)} and x2 {show(x2)} must agree in every dimension but the last",
    )
    return (*x1[:-1], out_features)


BILINEAR = (
    Param("in1_features", "int", 1, "Size of each x1 sample.", min=1),
    Param("in2_features", "int", 1, "Size of each x2 sample.", min=1),
    Param("out_features", "int", 1, "Size of each output sample.", min=1),
    BIAS,
    *INIT_PARAMS,
)


def bilinear_module(module: Any) -> dict[str, Any]:
    return {
        "in1_features": module.in1_features,
        "in2_features": module.in2_features,
        "out_features": module.out_features,
        "bias": module.bias is not None,
    }


register(
    NodeSpec(
        "Bilinear",
        "layers",
        ("x1", "x2"),
        ("out",),
        bilinear_shape,
        kind="layer",
        init="nn.Bilinear({in1_features!r}, {in2_features!r}, {out_features!r}, bias={bias!r}, dtype=dtype)",
        post_init=weight_init(),
        code="{module}({x1}, {x2})",
        doc="A learned bilinear form of two inputs, one per output feature.",
        formula="yₖ = x₁ᵀ Wₖ x₂ + bₖ,  ∂L/∂x₁ = Σₖ Gₖ Wₖ x₂,  ∂L/∂x₂ = Σₖ Gₖ Wₖᵀ x₁",
        params=BILINEAR,
        examples=lambda r: [
            Example(
                {"in1_features": 3, "in2_features": 2, "out_features": r.randint(1, 3)}, (("N", 3), ("N", 2))
            ),
            Example(
                {
                    "in1_features": 2,
                    "in2_features": 2,
                    "out_features": 2,
                    "bias": False,
                    "weight_init": "xavier_normal",
                },
                ((2,), (2,)),
            ),
        ],
        aliases=("bilinear form",),
        torch_rules=(TorchRule(module="torch.nn.Bilinear", read=bilinear_module),),
    )
)


def embedding_shape(
    x: Shape, *, num_embeddings: int, embedding_dim: int, padding_idx: int | None, **_: object
) -> Shape:
    expect(
        padding_idx is None or -num_embeddings <= padding_idx < num_embeddings,
        f"Embedding padding_idx={padding_idx} is not a row of the {num_embeddings}-row table",
    )
    return (*x, embedding_dim)


def embedding_init(params: Mapping[str, Any]) -> str:
    """Weight initialisation; the padding row starts at zero again, as torch's own init leaves it."""
    lines = weight_init(bias=None)(params)
    if lines and params["padding_idx"] is not None:
        lines += "\nnn.init.zeros_({module}.weight[{padding_idx!r}])"
    return lines


EMBEDDING = (
    Param("num_embeddings", "int", 1, "How many rows the table has (the vocabulary size).", min=1),
    Param("embedding_dim", "int", 1, "The size of each row (the embedding vector).", min=1),
    Param("padding_idx", "int", None, "A row that stays zero and gets no gradient.", optional=True),
    *INIT_PARAMS,
)


def embedding_module(module: Any) -> dict[str, Any] | None:
    """The params of an nn.Embedding; None for max_norm, scale_grad_by_freq or sparse gradients."""
    if module.max_norm is not None or module.scale_grad_by_freq or module.sparse:
        return None
    return {
        "num_embeddings": module.num_embeddings,
        "embedding_dim": module.embedding_dim,
        "padding_idx": module.padding_idx,
    }


register(
    NodeSpec(
        "Embedding",
        "layers",
        ("x",),
        ("out",),
        embedding_shape,
        kind="layer",
        init=module_init("Embedding", EMBEDDING, ["num_embeddings", "embedding_dim"], ["padding_idx"]),
        post_init=embedding_init,
        code="{module}({x})",
        doc="A lookup table: integer indices x (dtype long) pick rows of a learned matrix.",
        formula="y = W[x],  ∂L/∂W[i] = Σ of the upstream gradients of the positions where x = i",
        params=EMBEDDING,
        examples=lambda r: [
            Example({"num_embeddings": 5, "embedding_dim": r.randint(1, 3)}, (("N", 3),), ("index:5",)),
            Example(
                {"num_embeddings": 4, "embedding_dim": 2, "padding_idx": 3, "weight_init": "normal"},
                ((3,),),
                ("index:3",),
            ),
        ],  # the padding row gets no gradient by design, so gradcheck must not read it
        aliases=("lookup", "word embedding", "token embedding"),
        torch_rules=(TorchRule(module="torch.nn.Embedding", read=embedding_module),),
    )
)

register(
    NodeSpec(
        "Flatten",
        "layers",
        ("x",),
        ("out",),
        flatten_shape,
        code=lambda p: (
            "torch.flatten({x}, start_dim={start_dim!r}"
            + (", end_dim={end_dim!r})" if p["end_dim"] != -1 else ")")
        ),
        params=(
            Param("start_dim", "int", 1, "First dimension to merge (1 keeps the batch)."),
            Param("end_dim", "int", -1, "Last dimension to merge."),
        ),
        doc="Merges all but the batch dimension: the bridge from convolutions to Linear layers.",
        formula="y = x.reshape(N, −1)",
        examples=lambda r: [Example({}, (("N", 2, 3, 2),)), Example({"end_dim": 2}, (("N", 2, 3, 2),))],
        torch_rules=(TorchRule(module="torch.nn.Flatten", read=attributes("start_dim", "end_dim")),),
    )
)
