"""The Block node: an instance of a block definition of the file (graphcore.blocks).

Its ports are its definition's, which the graph answers (graphcore.graph.input_ports/output_ports);
nothing computes a Block itself: lowering inlines the definition (graphcore.blocks.flatten).
"""

from __future__ import annotations

from typing import Any

from graphcore.blocks import MAX_REPEAT
from graphcore.graph import BLOCK_TYPE
from graphcore.registry import NodeSpec, Param, Shape, ShapeError, register


def _inlined(*_: Any, **__: Any) -> Shape:
    raise ShapeError("a block's shapes are those of its inside, inferred once it is inlined")


register(
    NodeSpec(
        BLOCK_TYPE,
        "blocks",
        (),
        (),
        _inlined,
        code="",
        doc=(
            "A block defined once in the file's `blocks` section, used here (and repeated `repeat` times "
            "in sequence). Its ports are the definition's: one input per inner Input, one output per "
            "exposed value. It runs inlined: inner node fc of instance res1 is res1/fc (res1/k/fc in "
            "copy k of a repeat), as diagnostics, weights and training groups name it."
        ),
        formula="block(x)",
        params=(
            Param("block", "str", "", "The name of the block definition this node uses."),
            Param(
                "repeat",
                "int",
                1,
                "How many copies run in sequence (x → block → block → …).",
                min=1,
                max=MAX_REPEAT,
            ),
        ),
    )
)
