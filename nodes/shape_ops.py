"""Shape ops: rearrange and slice one tensor without computing new values.

Their gradients only route values back to where they came from, so none declares a rule. Sizes that
depend on the batch stay symbolic ("N", "N*2"); a rule that needs a concrete size says so. Joining
tensors and cutting one into pieces live in nodes.joins.
"""

from __future__ import annotations

import math
from typing import Any

from graphcore.exchange.torch_ops import X, function_and_method
from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    dim_product,
    expect,
    register,
    show,
)


def axis_of(dim: int, rank: int, x: Shape, extra: int = 0) -> int:
    """`dim` as a non-negative axis of a tensor of `rank` (+ `extra` for ops that insert one)."""
    size = rank + extra
    expect(-max(size, 1) <= dim < max(size, 1), f"dim {dim} is out of range for x of shape {show(x)}")
    return dim % max(size, 1)


def _sizes(shape: int | list[int]) -> list[int]:
    return [shape] if isinstance(shape, int) else list(shape)


def reshape_shape(x: Shape, *, shape: int | list[int]) -> Shape:
    target = _sizes(shape)
    expect(
        all(d >= -1 for d in target) and target.count(-1) <= 1,
        f"shape {target} may hold sizes and at most one -1 (the size that is worked out)",
    )
    known = math.prod(d for d in target if d != -1)
    total, concrete = dim_product(x), math.prod(d for d in x if isinstance(d, int))
    if isinstance(total, int):
        if -1 not in target:
            expect(
                known == total,
                f"cannot reshape x {show(x)} ({total} elements) into {target} ({known} elements)",
            )
            return tuple(target)
        expect(
            known > 0 and total % known == 0, f"cannot reshape x {show(x)} ({total} elements) into {target}"
        )
        return tuple(total // known if d == -1 else d for d in target)
    expect(-1 in target, f"x {show(x)} has a batch dimension: put -1 in shape where it goes")
    expect(
        known > 0 and concrete % known == 0,
        f"cannot reshape x {show(x)} into {target}: {concrete} elements per batch item is not a multiple "
        f"of {known}",
    )
    rest = dim_product([*(d for d in x if isinstance(d, str)), concrete // known])
    return tuple(rest if d == -1 else d for d in target)


def _reshape_examples(r: Any) -> list[Example]:
    return [
        Example({"shape": [-1, 6]}, (("N", 2, 3),)),
        Example({"shape": [4, 6]}, ((2, 3, 4),)),
        Example({"shape": [-1, 2, 2]}, (("N", 4),)),
        Example({"shape": [-1, 4]}, (("N", 2, r.choice([4, 2])),)),
    ]


SHAPE = Param("shape", "ints", [-1], "The new sizes; one may be -1 (worked out from the others).", min=-1)
register(
    NodeSpec(
        "reshape",
        "shape",
        ("x",),
        ("out",),
        reshape_shape,
        code="torch.reshape({x}, {shape!r})",
        params=(SHAPE,),
        doc="The same elements in a new shape (copies only when it must).",
        formula="y = x, rearranged",
        examples=_reshape_examples,
        aliases=("resize",),
        torch_rules=(
            TorchRule(function="torch.reshape", signature="input, shape", rename=X),
            TorchRule(method="reshape", signature="self, shape", rename=X, varargs=True),
        ),
    )
)
register(
    NodeSpec(
        "view",
        "shape",
        ("x",),
        ("out",),
        reshape_shape,
        code="{x}.view({shape!r})",
        params=(SHAPE,),
        doc="Like reshape, but never copies: x must be contiguous (reshape after a transpose).",
        formula="y = x, rearranged",
        examples=_reshape_examples,
        torch_rules=(TorchRule(method="view", signature="self, shape", rename=X, varargs=True),),
    )
)


def flatten_shape(x: Shape, *, start_dim: int, end_dim: int) -> Shape:
    rank = max(len(x), 1)
    start, end = axis_of(start_dim, rank, x), axis_of(end_dim, rank, x)
    expect(start <= end, f"flatten start_dim {start_dim} comes after end_dim {end_dim}")
    dims = x or (1,)
    return (*dims[:start], dim_product(dims[start : end + 1]), *dims[end + 1 :])


register(
    NodeSpec(
        "flatten",
        "shape",
        ("x",),
        ("out",),
        flatten_shape,
        code=lambda p: (
            "torch.flatten({x}"
            + "".join(f", {k}={{{k}!r}}" for k, d in (("start_dim", 0), ("end_dim", -1)) if p[k] != d)
            + ")"
        ),
        params=(
            Param("start_dim", "int", 0, "First dimension to merge."),
            Param("end_dim", "int", -1, "Last dimension to merge."),
        ),
        doc="Merges dimensions start_dim..end_dim into one.",
        formula="y = x, dims merged",
        examples=lambda r: [
            Example({"start_dim": 1}, (("N", 2, 3, 2),)),
            Example({}, ((2, 3),)),
            Example({"start_dim": 0, "end_dim": 1}, (("N", 3, 2),)),
        ],
        torch_rules=function_and_method("flatten", "start_dim=0, end_dim=-1", X),
    )
)


def transpose_shape(x: Shape, *, dim0: int, dim1: int) -> Shape:
    rank = max(len(x), 1)
    a, b = axis_of(dim0, rank, x), axis_of(dim1, rank, x)
    out = list(x)
    if out:
        out[a], out[b] = out[b], out[a]
    return tuple(out)


register(
    NodeSpec(
        "transpose",
        "shape",
        ("x",),
        ("out",),
        transpose_shape,
        code="torch.transpose({x}, {dim0!r}, {dim1!r})",
        params=(Param("dim0", "int", 0, "One dimension to swap."), Param("dim1", "int", 1, "The other.")),
        doc="Swaps two dimensions (the matrix transpose for dims 0 and 1).",
        formula="yᵢⱼ = xⱼᵢ",
        examples=lambda r: [
            Example(dict(zip(("dim0", "dim1"), r.sample([0, 1, 2, -1], 2), strict=True)), (("N", 2, 3),)),
            Example({}, ((2, 3),)),
        ],
        aliases=("swap axes", "T"),
        torch_rules=function_and_method("transpose", "dim0, dim1", X),
    )
)


def permute_shape(x: Shape, *, dims: int | list[int]) -> Shape:
    order = _sizes(dims)
    expect(len(order) == len(x), f"permute dims {order} must name each of the {len(x)} dimensions of x once")
    axes = [axis_of(d, len(x), x) for d in order]
    expect(sorted(axes) == list(range(len(x))), f"permute dims {order} must name each dimension of x once")
    return tuple(x[a] for a in axes)


register(
    NodeSpec(
        "permute",
        "shape",
        ("x",),
        ("out",),
        permute_shape,
        code="torch.permute({x}, {dims!r})",
        params=(Param("dims", "ints", [1, 0], "The new order of the dimensions."),),
        doc="Reorders the dimensions (e.g. [0, 2, 3, 1] for channels-last).",
        formula="y = x, axes reordered",
        examples=lambda r: [
            Example({"dims": r.sample([0, 1, 2], 3)}, (("N", 2, 3),)),
            Example({"dims": [1, 0]}, ((2, 3),)),
        ],
        torch_rules=(
            TorchRule(function="torch.permute", signature="input, dims", rename=X),
            TorchRule(method="permute", signature="self, dims", rename=X, varargs=True),
        ),
    )
)


def squeeze_shape(x: Shape, *, dim: int | list[int] | None) -> Shape:
    if dim is None:  # a symbolic size is taken to be more than 1 (a batch of 1 would be squeezed away)
        return tuple(d for d in x if d != 1)
    axes = {axis_of(d, max(len(x), 1), x) for d in _sizes(dim)}
    return tuple(d for i, d in enumerate(x) if not (i in axes and d == 1))


register(
    NodeSpec(
        "squeeze",
        "shape",
        ("x",),
        ("out",),
        squeeze_shape,
        code=lambda p: "torch.squeeze({x})" if p["dim"] is None else "torch.squeeze({x}, {dim!r})",
        params=(
            Param(
                "dim",
                "dims",
                None,
                "Dimension(s) to drop if their size is 1; null drops every size-1 dimension.",
                optional=True,
            ),
        ),
        doc="Removes dimensions of size 1.",
        formula="y = x, size-1 dims removed",
        examples=lambda r: [
            Example({"dim": 1}, (("N", 1, 3),)),
            Example({}, ((2, 1, 3, 1),)),
            Example({"dim": [1, 2]}, (("N", 1, 1, 3),)),
            Example({"dim": 0}, (("N", 2),)),
        ],
        torch_rules=function_and_method("squeeze", "dim=None", X),
    )
)


def unsqueeze_shape(x: Shape, *, dim: int) -> Shape:
    axis = axis_of(dim, len(x), x, extra=1)
    return (*x[:axis], 1, *x[axis:])


register(
    NodeSpec(
        "unsqueeze",
        "shape",
        ("x",),
        ("out",),
        unsqueeze_shape,
        code="torch.unsqueeze({x}, {dim!r})",
        params=(Param("dim", "int", 0, "Where the new size-1 dimension goes."),),
        doc="Inserts a dimension of size 1.",
        formula="y = x, a size-1 dim inserted",
        examples=lambda r: [Example({"dim": r.randint(-3, 2)}, (("N", 3),)), Example({}, ((),))],
        aliases=("expand dims",),
        torch_rules=function_and_method("unsqueeze", "dim", X),
    )
)


def select_shape(x: Shape, *, dim: int, index: int) -> Shape:
    expect(len(x) > 0, "select needs a tensor of at least one dimension")
    axis = axis_of(dim, len(x), x)
    size = x[axis]
    expect(
        isinstance(size, str) or -size <= index < size,
        f"index {index} is out of range for dim {dim} of size {size}",
    )
    return tuple(d for i, d in enumerate(x) if i != axis)


def narrow_shape(x: Shape, *, dim: int, start: int, length: int) -> Shape:
    expect(len(x) > 0, "narrow needs a tensor of at least one dimension")
    axis = axis_of(dim, len(x), x)
    size = x[axis]
    if isinstance(size, int):
        first = start + size if start < 0 else start
        expect(
            0 <= first and first + length <= size,
            f"narrow [{start}, {start} + {length}) does not fit in dim {dim} of size {size}",
        )
    return tuple(length if i == axis else d for i, d in enumerate(x))


register(
    NodeSpec(
        "select",
        "shape",
        ("x",),
        ("out",),
        select_shape,
        code="torch.select({x}, {dim!r}, {index!r})",
        params=(
            Param("dim", "int", 0, "The dimension to index."),
            Param("index", "int", 0, "Which entry (negative counts from the end)."),
        ),
        doc="One entry along dim, which disappears (x[:, i] for dim 1).",
        formula="y = x[..., i, ...]",
        examples=lambda r: [
            Example({"dim": 1, "index": r.randint(-3, 2)}, (("N", 3, 4),)),
            Example({}, ((3,),)),
        ],
        aliases=("index", "getitem", "x[i]"),
        torch_rules=function_and_method("select", "dim, index", X),
    )
)
register(
    NodeSpec(
        "narrow",
        "shape",
        ("x",),
        ("out",),
        narrow_shape,
        code="torch.narrow({x}, {dim!r}, {start!r}, {length!r})",
        params=(
            Param("dim", "int", 0, "The dimension to slice."),
            Param("start", "int", 0, "First entry kept (negative counts from the end)."),
            Param("length", "int", 1, "How many entries to keep.", min=0),
        ),
        doc="A slice of consecutive entries along dim (x[:, a:a+length] for dim 1).",
        formula="y = x[..., a:a+n, ...]",
        examples=lambda r: [
            Example({"dim": 1, "start": r.randint(0, 2), "length": 2}, (("N", 4),)),
            Example({"start": -2, "length": 2}, ((3, 2),)),
        ],
        aliases=("slice", "x[a:b]"),
        torch_rules=function_and_method("narrow", "dim, start, length", X),
    )
)
