"""Tensor ops that real models call between layers: selection by a mask, einsum, batched products,
running sums, triangles, padding, tiling, picking entries, and dtype conversions.

They are here so that `graphcore import-torch` maps these calls to editable nodes rather than
read-only Opaque ones. Masks (`condition`, `mask`) may be bool or 0/1 tensors: the code reads them
with `.bool()`, so a mask made by a comparison and one fed as numbers both work.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from typing import Any

from graphcore.exchange.torch_ops import X, function_and_method
from graphcore.registry import (
    Dim,
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    broadcast,
    dim_product,
    expect,
    register,
    same_dim,
    show,
)
from nodes.elementwise import unary
from nodes.shape_ops import axis_of


def where_shape(condition: Shape, a: Shape, b: Shape) -> Shape:
    return broadcast(condition, broadcast(a, b))


register(
    NodeSpec(
        "where",
        "elementwise",
        ("condition", "a", "b"),
        ("out",),
        where_shape,
        code="torch.where({condition}.bool(), {a}, {b})",
        doc="a where condition holds, else b (element-wise, broadcast): a branch that tracing can follow.",
        formula="yᵢ = aᵢ if cᵢ else bᵢ,  ∂/∂a = c,  ∂/∂b = 1 − c",
        examples=lambda r: [
            Example({}, (("N", k := r.randint(1, 4)), ("N", k), ("N", k)), ("index:2", "real", "real")),
            Example({}, ((3,), ("N", 3), ()), ("index:2", "real", "real")),
        ],
        aliases=("if", "select by mask", "torch.where"),
        torch_rules=(
            TorchRule(
                function="torch.where",
                signature="condition, input, other",
                rename={"input": "a", "other": "b"},
            ),
            TorchRule(method="where", signature="self, condition, other", rename={"self": "a", "other": "b"}),
        ),
    )
)


def masked_fill_code(params: Mapping[str, Any]) -> str:
    fill = {"-inf": "float('-inf')", "inf": "float('inf')"}.get(params["fill"], "{value!r}")
    return "{x}.masked_fill({mask}.bool(), " + fill + ")"


def masked_fill_shape(x: Shape, mask: Shape, **_: Any) -> Shape:
    out = broadcast(x, mask)
    expect(len(out) == len(x) and all(map(same_dim, out, x)), f"mask {show(mask)} is larger than x {show(x)}")
    return x


register(
    NodeSpec(
        "masked_fill",
        "elementwise",
        ("x", "mask"),
        ("out",),
        masked_fill_shape,
        code=masked_fill_code,
        doc="x with the entries where mask holds replaced by a number, or by −∞ to hide them from a softmax "
        "(a causal attention mask).",
        formula="yᵢ = v if maskᵢ else xᵢ,  ∂/∂xᵢ = 1 − maskᵢ",
        params=(
            Param("value", "float", 0.0, "The number written where mask holds (when fill is 'value')."),
            Param(
                "fill",
                "str",
                "value",
                "What is written: value, or −∞ / +∞.",
                choices=("value", "-inf", "inf"),
            ),
        ),
        examples=lambda r: [
            Example({"value": r.choice([0.0, -2.5])}, (("N", 3), ("N", 3)), ("real", "index:2")),
            Example({}, ((2, "N", 3), (3,)), ("real", "index:2")),
        ],
        aliases=("mask", "causal mask"),
        torch_rules=function_and_method("masked_fill", "mask, value", X),
    )
)


def einsum_shape(*operands: Shape | None, equation: str) -> Shape:
    given = [o for o in operands if o is not None]
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    letters = set(string.ascii_letters)
    expect(
        all(set(t) <= letters for t in [*terms, output]),
        f"einsum {equation!r}: only letters, commas and -> (no ...)",
    )
    expect(
        len(terms) == len(given),
        f"einsum {equation!r} names {len(terms)} operands but {len(given)} are connected",
    )
    sizes: dict[str, Dim] = {}
    for term, shape in zip(terms, given):
        expect(
            len(term) == len(shape),
            f"einsum {equation!r}: {term!r} has {len(term)} letters but the operand is {show(shape)}",
        )
        for letter, dim in zip(term, shape):
            known = sizes.setdefault(letter, dim)
            expect(
                same_dim(known, dim) or 1 in (known, dim),
                f"einsum {equation!r}: {letter} is {known} and {dim}",
            )
            if known == 1 or isinstance(known, str):
                sizes[letter] = dim
    if not arrow:
        output = "".join(sorted(c for c in sizes if inputs.count(c) == 1))
    expect(all(c in sizes for c in output), f"einsum {equation!r}: the output names a letter no operand has")
    return tuple(sizes[c] for c in output)


def einsum_code(params: Mapping[str, Any], connected: Collection[str]) -> str:
    return "torch.einsum({equation!r}, " + ", ".join(f"{{{p}}}" for p in EINSUM if p in connected) + ")"


EINSUM = ("a", "b", "c")
register(
    NodeSpec(
        "einsum",
        "reductions",
        EINSUM,
        ("out",),
        einsum_shape,
        code=einsum_code,
        optional_inputs=EINSUM[1:],
        doc="Products and sums named by index letters: 'bij,bjk->bik' is a batched matmul, 'ij->ji' a "
        "transpose. Operands go to a, b and c in the order the equation names them.",
        formula="y[out] = Σ over the letters not in out of Πₖ operandₖ[letters]",
        params=(
            Param("equation", "str", "ij,jk->ik", "Index letters of each operand, then -> and the output's."),
        ),
        examples=lambda r: [
            Example({"equation": "ij,jk->ik"}, (("N", 3), (3, 2), None)),
            Example({"equation": "bij,bjk->bik"}, (("N", 2, 3), ("N", 3, 2), None)),
            Example({"equation": "ij->ji"}, (("N", 3), None, None)),
            Example({"equation": "i,i,i"}, ((4,), (4,), (4,))),
        ],
        aliases=("einstein sum", "tensor contraction"),
        torch_rules=(
            TorchRule(
                function="torch.einsum",
                signature="equation, operands",
                rename={"operands": "tensors"},
                varargs=True,
            ),
        ),
    )
)


def bmm_shape(a: Shape, b: Shape) -> Shape:
    expect(
        len(a) == 3 and len(b) == 3,
        f"bmm needs two 3-D tensors (B, n, m) and (B, m, p), not {show(a)} and {show(b)}",
    )
    expect(same_dim(a[0], b[0]), f"bmm: a has {a[0]} matrices but b has {b[0]}")
    expect(same_dim(a[2], b[1]), f"bmm: a's matrices have {a[2]} columns but b's have {b[1]} rows")
    return (a[0], a[1], b[2])


register(
    NodeSpec(
        "bmm",
        "reductions",
        ("a", "b"),
        ("out",),
        bmm_shape,
        code="torch.bmm({a}, {b})",
        doc="One matrix product per batch entry: (B, n, m) @ (B, m, p) → (B, n, p), without broadcasting.",
        formula="yᵦ = aᵦ bᵦ,  ∂/∂aᵦ = g bᵦᵀ,  ∂/∂bᵦ = aᵦᵀ g",
        examples=lambda r: [Example({}, (("N", 2, k := r.randint(1, 3)), ("N", k, 3)))],
        aliases=("batched matmul", "batch matrix multiply"),
        torch_rules=function_and_method("bmm", "mat2", {"input": "a", "self": "a", "mat2": "b"}),
    )
)


def along_dim(x: Shape, *, dim: int, **_: Any) -> Shape:
    """The shape of an op along one dimension that keeps x's shape (cumsum, normalize): dim must exist."""
    axis_of(dim, max(len(x), 1), x)
    return x


