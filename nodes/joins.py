"""Joins and splits: cat and stack merge two to six tensors, split and chunk cut one into pieces.

Like the other shape ops they only move values, so torch's gradients route them back and none
declares a rule. cat and stack take inputs a and b, and optionally c to f: the generated call lists
the connected ones in port order (`torch.cat([a, b, c], dim=1)`), so a join of two still reads
`torch.cat([a, b], dim=1)`. split and chunk have one output per piece, out0 to out63 at most, as
many as their params say (`NodeSpec.output_ports`), and unpack torch's tuple into them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from graphcore.exchange.torch_ops import X, function_and_method
from graphcore.registry import (
    MAX_OUTPUTS,
    Dim,
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    expect,
    numbered_outputs,
    register,
    same_dim,
    show,
)
from nodes.shape_ops import axis_of

JOINED = ("a", "b", "c", "d", "e", "f")


def _joined(*shapes: Shape) -> tuple[Shape | None, ...]:
    """An example's shapes for cat or stack: the given inputs, the other ports left unconnected."""
    return shapes + (None,) * (len(JOINED) - len(shapes))


def _connected(shapes: tuple[Shape | None, ...]) -> list[tuple[str, Shape]]:
    return [(port, shape) for port, shape in zip(JOINED, shapes) if shape is not None]


def _dim_sum(a: Dim, b: Dim) -> Dim:
    return a + b if isinstance(a, int) and isinstance(b, int) else f"{a}+{b}"


def _known(dims: Sequence[Dim]) -> Dim:
    """One size for sizes that agree: a concrete one where any is concrete ("N" may stand for it)."""
    return next((d for d in dims if isinstance(d, int)), dims[0])


def _check_dims(op: str, dim: int, inputs: list[tuple[str, Shape]], skip: int | None = None) -> None:
    """Every input has the first one's rank, and agrees with each earlier input in every dimension but
    `skip`; the message names the offending port and the one it differs from."""
    first_port, first = inputs[0]
    for index, (port, shape) in enumerate(inputs):
        expect(
            len(shape) == len(first),
            f"{op} along dim {dim}: {port} {show(shape)} differs from {first_port} {show(first)} in rank",
        )
        for other_port, other in inputs[:index]:
            for i, (mine, theirs) in enumerate(zip(shape, other)):
                expect(
                    i == skip or same_dim(mine, theirs),
                    f"{op} along dim {dim}: {port} {show(shape)} differs from {other_port} {show(other)} "
                    f"in dim {i}",
                )


def cat_shape(*shapes: Shape | None, dim: int) -> Shape:
    inputs = _connected(shapes)
    first_port, first = inputs[0]
    expect(len(first) > 0, f"cat needs tensors of at least one dimension, not {first_port} {show(first)}")
    axis = axis_of(dim, len(first), first)
    _check_dims("cat", dim, inputs, skip=axis)
    sizes = [[shape[i] for _, shape in inputs] for i in range(len(first))]
    return tuple(functools.reduce(_dim_sum, s) if i == axis else _known(s) for i, s in enumerate(sizes))


def stack_shape(*shapes: Shape | None, dim: int) -> Shape:
    inputs = _connected(shapes)
    first = inputs[0][1]
    _check_dims("stack", dim, inputs)
    axis = axis_of(dim, len(first), first, extra=1)
    same = tuple(_known([shape[i] for _, shape in inputs]) for i in range(len(first)))
    return (*same[:axis], len(inputs), *same[axis:])


def _join_code(function: str) -> Callable[[Mapping[str, Any], Collection[str]], str]:
    """`torch.cat([{a}, {b}, ...], dim={dim!r})` over the connected ports, in port order."""

    def template(params: Mapping[str, Any], connected: Collection[str]) -> str:
        tensors = ", ".join(f"{{{port}}}" for port in JOINED if port in connected)
        return f"{function}([{tensors}], dim={{dim!r}})"

    return template


