"""Shape ops: move, merge and cut tensors without computing new values.

Their gradients only route values back to where they came from, so none declares a rule. Sizes that
depend on the batch stay symbolic ("N", "N*2"); a rule that needs a concrete size says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from graphcore.registry import (
    Dim,
    Example,
    NodeSpec,
    Param,
    Shape,
    dim_product,
    expect,
    register,
    same_dim,
    show,
)


def _axis(dim: int, rank: int, x: Shape, extra: int = 0) -> int:
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
    )
)


def flatten_shape(x: Shape, *, start_dim: int, end_dim: int) -> Shape:
    rank = max(len(x), 1)
    start, end = _axis(start_dim, rank, x), _axis(end_dim, rank, x)
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
    )
)


def transpose_shape(x: Shape, *, dim0: int, dim1: int) -> Shape:
    rank = max(len(x), 1)
    a, b = _axis(dim0, rank, x), _axis(dim1, rank, x)
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
    )
)


def permute_shape(x: Shape, *, dims: int | list[int]) -> Shape:
    order = _sizes(dims)
    expect(len(order) == len(x), f"permute dims {order} must name each of the {len(x)} dimensions of x once")
    axes = [_axis(d, len(x), x) for d in order]
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
    )
)


def squeeze_shape(x: Shape, *, dim: int | list[int] | None) -> Shape:
    if dim is None:  # a symbolic size is taken to be more than 1 (a batch of 1 would be squeezed away)
        return tuple(d for d in x if d != 1)
    axes = {_axis(d, max(len(x), 1), x) for d in _sizes(dim)}
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
    )
)


def unsqueeze_shape(x: Shape, *, dim: int) -> Shape:
    axis = _axis(dim, len(x), x, extra=1)
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
    )
)


def _dim_sum(a: Dim, b: Dim) -> Dim:
    return a + b if isinstance(a, int) and isinstance(b, int) else f"{a}+{b}"


def cat_shape(a: Shape, b: Shape, *, dim: int) -> Shape:
    expect(
        len(a) == len(b) and len(a) > 0,
        f"cat needs a and b of the same rank (≥ 1), not {show(a)} and {show(b)}",
    )
    axis = _axis(dim, len(a), a)
    for i, (da, db) in enumerate(zip(a, b, strict=True)):
        expect(
            i == axis or same_dim(da, db),
            f"cat along dim {dim}: a {show(a)} and b {show(b)} differ in dim {i}",
        )
    return tuple(_dim_sum(da, db) if i == axis else da for i, (da, db) in enumerate(zip(a, b, strict=True)))


def stack_shape(a: Shape, b: Shape, *, dim: int) -> Shape:
    expect(
        len(a) == len(b) and all(map(same_dim, a, b)),
        f"stack needs a and b of the same shape, not {show(a)} and {show(b)}",
    )
    axis = _axis(dim, len(a), a, extra=1)
    return (*a[:axis], 2, *a[axis:])


def two_inputs(
    type_: str, rule: Callable[..., Shape], code: str, doc: str, formula: str, examples: Any
) -> None:
    register(
        NodeSpec(
            type_,
            "shape",
            ("a", "b"),
            ("out",),
            rule,
            code=code,
            doc=doc,
            formula=formula,
            params=(Param("dim", "int", 0, "The dimension to join along."),),
            examples=examples,
        )
    )


two_inputs(
    "cat",
    cat_shape,
    "torch.cat([{a}, {b}], dim={dim!r})",
    "Joins a and b end to end along dim (chain cats for more inputs).",
    "y = [a; b]",
    lambda r: [
        Example({"dim": 1}, (("N", 2), ("N", 3))),
        Example({}, ((2, 3), (4, 3))),
        Example({"dim": -1}, ((2, "N", 1), (2, "N", 2))),
        Example({}, (("N", 2), ("N", 2))),
    ],
)
two_inputs(
    "stack",
    stack_shape,
    "torch.stack([{a}, {b}], dim={dim!r})",
    "Stacks a and b along a new dimension of size 2.",
    "y = [a, b]",
    lambda r: [Example({"dim": r.randint(-3, 2)}, (("N", 3), ("N", 3))), Example({}, ((), ()))],
)


def _concrete(x: Shape, axis: int, what: str) -> int:
    size = x[axis]
    expect(
        isinstance(size, int),
        f"{what} along dim {axis} of x {show(x)}: its size is known only when the graph runs",
    )
    return int(size)


def split_shape(x: Shape, *, split_size_or_sections: int | list[int], dim: int) -> tuple[Shape, Shape]:
    expect(len(x) > 0, "split needs a tensor of at least one dimension")
    axis = _axis(dim, len(x), x)
    size = _concrete(x, axis, "split")
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        expect(
            step < size <= 2 * step,
            f"split into pieces of {step} along dim {dim} (size {size}) does not give exactly two pieces",
        )
        sizes = [step, size - step]
    else:
        sizes = split_size_or_sections
        expect(
            len(sizes) == 2 and sum(sizes) == size,
            f"split sections {sizes} must be two sizes that add up to {size}, the size of dim {dim}",
        )
    return tuple(tuple(s if i == axis else d for i, d in enumerate(x)) for s in sizes)  # type: ignore[return-value]


def chunk_shape(x: Shape, *, dim: int) -> tuple[Shape, Shape]:
    expect(len(x) > 0, "chunk needs a tensor of at least one dimension")
    axis = _axis(dim, len(x), x)
    size = _concrete(x, axis, "chunk")
    expect(size >= 2, f"chunk into two along dim {dim} needs a size of at least 2, not {size}")
    first = -(-size // 2)
    return tuple(tuple(s if i == axis else d for i, d in enumerate(x)) for s in (first, size - first))  # type: ignore


register(
    NodeSpec(
        "split",
        "shape",
        ("x",),
        ("out0", "out1"),
        split_shape,
        code="{out0}, {out1} = torch.split({x}, {split_size_or_sections!r}, dim={dim!r})",
        params=(
            Param(
                "split_size_or_sections",
                "ints",
                [1, 1],
                "Size of the first piece, or the sizes of both.",
                min=0,
            ),
            Param("dim", "int", 0, "The dimension to cut."),
        ),
        doc="Cuts x into two pieces along dim.",
        formula="[y₀; y₁] = x",
        examples=lambda r: [
            Example({"split_size_or_sections": 3, "dim": 1}, (("N", 5),)),
            Example({"split_size_or_sections": [1, 3], "dim": -1}, (("N", 2, 4),)),
        ],
    )
)
register(
    NodeSpec(
        "chunk",
        "shape",
        ("x",),
        ("out0", "out1"),
        chunk_shape,
        code="{out0}, {out1} = torch.chunk({x}, 2, dim={dim!r})",
        params=(Param("dim", "int", 0, "The dimension to halve."),),
        doc="Cuts x into two halves along dim (the first is larger when the size is odd), e.g. μ and log σ².",
        formula="[y₀; y₁] = x",
        examples=lambda r: [Example({"dim": 1}, (("N", r.choice([4, 5])),)), Example({}, ((3, "N"),))],
        aliases=("halve",),
    )
)


def select_shape(x: Shape, *, dim: int, index: int) -> Shape:
    expect(len(x) > 0, "select needs a tensor of at least one dimension")
    axis = _axis(dim, len(x), x)
    size = x[axis]
    expect(
        isinstance(size, str) or -size <= index < size,
        f"index {index} is out of range for dim {dim} of size {size}",
    )
    return tuple(d for i, d in enumerate(x) if i != axis)


def narrow_shape(x: Shape, *, dim: int, start: int, length: int) -> Shape:
    expect(len(x) > 0, "narrow needs a tensor of at least one dimension")
    axis = _axis(dim, len(x), x)
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
    )
)