register(
    NodeSpec(
        "cumsum",
        "reductions",
        ("x",),
        ("out",),
        along_dim,
        code="torch.cumsum({x}, dim={dim!r})",
        doc="Running sum along dim: each entry is the sum of those up to it.",
        formula="yᵢ = Σⱼ≤ᵢ xⱼ,  ∂/∂xⱼ = Σᵢ≥ⱼ gᵢ",
        params=(Param("dim", "int", -1, "The dimension to sum along."),),
        examples=lambda r: [Example({"dim": r.choice([0, 1, -1])}, (("N", 3),)), Example({"dim": 0}, ((),))],
        aliases=("cumulative sum", "running sum", "prefix sum"),
        torch_rules=function_and_method("cumsum", "dim, dtype=None", X),
    )
)


def narrow_to_shape(x: Shape, like: Shape, *, dim: int, like_dim: int) -> Shape:
    expect(
        len(x) > 0 and len(like) > 0,
        f"narrow_to needs x and like of one dimension or more, not {show(x)} and {show(like)}",
    )
    axis, like_axis = axis_of(dim, len(x), x), axis_of(like_dim, len(like), like)
    size, length = x[axis], like[like_axis]
    expect(
        not (isinstance(size, int) and isinstance(length, int)) or length <= size,
        f"narrow_to: like's dim {like_dim} has {length} entries but x's dim {dim} only {size}",
    )
    return tuple(length if i == axis else d for i, d in enumerate(x))


