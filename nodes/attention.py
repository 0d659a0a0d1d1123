"""Attention and the transformer block: scaled dot-product attention as an op, MultiheadAttention and
TransformerEncoderLayer as layers, and the sinusoidal positional encoding that gives them word order.

Sequences are (L, N, E), or (N, L, E) with batch_first, or (L, E) unbatched, as torch has them.
"""

from __future__ import annotations

import random
from typing import Any

from graphcore._torch import torch
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    broadcast,
    call_template,
    expect,
    register,
    same_dim,
    show,
)
from nodes.init import INIT_PARAMS, all_weights_init, module_init


def _sequence(x: Shape, batch_first: bool, type_: str, port: str) -> tuple[Any, Any]:
    """(batch or None, length) of a sequence port."""
    layout = "(N, L, E)" if batch_first else "(L, N, E)"
    expect(len(x) in (2, 3), f"{type_} {port} must be {layout} or (L, E), not {show(x)}")
    if len(x) == 2:
        return None, x[0]
    return (x[0], x[1]) if batch_first else (x[1], x[0])


def attention_shape(q: Shape, k: Shape, v: Shape, **_: Any) -> Shape:
    expect(
        min(len(q), len(k), len(v)) >= 2,
        "attention needs query, key and value of at least 2 dimensions "
        f"(…, L, E), not {show(q)}, {show(k)}, {show(v)}",
    )
    expect(same_dim(q[-1], k[-1]), f"attention: query has {q[-1]} features but key has {k[-1]}")
    expect(same_dim(k[-2], v[-2]), f"attention: key has {k[-2]} positions but value has {v[-2]}")
    batch = broadcast(broadcast(q[:-2], k[:-2]), v[:-2])  # leading (batch, head) dims broadcast
    return (*batch, q[-2], v[-1])


SDPA = (
    Param("is_causal", "bool", False, "Each position attends only to itself and earlier ones."),
    Param("scale", "float", None, "Multiplies the scores; null means 1/√d.", optional=True),
)
register(
    NodeSpec(
        "scaled_dot_product_attention",
        "attention",
        ("query", "key", "value"),
        ("out",),
        attention_shape,
        code=call_template(
            "F.scaled_dot_product_attention", SDPA, ["query", "key", "value"], ["is_causal", "scale"]
        ),
        doc="Each query position takes an average of the values, weighted by how well the query matches each "
        "key.",
        formula="softmax(QKᵀ/√d) V,  ∂/∂V = Aᵀ G,  ∂/∂Q and ∂/∂K through the softmax",
        params=SDPA,
        examples=lambda r: [
            Example({}, (("N", 3, 4), ("N", 5, 4), ("N", 5, 2))),
            Example({"is_causal": True, "scale": 0.5}, (("N", 2, 3, 4), ("N", 2, 3, 4), ("N", 2, 3, 4))),
            Example({}, ((2, 3), (4, 3), (4, 5))),
        ],
        aliases=("attention", "sdpa", "dot-product attention"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.scaled_dot_product_attention",
                signature="query, key, value, attn_mask=None, "
                "dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False",
            ),
        ),
    )
)


def mha_shape(
    query: Shape,
    key: Shape,
    value: Shape,
    *,
    embed_dim: int,
    num_heads: int,
    kdim: int | None,
    vdim: int | None,
    batch_first: bool,
    average_attn_weights: bool,
    **_: Any,
) -> tuple[Shape, Shape]:
    type_ = "MultiheadAttention"
    expect(
        embed_dim % num_heads == 0,
        f"{type_} embed_dim={embed_dim} must be divisible by num_heads={num_heads}",
    )
    (n, length), (nk, source), (nv, source_v) = (
        _sequence(s, batch_first, type_, p) for s, p in ((query, "query"), (key, "key"), (value, "value"))
    )
    expect(
        len(query) == len(key) == len(value), f"{type_} query, key and value must all be batched or all not"
    )
    expect(
        n is None or (same_dim(n, nk) and same_dim(n, nv)),
        f"{type_} query, key and value differ in batch size",
    )
    expect(same_dim(source, source_v), f"{type_} key has {source} positions but value has {source_v}")
    for port, shape, size in (
        ("query", query, embed_dim),
        ("key", key, kdim or embed_dim),
        ("value", value, vdim or embed_dim),
    ):
        expect(same_dim(shape[-1], size), f"{type_} {port} has {shape[-1]} features but expects {size}")
    out = query[:-1] + (embed_dim,)
    heads = () if average_attn_weights else (num_heads,)
    weights = (*heads, length, source) if n is None else (n, *heads, length, source)
    return out, weights


