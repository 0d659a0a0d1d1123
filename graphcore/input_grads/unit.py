"""A unit: one number the graph computes for one sample, that saliency and gradient ascent study.

Written `NODE.PORT[i, j]` (an element of the sample's value), `NODE.PORT:c=K` (channel K: the mean
of its map over space) or `NODE.PORT` for a value with one number per sample (a loss). A bare NODE
stands for its only output port. Indices count within one sample: the batch dim is not written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphcore.program import Program


class InputGradError(ValueError):
    """A question about input gradients that cannot be answered; the message says why, for users."""


UNIT = re.compile(r"(?P<value>[^\[\]:\s]+)\s*(?:\[(?P<index>[^\]]*)\]|:\s*c\s*=\s*(?P<channel>[^\s]*))?")


@dataclass(frozen=True)
class Unit:
    """`value` ("node.port") and an element `index` or a `channel` (neither: the whole scalar)."""

    value: str
    index: tuple[int, ...] = ()
    channel: int | None = None

    def __str__(self) -> str:
        if self.channel is not None:
            return f"{self.value}:c={self.channel}"
        return f"{self.value}[{', '.join(map(str, self.index))}]" if self.index else self.value

    def select(self, per_sample: Any) -> Any:
        """The unit's number from the sample's value (a tensor without the batch dim)."""
        if self.channel is not None:
            return per_sample[self.channel].mean()
        return per_sample[self.index] if self.index else per_sample.reshape(())

    def check(self, shape: tuple[int, ...]) -> None:
        """Refuse an index that the sample's value, of this shape, does not have."""
        where = f"{self} : {self.value} has shape {list(shape)} per sample"
        if self.channel is not None:
            if len(shape) < 2:
                raise InputGradError(f"{where}: a channel needs a map ([C, H, W]); give an element like [0]")
            if not 0 <= self.channel < shape[0]:
                raise InputGradError(f"{where}: channel {self.channel} is out of range 0..{shape[0] - 1}")
            return
        if not self.index:
            if len(shape) and _size(shape) != 1:
                example = ", ".join("0" for _ in shape)
                raise InputGradError(f"{where}: pick one element, e.g. {self.value}[{example}]")
            return
        if len(self.index) != len(shape):
            raise InputGradError(f"{where}: the index needs {len(shape)} number(s), got {len(self.index)}")
        for axis, (i, n) in enumerate(zip(self.index, shape)):
            if not 0 <= i < n:
                raise InputGradError(f"{where}: index {i} on axis {axis} is out of range 0..{n - 1}")


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _whole(text: str, what: str, unit: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InputGradError(f"unit {unit!r}: {what} {text.strip()[:20]!r} is not a whole number") from None


def parse_unit(program: Program, text: str) -> Unit:
    """`text` as a Unit of `program` (its node and port must exist; the range is checked later)."""
    match = UNIT.fullmatch(text.strip())
    if match is None:
        raise InputGradError(
            f"unit {text[:60]!r}: expected NODE.PORT[i], NODE.PORT[i, j] or NODE.PORT:c=K (e.g. fc.out[3])"
        )
    node, _, port = match["value"].partition(".")
    instr = program.by_node.get(node)
    if instr is None:
        nodes = ", ".join(i.node for i in program)
        raise InputGradError(f"unit {text[:60]!r}: there is no node {node!r} (nodes: {nodes})")
    if not port:
        if len(instr.outputs) != 1:
            raise InputGradError(f"unit {text[:60]!r}: {node} has several outputs: name one as {node}.PORT")
        port = instr.outputs[0]
    if port not in instr.outputs:
        raise InputGradError(
            f"unit {text[:60]!r}: {node} has no output {port!r} (outputs: {', '.join(instr.outputs)})"
        )
    value = f"{node}.{port}"
    if match["channel"] is not None:
        return Unit(value, channel=_whole(match["channel"], "channel", text[:60]))
    if match["index"] is not None:
        parts = [p for p in match["index"].split(",")]
        return Unit(value, tuple(_whole(p, "index", text[:60]) for p in parts))
    return Unit(value)