register(
    NodeSpec(
        "narrow_to",
        "shape",
        ("x", "like"),
        ("out",),
        narrow_to_shape,
        code="torch.narrow({x}, {dim!r}, 0, {like}.size({like_dim!r}))",
        params=(
            Param("dim", "int", 0, "The dimension of x to slice."),
            Param("like_dim", "int", 0, "The dimension of like whose size is how many entries to keep."),
        ),
        doc="The first entries of x along dim, as many as like has along like_dim: minGPT's "
        "`self.bias[:, :, :T, :T]` with T the sequence length, which follows the input. Only like's size "
        "is read, so like gets no gradient.",
        formula="y = x[..., :n, ...],  n = like.size(like_dim)",
        examples=lambda r: [
            Example({"dim": 1, "like_dim": 0}, ((2, 6), (r.randint(1, 5), "N"))),
            Example({"dim": -1, "like_dim": -1}, (("N", 4), (2, 3))),
        ],
        aliases=("slice to size", "x[:T]"),
    )
)


def triangle_shape(x: Shape, **_: Any) -> Shape:
    expect(len(x) >= 2, f"a triangle needs a matrix (or a batch of them), not {show(x)}")
    return x


for name, side in (("tril", "lower"), ("triu", "upper")):
    register(
        NodeSpec(
            name,
            "shape",
            ("x",),
            ("out",),
            triangle_shape,
            code=f"torch.{name}({{x}}, {{diagonal!r}})",
            doc=f"The {side} triangle of each matrix in x (the last two dimensions); the rest is zero. "
            "torch.tril of ones is a causal mask.",
            formula=f"yᵢⱼ = xᵢⱼ if j {'≤' if side == 'lower' else '≥'} i + k, else 0",
            params=(
                Param("diagonal", "int", 0, "Which diagonal bounds it: 0 the main one, 1 above, -1 below."),
            ),
            examples=lambda r: [
                Example({"diagonal": r.randint(-1, 1)}, (("N", 3, 4),)),
                Example({}, ((3, 3),)),
            ],
            aliases=(f"{side} triangle",),
            torch_rules=function_and_method(name, "diagonal=0", X),
        )
    )

unary(
    "rsqrt",
    "torch.rsqrt({x})",
    "1/√x,  d/dx = −1/(2 x^(3/2))",
    "Reciprocal square root, as RMSNorm and LayerNorm written out call it.",
    values="positive",
    torch_rules=function_and_method("rsqrt", "", X),
)


def as_list(value: int | list[int]) -> list[int]:
    """An `ints` param as a list: one int stands for a list of one."""
    return [value] if isinstance(value, int) else list(value)