def join(
    type_: str,
    rule: Callable[..., Shape],
    doc: str,
    formula: str,
    examples: Any,
    torch_rules: tuple[TorchRule, ...],
) -> None:
    register(
        NodeSpec(
            type_,
            "shape",
            JOINED,
            ("out",),
            rule,
            code=_join_code(f"torch.{type_}"),
            optional_inputs=JOINED[2:],
            doc=doc,
            formula=formula,
            params=(Param("dim", "int", 0, "The dimension to join along."),),
            examples=examples,
            torch_rules=torch_rules,
        )
    )


join(
    "cat",
    cat_shape,
    "Joins its inputs (two to six) end to end along dim, in port order.",
    "y = [a; b; …]",
    lambda r: [
        Example({"dim": 1}, _joined(("N", 2), ("N", 3))),
        Example({}, _joined((2, 3), (4, 3))),
        Example({"dim": -1}, _joined((2, "N", 1), (2, "N", 2))),
        Example({}, _joined(("N", 2), ("N", 2))),
        Example({"dim": 1}, _joined(("N", 2), ("N", 3), ("N", 1))),
        Example({"dim": r.choice([0, -3])}, _joined((1, "N", 2), (2, "N", 2), (1, "N", 2), (3, "N", 2))),
    ],
    torch_rules=(
        TorchRule(function="torch.cat", signature="tensors, dim=0"),
        TorchRule(function="torch.concat", signature="tensors, dim=0"),
    ),
)
join(
    "stack",
    stack_shape,
    "Stacks its inputs (two to six, all of one shape) along a new dimension, in port order.",
    "y = [a, b, …]",
    lambda r: [
        Example({"dim": r.randint(-3, 2)}, _joined(("N", 3), ("N", 3))),
        Example({}, _joined((), ())),
        Example({"dim": 1}, _joined(("N", 3), ("N", 3), ("N", 3))),
        Example({"dim": r.randint(-3, 2)}, _joined((2, "N"), (2, "N"), (2, "N"), (2, "N"))),
    ],
    torch_rules=(TorchRule(function="torch.stack", signature="tensors, dim=0"),),
)


def _concrete(x: Shape, axis: int, what: str) -> int:
    size = x[axis]
    expect(
        isinstance(size, int),
        f"{what} along dim {axis} of x {show(x)}: its size is known only when the graph runs",
    )
    return int(size)


def _pieces(x: Shape, axis: int, sizes: Sequence[int]) -> tuple[Shape, ...]:
    return tuple(tuple(s if i == axis else d for i, d in enumerate(x)) for s in sizes)


def _unpacked(function: str, count: int) -> str:
    """`{out0}, {out1}, {out2} = torch.chunk(...)`; a single piece unpacks as `[{out0}] = ...`."""
    targets = ", ".join(f"{{{port}}}" for port in numbered_outputs(count))
    return f"{targets if count > 1 else f'[{targets}]'} = {function}"


def split_outputs(params: Mapping[str, Any]) -> tuple[str, ...]:
    sections = params["split_size_or_sections"]
    return numbered_outputs(len(sections) if isinstance(sections, list) else params["pieces"])