MHA = (
    Param("embed_dim", "int", 1, "Features of each query position (the model width E).", min=1),
    Param("num_heads", "int", 1, "Parallel heads; each sees embed_dim / num_heads features.", min=1),
    Param("dropout", "float", 0.0, "Dropout on the attention weights in training.", min=0.0, max=1.0),
    Param("bias", "bool", True, "Learn biases in the projections."),
    Param("kdim", "int", None, "Features of key; null means embed_dim.", min=1, optional=True),
    Param("vdim", "int", None, "Features of value; null means embed_dim.", min=1, optional=True),
    Param("batch_first", "bool", False, "Sequences are (N, L, E) instead of (L, N, E)."),
    Param("average_attn_weights", "bool", True, "weights is the average over heads, not one map per head."),
    *INIT_PARAMS,
)


def mha_examples(r: random.Random) -> list[Example]:
    heads = r.choice([1, 2])
    params = {"embed_dim": 4, "num_heads": heads, "weight_init": r.choice(["default", "xavier_uniform"])}
    return [
        Example(params, ((3, "N", 4), (5, "N", 4), (5, "N", 4))),
        Example(
            {**params, "batch_first": True, "kdim": 3, "vdim": 2, "average_attn_weights": False},
            (("N", 3, 4), ("N", 2, 3), ("N", 2, 2)),
        ),
        Example({"embed_dim": 2, "num_heads": 2}, ((3, 2), (3, 2), (3, 2))),
    ]


def attention_module(module: Any) -> dict[str, Any] | None:
    """The params of an nn.MultiheadAttention; None for the bias_k/add_zero_attn variants."""
    if module.bias_k is not None or module.add_zero_attn:
        return None
    return {
        "embed_dim": module.embed_dim,
        "num_heads": module.num_heads,
        "dropout": module.dropout,
        "bias": module.in_proj_bias is not None,
        "kdim": None if module.kdim == module.embed_dim else module.kdim,
        "vdim": None if module.vdim == module.embed_dim else module.vdim,
        "batch_first": module.batch_first,
    }


register(
    NodeSpec(
        "MultiheadAttention",
        "attention",
        ("query", "key", "value"),
        ("out", "weights"),
        mha_shape,
        kind="layer",
        init=module_init(
            "MultiheadAttention",
            MHA,
            ["embed_dim", "num_heads"],
            ["dropout", "bias", "kdim", "vdim", "batch_first"],
        ),
        post_init=all_weights_init,
        code=lambda p: (
            "{out}, {weights} = {module}({query}, {key}, {value}"
            + ("" if p["average_attn_weights"] else ", average_attn_weights={average_attn_weights!r}")
            + ")"
        ),
        doc="Attention with learned projections, in several heads at once (self-attention when query, key and "
        "value are the same tensor). Outputs the result and the attention weights.",
        formula="headᵢ = softmax(Q Wᵢ^Q (K Wᵢ^K)ᵀ/√dₖ) V Wᵢ^V,  out = [head₁, …, head_h] W^O",
        params=MHA,
        examples=mha_examples,
        aliases=("attention", "self-attention", "mha"),
        torch_rules=(TorchRule(module="torch.nn.MultiheadAttention", read=attention_module),),
        torch_result=("out", "weights"),
    )
)


def encoder_layer_shape(x: Shape, *, d_model: int, nhead: int, batch_first: bool, **_: Any) -> Shape:
    type_ = "TransformerEncoderLayer"
    expect(d_model % nhead == 0, f"{type_} d_model={d_model} must be divisible by nhead={nhead}")
    _sequence(x, batch_first, type_, "x")
    expect(same_dim(x[-1], d_model), f"{type_} d_model={d_model} but x has {x[-1]} features")
    return x


ENCODER = (
    Param("d_model", "int", 1, "Features of each position (the model width).", min=1),
    Param("nhead", "int", 1, "Attention heads.", min=1),
    Param("dim_feedforward", "int", 2048, "Width of the feed-forward network's hidden layer.", min=1),
    Param("dropout", "float", 0.0, "Dropout in training (torch's default is 0.1).", min=0.0, max=1.0),
    Param("activation", "str", "relu", "Activation of the feed-forward network.", choices=("relu", "gelu")),
    Param("layer_norm_eps", "float", 1e-5, "ε of the layer norms.", min=0.0),
    Param("batch_first", "bool", False, "x is (N, L, E) instead of (L, N, E)."),
    Param(
        "norm_first", "bool", False, "LayerNorm before attention and feed-forward (pre-LN) instead of after."
    ),
    Param("bias", "bool", True, "Learn biases in linear layers and layer norms."),
    *INIT_PARAMS,
)


