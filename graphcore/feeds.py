"""Values for Input nodes: drawn from the seed, or given arrays checked against each Input's declaration.

Every run that needs data without a dataset (the CLI's run, grad and steps, the app's stepper and lab)
takes its inputs from here, so a generated integer input is a valid index wherever it is read: below
an Embedding's num_embeddings, below the class count of a classification loss, else a small count.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphcore._torch import torch
from graphcore.interpreter import infer_shapes
from graphcore.program import Instr, Program

SMALL_INDEX = 4  # integer inputs read by nothing with a known range: drawn from 0..3
CLASS_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"})  # their target holds classes
MAX_INTEGER = 2**53  # larger integers are not exact as float64, and no index is this large


class FeedError(ValueError):
    """A given array that does not fit its Input (shape, kind of number, range); one sentence."""


@dataclass(frozen=True)
class IndexRange:
    """Integer values an Input may hold: [0, bound), plus `allowed` (a loss's ignore_index)."""

    bound: int
    reader: str  # who sets the bound: "emb (Embedding, num_embeddings 10)"
    allowed: frozenset[int] = frozenset()


def index_range(program: Program, node: str, shapes: Mapping[str, Any] | None = None) -> IndexRange | None:
    """The tightest range the readers of integer Input `node` accept; None when none of them says."""
    ranges = []
    for reader in program.consumers[f"{node}.out"]:
        instr = program.by_node[reader.node]
        if instr.spec.type == "Embedding" and reader.port == "x":
            count = instr.params["num_embeddings"]
            ranges.append(IndexRange(count, f"{instr.title} (Embedding, num_embeddings {count})"))
        elif instr.spec.type in CLASS_LOSSES and reader.port == "target":
            shapes = shapes if shapes is not None else infer_shapes(program)
            logits = shapes.get(instr.args[0] or "", ())
            classes = logits[1] if len(logits) >= 2 else (logits[0] if logits else None)
            if isinstance(classes, int):
                ignore = instr.params.get("ignore_index")
                allowed = frozenset({ignore}) if isinstance(ignore, int) else frozenset()
                ranges.append(
                    IndexRange(classes, f"{instr.title} ({instr.spec.type}, {classes} classes)", allowed)
                )
    return min(ranges, key=lambda r: r.bound, default=None)


def default_inputs(
    program: Program,
    dtype: Any,
    device: Any,
    batch: int = 4,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A value for every Input: its literal `value`, else seeded data with symbolic dims bound by `dims`
    (the sizes of given arrays), the rest set to `batch`. Floats are normal noise; integers are valid
    indices for what reads them (see index_range).

    Each Input's data is seeded from the run seed and its id, so adding a node changes no other data.
    """
    values = {}
    shapes: dict[str, Any] | None = None
    for instr in program:
        if instr.spec.kind != "input":
            continue
        params = instr.params
        kind = torch.long if params["dtype"] == "long" else dtype
        if params["value"] is not None:
            values[instr.node] = torch.tensor(params["value"], dtype=kind, device=device)
            continue
        shape = tuple((dims or {}).get(d, batch) if isinstance(d, str) else d for d in params["shape"])
        generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(instr.node.encode()))
        if kind == torch.long:
            shapes = shapes if shapes is not None else infer_shapes(program)
            found = index_range(program, instr.node, shapes)
            bound = found.bound if found is not None else SMALL_INDEX
            data = torch.randint(0, max(1, bound), shape, generator=generator, dtype=kind)
        else:
            data = torch.randn(shape, generator=generator, dtype=dtype)
        values[instr.node] = data.to(device)
    return values


def find_input(program: Program, name: str) -> Instr:
    """The Input node named `name`: its id, else its label when exactly one node has that label."""
    instr = program.by_node.get(name)
    if instr is None:
        labelled = [i for i in program if i.label == name]
        if len(labelled) > 1:
            raise FeedError(f"{len(labelled)} nodes are labelled {name!r}: name the Input by its id")
        instr = labelled[0] if labelled else None
    inputs = ", ".join(i.node for i in program if i.spec.kind == "input") or "none"
    if instr is None:
        raise FeedError(f"the graph has no node {name!r} (its Input nodes: {inputs})")
    if instr.spec.kind != "input":
        raise FeedError(f"{instr.title!r} is a {instr.spec.type} node, not an Input (Input nodes: {inputs})")
    return instr


def bind_dims(declared: list[Any], shape: tuple[int, ...], dims: dict[str, int]) -> None:
    """Check `shape` against an Input's declared shape, binding its symbolic dims into `dims`
    (the same name must get the same size in every given array)."""
    given, takes = _shape_text(shape), _shape_text(declared)
    if len(shape) != len(declared):
        raise FeedError(
            f"the array has {_dims(len(shape))} {given} but the Input takes {_dims(len(declared))} {takes}"
        )
    for axis, (want, size) in enumerate(zip(declared, shape)):
        if isinstance(want, str):
            if size < 1:
                raise FeedError(f"the array has shape {given}: dimension {axis} ({want}) is empty")
            if dims.setdefault(want, size) != size:
                raise FeedError(
                    f"the array has shape {given}, which makes {want} {size}, but another input makes it {dims[want]}"
                )
        elif want != size:
            raise FeedError(
                f"the array has shape {given} but the Input takes {takes} (dimension {axis} differs)"
            )


def _dims(count: int) -> str:
    return f"{count} dimension{'' if count == 1 else 's'}"


def _shape_text(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def check_array(program: Program, instr: Instr, array: np.ndarray, dims: dict[str, int]) -> np.ndarray:
    """`array` made fit to feed Input `instr`: shape bound into `dims`, finite, and for an integer
    Input whole numbers in the range its readers accept (returned as int64, else as float64)."""
    if array.dtype.kind not in "iuf":
        raise FeedError(f"the array's dtype is {array.dtype.name}; give integers or floating-point numbers")
    bind_dims(list(instr.params["shape"]), array.shape, dims)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise FeedError("the array holds NaN or infinite values")
    if instr.params["dtype"] != "long":
        return array.astype(np.float64)
    if array.dtype.kind == "f" and not (array == np.round(array)).all():
        raise FeedError("the Input takes integers (dtype long) but the array holds fractions")
    if array.size and (array.max() > MAX_INTEGER or array.min() < -MAX_INTEGER):
        raise FeedError(
            f"the array holds integers beyond ±2**53 (largest {array.max()}, smallest {array.min()})"
        )
    values = array.astype(np.int64)
    found = index_range(program, instr.node)
    if found is not None and values.size:
        bad = values[((values < 0) | (values >= found.bound)) & ~np.isin(values, list(found.allowed))]
        if bad.size:
            raise FeedError(
                f"index {int(bad.flat[0])} is out of range: {found.reader} takes indices from 0 to {found.bound - 1}"
            )
    return values


def check_given(
    program: Program, arrays: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Given arrays (keyed by Input id) checked and converted (int64 for integer Inputs, float64 for
    the rest), and the sizes their shapes bind to symbolic dims such as N. A FeedError names the Input."""
    checked: dict[str, np.ndarray] = {}
    dims: dict[str, int] = {}
    for node, array in arrays.items():
        instr = program.by_node[node]
        try:
            checked[node] = check_array(program, instr, array, dims)
        except FeedError as error:
            raise FeedError(f"Input {instr.title!r}: {error}") from None
    return checked, dims


def as_tensors(arrays: Mapping[str, np.ndarray], dtype: Any, device: Any) -> dict[str, Any]:
    """Checked arrays as tensors on `device`: int64 stays int64, floats take the run's dtype."""
    return {
        node: torch.from_numpy(array).to(device, dtype=torch.long if array.dtype == np.int64 else dtype)
        for node, array in arrays.items()
    }