def split_shape(
    x: Shape, *, split_size_or_sections: int | list[int], pieces: int, dim: int
) -> tuple[Shape, ...]:
    expect(len(x) > 0, "split needs a tensor of at least one dimension")
    axis = axis_of(dim, len(x), x)
    size = _concrete(x, axis, "split")
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        expect(step > 0, f"split_size_or_sections must be a positive size, not {step}")
        count = max(1, -(-size // step))
        expect(
            count == pieces,
            f"split into pieces of {step} along dim {dim} (size {size}) gives {count} pieces, but pieces "
            f"is {pieces}: set pieces to {count}, or give the sections as a list",
        )
        sizes = [step] * (count - 1) + [size - step * (count - 1)]
    else:
        sizes = split_size_or_sections
        expect(
            len(sizes) <= MAX_OUTPUTS,
            f"split_size_or_sections lists {len(sizes)} sections; at most {MAX_OUTPUTS} outputs are allowed",
        )
        expect(
            sum(sizes) == size,
            f"split sections {sizes} add up to {sum(sizes)}, but dim {dim} has size {size}",
        )
    return _pieces(x, axis, sizes)


def chunk_shape(x: Shape, *, chunks: int, dim: int) -> tuple[Shape, ...]:
    """torch.chunk makes pieces of ceil(size / chunks), which can give fewer than `chunks` of them
    (size 6 in 4 chunks: 2, 2, 2): that is refused, so a node's outputs are always all there."""
    expect(len(x) > 0, "chunk needs a tensor of at least one dimension")
    axis = axis_of(dim, len(x), x)
    size = _concrete(x, axis, "chunk")
    piece = -(-size // chunks)
    count = chunks if size == 0 else -(-size // piece)
    expect(
        count == chunks,
        f"chunk into {chunks} along dim {dim} (size {size}): torch makes pieces of {piece}, which gives "
        f"only {count}; use chunks={count}, or split with a list of sections",
    )
    return _pieces(x, axis, [min(piece, size - i * piece) for i in range(chunks)])


register(
    NodeSpec(
        "split",
        "shape",
        ("x",),
        ("out0", "out1"),
        split_shape,
        code=lambda p: _unpacked(
            "torch.split({x}, {split_size_or_sections!r}, dim={dim!r})", len(split_outputs(p))
        ),
        params=(
            Param(
                "split_size_or_sections",
                "ints",
                [1, 1],
                "The size of every piece (the last may be smaller), or a list of the pieces' sizes.",
                min=0,
            ),
            Param(
                "pieces",
                "int",
                2,
                "How many pieces (outputs) cutting by one size gives; a list of sections gives one "
                "output per section instead.",
                min=1,
                max=MAX_OUTPUTS,
            ),
            Param("dim", "int", 0, "The dimension to cut."),
        ),
        doc=(
            "Cuts x into pieces along dim, one output each: by a list of sizes (one output per "
            "section), or by one size (pieces says how many that gives)."
        ),
        formula="[y₀; y₁; …] = x",
        examples=lambda r: [
            Example({"split_size_or_sections": 3, "dim": 1}, (("N", 5),)),
            Example({"split_size_or_sections": [1, 3], "dim": -1}, (("N", 2, 4),)),
            Example({"split_size_or_sections": [2, 1, 3], "dim": 1}, (("N", 6, 2),)),
            Example({"split_size_or_sections": 2, "pieces": 4, "dim": 0}, ((r.choice([7, 8]), "N"),)),
            Example({"split_size_or_sections": [4]}, ((4, 3),)),
        ],
        torch_rules=(
            TorchRule(
                function="torch.split",
                signature="tensor, split_size_or_sections, dim=0",
                rename={"tensor": "x"},
                count="pieces",
            ),
            TorchRule(
                method="split", signature="self, split_size_or_sections, dim=0", rename=X, count="pieces"
            ),
        ),
        torch_result=split_outputs,
        output_ports=split_outputs,
    )
)


def chunk_outputs(params: Mapping[str, Any]) -> tuple[str, ...]:
    return numbered_outputs(params["chunks"])


register(
    NodeSpec(
        "chunk",
        "shape",
        ("x",),
        ("out0", "out1"),
        chunk_shape,
        code=lambda p: _unpacked("torch.chunk({x}, {chunks!r}, dim={dim!r})", p["chunks"]),
        params=(
            Param("chunks", "int", 2, "How many pieces (outputs).", min=1, max=MAX_OUTPUTS),
            Param("dim", "int", 0, "The dimension to cut."),
        ),
        doc=(
            "Cuts x into `chunks` pieces along dim, one output each; every piece has ceil(size / chunks) "
            "elements but the last (e.g. halves: μ and log σ²). Where torch would make fewer pieces than "
            "chunks (size 6 in 4), the node says so."
        ),
        formula="[y₀; y₁; …] = x",
        examples=lambda r: [
            Example({"dim": 1}, (("N", r.choice([4, 5])),)),
            Example({}, ((3, "N"),)),
            Example({"chunks": 3, "dim": -1}, (("N", 2, r.choice([7, 9])),)),
            Example({"chunks": 4, "dim": 1}, (("N", 8),)),
            Example({"chunks": 1}, ((3, "N"),)),
        ],
        aliases=("halve", "pieces"),
        torch_rules=function_and_method("chunk", "chunks, dim=0", X),
        torch_result=chunk_outputs,
        output_ports=chunk_outputs,
    )
)
