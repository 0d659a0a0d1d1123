"""Reductions, norms and products: ops that combine many elements into fewer."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

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
    same_dim,
    show,
)


def _dims(dim: int | list[int] | None, rank: int, x: Shape) -> list[int]:
    dims = list(range(rank)) if dim is None else [dim] if isinstance(dim, int) else dim
    expect(dims != [] or rank == 0, "dim is an empty list: use null to reduce every dimension")
    for d in dims:
        expect(
            -rank <= d < rank or (rank == 0 and d in (0, -1)),
            f"dim {d} is out of range for x of shape {show(x)}",
        )
    unique = {d % rank for d in dims} if rank else set()
    expect(len(unique) == len(dims) or rank == 0, f"dim {dim} names the same dimension twice")
    return sorted(unique)


def reduced_shape(x: Shape, *, dim: int | list[int] | None = None, keepdim: bool = False, **_: Any) -> Shape:
    dims = _dims(dim, len(x), x)
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in dims)


DIM_PARAMS = (
    Param("dim", "dims", None, "Dimension(s) to reduce; null reduces all.", optional=True),
    Param("keepdim", "bool", False, "Keep reduced dimensions with size 1."),
)


def reduction_examples(
    values: str, extra: Callable[[random.Random], dict[str, Any]] = lambda r: {}
) -> Callable[[random.Random], list[Example]]:
    return lambda r: [
        Example({**extra(r)}, (("N", r.randint(1, 4)),), (values,)),
        Example(
            {**extra(r), "dim": r.choice([0, 1, -1]), "keepdim": r.random() < 0.5}, (("N", 3),), (values,)
        ),
        Example({**extra(r), "dim": [0, 2], "keepdim": r.random() < 0.5}, ((2, "N", 3),), (values,)),
        Example({**extra(r), "dim": r.choice([None, 0])}, ((),), (values,)),
    ]


def reduction(
    type_: str,
    whole: str,
    by_dim: str,
    formula: str,
    doc: str,
    values: str = "real",
    params: tuple[Param, ...] = (),
    extra: Callable[[random.Random], dict[str, Any]] = lambda r: {},
    **rules: Any,
) -> NodeSpec:
    """`whole` reduces everything (`torch.sum({x})`); `by_dim` takes dim and keepdim."""
    return register(
        NodeSpec(
            type_,
            "reductions",
            ("x",),
            ("out",),
            reduced_shape,
            code=lambda p: whole if p["dim"] is None and not p["keepdim"] else by_dim,
            doc=doc,
            formula=formula,
            params=(*params, *DIM_PARAMS),
            examples=reduction_examples(values, extra),
            **rules,
        )
    )


reduction(
    "sum",
    "torch.sum({x})",
    "torch.sum({x}, dim={dim!r}, keepdim={keepdim!r})",
    "Σᵢ xᵢ,  ∂/∂xᵢ = 1",
    "Sum of elements, over all or some dimensions.",
    aliases=("total", "Σ"),
    torch_rules=function_and_method("sum", "dim=None, keepdim=False, dtype=None", X),
)
reduction(
    "mean",
    "torch.mean({x})",
    "torch.mean({x}, dim={dim!r}, keepdim={keepdim!r})",
    "(1/n) Σᵢ xᵢ,  ∂/∂xᵢ = 1/n",
    "Average of elements, over all or some dimensions.",
    aliases=("average", "avg"),
    torch_rules=function_and_method("mean", "dim=None, keepdim=False, dtype=None", X),
)
reduction(
    "max",
    "torch.max({x})",
    "torch.amax({x}, dim={dim!r}, keepdim={keepdim!r})",
    "maxᵢ xᵢ,  ∂/∂xᵢ = 1 for the largest element, 0 for the others",
    "Largest element, over all or some dimensions (the values; torch.amax).",
    values="spread",
    aliases=("maximum value", "amax"),
    torch_rules=(
        TorchRule(function="torch.max", signature="input", rename=X),
        *function_and_method("amax", "dim=(), keepdim=False", X),
    ),
)
reduction(
    "min",
    "torch.min({x})",
    "torch.amin({x}, dim={dim!r}, keepdim={keepdim!r})",
    "minᵢ xᵢ,  ∂/∂xᵢ = 1 for the smallest element, 0 for the others",
    "Smallest element, over all or some dimensions (the values; torch.amin).",
    values="spread",
    aliases=("minimum value", "amin"),
    torch_rules=(
        TorchRule(function="torch.min", signature="input", rename=X),
        *function_and_method("amin", "dim=(), keepdim=False", X),
    ),
)
reduction(
    "norm",
    "torch.linalg.vector_norm({x}, ord={p!r})",
    "torch.linalg.vector_norm({x}, ord={p!r}, dim={dim!r}, keepdim={keepdim!r})",
    "‖x‖ₚ = (Σ|xᵢ|ᵖ)^(1/p),  p = 1: ∂/∂xᵢ = sign xᵢ,  p = 2: ∂/∂xᵢ = xᵢ/‖x‖₂",
    "Vector norm: p = 1 (Manhattan) or p = 2 (Euclidean), over all or some dimensions.",
    values="nonzero",
    params=(Param("p", "int", 2, "Which norm: 1 or 2.", choices=(1, 2)),),
    extra=lambda r: {"p": r.choice([1, 2])},
    aliases=("length", "magnitude", "‖x‖"),
    torch_rules=(
        TorchRule(
            function="torch.linalg.vector_norm",
            signature="x, ord=2, dim=None, keepdim=False, dtype=None",
            rename={"ord": "p"},
        ),
        *function_and_method("norm", "p='fro', dim=None, keepdim=False, dtype=None", X),  # "fro": p = 2
    ),
)


def dot_shape(a: Shape, b: Shape) -> Shape:
    expect(len(a) == 1 and len(b) == 1, f"dot needs two 1-D tensors, not {show(a)} and {show(b)}")
    expect(same_dim(a[0], b[0]), f"dot: a has {a[0]} elements but b has {b[0]}")
    return ()


register(
    NodeSpec(
        "dot",
        "reductions",
        ("a", "b"),
        ("out",),
        dot_shape,
        code="torch.dot({a}, {b})",
        doc="Inner product of two vectors.",
        formula="a · b = Σᵢ aᵢbᵢ,  ∂/∂a = b,  ∂/∂b = a",
        examples=lambda r: [Example({}, ((k := r.randint(1, 5),), (k,)))],
        aliases=("inner product", "scalar product"),
        torch_rules=function_and_method("dot", "other", AB),
    )
)


def matmul_shape(a: Shape, b: Shape) -> Shape:
    expect(
        len(a) >= 1 and len(b) >= 1,
        f"matmul needs tensors of at least 1 dimension, not {show(a)} @ {show(b)}",
    )
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    k_a, k_b = a2[-1], b2[-2]
    expect(same_dim(k_a, k_b), f"matmul: a {show(a)} has {k_a} columns but b {show(b)} has {k_b} rows")
    out = (*broadcast(a2[:-2], b2[:-2]), a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


register(
    NodeSpec(
        "matmul",
        "reductions",
        ("a", "b"),
        ("out",),
        matmul_shape,
        code="torch.matmul({a}, {b})",
        doc="Matrix product (batched, with broadcasting, as torch.matmul).",
        formula="(AB)ᵢⱼ = Σₖ AᵢₖBₖⱼ,  ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G",
        examples=lambda r: [
            Example({}, s)
            for s in (
                (("N", 3), (3, 2)),
                ((2, "N", 3), (3, 4)),
                ((4,), (4, 2)),
                ((2, 3), (3,)),
                ((2, 1, 2, 3), (3, 3, 2)),
            )
        ],
        aliases=("matrix multiply", "@", "mm", "bmm"),
        torch_rules=(
            TorchRule(function="operator.matmul", signature="input, other", rename=AB),
            *function_and_method("matmul", "other", AB),
        ),
    )
)
