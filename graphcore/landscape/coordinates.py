"""Coordinates of a parameter plane: one number among the graph's weights, named as a user writes it.

A scalar Parameter is named by its node id (`w`); any one element of any weight by its node, the
weight's name and an index (`fc1.weight[0, 1]`, `v[2]` for an element of a vector Parameter).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphcore.landscape.loss import LandscapeError, LossFunction
from graphcore.program import Program

EXAMPLE = "fc1.weight[0, 1]"


@dataclass(frozen=True)
class Coordinate:
    text: str  # as it was named
    name: str  # the weight's name in the module ("fc1.weight", "w")
    index: tuple[int, ...]  # the element's index in that weight


def scalar_parameters(program: Program, shapes: Mapping[str, Any]) -> list[str]:
    """The Parameter nodes holding one number, in schedule order: the axes the app offers."""
    return [
        instr.node
        for instr in program
        if instr.spec.kind == "parameter" and _one_number(shapes.get(instr.outs[0], (0,)))
    ]


def _one_number(shape: Any) -> bool:
    return all(isinstance(size, int) for size in shape) and math.prod(shape) == 1


def two_names(text: str) -> tuple[str, str]:
    """`P,Q` split at the comma outside brackets: `fc1.weight[0, 1],w` is two names."""
    names = [name.strip() for name in re.split(r",(?![^\[]*\])", text)]
    if len(names) != 2 or not all(names):
        raise LandscapeError(f"expected two parameters such as w,b or {EXAMPLE},w, got {text[:60]!r}")
    return names[0], names[1]


def coordinate(loss: LossFunction, text: str) -> Coordinate:
    """`text` resolved against the graph's weights; what does not name one number is a LandscapeError."""
    head, bracket, rest = text.partition("[")
    program = loss.runtime.program
    node, weight = (head, "") if head in program.by_node or "." not in head else head.split(".", 1)
    shown = repr(text[:40])
    if node not in program.by_node:
        listed = ", ".join(scalar_parameters(program, loss.shapes)) or "none"
        raise LandscapeError(f"{shown} is not a node of this graph (its scalar Parameters: {listed})")
    names = [name for name in loss.weights if loss.node_of(name) == node]
    if not names:
        listed = ", ".join(scalar_parameters(program, loss.shapes)) or "none"
        raise LandscapeError(
            f"{shown} is not a scalar Parameter of this graph (its scalar Parameters: {listed}); "
            f"it has no weights"
        )
    attribute = loss.runtime.generated.attributes[node]
    if weight:
        name = f"{attribute}.{weight}"
        if name not in loss.weights:
            own = ", ".join(n.removeprefix(f"{attribute}.") for n in names)
            raise LandscapeError(f"{node} has no weight {weight[:40]!r} (its weights: {own})")
    elif len(names) == 1:
        name = names[0]
    else:
        own = ", ".join(n.removeprefix(f"{attribute}.") for n in names)
        raise LandscapeError(f"{shown} has several weights ({own}): name one element, such as {EXAMPLE}")
    shape = tuple(loss.weights[name].shape)
    return Coordinate(text, name, _index(shown, rest, shape) if bracket else _whole(shown, shape))


def _whole(shown: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    if math.prod(shape) != 1:
        raise LandscapeError(
            f"{shown} holds {math.prod(shape)} numbers (shape {list(shape)}): name one, such as {EXAMPLE}"
        )
    return (0,) * len(shape)


def _index(shown: str, rest: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    inside = rest.removesuffix("]")
    parts = [part.strip() for part in inside.split(",")] if inside.strip() else []
    if not rest.endswith("]") or not all(part.isdigit() for part in parts):
        raise LandscapeError(f"{shown}: expected an index of whole numbers such as {EXAMPLE}")
    index = tuple(int(part) for part in parts)
    if len(index) != len(shape) or any(i >= size for i, size in zip(index, shape)):
        raise LandscapeError(f"{shown}: index {list(index)} is outside the weight's shape {list(shape)}")
    return index