def expand_shape(x: Shape, *, size: int | list[int]) -> Shape:
    size = as_list(size)
    expect(len(size) >= len(x), f"expand to {size}: fewer sizes than x {show(x)} has dimensions")
    new = len(size) - len(x)
    expect(all(s >= 0 for s in size[:new]), f"expand to {size}: a new leading dimension needs a size, not -1")
    out: list[Dim] = list(size[:new])
    for want, have in zip(size[new:], x):
        expect(
            want == -1 or have in (1, want) or isinstance(have, str),
            f"expand to {size}: x {show(x)} has {have} where {want} goes",
        )
        out.append(have if want == -1 else want)
    return tuple(out)


register(
    NodeSpec(
        "expand",
        "shape",
        ("x",),
        ("out",),
        expand_shape,
        code="{x}.expand({size!r})",
        doc="x seen as a larger tensor by repeating its size-1 dimensions, without copying (-1 keeps a size).",
        formula="y = x, size-1 dims broadcast;  ∂/∂x sums over them",
        params=(Param("size", "ints", [-1], "The new sizes; -1 keeps that dimension.", min=-1),),
        examples=lambda r: [
            Example({"size": [-1, 3, -1]}, (("N", 1, 2),)),
            Example({"size": [2, -1, 4]}, (("N", 1),)),
        ],
        aliases=("broadcast to",),
        torch_rules=(TorchRule(method="expand", signature="self, size", rename=X, varargs=True),),
    )
)


def repeat_shape(x: Shape, *, repeats: int | list[int]) -> Shape:
    repeats = as_list(repeats)
    expect(len(repeats) >= len(x), f"repeat {repeats}: fewer counts than x {show(x)} has dimensions")
    dims = (1,) * (len(repeats) - len(x)) + tuple(x)
    return tuple(dim_product([d, k]) for d, k in zip(dims, repeats))


register(
    NodeSpec(
        "repeat",
        "shape",
        ("x",),
        ("out",),
        repeat_shape,
        code="{x}.repeat({repeats!r})",
        doc="x tiled: each dimension repeated a number of times (a copy, unlike expand).",
        formula="y = x tiled;  ∂/∂x sums the copies",
        params=(Param("repeats", "ints", [1], "How many times each dimension is repeated.", min=1),),
        examples=lambda r: [
            Example({"repeats": [1, r.randint(1, 3)]}, (("N", 2),)),
            Example({"repeats": [2, 1, 2]}, ((3, 2),)),
        ],
        aliases=("tile",),
        torch_rules=(TorchRule(method="repeat", signature="self, repeats", rename=X, varargs=True),),
    )
)


def index_select_shape(x: Shape, *, dim: int, index: int | list[int]) -> Shape:
    index = as_list(index)
    expect(len(x) > 0, "index_select needs a tensor of at least one dimension")
    axis = axis_of(dim, len(x), x)
    size = x[axis]
    bad = [i for i in index if isinstance(size, int) and not -size <= i < size]
    expect(not bad, f"index {bad[0] if bad else 0} is out of range for dim {dim} of size {size}")
    return tuple(len(index) if i == axis else d for i, d in enumerate(x))


def index_select_code(params: Mapping[str, Any]) -> str:
    """x[:, [0, 2]] as a user writes it: one `:` per dimension before dim, or `...` before a negative one."""
    dim = params["dim"]
    before = ":, " * dim if dim >= 0 else "..., "
    after = ", :" * (-dim - 1) if dim < 0 else ""
    index = "[{index!r}]" if isinstance(params["index"], int) else "{index!r}"
    return "{x}[" + before + index + after + "]"


