"""Reductions and the matrix product."""

from __future__ import annotations

from typing import Any

from graphcore.registry import NodeSpec, Param, Shape, broadcast, expect, register, show


def _dims(dim: int | list[int] | None, rank: int, x: Shape) -> list[int]:
    dims = list(range(rank)) if dim is None else [dim] if isinstance(dim, int) else dim
    for d in dims:
        expect(-rank <= d < rank or (rank == 0 and d in (0, -1)),
               f"dim {d} is out of range for x of shape {show(x)}")
    return sorted({d % rank for d in dims}) if rank else []


def reduced_shape(x: Shape, *, dim: int | list[int] | None = None, keepdim: bool = False) -> Shape:
    dims = _dims(dim, len(x), x)
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in dims)


def reduction(type_: str, code_fn: str, formula: str, doc: str, **rules: Any) -> NodeSpec:
    return register(NodeSpec(
        type_, "reductions", ("x",), ("out",), reduced_shape,
        code=lambda p: f"torch.{code_fn}({{x}})" if p["dim"] is None and not p["keepdim"]
        else f"torch.{code_fn}({{x}}, dim={{dim!r}}, keepdim={{keepdim!r}})",
        doc=doc, formula=formula,
        params=(Param("dim", "dims", None, "Dimension(s) to reduce; null reduces all.", optional=True),
                Param("keepdim", "bool", False, "Keep reduced dimensions with size 1.")),
        **rules))


def matmul_shape(a: Shape, b: Shape) -> Shape:
    expect(len(a) >= 1 and len(b) >= 1, f"matmul needs tensors of at least 1 dimension, not {show(a)} @ {show(b)}")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    k_a, k_b = a2[-1], b2[-2]
    expect(k_a == k_b or isinstance(k_a, str) or isinstance(k_b, str),
           f"matmul: a {show(a)} has {k_a} columns but b {show(b)} has {k_b} rows")
    out = (*broadcast(a2[:-2], b2[:-2]), a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


reduction("sum", "sum", "Σᵢ xᵢ,  ∂/∂xᵢ = 1", "Sum of elements, over all or some dimensions.",
          aliases=("total", "Σ"))
reduction("mean", "mean", "(1/n) Σᵢ xᵢ,  ∂/∂xᵢ = 1/n", "Average of elements, over all or some dimensions.",
          aliases=("average", "avg"))

register(NodeSpec(
    "matmul", "reductions", ("a", "b"), ("out",), matmul_shape, code="torch.matmul({a}, {b})",
    doc="Matrix product (batched, with broadcasting, as torch.matmul).",
    formula="(AB)ᵢⱼ = Σₖ AᵢₖBₖⱼ,  ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G",
    aliases=("matrix multiply", "dot", "@", "mm"),
))