def encoder_module(module: Any) -> dict[str, Any] | None:
    """The params of an nn.TransformerEncoderLayer; None for an activation other than relu or gelu."""
    F = torch.nn.functional
    activation = {F.relu: "relu", F.gelu: "gelu"}.get(module.activation)
    if activation is None:
        return None
    return {
        "d_model": module.self_attn.embed_dim,
        "nhead": module.self_attn.num_heads,
        "dim_feedforward": module.linear1.out_features,
        "dropout": module.dropout.p,
        "activation": activation,
        "layer_norm_eps": module.norm1.eps,
        "batch_first": module.self_attn.batch_first,
        "norm_first": module.norm_first,
        "bias": module.linear1.bias is not None,
    }


register(
    NodeSpec(
        "TransformerEncoderLayer",
        "attention",
        ("x",),
        ("out",),
        encoder_layer_shape,
        kind="layer",
        init=module_init(
            "TransformerEncoderLayer",
            ENCODER,
            ["d_model", "nhead"],
            [
                "dim_feedforward",
                "dropout",
                "activation",
                "layer_norm_eps",
                "batch_first",
                "norm_first",
                "bias",
            ],
            always=["dropout"],
        ),
        post_init=all_weights_init,
        code="{module}({x})",
        doc="A transformer block: self-attention then a feed-forward network, each with a residual connection "
        "and layer normalisation.",
        formula="h = LayerNorm(x + SelfAttention(x)),  y = LayerNorm(h + W₂ relu(W₁ h + b₁) + b₂)",
        params=ENCODER,
        examples=lambda r: [
            Example({"d_model": 4, "nhead": r.choice([1, 2]), "dim_feedforward": 6}, ((3, "N", 4),)),
            Example(
                {
                    "d_model": 4,
                    "nhead": 2,
                    "dim_feedforward": 5,
                    "batch_first": True,
                    "norm_first": True,
                    "activation": "gelu",
                    "weight_init": "xavier_uniform",
                },
                (("N", 3, 4),),
            ),
            Example({"d_model": 2, "nhead": 1, "dim_feedforward": 3}, ((3, 2),)),
        ],
        aliases=("transformer", "encoder block", "transformer block"),
        torch_rules=(TorchRule(module="torch.nn.TransformerEncoderLayer", read=encoder_module),),
    )
)

POSITIONAL_ENCODING = '''
def positional_encoding(x, batch_first=False):
    """x plus sinusoidal position codes: PE[t, 2i] = sin(t·w), PE[t, 2i+1] = cos(t·w), w = 10000^(-2i/d)."""
    length = x.shape[0] if x.dim() == 3 and not batch_first else x.shape[-2]
    d_model = x.shape[-1]
    position = torch.arange(length, dtype=x.dtype, device=x.device).unsqueeze(1)
    frequency = torch.pow(
        10000.0, -torch.arange(0, d_model, 2, dtype=x.dtype, device=x.device) / d_model
    )
    pe = torch.zeros(length, d_model, dtype=x.dtype, device=x.device)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return x + (pe.unsqueeze(1) if x.dim() == 3 and not batch_first else pe)
'''


def positional_shape(x: Shape, *, batch_first: bool) -> Shape:
    _sequence(x, batch_first, "PositionalEncoding", "x")
    return x


register(
    NodeSpec(
        "PositionalEncoding",
        "attention",
        ("x",),
        ("out",),
        positional_shape,
        code=lambda p: "positional_encoding({x}" + (", {batch_first!r})" if p["batch_first"] else ")"),
        params=(Param("batch_first", "bool", False, "x is (N, L, E) instead of (L, N, E)."),),
        helpers=POSITIONAL_ENCODING,
        doc="Adds fixed sine and cosine waves of different frequencies to each position, so attention can tell "
        "positions apart.",
        formula="y = x + PE,  PE[t, 2i] = sin(t / 10000^(2i/d)),  PE[t, 2i+1] = cos(t / 10000^(2i/d))",
        examples=lambda r: [
            Example({}, ((r.randint(1, 4), "N", r.choice([4, 5])),)),
            Example({"batch_first": True}, (("N", 3, 6),)),
            Example({}, ((4, 3),)),
        ],
        aliases=("sinusoidal", "position encoding", "positional embedding"),
    )
)