register(
    NodeSpec(
        "index_select",
        "shape",
        ("x",),
        ("out",),
        index_select_shape,
        code=index_select_code,
        doc="The entries at a list of positions along dim, in that order (x[:, [0, 2]], x[::2]); positions "
        "may repeat.",
        formula="y[..., k, ...] = x[..., iₖ, ...],  ∂/∂x adds g back at each position",
        params=(
            Param("dim", "int", 0, "The dimension to pick along."),
            Param("index", "ints", [0], "The positions picked (negative counts from the end)."),
        ),
        examples=lambda r: [
            Example({"dim": 1, "index": [0, 2, r.randint(0, 3)]}, (("N", 4),)),
            Example({"dim": -2, "index": [-1, 0]}, ((3, 2, "N"),)),
        ],
        aliases=("gather positions", "x[[i, j]]", "take"),
    )
)


def pad_shape(x: Shape, *, pad: int | list[int], mode: str, value: float | None) -> Shape:
    widths = as_list(pad)
    expect(
        len(widths) % 2 == 0 and 0 < len(widths) <= 2 * len(x),
        f"pad {widths}: two widths (before, after) per padded dimension, from the last, for x {show(x)}",
    )
    expect(mode == "constant" or value is None, f"pad value applies only to mode 'constant', not {mode!r}")
    padded = len(widths) // 2
    expect(
        mode == "constant" or (padded <= 3 and len(x) in (padded + 1, padded + 2)),
        f"{mode} padding of {padded} dimension(s) needs x of {padded + 1} or {padded + 2} dimensions, not {show(x)}",
    )
    out = list(x)
    for k in range(len(widths) // 2):
        axis, before, after = len(x) - 1 - k, widths[2 * k], widths[2 * k + 1]
        size = out[axis]
        expect(
            isinstance(size, int),
            f"pad: dimension {axis} of x {show(x)} is symbolic; pad only fixed-size dimensions",
        )
        assert isinstance(size, int)
        limit = {"reflect": size - 1, "circular": size}.get(mode)
        expect(
            limit is None or (before <= limit and after <= limit),
            f"{mode} padding {before}, {after} must be at most {limit} for a dimension of size {size}",
        )
        expect(size + before + after >= 0, f"pad {widths} leaves dimension {axis} with no entries")
        out[axis] = size + before + after
    return tuple(out)


def pad_code(params: Mapping[str, Any]) -> str:
    return (
        "F.pad({x}, {pad!r}"
        + (", mode={mode!r}" if params["mode"] != "constant" else "")
        + (", value={value!r}" if params["value"] is not None else "")
        + ")"
    )


register(
    NodeSpec(
        "pad",
        "shape",
        ("x",),
        ("out",),
        pad_shape,
        code=pad_code,
        doc="Adds entries around the last dimensions: a constant (zeros by default), or x reflected, "
        "replicated or wrapped around.",
        formula="y = x with (before, after) entries added per dimension, from the last",
        params=(
            Param(
                "pad", "ints", [1, 1], "Widths (before, after) for the last dimension, then the one before…"
            ),
            Param(
                "mode",
                "str",
                "constant",
                "What the new entries hold.",
                choices=("constant", "reflect", "replicate", "circular"),
            ),
            Param("value", "float", None, "The constant (mode constant); null is 0.", optional=True),
        ),
        examples=lambda r: [
            Example({"pad": [1, r.randint(0, 2)]}, (("N", 3),)),
            Example({"pad": [1, 0, 0, 2], "value": -1.5}, (("N", 2, 3),)),
            Example({"pad": [2, 1], "mode": r.choice(["reflect", "replicate", "circular"])}, (("N", 2, 4),)),
        ],
        aliases=("zero padding", "F.pad"),
        torch_rules=(
            TorchRule(
                function="torch.nn.functional.pad",
                signature="input, pad, mode='constant', value=None",
                rename=X,
            ),
        ),
    )
)


unary(
    "to_float",
    "{x}.float()",
    "y = x as float32",
    "x converted to floating point (torch's float32): a mask or a count joining the arithmetic. Imported "
    "from x.float() and x.type_as(y) where the dtype changes; one to the dtype x already has is no node.",
    values="index:5",
    aliases=(".float()", "cast", "dtype"),
    torch_rules=(TorchRule(method="float", signature="self", rename=X),),
)
